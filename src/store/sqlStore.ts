/**
 * Durable checkpoint store on sql.js (SQLite compiled to WebAssembly), pure Node, no `vscode` import: the
 * implementation of the {@link CheckpointStore} port (./types.ts).
 *
 * Layout of a store directory:
 *   state.sqlite             last snapshot (written atomically: temp file + fsync + rename)
 *   state.sqlite.bak         the snapshot before it (hard link to the old inode)
 *   journal-<seq>.ndjson     append-only change journal, one checksummed JSON line per change
 *   store.lock               pid of the process that has the store open
 *
 * The database itself lives in memory. Every mutation is validated, appended to the journal (one
 * `writeSync`, plus `fdatasync` when `durable`), then applied through a prepared statement inside a
 * long-running SQLite transaction, so its cost does not grow with the number of documents. Every
 * `compactEvery` changes (and on close) the database records the journal sequence number, is exported
 * and written as a new snapshot, and a new journal starts. Journals are kept while the `.bak` snapshot
 * still needs them, so either snapshot plus the journals rebuilds the full state.
 *
 * On open: load `state.sqlite` (else `.bak`, else start empty; unusable files are moved aside as
 * `*.corrupt-<timestamp>` and reported), apply migrations, replay journal lines with a sequence number
 * above the snapshot's, in order, skipping (and reporting) torn or corrupt lines, recompute the status
 * counters, and compact when anything was repaired or migrated.
 *
 * This file opens a store and holds its domain methods (runs, documents, attempts, dead letters,
 * retention). The parts, one file each: journaledDatabase.ts (the durability engine it extends: journal,
 * transaction, replay, compaction), compaction.ts (writing and publishing snapshots), lock.ts (lock file),
 * wasm.ts (loading sql.js), snapshot.ts (checksummed snapshot files), journal.ts (journal lines),
 * replay.ts, changes.ts (journaled changes and how they apply), rows.ts (row mapping, validation),
 * statements.ts (SQL), counts.ts (status counters), attemptQueries.ts (metrics reads), migrations.ts,
 * errors.ts, options.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Database, SqlJsStatic } from 'sql.js';
import type { AttemptRecord, DeadLetter, DocumentState, Readiness, RunCounts, RunRecord, Stage } from '../core/types';
import type { FinishedOutcome } from '../core/metrics';
import * as attemptQueries from './attemptQueries';
import { applyDeadLetter, applyDlReprocessed } from './changes';
import { SnapshotWriter, removeSnapshotTemps } from './compaction';
import { JournaledDatabase } from './journaledDatabase';
import { SimulatedCrash, StoreIoError } from './errors';
import { JournalWriter, journalFileName, listJournalFiles } from './journal';
import { acquireLock, releaseLock } from './lock';
import { applyMigrations } from './migrations';
import { DEFAULT_COMPACT_EVERY, DEFAULT_COMPACT_RATIO, defaultLogger, type AttemptStats, type OpenReport, type SqlStoreOptions, type StoreLogger } from './options';
import { pruneRequestLogs } from './requestLog';
import { applyPrune, resolvePrune, type PruneOptions, type PruneReport } from './retention';
import {
  DL_HISTORY_COLS,
  checkNumber,
  docParams,
  fail,
  rowToDeadLetter,
  rowToDoc,
  rowToRun,
  runParams,
  stripUndefined,
  validateAttempt,
  validateDeadLetter,
  validateDocument,
  validateRun,
  attemptParams,
  capRawReply,
} from './rows';
import { BACKUP_FILE, SNAPSHOT_FILE, loadSnapshot, loadStartingSnapshot } from './snapshot';
import { documentQuery } from './statements';
import type { CheckpointStore, DocumentQuery, WriteOptions } from './types';
import { loadSqlJs } from './wasm';

// The public surface of the store, as it was when everything lived in this file (importers keep working).
export { StoreLockedError, StoreReadOnlyError, StoreWasmError, StoreClosedError, StoreIoError, StoreSchemaError, SimulatedCrash } from './errors';
export { lockHolder, stateSignature, LOCK_FILE } from './lock';
export { loadSqlJs, sqlWasmCandidates, compileSqlWasm } from './wasm';
export { countsOf } from './counts';
export { validateDocument } from './rows';
export { SNAPSHOT_FILE, BACKUP_FILE } from './snapshot';
export { DEFAULT_COMPACT_EVERY, DEFAULT_COMPACT_RATIO } from './options';
export type { SqlStoreOptions, CompactionStep, StoreLogger, OpenReport, StoreStats, AttemptStats } from './options';

export class SqlJsCheckpointStore extends JournaledDatabase implements CheckpointStore {
  private constructor(db: Database, dir: string | undefined, compactEvery: number, compactRatio: number, logger: StoreLogger, report: OpenReport) {
    super(db, dir, compactEvery, compactRatio, logger, report);
  }

  static async open(options: SqlStoreOptions = {}): Promise<SqlJsCheckpointStore> {
    const t0 = performance.now();
    const logger = options.logger ?? defaultLogger;
    const compactEvery = Math.max(1, Math.floor(options.compactEvery ?? DEFAULT_COMPACT_EVERY));
    const compactRatio = Math.max(0, options.compactRatio ?? DEFAULT_COMPACT_RATIO);
    const SQL = await loadSqlJs({ wasmPath: options.wasmPath, logger });
    const report: OpenReport = {
      source: 'memory',
      snapshotSeq: 0,
      replayed: 0,
      skippedLines: 0,
      movedAside: [],
      warnings: [],
      staleLockTakenOver: false,
      openMs: 0,
    };
    if (options.dir === undefined) {
      const db = options.data ? new SQL.Database(options.data) : new SQL.Database();
      applyMigrations(db);
      const store = new SqlJsCheckpointStore(db, undefined, compactEvery, compactRatio, logger, report);
      store.onChange = options.onChange;
      store.beginTx();
      if (options.data) store.recount();
      report.openMs = performance.now() - t0;
      return store;
    }

    const dir = path.resolve(options.dir);
    const warn = (m: string) => {
      report.warnings.push(m);
      logger.warn(m);
    };
    if (options.readOnly) return SqlJsCheckpointStore.openReadOnly(SQL, dir, logger, report, t0);
    fs.mkdirSync(dir, { recursive: true });
    const lock = acquireLock(dir, { warn });
    report.staleLockTakenOver = lock.staleTakenOver;
    let db: Database | undefined;
    try {
      removeSnapshotTemps(dir);
      const journals = listJournalFiles(dir);

      // 1. snapshot
      const start = loadStartingSnapshot(SQL, dir, journals, report, warn, logger);
      db = start.db;

      // 2. migrations
      const mig = applyMigrations(db);
      if (mig.applied.length > 0 && start.version > 0) {
        report.migrated = { from: mig.from, to: mig.to };
        logger.info?.(`checkpoint store migrated from schema v${mig.from} to v${mig.to}`);
      }

      const store = new SqlJsCheckpointStore(db, dir, compactEvery, compactRatio, logger, report);
      store.onCompactionStep = options.onCompactionStep;
      store.lock = lock;
      store.snapshots = new SnapshotWriter(dir, logger, (st) => store.onCompactionStep?.(st));
      store.snapshots.primarySeq = start.primarySeq;
      store.snapshots.bakSeq = start.bakSeq;
      store.seq = report.snapshotSeq;
      store.beginTx();

      // 3. journal replay
      const { repaired } = store.replay(journals, report, warn);

      // 4. counters
      store.recount();

      // 5. a fresh journal; after a new snapshot when anything was repaired, recovered or migrated. A clean
      //    replay needs no snapshot: the journals stay contiguous and count towards the next compaction.
      const dirty = repaired || report.migrated !== undefined || report.source !== 'snapshot';
      if (dirty) store.compactNow(true);
      else {
        store.journal = JournalWriter.create(path.join(dir, journalFileName(store.seq + 1)));
        store.changesSinceCompaction = report.replayed;
      }
      report.openMs = performance.now() - t0;
      return store;
    } catch (e) {
      try {
        db?.close();
      } catch {
        // ignore
      }
      releaseLock(lock);
      throw e;
    }
  }

  /**
   * Read-only open: snapshot (or its backup) plus the journals after it, nothing written, no lock. The
   * writer may compact meanwhile (new snapshot, older journals deleted): a gap in the journals means
   * that happened, and the open starts over (a few times) from the newer snapshot.
   */
  private static openReadOnly(SQL: SqlJsStatic, dir: string, logger: StoreLogger, report: OpenReport, t0: number): SqlJsCheckpointStore {
    if (!fs.existsSync(dir)) throw new StoreIoError(`No checkpoint store in ${dir}`);
    const quiet: StoreLogger = { ...logger, warn: () => undefined, info: () => undefined };
    for (let round = 1; ; round++) {
      const warnings: string[] = [];
      const warn = (m: string) => warnings.push(m);
      let loaded = loadSnapshot(SQL, path.join(dir, SNAPSHOT_FILE));
      if (!('db' in loaded)) loaded = loadSnapshot(SQL, path.join(dir, BACKUP_FILE));
      const db = 'db' in loaded ? loaded.db : new SQL.Database();
      const attempt: OpenReport = { ...report, source: 'db' in loaded ? 'snapshot' : 'fresh', snapshotSeq: 'db' in loaded ? loaded.seq : 0, warnings, movedAside: [] };
      applyMigrations(db);
      const store = new SqlJsCheckpointStore(db, dir, 1, 0, quiet, attempt);
      store.readOnly = true;
      store.seq = attempt.snapshotSeq;
      store.beginTx();
      store.replay(listJournalFiles(dir), attempt, warn, true);
      store.recount();
      const gap = warnings.some((w) => /are missing|cannot read journal/.test(w));
      if (!gap || round >= 5) {
        for (const w of warnings) logger.warn(`checkpoint store (read-only): ${w}`);
        attempt.openMs = performance.now() - t0;
        Object.assign(report, attempt);
        return store;
      }
      store.close(); // compacted while we read: read the newer snapshot
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // runs

  putRun(run: RunRecord, options?: WriteOptions): void {
    this.assertWritable();
    validateRun(run);
    this.write({ op: 'run', data: run }, options?.durable, () => this.st.upsertRun.run(runParams(run)));
  }

  getRun(id: string): RunRecord | undefined {
    this.assertOpen();
    const r = this.sql.one(this.st.selRun, [id]);
    return r && rowToRun(r);
  }

  latestRun(): RunRecord | undefined {
    this.assertOpen();
    const r = this.sql.one(this.st.latestRun, []);
    return r && rowToRun(r);
  }

  /** Newest first. */
  listRuns(limit?: number): RunRecord[] {
    this.assertOpen();
    return this.sql.all(this.st.listRuns, [limit ?? -1]).map(rowToRun);
  }

  // -------------------------------------------------------------------------------------------------------
  // documents

  getDocument(path: string): DocumentState | undefined {
    this.assertOpen();
    const r = this.sql.one(this.st.selDoc, [path]);
    return r && rowToDoc(r);
  }

  putDocument(doc: DocumentState, options?: WriteOptions): void {
    this.assertWritable();
    validateDocument(doc);
    const clean = stripUndefined(doc);
    const old = this.sql.one(this.st.selDocBucket, [clean.path]);
    this.write({ op: 'doc', data: clean }, options?.durable, () => {
      this.st.upsertDoc.run(docParams(clean));
      if (old) this.matrix.bump(old[0] as Stage, old[1] as Readiness, -1);
      this.matrix.bump(clean.stage, clean.readiness, 1);
    });
  }

  patchDocument(path: string, patch: Partial<DocumentState>, options?: WriteOptions): DocumentState {
    this.assertWritable();
    if (patch.path !== undefined && patch.path !== path) fail(`patch cannot rename ${path} to ${patch.path}`);
    const row = this.sql.one(this.st.selDoc, [path]);
    if (!row) throw new Error(`checkpoint store: unknown document ${path}`);
    const old = rowToDoc(row);
    const next = { ...old } as Record<string, unknown>;
    for (const k of Object.keys(patch)) {
      const v = (patch as Record<string, unknown>)[k];
      if (v === undefined) delete next[k];
      else next[k] = v;
    }
    const doc = next as unknown as DocumentState;
    validateDocument(doc);
    this.write({ op: 'doc', data: doc }, options?.durable, () => {
      const params = docParams(doc);
      params.push(params.shift()!); // path goes last (WHERE)
      this.st.updateDoc.run(params);
      if (old.stage !== doc.stage || old.readiness !== doc.readiness) {
        this.matrix.bump(old.stage, old.readiness, -1);
        this.matrix.bump(doc.stage, doc.readiness, 1);
      }
    });
    return doc;
  }

  removeDocument(path: string): void {
    this.assertWritable();
    const old = this.sql.one(this.st.selDocBucket, [path]);
    if (!old) return;
    this.write({ op: 'docDel', data: { path } }, false, () => {
      this.st.delDoc.run([path]);
      this.matrix.bump(old[0] as Stage, old[1] as Readiness, -1);
    });
  }

  listDocuments(query: DocumentQuery = {}): DocumentState[] {
    this.assertOpen();
    const { sql, params } = documentQuery('list', query);
    return this.sql.all(this.sql.cached(sql), params).map(rowToDoc);
  }

  countDocuments(query: Omit<DocumentQuery, 'offset' | 'limit'> = {}): number {
    this.assertOpen();
    // from the (stage × readiness) counters: O(1)
    if (!query.pathPrefix) return this.matrix.count(query.stages, query.readiness);
    const { sql, params } = documentQuery('count', query);
    return Number(this.sql.one(this.sql.cached(sql), params)?.[0] ?? 0);
  }

  counts(): RunCounts {
    this.assertOpen();
    return this.matrix.counts();
  }

  resetInFlight(): number {
    this.assertWritable();
    const n = this.matrix.active();
    if (n === 0) return 0;
    const at = Date.now();
    this.write({ op: 'reset', data: { at } }, false, () => {
      this.st.resetActive.run([at]);
      this.matrix.activeToPending();
    });
    return n;
  }

  // -------------------------------------------------------------------------------------------------------
  // attempts and metrics

  recordAttempt(attempt: AttemptRecord): void {
    this.assertWritable();
    validateAttempt(attempt);
    const clean = capRawReply(stripUndefined(attempt));
    this.write({ op: 'att', data: clean }, false, () => this.st.insAttempt.run(attemptParams(clean)));
  }

  /** Oldest first; with `limit`, the most recent `limit` attempts (still oldest first); `rawReply`: with the raw replies. */
  listAttempts(filter: { path?: string; runId?: string; limit?: number; rawReply?: boolean } = {}): AttemptRecord[] {
    this.assertOpen();
    return attemptQueries.listAttempts(this.sql, filter);
  }

  /** Aggregates over attempts (all, or one run's). */
  attemptStats(filter: { runId?: string } = {}): AttemptStats {
    this.assertOpen();
    return attemptQueries.attemptStats(this.sql, filter);
  }

  /** See {@link attemptQueries.readAttempts}: a live view's cursor reads. */
  readAttempts(query: { runId?: string; after?: number; limit?: number } = {}): { attempts: AttemptRecord[]; cursor: number } {
    this.assertOpen();
    return attemptQueries.readAttempts(this.sql, query);
  }

  /** See {@link attemptQueries.recentDocumentOutcomes}: health's recent window. */
  recentDocumentOutcomes(limit: number, filter: { runId?: string; throughRun?: string } = {}): FinishedOutcome[] {
    this.assertOpen();
    return attemptQueries.recentDocumentOutcomes(this.sql, limit, filter);
  }

  // -------------------------------------------------------------------------------------------------------
  // dead letters

  putDeadLetter(letter: DeadLetter, options?: WriteOptions): void {
    this.assertWritable();
    validateDeadLetter(letter);
    const clean = stripUndefined(letter);
    this.write({ op: 'dl', data: clean }, options?.durable, () => applyDeadLetter(this.st, clean));
  }

  /** The queued (not yet reprocessed) dead letter of a path. */
  getDeadLetter(path: string): DeadLetter | undefined {
    this.assertOpen();
    const r = this.sql.one(this.st.selDl, [path]);
    return r && rowToDeadLetter(r);
  }

  listDeadLetters(): DeadLetter[] {
    this.assertOpen();
    return this.sql.all(this.st.listDl, []).map(rowToDeadLetter);
  }

  /** Moves the dead letter to the reprocessing history (with `at` and `note`); a no-op when none is queued. */
  markDeadLetterReprocessed(path: string, at: number, note?: string): void {
    this.assertWritable();
    checkNumber(at, 'at', path);
    if (!this.sql.one(this.st.selDl, [path])) return;
    const data: { path: string; at: number; note?: string } = { path, at };
    if (note !== undefined) data.note = note;
    this.write({ op: 'dlRep', data }, false, () => applyDlReprocessed(this.st, data));
  }

  removeDeadLetter(path: string): void {
    this.assertWritable();
    if (!this.sql.one(this.st.selDl, [path])) return;
    this.write({ op: 'dlDel', data: { path } }, false, () => this.st.delDl.run([path]));
  }

  /** Reprocessing history (each entry is the dead letter as it was, with `reprocessedAt` and `note`), oldest first. */
  listDeadLetterHistory(path?: string): DeadLetter[] {
    this.assertOpen();
    const sql = `SELECT ${DL_HISTORY_COLS} FROM dead_letter_history` + (path !== undefined ? ' WHERE path = ?' : '') + ' ORDER BY id';
    return this.sql.all(this.sql.cached(sql), path !== undefined ? [path] : []).map(rowToDeadLetter);
  }

  // -------------------------------------------------------------------------------------------------------
  // retention

  /**
   * Prunes the history outside the limits (see retention.ts): one journaled change, then the request logs
   * of pruned runs. Once per run: O(attempts), and a compaction when anything went, so the snapshot shrinks.
   */
  pruneHistory(options: PruneOptions): PruneReport {
    this.assertWritable();
    const change = resolvePrune(this.sql, options);
    if (!change) return { attempts: 0, deadLetterHistory: 0, runs: 0, requestLogs: 0 };
    let removed = { attempts: 0, deadLetterHistory: 0, runs: 0 };
    this.write({ op: 'prune', data: change }, false, () => (removed = applyPrune(this.db, change)));
    const requestLogs = this.dir ? pruneRequestLogs(this.dir, change) : 0;
    if (this.dir && removed.attempts + removed.deadLetterHistory + removed.runs > 0) {
      try {
        this.compactNow(true);
      } catch (e) {
        if (e instanceof SimulatedCrash) throw e;
        // the prune is journaled and applied; the next compaction writes the smaller snapshot
      }
    }
    return { ...removed, requestLogs };
  }

}
