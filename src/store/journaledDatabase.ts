/**
 * The durability engine under the checkpoint store (sqlStore.ts): the in-memory SQLite database, the journal
 * every change goes to before it is applied (one `writeSync`, plus `fdatasync` when durable), the long-running
 * transaction, replay at open, and compaction (snapshot + new journal; compaction.ts writes the files).
 * The store's domain methods (runs, documents, attempts, dead letters, retention) and its opening are in
 * sqlStore.ts, which extends this.
 */
import * as path from 'node:path';
import type { Database } from 'sql.js';
import { applyChange, type JournalOp } from './changes';
import { SnapshotWriter, type Exported, type JournalPosition } from './compaction';
import { StatusMatrix } from './counts';
import { SimulatedCrash, StoreClosedError, StoreIoError, StoreReadOnlyError } from './errors';
import { JournalWriter, journalFileName, type JournalFile } from './journal';
import { releaseLock, type HeldLock } from './lock';
import { schemaVersion } from './migrations';
import type { CompactionStep, OpenReport, StoreLogger, StoreStats } from './options';
import { replayJournals } from './replay';
import { stampSnapshot, vacuumIfSparse } from './snapshot';
import { StatementRunner, prepareStatements, type Statements } from './statements';

export abstract class JournaledDatabase {
  readonly dir: string | undefined;
  readonly compactEvery: number;
  readonly compactRatio: number;
  readonly openReport: OpenReport;

  protected db: Database;
  protected st: Statements;
  protected readonly sql: StatementRunner;
  private readonly logger: StoreLogger;
  protected readonly matrix = new StatusMatrix();
  protected journal: JournalWriter | undefined;
  protected lock: HeldLock | undefined;
  protected seq = 0;
  protected changesSinceCompaction = 0;
  /** The snapshot files (in-memory and read-only stores: none). */
  protected snapshots: SnapshotWriter | undefined;
  private closed = false;
  protected readOnly = false;
  private broken: Error | undefined;
  private inTx = false;
  protected onCompactionStep: ((step: CompactionStep) => void) | undefined;
  protected onChange: ((entry: JournalOp) => void) | undefined;
  private readonly counters = { journalWrites: 0, fdatasyncs: 0, compactions: 0, lastCompactionMs: 0, lastSnapshotBytes: 0 };


  protected constructor(db: Database, dir: string | undefined, compactEvery: number, compactRatio: number, logger: StoreLogger, report: OpenReport) {
    this.db = db;
    this.dir = dir;
    this.compactEvery = compactEvery;
    this.compactRatio = compactRatio;
    this.logger = logger;
    this.openReport = report;
    // Durability comes from our journal, not from SQLite's: no rollback file, no syncs. The database file is
    // itself in memory (sql.js's file system), so SQLite's page cache only holds second copies of its pages:
    // the default 2 MB. Measured on a 100k-document state: a 64 MB cache made reads and updates no faster
    // and kept ~90 MB more resident.
    db.exec('PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -2000;');
    this.st = prepareStatements(db);
    this.sql = new StatementRunner(db);
  }

  // -------------------------------------------------------------------------------------------------------
  // durability

  sync(): void {
    this.assertOpen();
    if (this.journal && this.journal.sync()) this.counters.fdatasyncs++;
  }

  async flush(): Promise<void> {
    this.assertOpen();
    const journal = this.journal;
    if (!journal) return;
    const before = journal.syncs;
    await journal.flush();
    this.counters.fdatasyncs += journal.syncs - before;
  }

  compact(): void {
    this.assertWritable();
    if (!this.dir) return;
    this.compactNow(true);
  }

  /** Compacts (when on disk) and releases the database and the lock. Idempotent; other calls then throw. */
  close(): void {
    if (this.closed) return;
    let failure: unknown;
    try {
      if (this.dir && !this.broken && !this.readOnly) this.compactNow(false);
    } catch (e) {
      failure = e;
      this.logger.error?.(`checkpoint store: final compaction failed: ${(e as Error).message}`);
    } finally {
      this.closed = true;
      this.snapshots?.close(); // a background snapshot write still in flight is never published
      try {
        this.journal?.close();
      } catch (e) {
        failure ??= e;
      }
      this.journal = undefined;
      this.sql.free();
      try {
        this.db.close();
      } catch {
        // ignore
      }
      if (this.lock) releaseLock(this.lock);
      this.lock = undefined;
    }
    if (failure) throw failure;
  }

  /**
   * Applies changes recorded elsewhere (another process's, read back from a shared database), in order,
   * without reporting them to `onChange`; then recounts. In-memory stores only.
   */
  applyChanges(entries: Iterable<JournalOp>): number {
    this.assertWritable();
    if (this.dir) throw new Error('applyChanges is for in-memory stores');
    let n = 0;
    for (const entry of entries) {
      applyChange(this.st, this.db, entry);
      n++;
    }
    if (n) this.recount();
    return n;
  }

  /** The whole database as bytes (in-memory stores: the snapshot a shared database keeps; open it again with `data`). */
  exportBytes(): Uint8Array {
    this.assertOpen();
    if (this.dir) throw new Error('exportBytes is for in-memory stores');
    this.commitTx();
    try {
      return this.db.export();
    } finally {
      this.beginTx();
    }
  }

  /** Counters for tests, benchmarks and diagnostics. */
  get stats(): StoreStats {
    return {
      seq: this.seq,
      journalWrites: this.counters.journalWrites,
      fdatasyncs: this.counters.fdatasyncs,
      compactions: this.counters.compactions,
      changesSinceCompaction: this.changesSinceCompaction,
      lastCompactionMs: this.counters.lastCompactionMs,
      lastSnapshotBytes: this.counters.lastSnapshotBytes,
    };
  }

  get schemaVersion(): number {
    this.assertOpen();
    return schemaVersion(this.db);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // =======================================================================================================
  // internals

  /** Recomputes the counters from the database (two covering-index scans, no table scan). */
  protected recount(): void {
    this.matrix.recount(this.db, (m) => this.logger.warn(m));
  }

  protected assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  protected assertWritable(): void {
    if (this.closed) throw new StoreClosedError();
    if (this.readOnly) throw new StoreReadOnlyError(`checkpoint store ${this.dir} is open read-only (another process has it open)`);
    if (this.broken) throw new StoreIoError(`checkpoint store is read-only after a write failure: ${this.broken.message}; reopen it`, this.broken);
  }

  /** Appends a change to the journal (in-memory stores: nothing). Must run before the change is applied. */
  private log(entry: JournalOp, durable?: boolean): void {
    if (!this.dir) {
      this.onChange?.(entry);
      return;
    }
    const journal = this.journal;
    if (!journal) throw new StoreIoError('journal is not open');
    const seq = this.seq + 1;
    try {
      journal.append(seq, entry.op, entry.data);
      this.counters.journalWrites++;
      if (durable && journal.sync()) this.counters.fdatasyncs++;
    } catch (e) {
      this.broken = e as Error;
      this.logger.error?.(`checkpoint store: journal write failed: ${(e as Error).message}`);
      throw new StoreIoError(`journal write failed: ${(e as Error).message}`, e);
    }
    this.seq = seq;
    this.changesSinceCompaction++;
  }

  /** Journal first, then apply; a failure after the journal write leaves the store read-only (disk is ahead). */
  protected write(entry: JournalOp, durable: boolean | undefined, apply: () => void): void {
    this.log(entry, durable);
    try {
      apply();
    } catch (e) {
      this.broken = e as Error;
      this.logger.error?.(`checkpoint store: applying a journaled change failed: ${(e as Error).message}`);
      throw new StoreIoError(`applying a journaled change failed (${(e as Error).message}); reopen the store to replay it`, e);
    }
    this.afterChange();
  }

  private afterChange(): void {
    if (this.snapshots && this.changesSinceCompaction >= this.compactEvery && this.changesSinceCompaction >= this.compactionThreshold) {
      try {
        // Writers that yield find the previous background write done long before; a burst that does not
        // yield compacts now instead, so the journal since the last snapshot on disk stays within 2 intervals.
        if (this.snapshots.busy) this.compactNow(true);
        else this.compactInBackground();
      } catch (e) {
        if (e instanceof SimulatedCrash) throw e;
        // The change itself is journaled and applied: do not fail it. Retry after another interval; if no
        // journal could be reopened the store is now read-only and the next change throws.
        this.changesSinceCompaction = 0;
      }
    }
  }

  /** Changes after which the next compaction runs: max(compactEvery, compactRatio × documents). */
  get compactionThreshold(): number {
    const docs = this.compactRatio > 0 ? this.matrix.total() : 0;
    return Math.max(this.compactEvery, Math.ceil(this.compactRatio * docs));
  }

  protected beginTx(): void {
    if (this.inTx) return;
    this.db.exec('BEGIN');
    this.inTx = true;
  }

  private commitTx(): void {
    if (!this.inTx) return;
    this.inTx = false;
    try {
      this.db.exec('COMMIT');
    } catch (e) {
      // SQLite may already have rolled back after a hard error; nothing is open then.
      if (!/no transaction is active/i.test((e as Error).message)) throw e;
    }
  }

  protected replay(journals: JournalFile[], report: OpenReport, warn: (m: string) => void, readOnly = false): { repaired: boolean } {
    const { repaired, seq } = replayJournals(journals, { seq: this.seq, report, warn, readOnly, apply: (entry) => applyChange(this.st, this.db, entry) });
    this.seq = seq;
    return { repaired };
  }

  /**
   * Compacts now: the snapshot is written, published and the old journals deleted before this returns.
   * `compact()`, `close()` and an open that repaired something; a background write in flight is superseded.
   */
  protected compactNow(reopenJournal: boolean): void {
    const t0 = performance.now();
    const snapshots = this.snapshots!;
    const exported = this.exportForSnapshot(reopenJournal);
    try {
      snapshots.writeNow(exported);
    } catch (e) {
      if (e instanceof SimulatedCrash) throw e;
      this.compactionFailed(e, reopenJournal);
    }
    if (reopenJournal) this.openJournal();
    this.onCompactionStep?.('journal-created');
    snapshots.deleteCovered(this.journalPosition);
    this.changesSinceCompaction = 0;
    this.compacted(t0, exported);
  }

  /**
   * Compacts with the snapshot written in the background (compaction.ts): the export and the new journal
   * now, the file's write and fsync on the thread pool, its publication when it is durable.
   */
  private compactInBackground(): void {
    const t0 = performance.now();
    const exported = this.exportForSnapshot(true);
    this.openJournal();
    this.onCompactionStep?.('journal-created');
    this.changesSinceCompaction = 0;
    this.snapshots!.writeInBackground(exported, this.journalPosition, () => this.compacted(t0, exported));
  }

  /** Resolves when no background compaction is in flight (tests, benchmarks). */
  whenCompacted(): Promise<void> {
    return this.snapshots?.settled() ?? Promise.resolve();
  }

  /**
   * Closes the journal (fdatasync), records its seq in the database and exports it, stamped. When the export
   * fails, a new journal is opened (unless the store is closing) so that nothing is lost.
   */
  private exportForSnapshot(reopenOnFailure: boolean): Exported {
    try {
      this.journal?.close(); // fdatasync when anything is pending
    } catch (e) {
      this.broken = e as Error;
      throw new StoreIoError(`journal flush failed: ${(e as Error).message}`, e);
    }
    this.journal = undefined;
    const step = this.onCompactionStep ?? (() => undefined);
    step('journal-closed');
    let bytes: Uint8Array;
    try {
      this.st.setMeta.run(['journal_seq', String(this.seq)]);
      this.commitTx();
      vacuumIfSparse(this.db);
      bytes = this.db.export();
    } catch (e) {
      this.compactionFailed(e, reopenOnFailure);
    } finally {
      this.beginTx();
    }
    stampSnapshot(bytes);
    step('exported');
    return { bytes, seq: this.seq };
  }

  /**
   * A compaction failed before its snapshot was published: logged, and (unless the store is closing) a new
   * journal is opened so that journaling goes on; the previous snapshot + journals still hold the state.
   */
  private compactionFailed(e: unknown, reopenJournal: boolean): never {
    this.logger.error?.(`checkpoint store: compaction failed: ${(e as Error).message}`);
    if (reopenJournal) {
      try {
        this.openJournal();
      } catch (e2) {
        this.broken = e2 as Error;
      }
    }
    throw new StoreIoError(`compaction failed: ${(e as Error).message}`, e);
  }

  private openJournal(): void {
    try {
      this.journal = JournalWriter.create(path.join(this.dir!, journalFileName(this.seq + 1)));
    } catch (e) {
      this.broken = e as Error;
      throw new StoreIoError(`cannot create a new journal: ${(e as Error).message}`, e);
    }
  }

  private readonly journalPosition: JournalPosition = { current: () => this.journal?.file, lastSeq: () => this.seq };

  private compacted(t0: number, exported: Exported): void {
    this.counters.compactions++;
    this.counters.lastCompactionMs = performance.now() - t0;
    this.counters.lastSnapshotBytes = exported.bytes.length;
  }
}
