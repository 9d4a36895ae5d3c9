/**
 * The window on a PostgreSQL state: `extractionWorkbench.stateUrl` names the database (without a password;
 * the password is in the secret storage, see secrets.ts). Pure: no `vscode` import.
 */
import type { ControlCommand } from '../app/runControl';
import { openStore } from '../app/session';
import { ErrorCodes, ExtractionError } from '../core/errors';
import type { Disposable } from '../core/events';
import type { Logger } from '../core/logger';
import type { Pipeline } from '../core/pipeline';
import { listenForChanges, type ChangeFeed } from '../store/pg/changeFeed';
import { liveWorkers, sendPgControl, watchPgControl } from '../store/pg/control';
import { PgCheckpointStore } from '../store/pg/pgStore';
import { checkStateUrl, redactUrl, withPassword } from '../store/pg/url';
import type { ExtensionSettings } from './extensionSettings';

/** How long the fleet's change notifications are gathered before the window reads them (ms). */
const FOLLOW_DEBOUNCE_MS = 250;

export const STATE_URL_SETTING = 'extractionWorkbench.stateUrl';
export const SET_STATE_PASSWORD_TITLE = 'Extraction Workbench: Set State Database Password';

/**
 * The state database URL of the settings (undefined: the state is the state folder). INVALID_CONFIG when it
 * is not a postgres:// URL, or when it holds a password: settings are plain text (and often committed), so
 * the message says how to move it to the secret storage; nothing is connected with it.
 */
export function stateUrlOf(settings: Pick<ExtensionSettings, 'stateUrl'>): string | undefined {
  const value = settings.stateUrl.trim();
  if (!value) return undefined;
  let url: URL;
  try {
    url = checkStateUrl(value);
  } catch (e) {
    throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `The setting ${STATE_URL_SETTING}: ${(e as Error).message}`);
  }
  if (url.password) {
    throw new ExtractionError(
      ErrorCodes.INVALID_CONFIG,
      `The setting ${STATE_URL_SETTING} holds a password, which settings must not: set it to ${redactUrl(value)} (without the password) and run "${SET_STATE_PASSWORD_TITLE}" to keep the password in the editor's secret storage. The database was not opened.`,
    );
  }
  return value;
}

/** The URL to connect with: the setting's, with the stored password (none: PGPASSWORD or ~/.pgpass apply). */
export function connectUrlOf(stateUrl: string, password: string | undefined): string {
  return withPassword(stateUrl, password);
}

export interface OpenStateDatabaseOptions {
  /** This machine's state folder (caches and saved settings; the state itself is in the database). */
  stateDir: string;
  logger: Logger;
  assetsDir: string;
  password?: () => Promise<string | undefined>;
  /** Other workers wrote changes (debounced); called with the follower, whose `pull()` reads them. */
  onChanges: (follower: DatabaseFollower) => Promise<void>;
}

/** A state database the window has open: its store, and what it learns from the change feed. */
export class DatabaseFollower {
  /** Live workers on the database other than this window (their `ew_workers` rows seen lately). */
  otherWorkers = 0;

  constructor(
    readonly store: PgCheckpointStore,
    readonly feed: ChangeFeed,
  ) {}

  /** Reads the other workers' changes into the store; true when the views should read it again. */
  async pull(): Promise<boolean> {
    const applied = await this.store.refresh();
    const before = this.otherWorkers;
    await this.countWorkers();
    return applied > 0 || before !== this.otherWorkers;
  }

  async countWorkers(): Promise<void> {
    this.otherWorkers = (await liveWorkers(this.store.pool)).filter((w) => w.worker !== this.store.workerId).length;
  }

  /** Stops listening (the store is closed by its owner). */
  close(): Promise<void> {
    return this.feed.close();
  }
}

/**
 * Opens the state database of the settings for writing (migrated when new), and LISTENs for the changes
 * other workers write (see changeFeed.ts). INVALID_CONFIG for a bad `stateUrl`; a database that cannot be
 * reached: the store's message (URL without the password, where the password comes from).
 */
export async function openStateDatabase(settings: Pick<ExtensionSettings, 'stateUrl'>, o: OpenStateDatabaseOptions): Promise<{ store: PgCheckpointStore; follower: DatabaseFollower }> {
  const url = stateUrlOf(settings);
  if (!url) throw new Error(`${STATE_URL_SETTING} is not set`);
  const connectUrl = connectUrlOf(url, await o.password?.());
  const store = await openStore(o.stateDir, { logger: o.logger, assetsDir: o.assetsDir, url: connectUrl });
  if (!(store instanceof PgCheckpointStore)) throw new Error(`${redactUrl(url)} did not open as a database store`);
  // the feed calls back after its debounce, never before `follower` is set below
  const feed = listenForChanges(
    connectUrl,
    () => {
      void o.onChanges(follower).catch((e: Error) => o.logger.warn(`Reading the fleet's changes from ${store.url} failed (tried again at the next change): ${e.message}`));
    },
    { logger: o.logger, debounceMs: FOLLOW_DEBOUNCE_MS },
  );
  const follower = new DatabaseFollower(store, feed);
  try {
    await feed.ready;
    await follower.countWorkers();
  } catch (e) {
    await feed.close();
    await store.closeAndWait().catch(() => undefined);
    throw e;
  }
  o.logger.info(`Extraction state: the database ${store.url} (this window is worker ${store.workerId})`);
  return { store, follower };
}

/** Pause, resume or stop for every worker of the fleet (they answer within about a second). */
export function sendFleetControl(store: PgCheckpointStore, command: ControlCommand, logger: Logger): void {
  void sendPgControl(store.pool, command).catch((e: Error) => logger.error(`Sending ${command} to the fleet on ${store.url} failed: ${e.message}`));
}

/**
 * While the window has a session on the database, it is a worker of the fleet like a CLI run: it carries
 * out pause, resume and stop sent to the fleet (`extraction-workbench pause --state postgres://…`, another
 * window) and reports itself in `ew_workers`, so other windows see its run.
 */
export function followFleetControl(store: PgCheckpointStore, pipeline: Pipeline, logger: Logger): Disposable {
  return watchPgControl(
    store.pool,
    store.workerId,
    (r) => {
      if (!pipeline.running) return;
      const by = `from ${r.by}`;
      if (r.command === 'pause') pipeline.pause(`Paused ${by}`);
      else if (r.command === 'resume') pipeline.resume();
      else void pipeline.stop(`Stopped ${by}`);
      logger.info(`${r.command} requested by the fleet (${by})`);
    },
    () => (pipeline.paused ? 'paused' : pipeline.running ? 'running' : 'idle'),
    { logger },
  );
}
