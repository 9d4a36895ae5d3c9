/**
 * Following a state database without polling: every insert into the change log NOTIFYs the channel
 * {@link CHANGES_CHANNEL} (a statement trigger, migration 3: one notification per batch of any writer,
 * older workers included), and a follower LISTENs on a connection of its own. NOTIFY reaches the sessions
 * of the same database only, so the channel is per state (one database holds one folder's state).
 *
 * Notifications are coalesced (`debounceMs`: the first one arms a timer, those that come before it fires
 * are folded into it), so a fleet writing hundreds of batches a second costs the follower a few reads. A
 * lost connection (server restart, network) is connected again with backoff; notifications sent meanwhile
 * are lost, so the follower is called once after each reconnect.
 */
import type { Client } from 'pg';
import type { StoreLogger } from '../options';
import { checkStateUrl, redactUrl } from './url';

export const CHANGES_CHANNEL = 'ew_changes';

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;

export interface ChangeFeedOptions {
  logger?: StoreLogger;
  /** How long notifications are gathered before `onChange` is called (default 200 ms). */
  debounceMs?: number;
}

export interface ChangeFeed {
  /** Resolves when the first LISTEN is in place (rejects when the first connection fails). */
  readonly ready: Promise<void>;
  /** Notifications received and calls of `onChange`, connections made (for tests and the log). */
  readonly stats: { notifications: number; calls: number; connections: number };
  close(): Promise<void>;
}

/** LISTENs for changes of the state database at `url`; `onChange` is called (debounced) after others write. */
export function listenForChanges(url: string, onChange: () => void, options: ChangeFeedOptions = {}): ChangeFeed {
  checkStateUrl(url);
  const debounceMs = options.debounceMs ?? 200;
  const logger = options.logger;
  const stats = { notifications: 0, calls: 0, connections: 0 };
  let client: Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let backoff = MIN_BACKOFF_MS;
  let lost = false;

  const fire = () => {
    timer = undefined;
    if (closed) return;
    stats.calls++;
    try {
      onChange();
    } catch (e) {
      logger?.warn(`Following the state database: ${(e as Error).message}`);
    }
  };
  const schedule = () => {
    if (!closed && !timer) timer = setTimeout(fire, debounceMs);
  };

  const connect = async (): Promise<void> => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Client } = require('pg') as typeof import('pg');
    const c = new Client({ connectionString: url, keepAlive: true, connectionTimeoutMillis: 10_000, application_name: 'extraction-workbench (follow)' });
    c.on('notification', (n) => {
      if (n.channel !== CHANGES_CHANNEL) return;
      stats.notifications++;
      schedule();
    });
    c.on('error', (e) => drop(c, e));
    c.on('end', () => drop(c, new Error('the connection ended')));
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (e) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
      throw e;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    stats.connections++;
    backoff = MIN_BACKOFF_MS;
    if (lost) {
      lost = false;
      logger?.warn(`Following the state database ${redactUrl(url)} again.`);
      schedule(); // what was written while the connection was away
    }
  };

  const drop = (c: Client, e: Error) => {
    if (client !== c || closed) return;
    client = undefined;
    c.removeAllListeners('end');
    void c.end().catch(() => undefined);
    if (!lost) logger?.warn(`Following the state database ${redactUrl(url)}: connection lost (${e.message}); connecting again…`);
    lost = true;
    reconnect();
  };

  const reconnect = () => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect().catch(() => {
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        reconnect();
      });
    }, backoff);
  };

  const ready = connect();
  ready.catch(() => undefined);
  return {
    ready,
    stats,
    async close() {
      closed = true;
      clearTimeout(timer);
      clearTimeout(retry);
      const c = client;
      client = undefined;
      if (c) {
        c.removeAllListeners('end');
        await c.end().catch(() => undefined);
      }
    },
  };
}
