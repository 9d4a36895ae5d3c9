/**
 * Checkpoint store on PostgreSQL, shared by many workers (processes on one or many machines).
 *
 * Reads are answered by an in-memory sql.js store (the read model) so that the port stays synchronous
 * and every query (counts, metrics, history) is the same code as the sql.js store's. Each change is
 * applied to the read model at once and written behind it to the `ew_changes` log (see changeWriter.ts);
 * `flush()` is the durability point. Opening replays the whole log, in order, into a fresh read model:
 * it holds every worker's changes up to then; `refresh()` reads the changes other workers wrote since.
 *
 * What a worker may do to a document is decided by claims (claims.ts), not by this store: a worker
 * writes a document's state only while it holds its claim, so the log never interleaves two workers'
 * changes to one document.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import type { Pool } from 'pg';
import type { FinishedOutcome } from '../../core/metrics';
import type { AttemptRecord, DeadLetter, DocumentState, RunCounts, RunRecord } from '../../core/types';
import type { JournalOp } from '../changes';
import { StoreClosedError, StoreReadOnlyError } from '../errors';
import { defaultLogger, type AttemptStats, type StoreLogger } from '../options';
import { SqlJsCheckpointStore } from '../sqlStore';
import type { CheckpointStore, DocumentQuery, WriteOptions } from '../types';
import { ChangeWriter } from './changeWriter';
import { connectPool, retryOnDisconnect } from './connect';
import { migratePg, PG_SCHEMA_VERSION } from './migrations';
import { redactUrl } from './url';
import { StoreSchemaError } from '../migrations';

export interface PgStoreOptions {
  /** postgres://user[:password]@host:port/database */
  url: string;
  logger?: StoreLogger;
  wasmPath?: string;
  /** Look only: no migration, no writes (status, listings). */
  readOnly?: boolean;
  /** Name of this worker in the log and in claims (default host:pid:random). */
  workerId?: string;
}

const PAGE = 5000;

export function defaultWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export class PgCheckpointStore implements CheckpointStore {
  /** No state folder: the state is in the database. */
  readonly dir = undefined;
  /** The database URL without its password. */
  readonly url: string;
  readonly workerId: string;
  readonly pool: Pool;
  readonly #mirror: SqlJsCheckpointStore;
  readonly #writer: ChangeWriter | undefined;
  readonly #logger: StoreLogger;
  #lastSeq: number;
  /** Writer and time of the last document change applied from the log, by path (see #isStale). */
  readonly #docWriters: Map<string, { writer: string; updatedAt: number }>;
  #closed = false;
  #ended: Promise<void> | undefined;

  private constructor(
    pool: Pool,
    mirror: SqlJsCheckpointStore,
    writer: ChangeWriter | undefined,
    url: string,
    workerId: string,
    lastSeq: number,
    logger: StoreLogger,
    docWriters: Map<string, { writer: string; updatedAt: number }>,
  ) {
    this.#docWriters = docWriters;
    this.pool = pool;
    this.#mirror = mirror;
    this.#writer = writer;
    this.url = url;
    this.workerId = workerId;
    this.#lastSeq = lastSeq;
    this.#logger = logger;
  }

  static async open(options: PgStoreOptions): Promise<PgCheckpointStore> {
    const logger = options.logger ?? defaultLogger;
    const workerId = options.workerId ?? defaultWorkerId();
    const pool = await connectPool(options.url, logger);
    try {
      let version: number;
      if (options.readOnly) {
        const present = (await pool.query<{ present: boolean }>("SELECT to_regclass('ew_schema') IS NOT NULL AS present")).rows[0].present;
        version = present ? Number((await pool.query<{ v: number | null }>('SELECT max(version) AS v FROM ew_schema')).rows[0].v ?? 0) : 0;
        if (version > PG_SCHEMA_VERSION) {
          throw new StoreSchemaError(
            `This database holds extraction state of schema version ${version}, written by a newer version of Extraction Workbench; this one knows up to version ${PG_SCHEMA_VERSION}. Upgrade Extraction Workbench on this machine.`,
            version,
            PG_SCHEMA_VERSION,
          );
        }
      } else {
        const client = await pool.connect();
        try {
          version = (await migratePg(client)).to;
        } finally {
          client.release();
        }
      }
      const writer = options.readOnly ? undefined : new ChangeWriter(pool, workerId, logger);
      const docWriters = new Map<string, { writer: string; updatedAt: number }>();
      const onChange = (e: JournalOp) => {
        writer!.push(e);
        if (e.op === 'doc') docWriters.set(e.data.path, { writer: workerId, updatedAt: e.data.updatedAt });
      };
      const mirror = await SqlJsCheckpointStore.open({ wasmPath: options.wasmPath, logger, ...(writer ? { onChange } : {}) });
      const store = new PgCheckpointStore(pool, mirror, writer, redactUrl(options.url), workerId, 0, logger, docWriters);
      if (version > 0) await store.#pull(false);
      return store;
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
  }

  /** Reads the changes after the last one seen (other workers' only, unless `all`) into the read model. */
  async #pull(othersOnly: boolean): Promise<number> {
    let n = 0;
    for (;;) {
      const r = await retryOnDisconnect(
        () =>
          this.pool.query<{ seq: string; writer: string; op: JournalOp['op']; data: string }>(
            `SELECT seq, writer, op, data FROM ew_changes WHERE seq > $1 ${othersOnly ? 'AND writer <> $3' : ''} ORDER BY seq LIMIT $2`,
            othersOnly ? [this.#lastSeq, PAGE, this.workerId] : [this.#lastSeq, PAGE],
          ),
        { logger: this.#logger, what: 'reading the other workers’ changes', gaveUp: () => this.#closed },
      );
      if (!r.rows.length) return n;
      const entries: JournalOp[] = [];
      for (const row of r.rows) {
        const entry = { op: row.op, data: JSON.parse(row.data) } as JournalOp;
        if (entry.op === 'doc' && this.#isStale(entry.data, row.writer)) continue;
        entries.push(entry);
      }
      n += this.#mirror.applyChanges(entries);
      this.#lastSeq = Number(r.rows[r.rows.length - 1].seq);
      if (r.rows.length < PAGE) return n;
    }
  }

  /**
   * A document has one writer at a time (its claim), but a worker's queued changes can land after its
   * document was taken over (it was cut off, then came back): such a change of another writer, older than
   * the state already applied, is left out. Within one writer, order decides. This worker's own changes
   * count as applied when made (see open). Clocks of the machines must agree to well within a lease.
   */
  #isStale(doc: DocumentState, writer: string): boolean {
    const last = this.#docWriters.get(doc.path);
    if (last && last.writer !== writer && last.updatedAt > doc.updatedAt) return true;
    this.#docWriters.set(doc.path, { writer, updatedAt: doc.updatedAt });
    return false;
  }

  /** Reads the changes other workers wrote since the open (or the last refresh) into the read model. */
  async refresh(): Promise<number> {
    this.#assertOpen();
    await this.flush();
    return this.#pull(true);
  }

  /** Changes queued and not yet in the database. */
  get backlog(): number {
    return this.#writer?.backlog ?? 0;
  }

  get writerStats(): { batches: number; changes: number; retries: number } {
    return this.#writer ? { ...this.#writer.stats } : { batches: 0, changes: 0, retries: 0 };
  }

  // ---- writes: to the read model (which validates), then behind it to the database

  putRun(run: RunRecord, options?: WriteOptions): void {
    this.#assertWritable();
    this.#mirror.putRun(run, options);
  }
  putDocument(doc: DocumentState, options?: WriteOptions): void {
    this.#assertWritable();
    this.#mirror.putDocument(doc, options);
  }
  patchDocument(path: string, patch: Partial<DocumentState>, options?: WriteOptions): DocumentState {
    this.#assertWritable();
    return this.#mirror.patchDocument(path, patch, options);
  }
  removeDocument(path: string): void {
    this.#assertWritable();
    this.#mirror.removeDocument(path);
  }
  resetInFlight(): number {
    this.#assertWritable();
    return this.#mirror.resetInFlight();
  }
  recordAttempt(attempt: AttemptRecord): void {
    this.#assertWritable();
    this.#mirror.recordAttempt(attempt);
  }
  putDeadLetter(letter: DeadLetter, options?: WriteOptions): void {
    this.#assertWritable();
    this.#mirror.putDeadLetter(letter, options);
  }
  markDeadLetterReprocessed(path: string, at: number, note?: string): void {
    this.#assertWritable();
    this.#mirror.markDeadLetterReprocessed(path, at, note);
  }
  removeDeadLetter(path: string): void {
    this.#assertWritable();
    this.#mirror.removeDeadLetter(path);
  }

  // ---- reads: the read model

  getRun(id: string): RunRecord | undefined {
    this.#assertOpen();
    return this.#mirror.getRun(id);
  }
  latestRun(): RunRecord | undefined {
    this.#assertOpen();
    return this.#mirror.latestRun();
  }
  listRuns(limit?: number): RunRecord[] {
    this.#assertOpen();
    return this.#mirror.listRuns(limit);
  }
  getDocument(path: string): DocumentState | undefined {
    this.#assertOpen();
    return this.#mirror.getDocument(path);
  }
  listDocuments(query?: DocumentQuery): DocumentState[] {
    this.#assertOpen();
    return this.#mirror.listDocuments(query);
  }
  countDocuments(query?: Omit<DocumentQuery, 'offset' | 'limit'>): number {
    this.#assertOpen();
    return this.#mirror.countDocuments(query);
  }
  counts(): RunCounts {
    this.#assertOpen();
    return this.#mirror.counts();
  }
  listAttempts(filter?: { path?: string; runId?: string; limit?: number; rawReply?: boolean }): AttemptRecord[] {
    this.#assertOpen();
    return this.#mirror.listAttempts(filter);
  }
  getDeadLetter(path: string): DeadLetter | undefined {
    this.#assertOpen();
    return this.#mirror.getDeadLetter(path);
  }
  listDeadLetters(): DeadLetter[] {
    this.#assertOpen();
    return this.#mirror.listDeadLetters();
  }
  listDeadLetterHistory(path?: string): DeadLetter[] {
    this.#assertOpen();
    return this.#mirror.listDeadLetterHistory(path);
  }
  readAttempts(query?: { runId?: string; after?: number; limit?: number }): { attempts: AttemptRecord[]; cursor: number } {
    this.#assertOpen();
    return this.#mirror.readAttempts(query);
  }
  recentDocumentOutcomes(limit: number, filter?: { runId?: string; throughRun?: string }): FinishedOutcome[] {
    this.#assertOpen();
    return this.#mirror.recentDocumentOutcomes(limit, filter);
  }
  attemptStats(filter?: { runId?: string }): AttemptStats {
    this.#assertOpen();
    return this.#mirror.attemptStats(filter);
  }

  // ---- durability

  /** Starts writing what is queued (the port's sync is blocking; here the durability point is flush()). */
  sync(): void {
    this.#assertOpen();
  }

  async flush(): Promise<void> {
    this.#assertOpen();
    await this.#writer?.flush();
  }

  /** Nothing to compact locally: the log is the state. */
  compact(): void {
    this.#assertWritable();
  }

  /**
   * Releases the read model; the changes still queued are written before the pool ends (the process stays
   * up until then). {@link closed} resolves when the pool has ended.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#mirror.close();
    const writer = this.#writer;
    this.#ended = (writer ? writer.flush().catch((e: Error) => this.#logger.error?.(`checkpoint store: ${writer.backlog} change(s) could not be written: ${e.message}`)) : Promise.resolve()).then(() => this.pool.end().catch(() => undefined));
  }

  /** Flushes, closes and waits until the connections are closed. */
  async closeAndWait(): Promise<void> {
    if (!this.#closed) {
      try {
        await this.#writer?.flush();
      } finally {
        this.close();
      }
    }
    await this.#ended;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  #assertWritable(): void {
    this.#assertOpen();
    if (!this.#writer) throw new StoreReadOnlyError(`the state database ${this.url} is open read-only here`);
  }
}
