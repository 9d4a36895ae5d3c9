/**
 * Checkpoint store on PostgreSQL, shared by many workers (processes on one or many machines).
 *
 * Reads are answered by an in-memory sql.js store (the read model) so that the port stays synchronous
 * and every query (counts, metrics, history) is the same code as the sql.js store's. Each change is
 * applied to the read model at once and written behind it to the `ew_changes` log (see changeWriter.ts);
 * `flush()` is the durability point. Opening loads the latest snapshot and replays the log after it, in
 * order, into a fresh read model: it holds every worker's changes up to then; `refresh()` reads the changes
 * other workers wrote since. Opening also compacts a long log (snapshots.ts), so open time stays bounded.
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
import { migratePg, PG_SCHEMA_VERSION, RESULTS_SCHEMA_VERSION, SNAPSHOT_SCHEMA_VERSION } from './migrations';
import { PgResults } from './results';
import { loadReadModel, replayChanges, type LoadReport, type ReadModel } from './replayLog';
import { DEFAULT_COMPACT_AFTER, DEFAULT_COMPACT_SETTLE_SECONDS, latestSnapshotSeq, type DocWriter } from './snapshots';
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
  /** Settled changes after the latest snapshot at which opening compacts the log (default 20,000; see snapshots.ts). */
  compactAfter?: number;
  /** Only changes older than this are covered by a snapshot, s (default 10). */
  compactSettleSeconds?: number;
}

/** What the last open (or reload) did: the snapshot it started from and the changes it replayed. */
export interface PgOpenReport {
  snapshotSeq: number;
  replayed: number;
  /** A snapshot was written by this open (the changes it covers were deleted). */
  compacted: boolean;
  openMs: number;
}

/** A change of this worker and its number (see ChangeWriter.push). */
interface Capture {
  n: number;
  entry: JournalOp;
}

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
  /** The documents' results (`ew_results`): export and review on a machine without the workers' files. */
  readonly results: PgResults;
  #mirror: SqlJsCheckpointStore;
  readonly #writer: ChangeWriter | undefined;
  readonly #logger: StoreLogger;
  readonly #wasmPath: string | undefined;
  readonly #onChange: ((e: JournalOp) => void) | undefined;
  #lastSeq: number;
  /** Writer and time of the last document change applied from the log, by path (see #isStale). */
  readonly #docWriters: Map<string, DocWriter>;
  /** Whether the schema has snapshots (a read-only look at an older database has none). */
  readonly #snapshots: boolean;
  #report: PgOpenReport;
  readonly #capture: { buffer?: Capture[] };
  /** The read of other workers' changes under way (see refresh). */
  #reading: Promise<unknown> = Promise.resolve();
  /** A reload after another worker's compaction is due (see #reload). */
  #needsReload = false;
  #closed = false;
  #ended: Promise<void> | undefined;

  private constructor(
    pool: Pool,
    model: ReadModel,
    writer: ChangeWriter | undefined,
    o: {
      url: string;
      workerId: string;
      logger: StoreLogger;
      wasmPath: string | undefined;
      onChange: ((e: JournalOp) => void) | undefined;
      capture: { buffer?: Capture[] };
      snapshots: boolean;
      report: PgOpenReport;
      version: number;
    },
  ) {
    this.pool = pool;
    this.results = new PgResults(pool, { logger: o.logger, closed: () => this.#closed, present: o.version >= RESULTS_SCHEMA_VERSION });
    this.#mirror = model.mirror;
    this.#docWriters = model.docWriters;
    this.#lastSeq = model.lastSeq;
    this.#writer = writer;
    this.url = o.url;
    this.workerId = o.workerId;
    this.#logger = o.logger;
    this.#wasmPath = o.wasmPath;
    this.#onChange = o.onChange;
    this.#snapshots = o.snapshots;
    this.#report = o.report;
    this.#capture = o.capture;
  }

  static async open(options: PgStoreOptions): Promise<PgCheckpointStore> {
    const t0 = performance.now();
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
      const docWriters = new Map<string, DocWriter>();
      // own changes: written behind, and captured while the state is loaded again (see #reload)
      const capture: { buffer?: Capture[] } = {};
      const onChange = writer
        ? (e: JournalOp) => {
            const n = writer.push(e);
            capture.buffer?.push({ n, entry: e });
            if (e.op === 'doc') docWriters.set(e.data.path, { writer: workerId, updatedAt: e.data.updatedAt });
          }
        : undefined;
      const snapshots = version >= SNAPSHOT_SCHEMA_VERSION;
      let model: ReadModel;
      let loaded: LoadReport = { snapshotSeq: 0, replayed: 0, compacted: false };
      if (version > 0) {
        const compaction = writer && snapshots ? { after: options.compactAfter ?? DEFAULT_COMPACT_AFTER, settleSeconds: options.compactSettleSeconds ?? DEFAULT_COMPACT_SETTLE_SECONDS } : undefined;
        ({ model, report: loaded } = await loadReadModel(pool, { wasmPath: options.wasmPath, logger, onChange, snapshots, ...(compaction ? { compaction } : {}) }));
      } else {
        model = { mirror: await SqlJsCheckpointStore.open({ wasmPath: options.wasmPath, logger, ...(onChange ? { onChange } : {}) }), docWriters: new Map(), lastSeq: 0 };
      }
      // the map this worker's own changes are recorded in (onChange above)
      for (const [k, v] of model.docWriters) docWriters.set(k, v);
      model.docWriters = docWriters;
      const report: PgOpenReport = { ...loaded, openMs: 0 };
      report.openMs = performance.now() - t0;
      return new PgCheckpointStore(pool, model, writer, { url: redactUrl(options.url), workerId, logger, wasmPath: options.wasmPath, onChange, capture, snapshots, report, version });
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
  }

  /** What the open (or the last reload after another worker's compaction) did. */
  get openReport(): PgOpenReport {
    return { ...this.#report };
  }

  /** Reads the changes other workers wrote since the last read into the read model. */
  async #pull(): Promise<number> {
    if (this.#needsReload) return this.#reload();
    const before = this.#lastSeq;
    const model: ReadModel = { mirror: this.#mirror, docWriters: this.#docWriters, lastSeq: this.#lastSeq };
    const n = await replayChanges(this.pool, model, { othersOnly: this.workerId, logger: this.#logger, gaveUp: () => this.#closed });
    this.#lastSeq = model.lastSeq;
    if (this.#snapshots) {
      const snap = await retryOnDisconnect(() => latestSnapshotSeq(this.pool), { logger: this.#logger, what: 'reading the state database', gaveUp: () => this.#closed });
      // another worker compacted changes this one had not read: they may be only in the snapshot now
      if (snap > before) return this.#reload();
    }
    return n;
  }

  /**
   * Loads the state again from the latest snapshot and the changes after it, and puts it in place of the
   * read model in one synchronous step. This worker goes on writing meanwhile: its changes are captured from
   * the start, and those the log did not give yet (numbered after the last of its own read back) are applied
   * to the new read model just before it takes over, so none is missing. Returns the number of changes
   * applied (at least 1: everything is read anew).
   */
  async #reload(): Promise<number> {
    this.#needsReload = true; // until done: a failed reload is tried again at the next read
    const t0 = performance.now();
    const captured: Capture[] = [];
    this.#capture.buffer = captured;
    try {
      // every change made before the capture started is in the log after this
      await this.#writer?.flush();
      const { model, report } = await loadReadModel(this.pool, {
        wasmPath: this.#wasmPath,
        logger: this.#logger,
        ...(this.#onChange ? { onChange: this.#onChange } : {}),
        snapshots: true,
        own: this.workerId,
        gaveUp: () => this.#closed,
      });
      if (this.#closed) {
        model.mirror.close();
        return 0;
      }
      const rest = captured.filter((c) => c.n > (model.ownSeen ?? 0)).map((c) => c.entry);
      report.replayed += model.mirror.applyChanges(rest);
      for (const e of rest) if (e.op === 'doc') model.docWriters.set(e.data.path, { writer: this.workerId, updatedAt: e.data.updatedAt });
      const old = this.#mirror;
      this.#mirror = model.mirror;
      this.#docWriters.clear();
      for (const [k, v] of model.docWriters) this.#docWriters.set(k, v);
      this.#lastSeq = model.lastSeq;
      this.#report = { ...report, openMs: performance.now() - t0 };
      this.#needsReload = false;
      old.close();
      this.#logger.info?.(`checkpoint store: the change log was compacted by another worker; state loaded again from its snapshot (${report.replayed} change(s) after it)`);
      return Math.max(1, report.replayed);
    } finally {
      this.#capture.buffer = undefined;
    }
  }

  /** Reads the changes other workers wrote since the open (or the last refresh) into the read model. */
  async refresh(): Promise<number> {
    this.#assertOpen();
    // one read at a time (a window's follower and the pipeline's sweep both refresh): each change is applied once
    const next = this.#reading.then(async () => {
      await this.flush();
      return this.#pull();
    });
    this.#reading = next.catch(() => 0);
    return next;
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
