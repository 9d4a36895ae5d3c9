/**
 * Results in the state database (`ew_results`, schema v6): each finished document's result — the object the
 * JSON exporter writes to `<out>/<doc>.json` — as jsonb, so `export` and the review of a window work on a
 * machine that does not have the worker's output folder.
 *
 * A worker writes a result under its claim, fenced ({@link putResultFenced}): one statement renews the claim
 * if this worker still holds it with its token, and only then stores the result; a worker whose document was
 * taken over writes nothing. It is written before the document is checkpointed `done` (the pipeline fences
 * with the result before it writes the result file and marks the document done), so a `done` document always
 * has its result here. A worker that takes a document over writes its own result in place of a stale one.
 *
 * jsonb keeps the values, not the order of an object's keys: readers that order columns by the job's schema
 * (the dataset export, review) show the same thing as from the file.
 */
import type { Pool } from 'pg';
import { ErrorCodes, ExtractionError } from '../../core/errors';
import type { ResultFile } from '../../export/jsonExporter';
import type { StoreLogger } from '../options';
import type { SharedResults } from '../types';
import { isConnectionError, retryOnDisconnect } from './connect';

/** A query runner (the claims' one waits through a lost connection). */
type Query = <R extends object>(sql: string, params: unknown[]) => Promise<{ rows: R[] }>;

/**
 * Stores `result` for `path` if `writer` still holds the document's claim with `token`, renewing the lease
 * (one statement: the claim row is locked while the result is written, so no takeover slips in between).
 * False when the claim was taken over: nothing was written. A result the database cannot hold (a NUL
 * character in a text) is EXPORT_FAILED with the reason.
 */
export async function putResultFenced(query: Query, o: { path: string; writer: string; token: string; leaseSeconds: number; result: ResultFile }): Promise<boolean> {
  const m = o.result.metadata;
  try {
    const r = await query(
      `WITH fenced AS (
         UPDATE ew_claims SET lease_until = now() + make_interval(secs => $4), updated_at = now()
         WHERE path = $1 AND owner = $2 AND token = $3 AND state = 'claimed' RETURNING token)
       INSERT INTO ew_results AS r (path, result, fingerprint, content_hash, run_id, attempt, token, writer, updated_at)
       SELECT $1, $5::jsonb, $6, $7, $8, $9, fenced.token, $2, now() FROM fenced
       ON CONFLICT (path) DO UPDATE SET result = EXCLUDED.result, fingerprint = EXCLUDED.fingerprint, content_hash = EXCLUDED.content_hash,
         run_id = EXCLUDED.run_id, attempt = EXCLUDED.attempt, token = EXCLUDED.token, writer = EXCLUDED.writer, updated_at = now()
         WHERE r.token <= EXCLUDED.token
       RETURNING 1`,
      [o.path, o.writer, o.token, o.leaseSeconds, JSON.stringify(o.result), m.fingerprint, m.contentHash, m.runId, m.attempts],
    );
    return r.rows.length > 0;
  } catch (e) {
    if (isConnectionError(e)) throw e;
    throw new ExtractionError(ErrorCodes.EXPORT_FAILED, `The result of ${o.path} cannot be stored in the state database: ${(e as Error).message}`, { stage: 'exporting', cause: e, retryable: false });
  }
}

/** Reading (and the reviewer's corrections) of the results in the database; see {@link SharedResults}. */
export class PgResults implements SharedResults {
  constructor(
    private readonly pool: Pool,
    private readonly o: { logger?: StoreLogger; closed: () => boolean; present: boolean },
  ) {}

  async get(path: string): Promise<ResultFile | undefined> {
    if (!this.o.present) return undefined;
    const r = await this.#query<{ result: ResultFile }>('SELECT result FROM ew_results WHERE path = $1', [path]);
    const result = r.rows[0]?.result;
    return result && result.source === path ? result : undefined;
  }

  async getMany(paths: readonly string[]): Promise<Map<string, ResultFile>> {
    const out = new Map<string, ResultFile>();
    if (!this.o.present || paths.length === 0) return out;
    const r = await this.#query<{ path: string; result: ResultFile }>('SELECT path, result FROM ew_results WHERE path = ANY($1::text[])', [paths]);
    for (const row of r.rows) if (row.result?.source === row.path) out.set(row.path, row.result);
    return out;
  }

  async paths(): Promise<string[]> {
    if (!this.o.present) return [];
    const r = await this.#query<{ path: string }>('SELECT path FROM ew_results', []);
    return r.rows.map((row) => row.path).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async replace(next: ResultFile, current: ResultFile = next): Promise<boolean> {
    if (!this.o.present || next.source !== current.source) return false;
    const r = await this.#query(
      `UPDATE ew_results SET result = $2::jsonb, updated_at = now()
       WHERE path = $1 AND result->'metadata'->>'runId' = $3 AND result->'metadata'->>'finishedAt' = $4 RETURNING 1`,
      [next.source, JSON.stringify(next), current.metadata.runId, current.metadata.finishedAt],
    );
    return r.rows.length > 0;
  }

  #query<R extends object = Record<string, unknown>>(sql: string, params: unknown[]): Promise<{ rows: R[] }> {
    return retryOnDisconnect(() => this.pool.query<R & Record<string, unknown>>(sql, params), { logger: this.o.logger, what: 'reading results', gaveUp: this.o.closed });
  }
}
