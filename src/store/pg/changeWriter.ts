/**
 * Write-behind of store changes to PostgreSQL. The store's calls are synchronous (the pipeline calls them
 * between awaits); each change is applied to the in-memory read model at once and queued here. Queued
 * changes go out in batches, one INSERT per batch, in order; {@link ChangeWriter.flush} resolves when
 * everything queued before it is committed: the durability point (the pipeline awaits it before a
 * document counts as done, as it awaits the sql.js store's fdatasync).
 *
 * The database going away (connection refused, reset, server restarting) does not lose anything: the
 * batch is sent again with backoff until it lands, and flush() waits (the documents waiting on it pause).
 * Each change carries an id (writer + counter), so a batch sent again after a lost reply is not applied
 * twice. Any other error (a bug, a full disk on the server) breaks the writer: flush() rejects from then on.
 */
import type { Pool } from 'pg';
import type { JournalOp } from '../changes';
import { StoreIoError } from '../errors';
import type { StoreLogger } from '../options';
import { isConnectionError } from './connect';

const MAX_BATCH = 500;

/**
 * Appends a batch of changes (a batch sent again adds nothing). A dead letter taken out of the queue (`dlDel`:
 * "Remove from Dead-Letter Queue", `dlq remove`, a reprocess) also gives back the document's claim that its
 * dead-lettering finished (`dead`), in the same statement: the fleet's next run takes the document up again,
 * as a run on a state folder does, instead of skipping it as finished for this version.
 */
const INSERT_CHANGES = `
  WITH ins AS (
    INSERT INTO ew_changes (writer, change_id, op, data)
    SELECT $1, unnest($2::text[]), unnest($3::text[]), unnest($4::text[])
    ON CONFLICT (change_id) DO NOTHING
    RETURNING op, data
  )
  UPDATE ew_claims c SET state = 'released', owner = NULL, lease_until = NULL, updated_at = now()
  FROM ins WHERE ins.op = 'dlDel' AND c.state = 'dead' AND c.path = ins.data::jsonb ->> 'path'`;
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;

export class ChangeWriter {
  #pending: Array<{ id: string; entry: JournalOp }> = [];
  #queued = 0;
  #written = 0;
  #counter = 0;
  #waiters: Array<{ upTo: number; resolve: () => void; reject: (e: Error) => void }> = [];
  #running: Promise<void> | undefined;
  #broken: Error | undefined;
  #outage = false;
  /** Batches and round trips, for the bench. */
  readonly stats = { batches: 0, changes: 0, retries: 0 };

  constructor(
    private readonly pool: Pool,
    readonly writer: string,
    private readonly logger: StoreLogger,
  ) {}

  get broken(): Error | undefined {
    return this.#broken;
  }

  /** Changes queued and not yet committed. */
  get backlog(): number {
    return this.#queued - this.#written;
  }

  /** Queues a change; returns its number (its id in the log is `writer:number`). */
  push(entry: JournalOp): number {
    if (this.#broken) throw new StoreIoError(`the state database refused a change earlier: ${this.#broken.message}; reopen the store`, this.#broken);
    const n = ++this.#counter;
    this.#pending.push({ id: `${this.writer}:${n}`, entry });
    this.#queued++;
    this.#kick();
    return n;
  }

  /** Resolves when every change queued before the call is committed. */
  flush(): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    const upTo = this.#queued;
    if (this.#written >= upTo) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ upTo, resolve, reject }));
  }

  #kick(): void {
    if (this.#running || this.#broken) return;
    // on the next tick: the changes of one synchronous stretch go out in one batch
    this.#running = new Promise<void>((r) => setImmediate(r))
      .then(() => this.#drain())
      .finally(() => {
        this.#running = undefined;
        if (this.#pending.length && !this.#broken) this.#kick();
      });
  }

  async #drain(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (this.#pending.length && !this.#broken) {
      const batch = this.#pending.slice(0, MAX_BATCH);
      try {
        await this.pool.query(INSERT_CHANGES, [this.writer, batch.map((b) => b.id), batch.map((b) => b.entry.op), batch.map((b) => JSON.stringify(b.entry.data))]);
      } catch (e) {
        if (!isConnectionError(e)) {
          this.#broken = new StoreIoError(`writing to the state database failed: ${(e as Error).message}`, e);
          this.logger.error?.(`checkpoint store: ${this.#broken.message}`);
          for (const w of this.#waiters.splice(0)) w.reject(this.#broken);
          return;
        }
        if (!this.#outage) this.logger.warn(`The state database is unreachable (${(e as Error).message}); ${this.backlog} change(s) wait, retrying…`);
        this.#outage = true;
        this.stats.retries++;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        continue;
      }
      if (this.#outage) this.logger.warn('The state database is reachable again; the changes that waited are written.');
      this.#outage = false;
      backoff = MIN_BACKOFF_MS;
      this.#pending.splice(0, batch.length);
      this.#written += batch.length;
      this.stats.batches++;
      this.stats.changes += batch.length;
      const ready = this.#waiters.filter((w) => w.upTo <= this.#written);
      this.#waiters = this.#waiters.filter((w) => w.upTo > this.#written);
      for (const w of ready) w.resolve();
    }
  }
}
