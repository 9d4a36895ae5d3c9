/**
 * One {@link FolderRuns} per workspace folder: its open checkpoint store (kept for the whole session, so
 * the tree can page through it), and a Session/Pipeline built from the folder's job and settings when a run
 * needs one. Pipelines are rebuilt when settings change, but the folder's `events` bus stays the same, so
 * subscribers (tree model, status bar, log) never resubscribe.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_FILE, loadConfig, selectJob, type ExtractionConfig } from '../app/config';
import { estimateRun, type EstimateProgress, type RunEstimate } from '../app/estimateRun';
import { listOptionsOf, loadSavedSettings, openSession, openStore, type RunSettings, type Session } from '../app/session';
import { EventBus, type PipelineEvent } from '../core/events';
import { isListed, listFiles, toPosix, type ListOptions } from '../core/lister';
import type { Logger } from '../core/logger';
import type { Pipeline, RunHandle, RunSummary } from '../core/pipeline';
import type { RunRecord, RunTrigger } from '../core/types';
import { openWhenReleased } from '../store';
import type { CheckpointStore } from '../store/types';
import type { ExtensionSettings } from './extensionSettings';
import { Disposable, type IDisposable } from './dispose';
import { logPipelineEvent, prefixedLogger } from './logger';
import { resolveRunSettings, sameRunSettings, stateDirOf, type JobSource } from './runSettings';
import type { ModelFolder, ModelFolderSource } from './tree/documentsModel';

/** No extraction.config.json and no saved settings of an earlier run: nothing says which schema to use. */
export class NoConfigError extends Error {
  override readonly name = 'NoConfigError';
  constructor(readonly folderName: string) {
    super(`"${folderName}" has no ${CONFIG_FILE}: create one to say which schema to extract and which documents to read.`);
  }
}

export interface FinishedRun {
  folder: FolderRuns;
  summary: RunSummary;
  trigger: RunTrigger;
}

export interface WorkspaceRunsOptions {
  logger: Logger;
  /** Folder holding sql-wasm.wasm, pdfWorker.js and pdfjs/ (the bundle's folder). */
  assetsDir: string;
  /** Settings of a workspace folder (the typed reader of config.ts). */
  settings: (folder: vscode.WorkspaceFolder) => ExtensionSettings;
  /** The API key for a base URL (secrets.ts): the stored key, a placeholder for loopback, or an error. */
  apiKey: (baseURL: string) => Promise<string>;
  /** Where the selected job of each folder is remembered (workspaceState). */
  memento: vscode.Memento;
}

const JOB_KEY = 'extractionWorkbench.job:';

/**
 * How long opening a store waits for another live process to release it: on "Reload Window" the old
 * extension host may still be shutting its run down (SHUTDOWN_TIMEOUT_MS of extension.ts) while the new
 * one restores the tree.
 */
const LOCK_WAIT_MS = 10_000;

export class FolderRuns extends Disposable implements ModelFolder {
  readonly folder: vscode.WorkspaceFolder;
  readonly key: string;
  /** Pipeline events of this folder, whichever session produced them. */
  readonly events = new EventBus();
  readonly #o: WorkspaceRunsOptions;
  readonly #log: Logger;
  #store: CheckpointStore | undefined;
  #storeOpening: Promise<CheckpointStore> | undefined;
  #session: Session | undefined;
  #sessionKey: string | undefined;
  #sessionSub: IDisposable | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  readonly #tracked = new Set<string>();
  #closed = false;

  readonly #onDidChangeState = this._register(new vscode.EventEmitter<void>());
  /** Run state changed (started, paused, resumed, finished) or the store was opened. */
  readonly onDidChangeState = this.#onDidChangeState.event;
  readonly #onDidFinishRun = this._register(new vscode.EventEmitter<FinishedRun>());
  readonly onDidFinishRun = this.#onDidFinishRun.event;

  constructor(folder: vscode.WorkspaceFolder, options: WorkspaceRunsOptions, logPrefix: string) {
    super();
    this.folder = folder;
    this.key = folder.uri.toString();
    this.#o = options;
    this.#log = prefixedLogger(options.logger, logPrefix);
    this._register(this.events.on((e) => this.#onEvent(e)));
  }

  get name(): string {
    return this.folder.name;
  }

  get root(): string {
    return this.folder.uri.fsPath;
  }

  get store(): CheckpointStore | undefined {
    return this.#store;
  }

  get pipeline(): Pipeline | undefined {
    return this.#session?.pipeline;
  }

  get session(): Session | undefined {
    return this.#session;
  }

  get running(): boolean {
    return this.#session?.pipeline.running ?? false;
  }

  get paused(): boolean {
    return this.#session?.pipeline.paused ?? false;
  }

  settings(): ExtensionSettings {
    return this.#o.settings(this.folder);
  }

  get configPath(): string {
    return path.join(this.root, CONFIG_FILE);
  }

  hasConfig(): boolean {
    return fs.existsSync(this.configPath);
  }

  stateDir(): string {
    return stateDirOf(this.root, this.settings());
  }

  hasState(): boolean {
    return fs.existsSync(this.stateDir());
  }

  /** The extraction config, undefined when absent; throws INVALID_CONFIG with the reason when broken. */
  config(): ExtractionConfig | undefined {
    return loadConfig(this.configPath);
  }

  get selectedJob(): string | undefined {
    return this.#o.memento.get<string>(JOB_KEY + this.key);
  }

  async selectJob(name: string | undefined): Promise<void> {
    await this.#o.memento.update(JOB_KEY + this.key, name);
  }

  /** The job to run: the selected job of extraction.config.json, else the settings saved by the last run. */
  jobSource(): JobSource {
    const config = this.config();
    if (config) {
      const selected = this.selectedJob;
      const job = selected && config.jobs.some((j) => j.name === selected) ? selectJob(config, selected) : selectJob(config, undefined);
      return { kind: 'config', job, configDir: this.root };
    }
    const saved = loadSavedSettings(this.stateDir());
    if (saved && path.resolve(saved.root) === path.resolve(this.root)) return { kind: 'saved', saved };
    throw new NoConfigError(this.name);
  }

  runSettings(): RunSettings {
    return resolveRunSettings(this.root, this.settings(), this.jobSource());
  }

  /** The result folder, as well as it can be told (falls back to the setting when there is no job). */
  outDir(): string {
    try {
      return this.#session?.settings.outDir ?? this.runSettings().outDir;
    } catch {
      return path.resolve(this.root, this.settings().outputFolder);
    }
  }

  /** Workspace-relative `/` path of a URI inside this folder, or undefined. */
  relativePath(uri: vscode.Uri): string | undefined {
    const rel = path.relative(this.root, uri.fsPath);
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
    return toPosix(rel);
  }

  uriOf(relPath: string): vscode.Uri {
    return vscode.Uri.joinPath(this.folder.uri, ...relPath.split('/'));
  }

  // ------------------------------------------------------------------ store

  /** Opens the folder's checkpoint store (once). Documents left in flight by a crash become pending again. */
  openStore(): Promise<CheckpointStore> {
    if (this.#store) return Promise.resolve(this.#store);
    this.#storeOpening ??= (async () => {
      const store = await openWhenReleased(() => openStore(this.stateDir(), { logger: this.#log, assetsDir: this.#o.assetsDir }), {
        waitMs: LOCK_WAIT_MS,
        onWait: (pid) => this.#log.info(`The extraction state is still held by process ${pid} (a window that is closing?): waiting for it`),
        cancelled: () => this.#closed,
      });
      if (this.#closed) {
        store.close();
        throw new Error('The workspace folder was closed');
      }
      const reset = store.resetInFlight();
      if (reset) this.#log.info(`${reset} document(s) left in flight by an earlier session are pending again`);
      this.#store = store;
      this.#onDidChangeState.fire();
      return store;
    })().finally(() => (this.#storeOpening = undefined));
    return this.#storeOpening;
  }

  /**
   * The last run when it was interrupted with documents left to do: shut down with the window (reload,
   * close: status `interrupted`) or never finished at all (crash, killed process: still `running`/`paused`).
   */
  interruptedRun(): RunRecord | undefined {
    const store = this.#store;
    if (!store || this.running) return undefined;
    const run = store.latestRun();
    if (!run || (run.status !== 'running' && run.status !== 'paused' && run.status !== 'interrupted')) return undefined;
    const c = store.counts();
    return c.pending + c.running + c.failed > 0 ? run : undefined;
  }

  // ------------------------------------------------------------------ runs

  /**
   * Builds the session a run would use, without starting anything: a missing API key, a broken config or
   * schema is reported before a cost estimate converts every document.
   */
  async prepare(): Promise<void> {
    await this.#ensureSession();
  }

  /**
   * What a run would send and cost (nothing is sent): the whole folder as a run lists it, or `paths` as
   * `enqueue` takes them. Documents done and unchanged are left out; conversions land in the run's
   * converted-text cache, so the run does not parse them again.
   */
  async estimate(options: { paths?: readonly string[]; signal?: AbortSignal; onProgress?: (p: EstimateProgress) => void } = {}): Promise<RunEstimate> {
    const settings = this.runSettings();
    const store = await this.openStore();
    return estimateRun({ settings, store, assetsDir: this.#o.assetsDir, ...options });
  }

  /** Starts a run over the whole folder; undefined when one is already active. */
  async start(trigger: RunTrigger): Promise<RunHandle | undefined> {
    const session = await this.#ensureSession();
    if (session.pipeline.running) return undefined;
    return this.#track(session.pipeline.start({ trigger }), trigger);
  }

  /** Queues documents (relative paths): they join the active run, or a run starts for them. */
  async enqueue(paths: readonly string[], options: { trigger: RunTrigger; priority?: number }): Promise<RunHandle | undefined> {
    if (!paths.length) return undefined;
    const session = await this.#ensureSession();
    return this.#track(session.pipeline.enqueue(paths, { trigger: options.trigger, ...(options.priority !== undefined ? { priority: options.priority } : {}) }), options.trigger);
  }

  /**
   * Retries documents with fresh attempts; dead-lettered ones are reprocessed (recorded in their history).
   * `force` extracts them again even when their result is up to date (the review's Rerun), with optional
   * extra `instructions` for that extraction.
   */
  async retry(paths: readonly string[], options: { force?: boolean; instructions?: string } = {}): Promise<RunHandle | undefined> {
    if (!paths.length) return undefined;
    const session = await this.#ensureSession();
    if (options.force) for (const p of paths) session.pipeline.forceNext(p, { instructions: options.instructions });
    const store = session.store;
    const letters = paths.filter((p) => store.getDeadLetter(p));
    const others = paths.filter((p) => !store.getDeadLetter(p));
    let handle: RunHandle | undefined;
    if (letters.length) handle = session.pipeline.reprocessDeadLetters(letters, 'retry');
    if (others.length) handle = session.pipeline.retry(others);
    return handle && this.#track(handle, 'retry');
  }

  /** Retries every failed document; returns how many. */
  async retryFailed(): Promise<number> {
    const store = await this.openStore();
    const paths: string[] = [];
    const page = 1000;
    for (let offset = 0; ; offset += page) {
      const rows = store.listDocuments({ stages: ['failed'], offset, limit: page });
      for (const d of rows) paths.push(d.path);
      if (rows.length < page) break;
    }
    if (paths.length) await this.retry(paths);
    return paths.length;
  }

  /** Reprocesses dead letters (all when `paths` is omitted); returns how many. */
  async reprocessDeadLetters(paths?: readonly string[], note?: string): Promise<number> {
    const store = await this.openStore();
    const count = paths ? paths.filter((p) => store.getDeadLetter(p)).length : store.listDeadLetters().length;
    if (!count) return 0;
    const session = await this.#ensureSession();
    const handle = session.pipeline.reprocessDeadLetters(paths, note);
    if (handle) this.#track(handle, 'retry');
    return count;
  }

  /** Takes a document out of the dead-letter queue without reprocessing it (it goes back to pending). */
  async removeDeadLetter(relPath: string): Promise<void> {
    if (this.#session) {
      this.#session.pipeline.removeDeadLetter(relPath);
      return;
    }
    // no session (e.g. no API key yet, restricted mode): the same two store steps the pipeline takes
    const store = await this.openStore();
    store.removeDeadLetter(relPath);
    if (store.getDocument(relPath)?.stage === 'dead-lettered') store.patchDocument(relPath, { stage: 'pending', attempts: 0, updatedAt: Date.now() });
    this.events.emit({ type: 'doc/requeued', runId: '', path: relPath });
  }

  pause(): boolean {
    if (!this.running || this.paused) return false;
    this.#session?.pipeline.pause();
    return true;
  }

  resume(): boolean {
    if (!this.paused) return false;
    this.#session?.pipeline.resume();
    return true;
  }

  async stop(): Promise<RunSummary | undefined> {
    return this.#session?.pipeline.stop();
  }

  /**
   * Relative paths of documents under the given URIs: files as they are, folders listed with the job's
   * globs and the same rules as a run's listing (the .gitignore files of the folder and of those above it,
   * outside the output and state folders).
   */
  async documentsUnder(uris: readonly vscode.Uri[]): Promise<string[]> {
    const out = new Set<string>();
    let settings: RunSettings | undefined;
    for (const uri of uris) {
      const rel = this.relativePath(uri);
      if (rel === undefined && uri.fsPath !== this.root) continue;
      let isDir = false;
      try {
        isDir = fs.statSync(uri.fsPath).isDirectory();
      } catch {
        continue;
      }
      if (!isDir) {
        if (rel) out.add(rel);
        continue;
      }
      settings ??= this.runSettings();
      for await (const f of listFiles(this.root, this.#listOptions(settings, rel ?? ''))) out.add(f.path);
    }
    return [...out].sort();
  }

  /** Whether a run's listing of the whole folder would pick up the file `rel` (its globs, .gitignore files, skipped folders). */
  async isListed(rel: string, settings: RunSettings = this.runSettings()): Promise<boolean> {
    return isListed(this.root, rel, this.#listOptions(settings));
  }

  #listOptions(s: RunSettings, within?: string): ListOptions {
    return { ...listOptionsOf(s), ...(within ? { within } : {}) };
  }

  // ------------------------------------------------------------------ lifecycle

  /** Stops the run (waiting at most `timeoutMs`), releases the session and closes the store. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.#closed = true;
    try {
      await this.#session?.pipeline.shutdown(timeoutMs);
    } catch (err) {
      this.#log.error(err instanceof Error ? err : String(err));
    }
    await this.#closeSession();
    try {
      await this.#storeOpening?.catch(() => undefined);
      this.#store?.close();
    } catch (err) {
      this.#log.error(err instanceof Error ? err : String(err));
    }
    this.#store = undefined;
  }

  override dispose(): void {
    this.#sessionSub?.dispose();
    super.dispose();
  }

  // ------------------------------------------------------------------ internals

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#lock.then(fn, fn);
    this.#lock = next.catch(() => undefined);
    return next;
  }

  /** The session for the current settings; rebuilt when they (or the key) changed and no run is active. */
  #ensureSession(): Promise<Session> {
    return this.#exclusive(async () => {
      if (this.#closed) throw new Error('The workspace folder was closed');
      const current = this.#session;
      if (current?.pipeline.running) return current; // never swap a pipeline under an active run
      const settings = this.runSettings();
      const apiKey = await this.#o.apiKey(settings.baseURL);
      if (current && this.#sessionKey === apiKey && sameRunSettings(current.settings, settings)) return current;
      await this.#closeSession();
      const store = await this.openStore();
      const session = await openSession(settings, { apiKey, logger: this.#log, assetsDir: this.#o.assetsDir, store });
      this.#session = session;
      this.#sessionKey = apiKey;
      this.#sessionSub = session.pipeline.events.on((e) => this.events.emit(e));
      this.#log.debug(`Session ready: job ${settings.jobName ?? '(saved settings)'}, model ${settings.model} at ${settings.baseURL}, concurrency ${settings.concurrency}`);
      return session;
    });
  }

  async #closeSession(): Promise<void> {
    const s = this.#session;
    this.#sessionSub?.dispose();
    this.#sessionSub = undefined;
    this.#session = undefined;
    this.#sessionKey = undefined;
    if (!s) return;
    try {
      await s.close(); // releases workers; the store is ours and stays open
    } catch (err) {
      this.#log.error(err instanceof Error ? err : String(err));
    }
  }

  #track(handle: RunHandle, trigger: RunTrigger): RunHandle {
    if (!this.#tracked.has(handle.runId)) {
      this.#tracked.add(handle.runId);
      void handle.done.then(
        (summary) => {
          this.#tracked.delete(handle.runId);
          this.#onDidFinishRun.fire({ folder: this, summary, trigger });
        },
        (err) => this.#log.error(err instanceof Error ? err : String(err)),
      );
    }
    return handle;
  }

  #onEvent(e: PipelineEvent): void {
    logPipelineEvent(this.#log, e);
    switch (e.type) {
      case 'run/started':
      case 'run/paused':
      case 'run/resumed':
      case 'run/finished':
        this.#onDidChangeState.fire();
        break;
      default:
        break;
    }
  }
}

export class WorkspaceRuns extends Disposable implements ModelFolderSource {
  readonly #o: WorkspaceRunsOptions;
  readonly #folders = new Map<string, FolderRuns>();
  readonly #perFolder = new Map<string, IDisposable[]>();
  readonly #onDidChangeFolders = this._register(new vscode.EventEmitter<void>());
  /** Folders added or removed, or a folder's store opened. */
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
