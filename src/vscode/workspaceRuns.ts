/**
 * One {@link FolderRuns} per workspace folder: its checkpoint store, and a Session/Pipeline built from the
 * folder's job and settings when a run needs one. Pipelines are rebuilt when settings change, but the
 * folder's `events` bus stays the same, so subscribers (tree model, status bar, log) never resubscribe.
 *
 * The window holds the store's lock only while it writes: from a run's start (or a change such as Remove
 * from Dead Letters) until it has been idle for RELEASE_AFTER_MS. The rest of the time it shows the state
 * read-only and follows it: when another process (an `extraction-workbench run` in a terminal, another
 * window) changes the state, the tree is reloaded from it. So the CLI can run on a folder this window has
 * open, and the window shows its progress.
 *
 * With `extractionWorkbench.stateUrl` the state is a PostgreSQL database shared by a fleet (see
 * stateDatabase.ts): there is no lock to hold, the store stays open, a run here claims documents like any
 * CLI worker, and the views follow the fleet's changes as the database announces them (LISTEN/NOTIFY).
 */
import * as vscode from 'vscode';
import type { PipelineEvent } from '../core/events';
import { Disposable, type IDisposable } from './dispose';
import { FolderRuns, type FinishedRun, type WorkspaceRunsOptions } from './folderRuns';
import { STATE_URL_SETTING } from './stateDatabase';
import type { ModelFolderSource } from './tree/documentsModel';

export { FolderRuns, NoConfigError, type FinishedRun, type WorkspaceRunsOptions } from './folderRuns';
export { StateInUseError } from './folderState';

export class WorkspaceRuns extends Disposable implements ModelFolderSource {
  readonly #o: WorkspaceRunsOptions;
  readonly #folders = new Map<string, FolderRuns>();
  readonly #perFolder = new Map<string, IDisposable[]>();
  readonly #onDidChangeFolders = this._register(new vscode.EventEmitter<void>());
  /** Folders added or removed, or a folder's store opened (again: read everything again). */
  readonly onDidChangeFolders = this.#onDidChangeFolders.event;
  readonly #onDidAddFolders = this._register(new vscode.EventEmitter<FolderRuns[]>());
  /**
   * Workspace folders added after activation: by the user, or all of them when the window resolves a
   * .code-workspace only after the extension host started (then activation saw no folder at all).
   */
  readonly onDidAddFolders = this.#onDidAddFolders.event;
  readonly #onDidChangeState = this._register(new vscode.EventEmitter<FolderRuns | undefined>());
  /** The run state of a folder changed. */
  readonly onDidChangeState = this.#onDidChangeState.event;
  readonly #onDidFinishRun = this._register(new vscode.EventEmitter<FinishedRun>());
  readonly onDidFinishRun = this.#onDidFinishRun.event;
  readonly #onEvent = this._register(new vscode.EventEmitter<{ folder: FolderRuns; event: PipelineEvent }>());
  /** Every pipeline event of every folder. */
  readonly onEvent = this.#onEvent.event;

  constructor(options: WorkspaceRunsOptions) {
    super();
    this.#o = options;
    this.#sync();
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.#sync()));
    this._register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        for (const f of this.folders()) if (e.affectsConfiguration(STATE_URL_SETTING, f.folder.uri)) void this.#reopen(f);
      }),
    );
    this._register({ dispose: () => this.#disposeFolders() });
  }

  folders(): FolderRuns[] {
    return [...this.#folders.values()];
  }

  get(key: string): FolderRuns | undefined {
    return this.#folders.get(key);
  }

  /** The folder that contains a URI. */
  folderOf(uri: vscode.Uri): FolderRuns | undefined {
    const wf = vscode.workspace.getWorkspaceFolder(uri);
    return wf ? this.#folders.get(wf.uri.toString()) : undefined;
  }

  get running(): boolean {
    return this.folders().some((f) => f.running);
  }

  get paused(): boolean {
    return this.folders().some((f) => f.paused);
  }

  /** Opens the stores of folders that have state, so the tree shows the last state at once. */
  async restore(): Promise<void> {
    await Promise.all(
      this.folders()
        .filter((f) => f.hasState() && !f.store)
        .map((f) =>
          f.openStore().catch((err: unknown) => {
            this.#o.logger.error(`Cannot open the extraction state of ${f.name}: ${(err as Error)?.message ?? err}`);
          }),
        ),
    );
  }

  async shutdown(timeoutMs: number): Promise<void> {
    await Promise.all(this.folders().map((f) => f.shutdown(timeoutMs)));
  }

  /** The state database password changed: folders on a database connect again with it. */
  reopenDatabases(): void {
    for (const f of this.folders()) if (f.usesDatabase()) void this.#reopen(f);
  }

  /** Opens a folder's state again after its source changed; a setting that cannot work is said at once, not at the next run. */
  #reopen(f: FolderRuns): Promise<void> {
    return f.reopenState().catch((err: unknown) => {
      const message = `Cannot open the extraction state of ${f.name}: ${(err as Error)?.message ?? err}`;
      this.#o.logger.error(message);
      void vscode.window.showErrorMessage(message);
    });
  }

  #sync(): void {
    const wanted = new Map((vscode.workspace.workspaceFolders ?? []).map((wf) => [wf.uri.toString(), wf]));
    const multi = wanted.size > 1;
    let changed = false;
    const added: FolderRuns[] = [];
    for (const [key, f] of this.#folders) {
      if (wanted.has(key)) continue;
      this.#folders.delete(key);
      for (const d of this.#perFolder.get(key) ?? []) d.dispose();
      this.#perFolder.delete(key);
      void f.shutdown(2000).finally(() => f.dispose());
      changed = true;
    }
    for (const [key, wf] of wanted) {
      if (this.#folders.has(key)) continue;
      const f = new FolderRuns(wf, this.#o, multi ? wf.name : '');
      this.#folders.set(key, f);
      added.push(f);
      let hadStore = false;
      this.#perFolder.set(key, [
        f.onDidChangeState(() => {
          if (f.store && !hadStore) {
            hadStore = true;
            this.#onDidChangeFolders.fire();
          }
          this.#onDidChangeState.fire(f);
        }),
        f.onDidReloadStore(() => this.#onDidChangeFolders.fire()),
        f.onDidFinishRun((e) => this.#onDidFinishRun.fire(e)),
        f.events.on((event) => this.#onEvent.fire({ folder: f, event })),
      ]);
      changed = true;
    }
    if (changed) {
      this.#o.logger.info(`Workspace folders: ${[...this.#folders.values()].map((f) => f.name).join(', ') || '(none)'}`);
      this.#onDidChangeFolders.fire();
    }
    if (added.length) this.#onDidAddFolders.fire(added);
  }

  #disposeFolders(): void {
    for (const ds of this.#perFolder.values()) for (const d of ds) d.dispose();
    this.#perFolder.clear();
    for (const f of this.#folders.values()) f.dispose();
    this.#folders.clear();
  }
}
