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
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_FILE, loadConfig, selectJob, type ExtractionConfig } from '../app/config';
import { estimateRun, type EstimateProgress, type RunEstimate } from '../app/estimateRun';
import { sendControl, type ControlCommand } from '../app/runControl';
import { listOptionsOf, loadSavedSettings, openSession, openStore, type RunSettings, type Session } from '../app/session';
import { releaseDeadLetter } from '../core/deadLetters';
import { EventBus, type PipelineEvent } from '../core/events';
import { listFiles, toPosix, type ListOptions } from '../core/lister';
import type { Logger } from '../core/logger';
import type { Pipeline, RunHandle, RunSummary } from '../core/pipeline';
import type { RunRecord, RunStatus, RunTrigger } from '../core/types';
import { lockHolder, openWhenReleased, stateSignature, StoreLockedError } from '../store';
import { PgCheckpointStore } from '../store/pg/pgStore';
import type { CheckpointStore } from '../store/types';
import type { ExtensionSettings } from './extensionSettings';
import { Disposable, type IDisposable } from './dispose';
import { logPipelineEvent, prefixedLogger } from './logger';
import { resolveRunSettings, reviewThresholdOf, sameRunSettings, stateDirOf, type JobSource } from './runSettings';
import { followFleetControl, openStateDatabase, sendFleetControl, STATE_URL_SETTING, type DatabaseFollower } from './stateDatabase';
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
  /** The password of the state database (secret storage), when `stateUrl` is set. */
  statePassword?: () => Promise<string | undefined>;
}

const JOB_KEY = 'extractionWorkbench.job:';

/**
 * How long taking the store's lock waits for another live process to release it: right after "Reload
 * Window" the old extension host may still be shutting its run down (SHUTDOWN_TIMEOUT_MS of extension.ts)
 * when Resume is clicked in the new one; a CLI run may be about to finish. (Showing the state never waits:
 * it is read-only.)
 */
const LOCK_WAIT_MS = 10_000;

/** How long the window keeps the store's lock after its last run or change, before it shows it read-only again. */
const RELEASE_AFTER_MS = 2_000;

/**
 * How often a read-only view looks for changes by another process (ms): at least this, and 10× the last
 * reopen, so following a large state (100k documents open in ~0.3–1 s, on this thread) takes at most a
 * tenth of the extension host's time.
 */
const FOLLOW_MS = 1_000;
const FOLLOW_OPEN_FACTOR = 10;

/** A change was asked for while another process holds the folder's state (a CLI run, another window). */
export class StateInUseError extends Error {
  override readonly name = 'StateInUseError';
  constructor(
    readonly folderName: string,
    readonly ownerPid: number | undefined,
  ) {
    super(
      `The extraction state of "${folderName}" is in use by ${ownerPid ? `process ${ownerPid}` : 'another process'} (an extraction-workbench CLI run, or another VS Code window). ` +
        'The Documents view follows its progress; start runs or change documents here once it has finished.',
    );
  }
}

export class FolderRuns extends Disposable implements ModelFolder {
  readonly folder: vscode.WorkspaceFolder;
  readonly key: string;
  /** Pipeline events of this folder, whichever session produced them. */
  readonly events = new EventBus();
  readonly #o: WorkspaceRunsOptions;
  readonly #log: Logger;
  #store: CheckpointStore | undefined;
  /** Whether `#store` holds the lock (else it is a read-only view, followed by `#follow`). */
  #writable = false;
  #follow: ReturnType<typeof setTimeout> | undefined;
  #followedSignature = '';
  /** Follows a PostgreSQL state (LISTEN/NOTIFY) instead of `#follow`. */
  #database: DatabaseFollower | undefined;
  /** Looks at a state folder by `#follow` (a test checks that a database state is followed without them). */
  readonly followStats = { polls: 0 };
  #release: ReturnType<typeof setTimeout> | undefined;
  #session: Session | undefined;
  #sessionKey: string | undefined;
  #sessionSub: IDisposable | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  readonly #tracked = new Set<string>();
  #closed = false;

  readonly #onDidChangeState = this._register(new vscode.EventEmitter<void>());
  /** Run state changed (started, paused, resumed, finished) or the store was opened. */
  readonly onDidChangeState = this.#onDidChangeState.event;
  readonly #onDidReloadStore = this._register(new vscode.EventEmitter<void>());
  /** The store was opened again (another process changed the state, or the lock was taken or released): read everything again. */
  readonly onDidReloadStore = this.#onDidReloadStore.event;
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
    return this.usesDatabase() || fs.existsSync(this.stateDir());
  }

  /** Whether the settings put this folder's state in a PostgreSQL database (`extractionWorkbench.stateUrl`). */
  usesDatabase(): boolean {
    return this.settings().stateUrl.trim() !== '';
  }

  /** The followed state database (undefined: the state is a folder, or not open). */
  get database(): DatabaseFollower | undefined {
    return this.#database;
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

  // ------------------------------------------------------------------ store

  /** Whether this window holds the store's lock now (a run, or a change within RELEASE_AFTER_MS). */
  get writable(): boolean {
    return this.#writable;
  }

  /**
   * The folder's checkpoint store, to read (opened once; see the header on when it is read-only). A folder
   * without state gets one created. Documents left in flight by a crash become pending again.
   */
  openStore(): Promise<CheckpointStore> {
    if (this.#store) return Promise.resolve(this.#store);
    return this.#exclusive(() => this.#viewStore());
  }

  /** Runs `change` on the store with its lock held (taken if need be, released again once idle). */
  withWritableStore<T>(change: (store: CheckpointStore) => T): Promise<T> {
    return this.#exclusive(async () => change(await this.#lockBriefly()));
  }

  async #viewStore(): Promise<CheckpointStore> {
    if (this.#store) return this.#store;
    if (this.#closed) throw new Error('The workspace folder was closed');
    if (this.usesDatabase()) return this.#openDatabase();
    const dir = this.stateDir();
    if (!fs.existsSync(dir)) return this.#lockBriefly();
    this.#followedSignature = stateSignature(dir);
    const store = await this.#openView(dir);
    if (store.counts().running > 0 && !lockHolder(dir)) {
      // in flight with nobody running them: a crashed session. Put them back to pending, as a run would.
      store.close();
      return this.#lockBriefly();
    }
    this.#setStore(store, false);
    return store;
  }

  /** The state in `dir`, read-only (the lock stays with whoever has it). */
  #openView(dir: string): Promise<CheckpointStore> {
    return openStore(dir, { logger: this.#log, assetsDir: this.#o.assetsDir, readOnly: true });
  }

  /** The store with its lock, given back once idle (inside #exclusive): creates the state, or resets documents left in flight. */
  async #lockBriefly(): Promise<CheckpointStore> {
    try {
      return await this.#writableStore();
    } finally {
      this.#scheduleRelease();
    }
  }

  /** The store with its lock (inside #exclusive): the current one, or opened writable in place of the read-only view. */
  async #writableStore(): Promise<CheckpointStore> {
    if (this.#store && this.#writable) return this.#store;
    if (this.#closed) throw new Error('The workspace folder was closed');
    if (this.usesDatabase()) return this.#openDatabase();
    let store: CheckpointStore;
    let waited: (() => void) | undefined;
    try {
      store = await openWhenReleased(() => openStore(this.stateDir(), { logger: this.#log, assetsDir: this.#o.assetsDir }), {
        waitMs: LOCK_WAIT_MS,
        onWait: (pid) => {
          this.#log.info(`The extraction state is held by process ${pid} (a window that is closing, or a CLI run?): waiting up to ${LOCK_WAIT_MS / 1000} s for it`);
          const title = `Waiting for process ${pid} to release the extraction state of ${this.name}`;
          void vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, () => new Promise<void>((resolve) => (waited = resolve)));
        },
        cancelled: () => this.#closed,
      });
    } catch (err) {
      if (err instanceof StoreLockedError && err.ownerPid !== process.pid) throw new StateInUseError(this.name, err.ownerPid);
      throw err;
    } finally {
      waited?.();
    }
    if (this.#closed) {
      store.close();
      throw new Error('The workspace folder was closed');
    }
    const reset = store.resetInFlight();
    if (reset) this.#log.info(`${reset} document(s) left in flight by an earlier session are pending again`);
    this.#setStore(store, true);
    return store;
  }

  /**
   * The state database of the settings (inside #exclusive), open for writing: workers share it, nothing is
   * locked and nothing is reset (documents in flight are other workers'; their claims say when they are
   * gone). Followed as long as it is the folder's store.
   */
  async #openDatabase(): Promise<CheckpointStore> {
    const { store, follower } = await openStateDatabase(this.settings(), {
      stateDir: this.stateDir(),
      logger: this.#log,
      assetsDir: this.#o.assetsDir,
      password: this.#o.statePassword,
      onChanges: (db) => this.#exclusive(() => this.#pullDatabase(db)),
    });
    if (this.#closed) {
      await follower.close();
      store.close();
      throw new Error('The workspace folder was closed');
    }
    this.#setStore(store, true);
    this.#database = follower;
    return store;
  }

  /** Other workers wrote to the state database: their changes into the store, and the views told. */
  async #pullDatabase(db: DatabaseFollower): Promise<void> {
    if (this.#closed || this.#database !== db || this.#store !== db.store) return;
    if (await db.pull()) {
      this.#onDidReloadStore.fire();
      this.#onDidChangeState.fire();
    }
  }

  /**
   * The state source changed (`stateUrl`, `stateFolder` or the state database password): the store is closed
   * and opened again from the new settings, unless a run is active here (it keeps its store; the change
   * applies once it has finished and the folder is opened again).
   */
  async reopenState(): Promise<void> {
    if (this.running || this.#closed) return;
    await this.#exclusive(async () => {
      if (this.running || this.#closed) return;
      await this.#closeSession();
      this.#dropStore();
    });
    this.#onDidReloadStore.fire();
    this.#onDidChangeState.fire();
    if (this.hasState()) await this.openStore();
  }

  /** Closes the store and stops following it (inside #exclusive). */
  #dropStore(): void {
    clearTimeout(this.#follow);
    this.#follow = undefined;
    void this.#database?.close();
    this.#database = undefined;
    try {
      this.#store?.close();
    } catch (err) {
      this.#log.error(err instanceof Error ? err : String(err));
    }
    this.#store = undefined;
    this.#writable = false;
  }

  /** Replaces the store (closing the old one), follows it when read-only, and tells the views. */
  #setStore(store: CheckpointStore, writable: boolean): void {
    const old = this.#store;
    this.#store = store;
    this.#writable = writable;
    if (this.#database && this.#database.store !== store) {
      void this.#database.close();
      this.#database = undefined;
    }
    if (old && old !== store) {
      try {
        old.close();
      } catch (err) {
        this.#log.error(err instanceof Error ? err : String(err));
      }
    }
    clearTimeout(this.#follow);
    this.#follow = undefined;
    if (!writable) this.#scheduleFollow(FOLLOW_MS);
    if (old) this.#onDidReloadStore.fire();
    this.#onDidChangeState.fire();
  }

  #scheduleFollow(ms: number): void {
    clearTimeout(this.#follow);
    this.#follow = setTimeout(() => void this.#exclusive(() => this.#followOnce()), ms);
    this.#follow.unref?.();
  }

  /** One look at a read-only view: opened again when another process changed the state. */
  async #followOnce(): Promise<void> {
    if (this.#closed || this.#writable || !this.#store) return;
    this.followStats.polls++;
    const dir = this.stateDir();
    let next = FOLLOW_MS;
    try {
      const signature = stateSignature(dir);
      if (signature !== this.#followedSignature) {
        const t0 = Date.now();
        const store = await this.#openView(dir);
        this.#followedSignature = signature;
        next = Math.max(FOLLOW_MS, FOLLOW_OPEN_FACTOR * (Date.now() - t0));
        if (this.#closed || this.#writable) {
          store.close();
          return;
        }
        this.#setStore(store, false);
        if (store.counts().running > 0 && !lockHolder(dir)) {
          // the process that had them in flight is gone without finishing (killed CLI run): pending again
          await this.#lockBriefly();
          return;
        }
      }
    } catch (err) {
      // the other process is compacting (files renamed under us), or the folder went away: look again later
      this.#log.debug(`Following the extraction state: ${(err as Error)?.message ?? err}`);
    }
    if (!this.#closed && !this.#writable) this.#scheduleFollow(next);
  }

  /** Gives the lock back once the window has been idle for RELEASE_AFTER_MS (no run, no change). */
  #scheduleRelease(): void {
    clearTimeout(this.#release);
    this.#release = setTimeout(() => void this.#exclusive(() => this.#releaseIfIdle()), RELEASE_AFTER_MS);
    this.#release.unref?.();
  }

  async #releaseIfIdle(): Promise<void> {
    if (this.#closed || !this.#writable || !this.#store) return;
    if (this.running || this.#tracked.size) return; // run/finished schedules the release again
    await this.#closeSession();
    if (this.#store instanceof PgCheckpointStore) return; // a shared database: no lock to give back
    const dir = this.stateDir();
    let view: CheckpointStore;
    try {
      // read before the writer closes: the same content (this window is the only writer), and never a moment
      // without a store for the views
      view = await this.#openView(dir);
    } catch (err) {
      this.#log.error(`Cannot show the extraction state read-only, so this window keeps its lock: ${(err as Error)?.message ?? err}`);
      return;
    }
    this.#setStore(view, false); // closes the writer (its last compaction renames files: the signature is taken after)
    this.#followedSignature = stateSignature(dir);
  }

  /**
   * The last run when it was interrupted with documents left to do: shut down with the window (reload,
   * close: status `interrupted`) or never finished at all (crash, killed process: still `running`/`paused`).
   */
  interruptedRun(): RunRecord | undefined {
    const store = this.#store;
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
    const store = { getDocument: (p: string) => this.#store?.getDocument(p) };
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
    const run = this.#store?.latestRun();
    if (!run || (run.status !== 'running' && run.status !== 'paused')) return undefined;
    if (this.#database) return this.#database.otherWorkers > 0 ? run : undefined;
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
    if (this.#store instanceof PgCheckpointStore) sendFleetControl(this.#store, command, this.#log);
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
    this.#closed = true;
    try {
      await this.#session?.pipeline.shutdown(timeoutMs);
    } catch (err) {
      this.#log.error(err instanceof Error ? err : String(err));
    }
    await this.#closeSession();
    clearTimeout(this.#release);
    // after a store open or release under way (they see #closed and stop)
    await this.#exclusive(async () => {
      const store = this.#store;
      this.#dropStore();
      // a database store writes what is queued before its connections end
      if (store instanceof PgCheckpointStore) await store.closeAndWait().catch(() => undefined);
    });
  }

  override dispose(): void {
    clearTimeout(this.#follow);
    void this.#database?.close();
    clearTimeout(this.#release);
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
    // the lock is given back once the session is idle again (a run holds it until it finishes)
    const session = this.#exclusive(() => this.#openSession());
    void session.then(() => this.#scheduleRelease(), () => this.#scheduleRelease());
    return session;
  }

  async #openSession(): Promise<Session> {
    if (this.#closed) throw new Error('The workspace folder was closed');
    const current = this.#session;
    if (current?.pipeline.running) return current; // never swap a pipeline under an active run
    const settings = this.runSettings();
    const apiKey = await this.#o.apiKey(settings.baseURL);
    if (current && this.#sessionKey === apiKey && sameRunSettings(current.settings, settings)) return current;
    await this.#closeSession();
    const store = await this.#writableStore();
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
          this.#scheduleRelease();
          this.#onDidFinishRun.fire({ folder: this, summary, trigger });
        },
        (err) => {
          this.#tracked.delete(handle.runId);
          this.#scheduleRelease();
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
