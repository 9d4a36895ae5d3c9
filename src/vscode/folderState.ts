/**
 * The checkpoint store of one workspace folder, as the window holds it (see workspaceRuns.ts for the whole
 * picture): read-only and followed while the window is idle, with the lock from a run's start or a change
 * until it has been idle for RELEASE_AFTER_MS, or a shared PostgreSQL state followed through its change feed.
 * One queue (`exclusive`) orders every open, release and session change of the folder.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { openStore } from '../app/session';
import type { Logger } from '../core/logger';
import { lockHolder, openWhenReleased, stateSignature, StoreLockedError } from '../store';
import { PgCheckpointStore } from '../store/pg/pgStore';
import type { CheckpointStore } from '../store/types';
import { Disposable } from './dispose';
import type { ExtensionSettings } from './extensionSettings';
import { openStateDatabase, type DatabaseFollower } from './stateDatabase';

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

/** What the store handling asks of its folder (FolderRuns). */
export interface FolderStateHost {
  readonly name: string;
  settings(): ExtensionSettings;
  stateDir(): string;
  hasState(): boolean;
  usesDatabase(): boolean;
  /** A run of this window is active. */
  running(): boolean;
  /** Runs of this window have not finished yet (their handles are tracked): the lock stays. */
  tracking(): boolean;
  /** Closes the session (before the lock is given back, or the store is dropped). */
  closeSession(): Promise<void>;
  /** The run state or the store changed: tell the views. */
  changed(): void;
}

export interface FolderStateOptions {
  logger: Logger;
  /** Folder holding sql-wasm.wasm (the bundle's folder). */
  assetsDir: string;
  /** The password of the state database (secret storage), when `stateUrl` is set. */
  statePassword?: () => Promise<string | undefined>;
}

export class FolderState extends Disposable {
  readonly #host: FolderStateHost;
  readonly #o: FolderStateOptions;
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
  #lock: Promise<unknown> = Promise.resolve();
  #closed = false;

  readonly #onDidReloadStore = this._register(new vscode.EventEmitter<void>());
  /** The store was opened again (another process changed the state, or the lock was taken or released): read everything again. */
  readonly onDidReloadStore = this.#onDidReloadStore.event;

  constructor(host: FolderStateHost, options: FolderStateOptions, log: Logger) {
    super();
    this.#host = host;
    this.#o = options;
    this.#log = log;
  }

  get store(): CheckpointStore | undefined {
    return this.#store;
  }

  /** The followed state database (undefined: the state is a folder, or not open). */
  get database(): DatabaseFollower | undefined {
    return this.#database;
  }

  /** The folder is shutting down or closed: nothing opens any more. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `fn` after every open, release or session change queued before it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#lock.then(fn, fn);
    this.#lock = next.catch(() => undefined);
    return next;
  }

  /** Nothing opens from now on (shutdown); `close` then closes the store. */
  markClosed(): void {
    this.#closed = true;
  }

  /** Closes the store after any open or release under way (they see `closed` and stop). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#release);
    await this.exclusive(async () => {
      const store = this.#store;
      this.#drop();
      // a database store writes what is queued before its connections end
      if (store instanceof PgCheckpointStore) await store.closeAndWait().catch(() => undefined);
    });
  }

  override dispose(): void {
    clearTimeout(this.#follow);
    void this.#database?.close();
    clearTimeout(this.#release);
    super.dispose();
  }

  /** Whether this window holds the store's lock now (a run, or a change within RELEASE_AFTER_MS). */
  get writable(): boolean {
    return this.#writable;
  }

  /**
   * The folder's checkpoint store, to read (opened once; see the header on when it is read-only). A folder
   * without state gets one created. Documents left in flight by a crash become pending again.
   */
  open(): Promise<CheckpointStore> {
    if (this.#store) return Promise.resolve(this.#store);
    return this.exclusive(() => this.#viewStore());
  }

  /** Runs `change` on the store with its lock held (taken if need be, released again once idle). */
  withWritable<T>(change: (store: CheckpointStore) => T): Promise<T> {
    return this.exclusive(async () => change(await this.#lockBriefly()));
  }

  /**
   * Runs `read` on the store held steady: following another process's changes and giving the lock back wait
   * until it has finished, so a long read (an export) never finds its store closed underneath.
   */
  read<T>(read: (store: CheckpointStore) => T | Promise<T>): Promise<T> {
    return this.exclusive(async () => read(await this.#viewStore()));
  }

  async #viewStore(): Promise<CheckpointStore> {
    if (this.#store) return this.#store;
    if (this.#closed) throw new Error('The workspace folder was closed');
    if (this.#host.usesDatabase()) return this.#openDatabase();
    const dir = this.#host.stateDir();
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
      return await this.writableStore();
    } finally {
      this.scheduleRelease();
    }
  }

  /** The store with its lock (inside #exclusive): the current one, or opened writable in place of the read-only view. */
  async writableStore(): Promise<CheckpointStore> {
    if (this.#store && this.#writable) return this.#store;
    if (this.#closed) throw new Error('The workspace folder was closed');
    if (this.#host.usesDatabase()) return this.#openDatabase();
    let store: CheckpointStore;
    let waited: (() => void) | undefined;
    try {
      store = await openWhenReleased(() => openStore(this.#host.stateDir(), { logger: this.#log, assetsDir: this.#o.assetsDir }), {
        waitMs: LOCK_WAIT_MS,
        onWait: (pid) => {
          this.#log.info(`The extraction state is held by process ${pid} (a window that is closing, or a CLI run?): waiting up to ${LOCK_WAIT_MS / 1000} s for it`);
          const title = `Waiting for process ${pid} to release the extraction state of ${this.#host.name}`;
          void vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, () => new Promise<void>((resolve) => (waited = resolve)));
        },
        cancelled: () => this.#closed,
      });
    } catch (err) {
      if (err instanceof StoreLockedError && err.ownerPid !== process.pid) throw new StateInUseError(this.#host.name, err.ownerPid);
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
    const { store, follower } = await openStateDatabase(this.#host.settings(), {
      stateDir: this.#host.stateDir(),
      logger: this.#log,
      assetsDir: this.#o.assetsDir,
      password: this.#o.statePassword,
      onChanges: (db) => this.exclusive(() => this.#pullDatabase(db)),
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
      this.#host.changed();
    }
  }

  /**
   * The state source changed (`stateUrl`, `stateFolder` or the state database password): the store is closed
   * and opened again from the new settings, unless a run is active here (it keeps its store; the change
   * applies once it has finished and the folder is opened again).
   */
  async reopen(): Promise<void> {
    if (this.#host.running() || this.#closed) return;
    await this.exclusive(async () => {
      if (this.#host.running() || this.#closed) return;
      await this.#host.closeSession();
      this.#drop();
    });
    this.#onDidReloadStore.fire();
    this.#host.changed();
    if (this.#host.hasState()) await this.open();
  }

  /** Closes the store and stops following it (inside #exclusive). */
  #drop(): void {
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
    this.#host.changed();
  }

  #scheduleFollow(ms: number): void {
    clearTimeout(this.#follow);
    this.#follow = setTimeout(() => void this.exclusive(() => this.#followOnce()), ms);
    this.#follow.unref?.();
  }

  /** One look at a read-only view: opened again when another process changed the state. */
  async #followOnce(): Promise<void> {
    if (this.#closed || this.#writable || !this.#store) return;
    this.followStats.polls++;
    const dir = this.#host.stateDir();
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
  scheduleRelease(): void {
    clearTimeout(this.#release);
    this.#release = setTimeout(() => void this.exclusive(() => this.#releaseIfIdle()), RELEASE_AFTER_MS);
    this.#release.unref?.();
  }

  async #releaseIfIdle(): Promise<void> {
    if (this.#closed || !this.#writable || !this.#store) return;
    if (this.#host.running() || this.#host.tracking()) return; // run/finished schedules the release again
    await this.#host.closeSession();
    if (this.#store instanceof PgCheckpointStore) return; // a shared database: no lock to give back
    const dir = this.#host.stateDir();
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
}
