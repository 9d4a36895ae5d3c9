/**
 * Connecting to the state database: a pool with a clear error when the database cannot be reached. `pg` is
 * required here, on the first connection, so the CLI and the extension do not load it when the state is a
 * folder (it cost ~45 ms of every `status`).
 */
import type { Pool } from 'pg';
import type { StoreLogger } from '../options';
import { StoreDatabaseError } from './errors';
import { checkStateUrl, redactUrl } from './url';

/** Errors that mean "the connection is gone or cannot be made" (retry), not "the statement is wrong". */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  const code = err?.code ?? '';
  if (/^(08|57P0|53300)/.test(code)) return true; // connection exception, admin shutdown, too many connections
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(code)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|terminating connection/i.test(err?.message ?? '');
}

/** A pool on the state database; connects once to check it can (StoreDatabaseError naming the URL without its password). */
export async function connectPool(url: string, logger: StoreLogger, options: { max?: number } = {}): Promise<Pool> {
  checkStateUrl(url);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Pool } = require('pg') as typeof import('pg');
  const pool = new Pool({ connectionString: url, max: options.max ?? 8, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000, application_name: 'extraction-workbench' });
  // an idle connection dropped by the server must not crash the process; the next query reconnects
  pool.on('error', (e) => logger.warn(`state database connection lost: ${e.message}`));
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new StoreDatabaseError(`Cannot open the state database ${redactUrl(url)}: ${(e as Error).message}. Check that the server runs and the URL (user, host, port, database) is right; the password comes from the URL, PGPASSWORD or ~/.pgpass.`, e);
  }
  return pool;
}

/**
 * Runs `fn` until it succeeds or fails for another reason than a lost connection: through an outage of
 * the database it is retried with backoff (100 ms doubling to 5 s); the first failure and the recovery are
 * logged once. `gaveUp()` true ends the waiting with the last error (a worker shutting down).
 */
export async function retryOnDisconnect<T>(fn: () => Promise<T>, o: { logger?: StoreLogger; what: string; gaveUp?: () => boolean; onRetry?: () => void }): Promise<T> {
  let backoff = 100;
  let failed = false;
  for (;;) {
    try {
      const r = await fn();
      if (failed) o.logger?.warn(`The state database is reachable again; ${o.what} goes on.`);
      return r;
    } catch (e) {
      if (!isConnectionError(e) || o.gaveUp?.()) throw e;
      if (!failed) o.logger?.warn(`The state database is unreachable (${(e as Error).message}); ${o.what} waits for it…`);
      failed = true;
      o.onRetry?.();
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(5000, backoff * 2);
    }
  }
}
