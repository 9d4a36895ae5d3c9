/**
 * One workspace folder's runs (see workspaceRuns.ts for the whole picture): its job and settings, a
 * Session/Pipeline built from them when a run needs one (rebuilt when they change, never under an active
 * run), the runs it starts, queues, retries and controls — its own, or a foreign run held by another process.
 * Its checkpoint store, and when the window holds its lock, are folderState.ts'.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_FILE, loadConfig, selectJob, type ExtractionConfig } from '../app/config';
import { estimateRun, type EstimateProgress, type RunEstimate } from '../app/estimateRun';
import { sendControl, type ControlCommand } from '../app/runControl';
import { listOptionsOf, loadSavedSettings, openSession, type RunSettings, type Session } from '../app/session';
import { releaseDeadLetter } from '../core/deadLetters';
import { EventBus, type PipelineEvent } from '../core/events';
import { listFiles, toPosix, type ListOptions } from '../core/lister';
import type { Logger } from '../core/logger';
import type { Pipeline, RunHandle, RunSummary } from '../core/pipeline';
import type { RunRecord, RunStatus, RunTrigger } from '../core/types';
import { lockHolder } from '../store';
import { PgCheckpointStore } from '../store/pg/pgStore';
import type { CheckpointStore } from '../store/types';
import type { ExtensionSettings } from './extensionSettings';
import { Disposable, type IDisposable } from './dispose';
import { FolderState } from './folderState';
import { logPipelineEvent, prefixedLogger } from './logger';
import { resolveRunSettings, reviewThresholdOf, sameRunSettings, stateDirOf, type JobSource } from './runSettings';
import { followFleetControl, sendFleetControl, type DatabaseFollower } from './stateDatabase';
import type { ModelFolder } from './tree/documentsModel';

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
  /** The password of the state database (secret storage), when `stateUrl` is set. */
  statePassword?: () => Promise<string | undefined>;
}

const JOB_KEY = 'extractionWorkbench.job:';

export class FolderRuns extends Disposable implements ModelFolder {
  readonly folder: vscode.WorkspaceFolder;
  readonly key: string;
  /** Pipeline events of this folder, whichever session produced them. */
  readonly events = new EventBus();
  readonly #o: WorkspaceRunsOptions;
  readonly #log: Logger;
  /** The folder's checkpoint store as the window holds it (read-only and followed, or with the lock). */
  readonly #state: FolderState;
  #session: Session | undefined;
  #sessionKey: string | undefined;
  #sessionSub: IDisposable | undefined;
  readonly #tracked = new Set<string>();
  /** Starts (and queueings) under way: from opening the session to the run's handle being tracked. */
  #starts = 0;

  readonly #onDidChangeState = this._register(new vscode.EventEmitter<void>());
  /** Run state changed (started, paused, resumed, finished) or the store was opened. */
  readonly onDidChangeState = this.#onDidChangeState.event;
  /** The store was opened again (another process changed the state, or the lock was taken or released): read everything again. */
  readonly onDidReloadStore: vscode.Event<void>;
  readonly #onDidFinishRun = this._register(new vscode.EventEmitter<FinishedRun>());
  readonly onDidFinishRun = this.#onDidFinishRun.event;

  constructor(folder: vscode.WorkspaceFolder, options: WorkspaceRunsOptions, logPrefix: string) {
    super();
    this.folder = folder;
    this.key = folder.uri.toString();
    this.#o = options;
    this.#log = prefixedLogger(options.logger, logPrefix);
    this.#state = this._register(
      new FolderState(
        {
          name: folder.name,
          settings: () => this.settings(),
          stateDir: () => this.stateDir(),
          hasState: () => this.hasState(),
          usesDatabase: () => this.usesDatabase(),
          running: () => this.running,
          tracking: () => this.#tracked.size > 0 || this.#starts > 0,
          closeSession: () => this.#closeSession(),
          changed: () => this.#onDidChangeState.fire(),
        },
        options,
        this.#log,
      ),
    );
    this.onDidReloadStore = this.#state.onDidReloadStore;
    this._register(this.events.on((e) => this.#onEvent(e)));
  }

  get name(): string {
    return this.folder.name;
  }

  get root(): string {
    return this.folder.uri.fsPath;
  }

  get store(): CheckpointStore | undefined {
    return this.#state.store;
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
    return this.usesDatabase() || fs.existsSync(this.stateDir());
  }

  /** Whether the settings put this folder's state in a PostgreSQL database (`extractionWorkbench.stateUrl`). */
  usesDatabase(): boolean {
    return this.settings().stateUrl.trim() !== '';
  }

  /** The followed state database (undefined: the state is a folder, or not open). */
  get database(): DatabaseFollower | undefined {
    return this.#state.database;
  }

  /** Looks at a state folder by polling (a test checks that a database state is followed without them). */
  get followStats(): { readonly polls: number } {
    return this.#state.followStats;
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
      return { kind: 'config', job, configDir: this.root, config };
    }
    // the window knows its folder: the saved one must be it, and the saved output folder inside it
    const saved = loadSavedSettings(this.stateDir(), { root: this.root });
    if (saved && path.resolve(saved.root) === path.resolve(this.root)) return { kind: 'saved', saved };
    throw new NoConfigError(this.name);
  }

  runSettings(): RunSettings {
    return resolveRunSettings(this.root, this.settings(), this.jobSource());
  }

  /** Confidence below which a done document needs review: the job's `review.confidenceThreshold`, else the setting. */
  reviewThreshold(): number {
    let source: JobSource | undefined;
    try {
      source = this.jobSource();
    } catch {
      source = undefined; // no job (or a broken config file): the setting
    }
    return reviewThresholdOf(this.settings(), source);
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

  // ------------------------------------------------------------------ store (folderState.ts)

  /** Whether this window holds the store's lock now (a run, or a change within RELEASE_AFTER_MS). */
  get writable(): boolean {
    return this.#state.writable;
  }

  /**
   * The folder's checkpoint store, to read (opened once; see the header of workspaceRuns.ts on when it is
   * read-only). A folder without state gets one created. Documents left in flight by a crash become pending again.
   */
  openStore(): Promise<CheckpointStore> {
    return this.#state.open();
  }

  /** Runs `change` on the store with its lock held (taken if need be, released again once idle). */
  withWritableStore<T>(change: (store: CheckpointStore) => T): Promise<T> {
    return this.#state.withWritable(change);
  }

  /** Runs `read` on the store held steady (not swapped by a follow or a lock release while it runs; an export). */
  readStore<T>(read: (store: CheckpointStore) => T | Promise<T>): Promise<T> {
    return this.#state.read(read);
  }

  /**
   * The state source changed (`stateUrl`, `stateFolder` or the state database password): the store is closed
   * and opened again from the new settings, unless a run is active here (it keeps its store; the change
   * applies once it has finished and the folder is opened again).
   */
  reopenState(): Promise<void> {
    return this.#state.reopen();
  }

  /**
   * The last run when it was interrupted with documents left to do: shut down with the window (reload,
   * close: status `interrupted`) or never finished at all (crash, killed process: still `running`/`paused`).
   */
  interruptedRun(): RunRecord | undefined {
    const store = this.#state.store;
    if (!store || this.running || this.foreignRun()) return undefined; // a run another process holds goes on there
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
    await this.openStore();
    // the store now, whenever it is asked: it is opened again while the estimate converts (see the header)
    const store = { getDocument: (p: string) => this.#state.store?.getDocument(p) };
    return estimateRun({ settings, store, assetsDir: this.#o.assetsDir, ...options });
  }

  /** Starts a run over the whole folder; undefined when one is already active. */
  start(trigger: RunTrigger): Promise<RunHandle | undefined> {
    return this.#starting(async () => {
      const session = await this.#ensureSession();
      if (session.pipeline.running) return undefined;
      // a fleet (PostgreSQL state): take part in the run its workers are under way with — one run id for all
      const join = await session.joinableRun();
      if (session.pipeline.running) return undefined;
      return this.#track(session.pipeline.start({ trigger, ...(join ? { join } : {}) }), trigger);
    });
  }

  /**
   * Runs `act` (a run's start, documents queued) so that the window does not give the state's lock back
   * meanwhile. Between opening the session and starting its run there are awaits; a release that came then
   * found no run, closed the session and the store, and the run started on the closed store (its listing
   * failed with "checkpoint store is closed" and the output folder stayed locked until a reload).
   */
  async #starting<T>(act: () => Promise<T>): Promise<T> {
    this.#starts++;
    try {
      return await act();
    } finally {
      this.#starts--;
      if (this.#starts === 0 && this.#tracked.size === 0) this.#state.scheduleRelease(); // nothing started: idle again
    }
  }

  /** Queues documents (relative paths): they join the active run, or a run starts for them. */
  async enqueue(paths: readonly string[], options: { trigger: RunTrigger; priority?: number }): Promise<RunHandle | undefined> {
    if (!paths.length) return undefined;
    return this.#starting(async () => {
      const session = await this.#ensureSession();
      return this.#track(session.pipeline.enqueue(paths, { trigger: options.trigger, ...(options.priority !== undefined ? { priority: options.priority } : {}) }), options.trigger);
    });
  }

  /**
   * Retries documents with fresh attempts; dead-lettered ones are reprocessed (recorded in their history).
   * `force` extracts them again even when their result is up to date (the review's Rerun), with optional
   * extra `instructions` for that extraction.
   */
  async retry(paths: readonly string[], options: { force?: boolean; instructions?: string } = {}): Promise<RunHandle | undefined> {
    if (!paths.length) return undefined;
    return this.#starting(async () => {
      const session = await this.#ensureSession();
      if (options.force) for (const p of paths) session.pipeline.forceNext(p, { instructions: options.instructions });
      const store = session.store;
      const letters = paths.filter((p) => store.getDeadLetter(p));
      const others = paths.filter((p) => !store.getDeadLetter(p));
      let handle: RunHandle | undefined;
      if (letters.length) handle = session.pipeline.reprocessDeadLetters(letters, 'retry');
      if (others.length) handle = session.pipeline.retry(others);
      return handle && this.#track(handle, 'retry');
    });
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
    return this.#starting(async () => {
      const session = await this.#ensureSession();
      const handle = session.pipeline.reprocessDeadLetters(paths, note);
      if (handle) this.#track(handle, 'retry');
      return count;
    });
  }

  /** Takes a document out of the dead-letter queue without reprocessing it (it goes back to pending). */
  async removeDeadLetter(relPath: string): Promise<void> {
    if (this.#session) {
      this.#session.pipeline.removeDeadLetter(relPath);
      return;
    }
    // no session (e.g. no API key yet, restricted mode): the same store steps the pipeline takes
    await this.withWritableStore((store) => releaseDeadLetter(store, relPath, Date.now()));
    this.events.emit({ type: 'doc/requeued', runId: '', path: relPath });
  }

  /**
   * The run of this folder that another process holds (a CLI run, another window), as the state shows it:
   * its latest run is running or paused and a live process holds the lock. Undefined otherwise.
   */
  foreignRun(): RunRecord | undefined {
    if (this.running) return undefined;
    const run = this.#state.store?.latestRun();
    if (!run || (run.status !== 'running' && run.status !== 'paused')) return undefined;
    if (this.#state.database) return this.#state.database.otherWorkers > 0 ? run : undefined;
    const holder = lockHolder(this.stateDir());
    if (!holder || (holder.pid === process.pid && (holder.hostname ?? os.hostname()) === os.hostname())) return undefined;
    return run;
  }

  /** Pauses this window's run, or asks the process that holds a foreign run to (see runControl.ts). */
  pause(): boolean {
    if (this.running) {
      if (this.paused) return false;
      this.#session?.pipeline.pause();
      return true;
    }
    return this.#control('pause', 'running');
  }

  resume(): boolean {
    if (this.paused) {
      this.#session?.pipeline.resume();
      return true;
    }
    return this.#control('resume', 'paused');
  }

  /** Stops this window's run, or asks the process that holds a foreign run to (it answers within a second). */
  async stop(): Promise<RunSummary | undefined> {
    if (!this.running) {
      this.#control('stop');
      return undefined;
    }
    return this.#session?.pipeline.stop();
  }

  /** Sends `command` to the process of a foreign run in the state `when` (any active one when absent). */
  #control(command: ControlCommand, when?: RunStatus): boolean {
    const run = this.foreignRun();
    if (!run || (when && run.status !== when)) return false;
    if (this.#state.store instanceof PgCheckpointStore) sendFleetControl(this.#state.store, command, this.#log);
    else sendControl(this.stateDir(), command);
    this.#log.info(`${command} sent to the process that runs ${this.name} (run ${run.id})`);
    return true;
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

  #listOptions(s: RunSettings, within?: string): ListOptions {
    return { ...listOptionsOf(s), ...(within ? { within } : {}) };
  }

  // ------------------------------------------------------------------ lifecycle

  /** Stops the run (waiting at most `timeoutMs`), releases the session and closes the store. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.#state.markClosed();
    try {
      await this.#session?.pipeline.shutdown(timeoutMs);
    } catch (err) {
      this.#log.error(err instanceof Error ? err : String(err));
    }
    await this.#closeSession();
    await this.#state.close();
  }

  override dispose(): void {
    this.#sessionSub?.dispose();
    super.dispose();
  }

  // ------------------------------------------------------------------ internals

  /** The session for the current settings; rebuilt when they (or the key) changed and no run is active. */
  #ensureSession(): Promise<Session> {
    // the lock is given back once the session is idle again (a run holds it until it finishes)
    const session = this.#state.exclusive(() => this.#openSession());
    void session.then(() => this.#state.scheduleRelease(), () => this.#state.scheduleRelease());
    return session;
  }

  async #openSession(): Promise<Session> {
    if (this.#state.closed) throw new Error('The workspace folder was closed');
    const current = this.#session;
    if (current?.pipeline.running) return current; // never swap a pipeline under an active run
    const settings = this.runSettings();
    const apiKey = await this.#o.apiKey(settings.baseURL);
    if (current && this.#sessionKey === apiKey && sameRunSettings(current.settings, settings)) return current;
    await this.#closeSession();
    const store = await this.#state.writableStore();
    const session = await openSession(settings, { apiKey, logger: this.#log, assetsDir: this.#o.assetsDir, store });
    this.#session = session;
    this.#sessionKey = apiKey;
    const events = session.pipeline.events.on((e) => this.events.emit(e));
    // on a database the window's session is a worker of the fleet: it takes the fleet's commands
    const control = store instanceof PgCheckpointStore ? followFleetControl(store, session.pipeline, this.#log) : undefined;
    this.#sessionSub = {
      dispose: () => {
        events.dispose();
        control?.dispose();
      },
    };
    this.#log.debug(`Session ready: job ${settings.jobName ?? '(saved settings)'}, model ${settings.model} at ${settings.baseURL}, concurrency ${settings.concurrency}`);
    return session;
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
          this.#state.scheduleRelease();
          this.#onDidFinishRun.fire({ folder: this, summary, trigger });
        },
        (err) => {
          this.#tracked.delete(handle.runId);
          this.#state.scheduleRelease();
          this.#log.error(err instanceof Error ? err : String(err));
        },
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
