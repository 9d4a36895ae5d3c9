/**
 * Watch mode (`extractionWorkbench.watch`): a FileSystemWatcher per workspace folder with a config queues
 * new and changed documents, debounced, via `pipeline.enqueue` with trigger `watch`. Off in Restricted Mode.
 * A changed file is queued only when a run's listing of the folder would pick it up (src/app/watchChanges.ts,
 * shared with the CLI's `watch`), so watch mode and Extract Workspace never disagree about what is a
 * document. Changes seen while another process (a CLI
 * run) holds the folder's state are kept and queued once it has finished.
 */
import * as vscode from 'vscode';
import { changedDocuments } from '../app/watchChanges';
import { inAlwaysSkippedFolder } from '../core/lister';
import type { Logger } from '../core/logger';
import { Disposable, type IDisposable } from './dispose';
import { StateInUseError, type FolderRuns, type WorkspaceRuns } from './workspaceRuns';

/** When another process holds the folder's state, queued changes are tried again after this long (ms). */
const IN_USE_RETRY_MS = 5_000;

class FolderWatcher extends Disposable {
  readonly #folder: FolderRuns;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #pending = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #warnedAt = 0;

  constructor(folder: FolderRuns, logger: Logger, debounceMs: number) {
    super();
    this.#folder = folder;
    this.#log = logger;
    this.#debounceMs = debounceMs;
    const watcher = this._register(vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder.folder, '**/*'), false, false, true));
    this._register(watcher.onDidCreate((uri) => this.#onFile(uri)));
    this._register(watcher.onDidChange((uri) => this.#onFile(uri)));
    this._register({ dispose: () => this.#timer && clearTimeout(this.#timer) });
  }

  #onFile(uri: vscode.Uri): void {
    const rel = this.#folder.relativePath(uri);
    if (!rel || inAlwaysSkippedFolder(rel)) return; // cheap first cut: .git churn never schedules a flush
    this.#pending.add(rel);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#flush(), this.#debounceMs);
  }

  async #flush(): Promise<void> {
    this.#timer = undefined;
    const candidates = [...this.#pending];
    this.#pending.clear();
    if (this.isDisposed || !candidates.length) return;
    try {
      const paths = await changedDocuments(this.#folder.runSettings(), candidates);
      if (!paths.length) return;
      this.#log.info(`Watch: ${paths.length} new or changed document(s) queued`);
      await this.#folder.enqueue(paths, { trigger: 'watch', priority: 0 });
    } catch (err) {
      if (err instanceof StateInUseError && !this.isDisposed) {
        // a CLI run has the state: keep the changes and try again once it may have finished
        for (const p of candidates) this.#pending.add(p);
        if (this.#timer) clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.#flush(), IN_USE_RETRY_MS);
      }
      // e.g. no API key: say it once a minute at most, not per saved file
      if (Date.now() - this.#warnedAt > 60_000) {
        this.#warnedAt = Date.now();
        this.#log.warn(`Watch mode could not queue changed documents: ${(err as Error)?.message ?? err}`);
      }
    }
  }
}

export class WatchMode extends Disposable {
  readonly #runs: WorkspaceRuns;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #watchers = new Map<string, IDisposable>();

  constructor(runs: WorkspaceRuns, logger: Logger, options: { debounceMs?: number; onDidChangeConfigFile?: vscode.Event<unknown> } = {}) {
    super();
    this.#runs = runs;
    this.#log = logger;
    this.#debounceMs = options.debounceMs ?? 750;
    this._register(runs.onDidChangeFolders(() => this.update()));
    this._register(vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('extractionWorkbench') && this.update()));
    this._register(vscode.workspace.onDidGrantWorkspaceTrust(() => this.update()));
    if (options.onDidChangeConfigFile) this._register(options.onDidChangeConfigFile(() => this.update()));
    this._register({ dispose: () => this.#clear() });
    this.update();
  }

  /** Keys of the folders being watched (tests). */
  get watching(): string[] {
    return [...this.#watchers.keys()];
  }

  update(): void {
    if (this.isDisposed) return;
    const wanted = new Set(
      vscode.workspace.isTrusted
        ? this.#runs
            .folders()
            .filter((f) => f.settings().watch && f.hasConfig())
            .map((f) => f.key)
        : [],
    );
    for (const [key, w] of this.#watchers) {
      if (wanted.has(key)) continue;
      w.dispose();
      this.#watchers.delete(key);
      this.#log.info(`Watch mode off for ${this.#runs.get(key)?.name ?? key}`);
    }
    for (const key of wanted) {
      const f = this.#runs.get(key);
      if (!f || this.#watchers.has(key)) continue;
      this.#watchers.set(key, new FolderWatcher(f, this.#log, this.#debounceMs));
      this.#log.info(`Watch mode on for ${f.name}: new and changed documents are queued`);
    }
  }

  #clear(): void {
    for (const w of this.#watchers.values()) w.dispose();
    this.#watchers.clear();
  }
}
