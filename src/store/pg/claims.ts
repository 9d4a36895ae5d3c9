/**
 * Document claims on PostgreSQL: the {@link WorkClaims} port for workers sharing one database (after
 * pg-boss and graphile-worker: a row per job, leases with an end time, `FOR UPDATE SKIP LOCKED` so
 * workers sweeping up never wait on each other, a fencing token against a worker that comes back late).
 *
 * ew_claims row states: `claimed` (owner + lease_until + token), `released` (given back unfinished: a
 * stopped worker), `done` / `dead` (finished for `version`; a new version of the file is claimed again).
 * A lease is renewed every third of its length while the worker runs; a worker that stops renewing (killed,
 * cut off) loses its documents to the first worker that sweeps after the lease ended.
 *
 * Calls wait through a lost connection (retried with backoff): a worker cut off from the database pauses
 * and goes on when it is back; its leases may have run out meanwhile, which its fencing checks then say.
 */
import type { Pool } from 'pg';
import { LeaseLostError, type ClaimVerdict, type WorkClaims } from '../../core/workClaims';
import type { StoreLogger } from '../options';
import type { ResultFile } from '../../export/jsonExporter';
import { retryOnDisconnect } from './connect';
import { putResultFenced } from './results';

export const DEFAULT_LEASE_SECONDS = 60;

export interface PgClaimsOptions {
  leaseSeconds?: number;
  logger?: StoreLogger;
}

export class PgWorkClaims implements WorkClaims {
  readonly leaseSeconds: number;
  /** Fencing tokens of the claims this worker holds. */
  readonly #tokens = new Map<string, string>();
  readonly #renewal: NodeJS.Timeout;
  readonly #logger: StoreLogger | undefined;
  #disposed = false;
  /** Round trips, for the bench. */
  readonly stats = { queries: 0, retries: 0 };

  constructor(
    private readonly pool: Pool,
    readonly workerId: string,
    options: PgClaimsOptions = {},
  ) {
    this.leaseSeconds = options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
    if (!(this.leaseSeconds > 0)) throw new RangeError(`the lease must be longer than 0 s, got ${this.leaseSeconds}`);
    this.#logger = options.logger;
    this.#renewal = setInterval(() => void this.#renew(), (this.leaseSeconds * 1000) / 3);
    this.#renewal.unref();
  }

  get held(): number {
    return this.#tokens.size;
  }

  async claim(path: string, version: string, options: { force?: boolean } = {}): Promise<ClaimVerdict> {
    // one round trip: the claim, and when it is refused, the row's state as it was (the same snapshot)
    const r = await this.#query<{ token: string | null; state: string | null }>(
      `WITH claimed AS (
         INSERT INTO ew_claims AS c (path, version, state, owner, token, lease_until)
         VALUES ($1, $2, 'claimed', $3, 1, now() + make_interval(secs => $4))
         ON CONFLICT (path) DO UPDATE SET version = EXCLUDED.version, state = 'claimed', owner = EXCLUDED.owner,
           token = c.token + 1, lease_until = EXCLUDED.lease_until, updated_at = now()
         WHERE (c.state = 'claimed' AND (c.owner = EXCLUDED.owner OR c.lease_until < now()))
            OR c.state = 'released'
            OR (c.state IN ('done', 'dead') AND (c.version <> EXCLUDED.version OR $5))
         RETURNING c.token)
       SELECT (SELECT token FROM claimed) AS token, (SELECT state FROM ew_claims WHERE path = $1) AS state`,
      [path, version, this.workerId, this.leaseSeconds, !!options.force],
    );
    const row = r.rows[0];
    if (row.token !== null) {
      this.#tokens.set(path, row.token);
      return 'granted';
    }
    return row.state === 'done' ? 'done' : row.state === 'dead' ? 'dead' : 'held';
  }

  async fence(path: string, result?: ResultFile): Promise<void> {
    const token = this.#tokens.get(path);
    if (token === undefined) throw new LeaseLostError(path);
    const held = result
      ? await putResultFenced((sql, params) => this.#query(sql, params), { path, writer: this.workerId, token, leaseSeconds: this.leaseSeconds, result })
      : (
          await this.#query(
            `UPDATE ew_claims SET lease_until = now() + make_interval(secs => $4), updated_at = now()
             WHERE path = $1 AND owner = $2 AND token = $3 AND state = 'claimed' RETURNING 1`,
            [path, this.workerId, token, this.leaseSeconds],
          )
        ).rows.length > 0;
    if (!held) {
      this.#tokens.delete(path);
      throw new LeaseLostError(path);
    }
  }

  async finish(path: string, state: 'done' | 'dead'): Promise<void> {
    const token = this.#tokens.get(path);
    if (token === undefined) throw new LeaseLostError(path);
    this.#tokens.delete(path);
    const r = await this.#query(
      `UPDATE ew_claims SET state = $4, owner = NULL, lease_until = NULL, updated_at = now()
       WHERE path = $1 AND owner = $2 AND token = $3 AND state = 'claimed' RETURNING 1`,
      [path, this.workerId, token, state],
    );
    if (!r.rows.length) throw new LeaseLostError(path);
  }

  async releaseAll(): Promise<void> {
    this.#tokens.clear();
    await this.#query(`UPDATE ew_claims SET state = 'released', owner = NULL, lease_until = NULL, updated_at = now() WHERE owner = $1 AND state = 'claimed'`, [this.workerId]);
  }

  async takeOver(limit: number): Promise<string[]> {
    const r = await this.#query<{ path: string; token: string }>(
      `WITH picked AS (
         SELECT path FROM ew_claims
         WHERE (state = 'claimed' AND lease_until < now()) OR state = 'released'
         ORDER BY path LIMIT $2
         FOR UPDATE SKIP LOCKED)
       UPDATE ew_claims c SET state = 'claimed', owner = $1, token = c.token + 1,
         lease_until = now() + make_interval(secs => $3), updated_at = now()
       FROM picked WHERE c.path = picked.path
       RETURNING c.path, c.token`,
      [this.workerId, limit, this.leaseSeconds],
    );
    for (const row of r.rows) this.#tokens.set(row.path, row.token);
    return r.rows.map((row) => row.path).sort();
  }

  async othersLive(): Promise<number> {
    const r = await this.#query<{ n: string }>(`SELECT count(*) AS n FROM ew_claims WHERE state = 'claimed' AND lease_until >= now() AND owner <> $1`, [this.workerId]);
    return Number(r.rows[0].n);
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    clearInterval(this.#renewal);
  }

  async #renew(): Promise<void> {
    if (this.#disposed || this.#tokens.size === 0) return;
    try {
      await this.pool.query(`UPDATE ew_claims SET lease_until = now() + make_interval(secs => $2) WHERE owner = $1 AND state = 'claimed'`, [this.workerId, this.leaseSeconds]);
    } catch (e) {
      // the next renewal tries again; a lease that runs out meanwhile is caught by the fencing checks
      this.#logger?.warn(`Renewing the claims of this worker failed: ${(e as Error).message}`);
    }
  }

  /** A query that waits through a lost connection (see retryOnDisconnect). */
  #query<R extends object = Record<string, unknown>>(sql: string, params: unknown[]): Promise<{ rows: R[] }> {
    return retryOnDisconnect(
      () => {
        this.stats.queries++;
        return this.pool.query<R & Record<string, unknown>>(sql, params);
      },
      { logger: this.#logger, what: 'claiming documents', gaveUp: () => this.#disposed, onRetry: () => this.stats.retries++ },
    );
  }
}
