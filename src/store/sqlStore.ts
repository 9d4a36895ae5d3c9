/**
 * Durable checkpoint store on sql.js (SQLite compiled to WebAssembly), pure Node, no `vscode` import.
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
 * Snapshots carry a CRC-32 of their bytes in the SQLite header's `user_version` field (offset 60, computed
 * with those 4 bytes zeroed). A matching checksum proves the file is exactly what was written, so the slow
 * `PRAGMA quick_check` only runs when it does not match (or is absent, e.g. a file written by another tool).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';
import {
  ACTIVE_STAGES,
  emptyCounts,
  type AttemptRecord,
  type DeadLetter,
  type DocumentState,
  type Readiness,
  type RunCounts,
  type RunRecord,
  type Stage,
} from '../core/types';
import type { FinishedOutcome } from '../core/metrics';
import type { CheckpointStore, DocumentQuery, WriteOptions } from './types';
import { JournalWriter, crc32, fsyncDir, journalFileName, listJournalFiles, parseJournal, type JournalFile } from './journal';
import { LATEST_SCHEMA_VERSION, StoreSchemaError, applyMigrations, schemaVersion } from './migrations';

// =========================================================================================================
// Public option / report types and errors

export interface StoreLogger {
  warn(message: string): void;
  info?(message: string): void;
  error?(message: string): void;
}

export interface SqlStoreOptions {
  /** Directory for snapshot + journal; undefined = in-memory store (no files at all). */
  dir?: string;
  /** Explicit path to `sql-wasm.wasm` (tried first). */
  wasmPath?: string;
  /** Compact after this many journaled changes (default 20,000): the minimum interval. */
  compactEvery?: number;
  /**
   * The interval also grows with the state: compaction waits for at least `compactRatio` × (number of
   * documents) changes, so that its O(N) export is amortised to O(1) per change (default 1; 0 = a fixed
   * interval of `compactEvery`). Replay at open stays bounded by max(compactEvery, compactRatio × N) lines.
   */
  compactRatio?: number;
  /** Where recovery warnings go (default: console). Warnings are never silent. */
  logger?: StoreLogger;
  /**
   * Testing hook, called at each step of a compaction; throwing from it simulates a crash at that point
   * (the files are left exactly as a kill would leave them).
   */
  onCompactionStep?: (step: CompactionStep) => void;
  /**
   * Open without the lock and without writing anything: the state as of now, for showing a folder whose
   * store another process (a CLI run) has open. Writes throw {@link StoreReadOnlyError}; open again to
   * see later changes (see {@link stateSignature}). A torn last journal line is what the writer is
   * appending right now and is skipped silently.
   */
  readOnly?: boolean;
}

export type CompactionStep = 'journal-closed' | 'exported' | 'temp-written' | 'backup-linked' | 'renamed' | 'journal-created' | 'journals-deleted';

/** What happened while opening a store (for the UI / CLI to surface). */
export interface OpenReport {
  source: 'memory' | 'snapshot' | 'backup' | 'fresh';
  /** Journal sequence number recorded in the snapshot that was loaded. */
  snapshotSeq: number;
  /** Journal lines applied on top of the snapshot. */
  replayed: number;
  /** Invalid journal lines skipped (torn tail or corrupt). */
  skippedLines: number;
  /** Schema migration applied at open, if any. */
  migrated?: { from: number; to: number };
  /** Files renamed to `*.corrupt-<timestamp>` (or copied, for journals). */
  movedAside: string[];
  warnings: string[];
  /** A stale lock of a dead process was taken over. */
  staleLockTakenOver: boolean;
  openMs: number;
}

export interface StoreStats {
  /** Last journal sequence number written or replayed. */
  seq: number;
  journalWrites: number;
  /** fdatasync calls on the journal (durable writes and sync()). */
  fdatasyncs: number;
  compactions: number;
  changesSinceCompaction: number;
  lastCompactionMs: number;
  lastSnapshotBytes: number;
}

export interface AttemptStats {
  attempts: number;
  byOutcome: Partial<Record<AttemptRecord['outcome'], number>>;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  meanDurationMs: number;
  /** Mean ms per stage over the attempts that recorded that stage. */
  meanStageMs: Partial<Record<Stage, number>>;
}

export class StoreLockedError extends Error {
  override readonly name = 'StoreLockedError';
  constructor(
    message: string,
    readonly lockFile: string,
    readonly ownerPid?: number,
  ) {
    super(message);
  }
}

export class StoreReadOnlyError extends Error {
  override readonly name = 'StoreReadOnlyError';
}

export class StoreWasmError extends Error {
  override readonly name = 'StoreWasmError';
  constructor(
    message: string,
    readonly tried: string[],
  ) {
    super(message);
  }
}

export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  constructor(message = 'checkpoint store is closed') {
    super(message);
  }
}

/** A journal or snapshot write failed; the store refuses further changes until reopened. */
export class StoreIoError extends Error {
  override readonly name = 'StoreIoError';
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
  }
}

export { StoreSchemaError };

/** Throw this from `onCompactionStep` to simulate a crash (it is never caught by the store). */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

export const SNAPSHOT_FILE = 'state.sqlite';
export const BACKUP_FILE = 'state.sqlite.bak';
export const LOCK_FILE = 'store.lock';
export const DEFAULT_COMPACT_EVERY = 20_000;
export const DEFAULT_COMPACT_RATIO = 1;

// =========================================================================================================
// sql.js loading

let sqlPromise: Promise<SqlJsStatic> | undefined;
/** sql.js caches its own init promise: after a failed instantiation it cannot be retried in this process. */
let sqlJsPoisoned: string | undefined;

/** Where `sql-wasm.wasm` is looked for, in order. */
export function sqlWasmCandidates(wasmPath?: string): string[] {
  const out: string[] = [];
  if (wasmPath) out.push(path.resolve(wasmPath));
  if (typeof __dirname === 'string') out.push(path.join(__dirname, 'sql-wasm.wasm'));
  try {
    out.push(require.resolve('sql.js/dist/sql-wasm.wasm'));
  } catch {
    // not resolvable from here (e.g. inside the packaged bundle)
  }
  return [...new Set(out)];
}

/** Reads and compiles the first usable candidate. Rejects with {@link StoreWasmError}, never crashes. */
export async function compileSqlWasm(candidates: readonly string[]): Promise<{ file: string; module: WebAssembly.Module; skipped: string[] }> {
  const skipped: string[] = [];
  for (const file of candidates) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(fs.readFileSync(file));
    } catch (e) {
      skipped.push(`${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    try {
      return { file, module: await WebAssembly.compile(bytes), skipped };
    } catch (e) {
      skipped.push(`${file} (not a valid WebAssembly module: ${(e as Error).message})`);
    }
  }
  throw new StoreWasmError(
    `Cannot load SQLite: sql-wasm.wasm was not found or is unusable. Tried:\n  ${skipped.join('\n  ') || '(no candidates)'}\n` +
      'The packaged extension must ship sql-wasm.wasm beside dist/extension.js and dist/cli.js.',
    skipped,
  );
}

/** Loads sql.js once per process (the promise is cached; a failure is not cached). */
export function loadSqlJs(options: { wasmPath?: string; logger?: StoreLogger } = {}): Promise<SqlJsStatic> {
  if (!sqlPromise) {
    const p = initSql(options);
    sqlPromise = p;
    p.catch(() => {
      if (sqlPromise === p) sqlPromise = undefined;
    });
  }
  return sqlPromise;
}

async function initSql(options: { wasmPath?: string; logger?: StoreLogger }): Promise<SqlJsStatic> {
  if (sqlJsPoisoned) throw new StoreWasmError(`sql.js failed to initialise earlier in this process (${sqlJsPoisoned}); restart it`, []);
  const { file, module, skipped } = await compileSqlWasm(sqlWasmCandidates(options.wasmPath));
  if (options.wasmPath && skipped.length > 0 && skipped[0].startsWith(path.resolve(options.wasmPath))) {
    options.logger?.warn(`sql.js: wasmPath ${skipped[0]} unusable; using ${file}`);
  }
  return new Promise<SqlJsStatic>((resolve, reject) => {
    const fail = (e: unknown) => {
      sqlJsPoisoned = (e as Error)?.message ?? String(e);
      reject(new StoreWasmError(`Cannot initialise SQLite from ${file}: ${sqlJsPoisoned}`, [file]));
    };
    const config = {
      // Instantiate ourselves: sql.js never touches the file system and a failure rejects instead of aborting.
      instantiateWasm(imports: WebAssembly.Imports, success: (instance: WebAssembly.Instance, module?: WebAssembly.Module) => void) {
        WebAssembly.instantiate(module, imports).then((instance) => success(instance, module), fail);
        return {};
      },
    };
    (initSqlJs as unknown as (c: object) => Promise<SqlJsStatic>)(config).then(resolve, fail);
  });
}

// =========================================================================================================
// Lock file

interface LockInfo {
  pid: number;
  hostname: string;
  since: number;
}

const heldLocks = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): { info?: LockInfo; missing?: boolean; mtimeMs?: number } {
  try {
    const st = fs.statSync(file);
    const text = fs.readFileSync(file, 'utf8');
    try {
      const info = JSON.parse(text) as LockInfo;
      if (typeof info.pid === 'number') return { info, mtimeMs: st.mtimeMs };
    } catch {
      // half-written
    }
    return { mtimeMs: st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    throw e;
  }
}

/** Why a lock file's owner no longer holds it, or undefined when it does (or may: another machine, being written). */
function staleLockReason(info: LockInfo | undefined, mtimeMs: number | undefined, heldHere: boolean): string | undefined {
  // unparsable: another process may be writing it right now; only old ones are stale
  if (!info) return Date.now() - (mtimeMs ?? 0) > 5_000 ? 'unreadable lock file' : undefined;
  if (info.hostname !== os.hostname()) return undefined; // cannot check a pid on another machine
  if (info.pid === process.pid) return heldHere ? undefined : 'left by this process without close() (or copied with the folder)';
  return isAlive(info.pid) ? undefined : `process ${info.pid} is not running`;
}

function realpathOr(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return dir;
  }
}

/**
 * Who holds the store in `dir` now, without taking it: the lock's owner when it is a live process (or one
 * that cannot be checked), undefined when the store is free (no lock, or a stale one that opening would
 * take over). Cheap (one small file read): a read-only viewer polls it to know when it may write.
 */
export function lockHolder(dir: string): { pid?: number; hostname?: string } | undefined {
  const { info, missing, mtimeMs } = readLock(path.join(dir, LOCK_FILE));
  if (missing || staleLockReason(info, mtimeMs, heldLocks.has(realpathOr(dir)))) return undefined;
  return { ...(info ? { pid: info.pid, hostname: info.hostname } : {}) };
}

function acquireLock(dir: string, logger: StoreLogger): { file: string; key: string; staleTakenOver: boolean } {
  const file = path.join(dir, LOCK_FILE);
  const key = fs.realpathSync(dir);
  if (heldLocks.has(key)) {
    throw new StoreLockedError(`Checkpoint store ${dir} is already open in this process.`, file, process.pid);
  }
  let staleTakenOver = false;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        const info: LockInfo = { pid: process.pid, hostname: os.hostname(), since: Date.now() };
        fs.writeSync(fd, JSON.stringify(info));
      } finally {
        fs.closeSync(fd);
      }
      heldLocks.add(key);
      return { file, key, staleTakenOver };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const { info, missing, mtimeMs } = readLock(file);
    if (missing) continue;
    const stale = staleLockReason(info, mtimeMs, false); // held here was refused above
    if (!stale) {
      const who = info ? `process ${info.pid} on ${info.hostname}${info.since ? ` since ${new Date(info.since).toISOString()}` : ''}` : 'another process';
      throw new StoreLockedError(
        `Checkpoint store ${dir} is in use by ${who}. Close the other VS Code window or CLI run first` +
          ` (if that process no longer exists, delete ${file}).`,
        file,
        info?.pid,
      );
    }
    logger.warn(`checkpoint store: taking over stale lock ${file} (${stale})`);
    staleTakenOver = true;
    try {
      fs.unlinkSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  throw new StoreLockedError(`Could not acquire the lock ${file} (it keeps changing).`, file);
}

/**
 * A cheap fingerprint of a store folder's files (snapshot and journals: names, sizes, mtimes): it changes
 * whenever the store's content may have, so a read-only viewer knows when to open the store again.
 */
export function stateSignature(dir: string): string {
  const parts: string[] = [];
  for (const file of [path.join(dir, SNAPSHOT_FILE), ...listJournalFiles(dir).map((j) => j.file)]) {
    try {
      const st = fs.statSync(file);
      parts.push(`${path.basename(file)}:${st.size}:${st.mtimeMs}`);
    } catch {
      // deleted meanwhile (compaction): the next listing tells
    }
  }
  return parts.join('|');
}

function releaseLock(lock: { file: string; key: string }): void {
  heldLocks.delete(lock.key);
  try {
    const { info } = readLock(lock.file);
    if (info && info.pid === process.pid) fs.unlinkSync(lock.file);
  } catch {
    // best effort
  }
}

// =========================================================================================================
// Row mapping

const STAGES: readonly Stage[] = ['pending', 'reading', 'converting', 'extracting', 'validating', 'exporting', 'done', 'failed', 'dead-lettered'];
const READINESS: readonly Readiness[] = ['not-ready', 'ready', 'rejected'];
const STAGE_INDEX = new Map<string, number>(STAGES.map((s, i) => [s, i]));
const READINESS_INDEX = new Map<string, number>(READINESS.map((r, i) => [r, i]));
const ACTIVE_SQL_LIST = ACTIVE_STAGES.map((s) => `'${s}'`).join(', ');
/** Stages with a timing column on attempts (terminal stages take no time of their own). */
const TIMED_STAGES: readonly Stage[] = ['pending', 'reading', 'converting', 'extracting', 'validating', 'exporting'];

const DOC_COLS =
  'path, size, mtime_ms, content_hash, fingerprint, readiness, reject_reason, stage, attempts, error_code, error_message, ' +
  'error_stage, error_retryable, result_path, tokens_in, tokens_out, cost, duration_ms, updated_at';
const RUN_COLS = 'id, started_at, ended_at, trigger, root, status, fingerprint, model, totals';
const ATT_COLS =
  'run_id, path, attempt, stage_reached, started_at, ended_at, duration_ms, outcome, error_code, error_message, tokens_in, tokens_out, cost, ' +
  TIMED_STAGES.map((s) => `ms_${s}`).join(', ');
const DL_COLS = 'path, run_id, stage, code, message, attempts, at';
const DL_HISTORY_COLS = 'path, run_id, stage, code, message, attempts, at, reprocessed_at, note';

function placeholders(cols: string): string {
  return cols
    .split(',')
    .map(() => '?')
    .join(', ');
}

function excludedSet(cols: string, key: string): string {
  return cols
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== key)
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
}

const nn = (v: unknown): SqlValue => (v === undefined ? null : (v as SqlValue));

function docParams(d: DocumentState): SqlValue[] {
  const e = d.lastError;
  return [
    d.path,
    d.size,
    d.mtimeMs,
    nn(d.contentHash),
    nn(d.fingerprint),
    d.readiness,
    nn(d.rejectReason),
    d.stage,
    d.attempts,
    e ? e.code : null,
    e ? e.message : null,
    e ? e.stage : null,
    e ? (e.retryable ? 1 : 0) : null,
    nn(d.resultPath),
    d.tokensIn,
    d.tokensOut,
    d.cost,
    nn(d.durationMs),
    d.updatedAt,
  ];
}

function rowToDoc(r: SqlValue[]): DocumentState {
  const d: DocumentState = {
    path: r[0] as string,
    size: r[1] as number,
    mtimeMs: r[2] as number,
    readiness: r[5] as Readiness,
    stage: r[7] as Stage,
    attempts: r[8] as number,
    tokensIn: r[14] as number,
    tokensOut: r[15] as number,
    cost: r[16] as number,
    updatedAt: r[18] as number,
  };
  if (r[3] !== null) d.contentHash = r[3] as string;
  if (r[4] !== null) d.fingerprint = r[4] as string;
  if (r[6] !== null) d.rejectReason = r[6] as string;
  if (r[9] !== null) d.lastError = { code: r[9] as string, message: (r[10] ?? '') as string, stage: r[11] as Stage, retryable: r[12] === 1 };
  if (r[13] !== null) d.resultPath = r[13] as string;
  if (r[17] !== null) d.durationMs = r[17] as number;
  return d;
}

function runParams(r: RunRecord): SqlValue[] {
  return [r.id, r.startedAt, nn(r.endedAt), r.trigger, r.root, r.status, r.fingerprint, nn(r.model), r.totals ? JSON.stringify(r.totals) : null];
}

function rowToRun(r: SqlValue[]): RunRecord {
  const run: RunRecord = {
    id: r[0] as string,
    startedAt: r[1] as number,
    trigger: r[3] as RunRecord['trigger'],
    root: r[4] as string,
    status: r[5] as RunRecord['status'],
    fingerprint: r[6] as string,
  };
  if (r[2] !== null) run.endedAt = r[2] as number;
  if (r[7] !== null) run.model = r[7] as string;
  if (r[8] !== null) run.totals = JSON.parse(r[8] as string) as RunRecord['totals'];
  return run;
}

function attemptParams(a: AttemptRecord): SqlValue[] {
  const p: SqlValue[] = [
    a.runId,
    a.path,
    a.attempt,
    a.stageReached,
    a.startedAt,
    a.endedAt,
    a.durationMs,
    a.outcome,
    nn(a.errorCode),
    nn(a.errorMessage),
    a.tokensIn,
    a.tokensOut,
    a.cost,
  ];
  for (const s of TIMED_STAGES) p.push(nn(a.stageMs?.[s]));
  return p;
}

function rowToAttempt(r: SqlValue[]): AttemptRecord {
  const a: AttemptRecord = {
    runId: r[0] as string,
    path: r[1] as string,
    attempt: r[2] as number,
    stageReached: r[3] as Stage,
    startedAt: r[4] as number,
    endedAt: r[5] as number,
    durationMs: r[6] as number,
    outcome: r[7] as AttemptRecord['outcome'],
    tokensIn: r[10] as number,
    tokensOut: r[11] as number,
    cost: r[12] as number,
  };
  if (r[8] !== null) a.errorCode = r[8] as string;
  if (r[9] !== null) a.errorMessage = r[9] as string;
  let stageMs: Partial<Record<Stage, number>> | undefined;
  TIMED_STAGES.forEach((s, i) => {
    const v = r[13 + i];
    if (v !== null) (stageMs ??= {})[s] = v as number;
  });
  if (stageMs) a.stageMs = stageMs;
  return a;
}

function dlParams(d: DeadLetter): SqlValue[] {
  return [d.path, d.runId, d.stage, d.code, d.message, d.attempts, d.at];
}

function dlHistoryParams(d: DeadLetter): SqlValue[] {
  return [...dlParams(d), nn(d.reprocessedAt), nn(d.note)];
}

function rowToDeadLetter(r: SqlValue[]): DeadLetter {
  const d: DeadLetter = {
    path: r[0] as string,
    runId: r[1] as string,
    stage: r[2] as Stage,
    code: r[3] as string,
    message: r[4] as string,
    attempts: r[5] as number,
    at: r[6] as number,
  };
  if (r.length > 7 && r[7] !== null) d.reprocessedAt = r[7] as number;
  if (r.length > 8 && r[8] !== null) d.note = r[8] as string;
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// Validation (cheap; keeps counters and the journal consistent)

function fail(message: string): never {
  throw new TypeError(`checkpoint store: ${message}`);
}

function checkNumber(v: unknown, what: string, where: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${what} must be a finite number (${where})`);
}

function checkOptionalString(v: unknown, what: string, where: string): void {
  if (v !== undefined && typeof v !== 'string') fail(`${what} must be a string (${where})`);
}

export function validateDocument(d: DocumentState): void {
  if (!d || typeof d !== 'object') fail('document must be an object');
  if (typeof d.path !== 'string' || d.path.length === 0) fail('document path must be a non-empty string');
  if (!STAGE_INDEX.has(d.stage)) fail(`unknown stage ${JSON.stringify(d.stage)} (${d.path})`);
  if (!READINESS_INDEX.has(d.readiness)) fail(`unknown readiness ${JSON.stringify(d.readiness)} (${d.path})`);
  checkNumber(d.size, 'size', d.path);
  checkNumber(d.mtimeMs, 'mtimeMs', d.path);
  checkNumber(d.attempts, 'attempts', d.path);
  checkNumber(d.tokensIn, 'tokensIn', d.path);
  checkNumber(d.tokensOut, 'tokensOut', d.path);
  checkNumber(d.cost, 'cost', d.path);
  checkNumber(d.updatedAt, 'updatedAt', d.path);
  if (d.durationMs !== undefined) checkNumber(d.durationMs, 'durationMs', d.path);
  checkOptionalString(d.contentHash, 'contentHash', d.path);
  checkOptionalString(d.fingerprint, 'fingerprint', d.path);
  checkOptionalString(d.rejectReason, 'rejectReason', d.path);
  checkOptionalString(d.resultPath, 'resultPath', d.path);
  const e = d.lastError;
  if (e !== undefined) {
    if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || !STAGE_INDEX.has(e.stage)) {
      fail(`lastError needs code, message and a known stage (${d.path})`);
    }
  }
}

function validateRun(r: RunRecord): void {
  if (!r || typeof r.id !== 'string' || r.id.length === 0) fail('run id must be a non-empty string');
  checkNumber(r.startedAt, 'startedAt', r.id);
  if (typeof r.trigger !== 'string' || typeof r.status !== 'string' || typeof r.root !== 'string' || typeof r.fingerprint !== 'string') {
    fail(`run needs trigger, status, root and fingerprint (${r.id})`);
  }
}

function validateAttempt(a: AttemptRecord): void {
  if (!a || typeof a.runId !== 'string' || typeof a.path !== 'string') fail('attempt needs runId and path');
  if (!STAGE_INDEX.has(a.stageReached)) fail(`unknown stage ${JSON.stringify(a.stageReached)} (${a.path})`);
  for (const k of ['attempt', 'startedAt', 'endedAt', 'durationMs', 'tokensIn', 'tokensOut', 'cost'] as const) checkNumber(a[k], k, a.path);
  if (typeof a.outcome !== 'string') fail(`attempt outcome missing (${a.path})`);
}

function validateDeadLetter(d: DeadLetter): void {
  if (!d || typeof d.path !== 'string' || d.path.length === 0) fail('dead letter path must be a non-empty string');
  if (typeof d.runId !== 'string' || typeof d.code !== 'string' || typeof d.message !== 'string') fail(`dead letter needs runId, code, message (${d.path})`);
  if (!STAGE_INDEX.has(d.stage)) fail(`unknown stage ${JSON.stringify(d.stage)} (${d.path})`);
  checkNumber(d.attempts, 'attempts', d.path);
  checkNumber(d.at, 'at', d.path);
  if (d.reprocessedAt !== undefined) checkNumber(d.reprocessedAt, 'reprocessedAt', d.path);
  checkOptionalString(d.note, 'note', d.path);
}

// ---------------------------------------------------------------------------------------------------------
// Status buckets

/**
 * Count buckets (see {@link RunCounts}), a partition of all documents: rejected = readiness `rejected`
 * (whatever the stage); otherwise by stage: pending = `pending`, running = an active stage (reading ..
 * exporting), done, failed, deadLettered = `dead-lettered`. total = all documents = the sum of the buckets.
 */
export function countsOf(docs: Iterable<Pick<DocumentState, 'stage' | 'readiness'>>): RunCounts {
  const c = emptyCounts();
  for (const d of docs) addToCounts(c, d.stage, d.readiness, 1);
  return c;
}

function addToCounts(c: RunCounts, stage: Stage, readiness: Readiness, n: number): void {
  c.total += n;
  if (readiness === 'rejected') {
    c.rejected += n;
    return;
  }
  switch (stage) {
    case 'pending':
      c.pending += n;
      break;
    case 'done':
      c.done += n;
      break;
    case 'failed':
      c.failed += n;
      break;
    case 'dead-lettered':
      c.deadLettered += n;
      break;
    default:
      c.running += n; // active stages
  }
}

// ---------------------------------------------------------------------------------------------------------
// Files

function timestampSuffix(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

/** Renames a file to `<file>.corrupt-<timestamp>`; returns the new name. */
function moveAside(file: string): string {
  let target = `${file}.corrupt-${timestampSuffix()}`;
  for (let i = 1; fs.existsSync(target); i++) target = `${file}.corrupt-${timestampSuffix()}-${i}`;
  fs.renameSync(file, target);
  return target;
}

function copyAside(file: string): string {
  let target = `${file}.corrupt-${timestampSuffix()}`;
  for (let i = 1; fs.existsSync(target); i++) target = `${file}.corrupt-${timestampSuffix()}-${i}`;
  fs.copyFileSync(file, target);
  return target;
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** Offset of the 4-byte `user_version` header field that carries the snapshot checksum. */
const CHECKSUM_OFFSET = 60;

function snapshotCrc(bytes: Uint8Array): number {
  const zero = new Uint8Array(4);
  let c = crc32(bytes.subarray(0, CHECKSUM_OFFSET));
  c = crc32(zero, c);
  return crc32(bytes.subarray(CHECKSUM_OFFSET + 4), c);
}

/** Stamps the checksum into the exported bytes (in place). */
function stampSnapshot(bytes: Uint8Array): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(CHECKSUM_OFFSET, snapshotCrc(bytes));
}

/** 'ok' when the stamped checksum matches, 'absent' when none is stamped, 'mismatch' otherwise. */
function verifySnapshot(bytes: Uint8Array): 'ok' | 'absent' | 'mismatch' {
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(CHECKSUM_OFFSET);
  if (stored === 0) return 'absent';
  return stored === snapshotCrc(bytes) ? 'ok' : 'mismatch';
}

type LoadResult = { db: Database; seq: number; version: number; checksum: 'ok' | 'absent' | 'mismatch' } | { error: string } | { missing: true };

function readSeq(db: Database): number {
  const res = db.exec("SELECT value FROM meta WHERE key = 'journal_seq'");
  const v = Number(res[0]?.values[0]?.[0] ?? 0);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`invalid journal_seq ${String(res[0]?.values[0]?.[0])}`);
  return v;
}

function loadSnapshot(SQL: SqlJsStatic, file: string): LoadResult {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    return { error: `cannot read: ${(e as Error).message}` };
  }
  if (bytes.length === 0) return { error: 'empty file' };
  if (bytes.length < 100 || !bytes.subarray(0, 16).equals(SQLITE_HEADER)) return { error: 'not an SQLite file (bad header)' };
  const checksum = verifySnapshot(bytes);
  let db: Database | undefined;
  try {
    db = new SQL.Database(bytes);
    if (checksum !== 'ok') {
      const qc = db.exec('PRAGMA quick_check');
      const verdict = String(qc[0]?.values[0]?.[0] ?? 'no result');
      if (verdict !== 'ok') throw new Error(`${checksum === 'mismatch' ? 'checksum mismatch and ' : ''}integrity check failed: ${verdict}`);
    }
    const version = schemaVersion(db);
    if (version === 0) throw new Error('no checkpoint schema');
    if (version > LATEST_SCHEMA_VERSION) {
      db.close();
      throw new StoreSchemaError(
        `${file} has schema version ${version}, newer than this build supports (${LATEST_SCHEMA_VERSION}); update the extension`,
        version,
        LATEST_SCHEMA_VERSION,
      );
    }
    return { db, seq: readSeq(db), version, checksum };
  } catch (e) {
    if (e instanceof StoreSchemaError && e.found !== undefined) throw e;
    try {
      db?.close();
    } catch {
      // ignore
    }
    return { error: (e as Error).message };
  }
}

function writeFileDurable(file: string, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// =========================================================================================================
// The store

interface Statements {
  selDoc: Statement;
  selDocBucket: Statement;
  upsertDoc: Statement;
  updateDoc: Statement;
  delDoc: Statement;
  resetActive: Statement;
  upsertRun: Statement;
  selRun: Statement;
  latestRun: Statement;
  listRuns: Statement;
  insAttempt: Statement;
  upsertDl: Statement;
  selDl: Statement;
  listDl: Statement;
  delDl: Statement;
  moveDlToHistory: Statement;
  insDlHistory: Statement;
  setMeta: Statement;
}

type JournalOp =
  | { op: 'doc'; data: DocumentState }
  | { op: 'docDel'; data: { path: string } }
  | { op: 'reset'; data: { at: number } }
  | { op: 'run'; data: RunRecord }
  | { op: 'att'; data: AttemptRecord }
  | { op: 'dl'; data: DeadLetter }
  | { op: 'dlRep'; data: { path: string; at: number; note?: string } }
  | { op: 'dlDel'; data: { path: string } };

const defaultLogger: StoreLogger = {
  warn: (m) => console.warn(`[checkpoint-store] ${m}`),
  info: () => undefined,
  error: (m) => console.error(`[checkpoint-store] ${m}`),
};

export class SqlJsCheckpointStore implements CheckpointStore {
  readonly dir: string | undefined;
  readonly compactEvery: number;
  readonly compactRatio: number;
  readonly openReport: OpenReport;

  private db: Database;
  private st: Statements;
  private readonly dynamic = new Map<string, Statement>();
  private readonly logger: StoreLogger;
  /** Document counts per (stage, readiness): index stage * 3 + readiness. */
  private readonly matrix = new Float64Array(STAGES.length * READINESS.length);
  private journal: JournalWriter | undefined;
  private lock: { file: string; key: string } | undefined;
  private seq = 0;
  private changesSinceCompaction = 0;
  /** Journal seq of state.sqlite on disk (undefined: no primary snapshot yet). */
  private primarySeq: number | undefined;
  /** Journal seq of state.sqlite.bak on disk, when known. */
  private bakSeq: number | undefined;
  private closed = false;
  private readOnly = false;
  private broken: Error | undefined;
  private inTx = false;
  private onCompactionStep: ((step: CompactionStep) => void) | undefined;
  private readonly counters = { journalWrites: 0, fdatasyncs: 0, compactions: 0, lastCompactionMs: 0, lastSnapshotBytes: 0 };

  private constructor(db: Database, dir: string | undefined, compactEvery: number, compactRatio: number, logger: StoreLogger, report: OpenReport) {
    this.db = db;
    this.dir = dir;
    this.compactEvery = compactEvery;
    this.compactRatio = compactRatio;
    this.logger = logger;
    this.openReport = report;
    // Durability comes from our journal, not from SQLite's: no rollback file, no syncs. A page-cache miss in
    // sql.js goes through the JS file-system layer (~10 µs), so the cache is large enough (64 MB) to hold
    // the database of a 100k-document state.
    db.exec('PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;');
    this.st = this.prepareAll();
  }

  /** Opens (or creates) a store. `dir` undefined = in-memory. */
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
      const db = new SQL.Database();
      applyMigrations(db);
      const store = new SqlJsCheckpointStore(db, undefined, compactEvery, compactRatio, logger, report);
      store.beginTx();
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
      fs.rmSync(path.join(dir, `${SNAPSHOT_FILE}.tmp`), { force: true, recursive: true });
      const primaryFile = path.join(dir, SNAPSHOT_FILE);
      const bakFile = path.join(dir, BACKUP_FILE);
      const journals = listJournalFiles(dir);

      // 1. snapshot
      let primarySeq: number | undefined;
      let bakSeq: number | undefined;
      let version = 0;
      const primary = loadSnapshot(SQL, primaryFile);
      if ('db' in primary) {
        db = primary.db;
        report.source = 'snapshot';
        report.snapshotSeq = primarySeq = primary.seq;
        version = primary.version;
        if (primary.checksum === 'mismatch') {
          logger.info?.(`checkpoint store: ${SNAPSHOT_FILE} checksum does not match (changed by another tool?) but its integrity check passed`);
        }
      } else {
        if ('error' in primary) {
          const moved = moveAside(primaryFile);
          report.movedAside.push(moved);
          warn(`snapshot ${primaryFile} is unusable (${primary.error}); moved aside to ${path.basename(moved)}, trying ${BACKUP_FILE}`);
        }
        const bak = loadSnapshot(SQL, bakFile);
        if ('db' in bak) {
          db = bak.db;
          report.source = 'backup';
          report.snapshotSeq = bakSeq = bak.seq;
          version = bak.version;
          if ('missing' in primary) warn(`snapshot ${SNAPSHOT_FILE} is missing; loaded ${BACKUP_FILE}`);
          warn(`recovered from ${BACKUP_FILE} (journal seq ${bak.seq}); later changes are replayed from the journal`);
        } else {
          if ('error' in bak) {
            const moved = moveAside(bakFile);
            report.movedAside.push(moved);
            warn(`backup snapshot ${bakFile} is unusable (${bak.error}); moved aside to ${path.basename(moved)}`);
          }
          if ('error' in primary || 'error' in bak) {
            const m =
              `no usable snapshot in ${dir}: starting from an EMPTY state` +
              (journals.length ? ' and replaying the remaining journal files' : '') +
              `; the unusable files were kept as ${report.movedAside.map((f) => path.basename(f)).join(', ')}`;
            warn(m);
            logger.error?.(m);
          } else if (journals.length > 0) {
            warn(`no snapshot in ${dir}: rebuilding the state from ${journals.length} journal file(s)`);
          }
          db = new SQL.Database();
          report.source = 'fresh';
        }
      }

      // 2. migrations
      const mig = applyMigrations(db);
      if (mig.applied.length > 0 && version > 0) {
        report.migrated = { from: mig.from, to: mig.to };
        logger.info?.(`checkpoint store migrated from schema v${mig.from} to v${mig.to}`);
      }

      const store = new SqlJsCheckpointStore(db, dir, compactEvery, compactRatio, logger, report);
      store.onCompactionStep = options.onCompactionStep;
      store.lock = lock;
      store.primarySeq = primarySeq;
      store.bakSeq = bakSeq;
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
    const r = this.one(this.st.selRun, [id]);
    return r && rowToRun(r);
  }

  latestRun(): RunRecord | undefined {
    this.assertOpen();
    const r = this.one(this.st.latestRun, []);
    return r && rowToRun(r);
  }

  /** Newest first. */
  listRuns(limit?: number): RunRecord[] {
    this.assertOpen();
    return this.all(this.st.listRuns, [limit ?? -1]).map(rowToRun);
  }

  // -------------------------------------------------------------------------------------------------------
  // documents

  getDocument(path: string): DocumentState | undefined {
    this.assertOpen();
    const r = this.one(this.st.selDoc, [path]);
    return r && rowToDoc(r);
  }

  putDocument(doc: DocumentState, options?: WriteOptions): void {
    this.assertWritable();
    validateDocument(doc);
    const clean = stripUndefined(doc);
    const old = this.one(this.st.selDocBucket, [clean.path]);
    this.write({ op: 'doc', data: clean }, options?.durable, () => {
      this.st.upsertDoc.run(docParams(clean));
      if (old) this.bump(old[0] as Stage, old[1] as Readiness, -1);
      this.bump(clean.stage, clean.readiness, 1);
    });
  }

  patchDocument(path: string, patch: Partial<DocumentState>, options?: WriteOptions): DocumentState {
    this.assertWritable();
    if (patch.path !== undefined && patch.path !== path) fail(`patch cannot rename ${path} to ${patch.path}`);
    const row = this.one(this.st.selDoc, [path]);
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
        this.bump(old.stage, old.readiness, -1);
        this.bump(doc.stage, doc.readiness, 1);
      }
    });
    return doc;
  }

  removeDocument(path: string): void {
    this.assertWritable();
    const old = this.one(this.st.selDocBucket, [path]);
    if (!old) return;
    this.write({ op: 'docDel', data: { path } }, false, () => {
      this.st.delDoc.run([path]);
      this.bump(old[0] as Stage, old[1] as Readiness, -1);
    });
  }

  listDocuments(query: DocumentQuery = {}): DocumentState[] {
    this.assertOpen();
    const { sql, params } = this.docQuery('list', query);
    return this.all(this.cached(sql), params).map(rowToDoc);
  }

  countDocuments(query: Omit<DocumentQuery, 'offset' | 'limit'> = {}): number {
    this.assertOpen();
    if (!query.pathPrefix) {
      // from the (stage × readiness) counters: O(1)
      const readiness = new Set(query.readiness ?? READINESS);
      let n = 0;
      for (const s of new Set(query.stages ?? STAGES)) {
        const si = STAGE_INDEX.get(s);
        if (si === undefined) continue;
        for (let r = 0; r < READINESS.length; r++) if (readiness.has(READINESS[r])) n += this.matrix[si * READINESS.length + r];
      }
      return n;
    }
    const { sql, params } = this.docQuery('count', query);
    return Number(this.one(this.cached(sql), params)?.[0] ?? 0);
  }

  counts(): RunCounts {
    this.assertOpen();
    const c = emptyCounts();
    for (let s = 0; s < STAGES.length; s++) {
      for (let r = 0; r < READINESS.length; r++) {
        const n = this.matrix[s * READINESS.length + r];
        if (n !== 0) addToCounts(c, STAGES[s], READINESS[r], n);
      }
    }
    return c;
  }

  resetInFlight(): number {
    this.assertWritable();
    let n = 0;
    for (const s of ACTIVE_STAGES) for (let r = 0; r < READINESS.length; r++) n += this.matrix[STAGE_INDEX.get(s)! * READINESS.length + r];
    if (n === 0) return 0;
    const at = Date.now();
    this.write({ op: 'reset', data: { at } }, false, () => {
      this.st.resetActive.run([at]);
      const pending = STAGE_INDEX.get('pending')!;
      for (const s of ACTIVE_STAGES) {
        const si = STAGE_INDEX.get(s)!;
        for (let r = 0; r < READINESS.length; r++) {
          this.matrix[pending * READINESS.length + r] += this.matrix[si * READINESS.length + r];
          this.matrix[si * READINESS.length + r] = 0;
        }
      }
    });
    return n;
  }

  // -------------------------------------------------------------------------------------------------------
  // attempts and metrics

  recordAttempt(attempt: AttemptRecord): void {
    this.assertWritable();
    validateAttempt(attempt);
    const clean = stripUndefined(attempt);
    this.write({ op: 'att', data: clean }, false, () => this.st.insAttempt.run(attemptParams(clean)));
  }

  /** Oldest first; with `limit`, the most recent `limit` attempts (still oldest first). */
  listAttempts(filter: { path?: string; runId?: string; limit?: number } = {}): AttemptRecord[] {
    this.assertOpen();
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.path !== undefined) {
      where.push('path = ?');
      params.push(filter.path);
    }
    if (filter.runId !== undefined) {
      where.push('run_id = ?');
      params.push(filter.runId);
    }
    const sql = `SELECT ${ATT_COLS} FROM attempts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    params.push(filter.limit ?? -1);
    return this.all(this.cached(sql), params).map(rowToAttempt).reverse();
  }

  /** Aggregates over attempts (all, or one run's). */
  attemptStats(filter: { runId?: string } = {}): AttemptStats {
    this.assertOpen();
    const where = filter.runId !== undefined ? 'WHERE run_id = ?' : '';
    const params: SqlValue[] = filter.runId !== undefined ? [filter.runId] : [];
    const stageCols = TIMED_STAGES.map((s) => `avg(ms_${s})`).join(', ');
    const r = this.one(
      this.cached(`SELECT count(*), total(tokens_in), total(tokens_out), total(cost), avg(duration_ms), ${stageCols} FROM attempts ${where}`),
      params,
    )!;
    const byOutcome: AttemptStats['byOutcome'] = {};
    for (const row of this.all(this.cached(`SELECT outcome, count(*) FROM attempts ${where} GROUP BY outcome`), params)) {
      byOutcome[row[0] as AttemptRecord['outcome']] = row[1] as number;
    }
    const meanStageMs: AttemptStats['meanStageMs'] = {};
    TIMED_STAGES.forEach((s, i) => {
      if (r[5 + i] !== null) meanStageMs[s] = r[5 + i] as number;
    });
    return {
      attempts: r[0] as number,
      byOutcome,
      tokensIn: r[1] as number,
      tokensOut: r[2] as number,
      cost: r[3] as number,
      meanDurationMs: (r[4] as number | null) ?? 0,
      meanStageMs,
    };
  }

  // -------------------------------------------------------------------------------------------------------
  // dead letters

  putDeadLetter(letter: DeadLetter, options?: WriteOptions): void {
    this.assertWritable();
    validateDeadLetter(letter);
    const clean = stripUndefined(letter);
    this.write({ op: 'dl', data: clean }, options?.durable, () => this.applyDeadLetter(clean));
  }

  /** The queued (not yet reprocessed) dead letter of a path. */
  getDeadLetter(path: string): DeadLetter | undefined {
    this.assertOpen();
    const r = this.one(this.st.selDl, [path]);
    return r && rowToDeadLetter(r);
  }

  listDeadLetters(): DeadLetter[] {
    this.assertOpen();
    return this.all(this.st.listDl, []).map(rowToDeadLetter);
  }

  /** Moves the dead letter to the reprocessing history (with `at` and `note`); a no-op when none is queued. */
  markDeadLetterReprocessed(path: string, at: number, note?: string): void {
    this.assertWritable();
    checkNumber(at, 'at', path);
    if (!this.one(this.st.selDl, [path])) return;
    const data: { path: string; at: number; note?: string } = { path, at };
    if (note !== undefined) data.note = note;
    this.write({ op: 'dlRep', data }, false, () => this.applyDlReprocessed(data));
  }

  removeDeadLetter(path: string): void {
    this.assertWritable();
    if (!this.one(this.st.selDl, [path])) return;
    this.write({ op: 'dlDel', data: { path } }, false, () => this.st.delDl.run([path]));
  }

  /** Reprocessing history (each entry is the dead letter as it was, with `reprocessedAt` and `note`), oldest first. */
  listDeadLetterHistory(path?: string): DeadLetter[] {
    this.assertOpen();
    const sql =
      `SELECT ${DL_HISTORY_COLS} FROM dead_letter_history` +
      (path !== undefined ? ' WHERE path = ?' : '') +
      ' ORDER BY id';
    return this.all(this.cached(sql), path !== undefined ? [path] : []).map(rowToDeadLetter);
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
      try {
        this.journal?.close();
      } catch (e) {
        failure ??= e;
      }
      this.journal = undefined;
      for (const s of this.dynamic.values()) s.free();
      this.dynamic.clear();
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

  private prepareAll(): Statements {
    const db = this.db;
    return {
      selDoc: db.prepare(`SELECT ${DOC_COLS} FROM documents WHERE path = ?`),
      selDocBucket: db.prepare('SELECT stage, readiness FROM documents WHERE path = ?'),
      upsertDoc: db.prepare(
        `INSERT INTO documents (${DOC_COLS}) VALUES (${placeholders(DOC_COLS)}) ON CONFLICT(path) DO UPDATE SET ${excludedSet(DOC_COLS, 'path')}`,
      ),
      updateDoc: db.prepare(
        `UPDATE documents SET ${DOC_COLS.split(',')
          .slice(1)
          .map((c) => `${c.trim()} = ?`)
          .join(', ')} WHERE path = ?`,
      ),
      delDoc: db.prepare('DELETE FROM documents WHERE path = ?'),
      resetActive: db.prepare(`UPDATE documents SET stage = 'pending', updated_at = ? WHERE stage IN (${ACTIVE_SQL_LIST})`),
      upsertRun: db.prepare(`INSERT INTO runs (${RUN_COLS}) VALUES (${placeholders(RUN_COLS)}) ON CONFLICT(id) DO UPDATE SET ${excludedSet(RUN_COLS, 'id')}`),
      selRun: db.prepare(`SELECT ${RUN_COLS} FROM runs WHERE id = ?`),
      latestRun: db.prepare(`SELECT ${RUN_COLS} FROM runs ORDER BY started_at DESC, id DESC LIMIT 1`),
      listRuns: db.prepare(`SELECT ${RUN_COLS} FROM runs ORDER BY started_at DESC, id DESC LIMIT ?`),
      insAttempt: db.prepare(`INSERT INTO attempts (${ATT_COLS}) VALUES (${placeholders(ATT_COLS)})`),
      upsertDl: db.prepare(`INSERT INTO dead_letters (${DL_COLS}) VALUES (${placeholders(DL_COLS)}) ON CONFLICT(path) DO UPDATE SET ${excludedSet(DL_COLS, 'path')}`),
      selDl: db.prepare(`SELECT ${DL_COLS} FROM dead_letters WHERE path = ?`),
      listDl: db.prepare(`SELECT ${DL_COLS} FROM dead_letters ORDER BY at, path`),
      delDl: db.prepare('DELETE FROM dead_letters WHERE path = ?'),
      moveDlToHistory: db.prepare(
        `INSERT INTO dead_letter_history (${DL_HISTORY_COLS}) SELECT ${DL_COLS}, ?, ? FROM dead_letters WHERE path = ?`,
      ),
      insDlHistory: db.prepare(`INSERT INTO dead_letter_history (${DL_HISTORY_COLS}) VALUES (${placeholders(DL_HISTORY_COLS)})`),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
  }

  private cached(sql: string): Statement {
    let s = this.dynamic.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.dynamic.set(sql, s);
    }
    return s;
  }

  private one(stmt: Statement, params: SqlValue[]): SqlValue[] | undefined {
    stmt.bind(params);
    try {
      return stmt.step() ? stmt.get() : undefined;
    } finally {
      stmt.reset();
    }
  }

  private all(stmt: Statement, params: SqlValue[]): SqlValue[][] {
    stmt.bind(params);
    const out: SqlValue[][] = [];
    try {
      while (stmt.step()) out.push(stmt.get());
    } finally {
      stmt.reset();
    }
    return out;
  }

  private docQuery(kind: 'list' | 'count', q: DocumentQuery): { sql: string; params: SqlValue[] } {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (q.stages) {
      const stages = [...new Set(q.stages)];
      if (stages.length === 0) where.push('0');
      else {
        where.push(`stage IN (${stages.map(() => '?').join(', ')})`);
        params.push(...stages);
      }
    }
    if (q.readiness) {
      const values = [...new Set(q.readiness)];
      if (values.length === 0) where.push('0');
      else {
        where.push(`readiness IN (${values.map(() => '?').join(', ')})`);
        params.push(...values);
      }
    }
    if (q.pathPrefix) {
      // Range on the primary key (uses the index), plus an exact prefix test (no LIKE: `%` and `_` are literal).
      where.push('path >= ? AND path < ? AND substr(path, 1, ?) = ?');
      params.push(q.pathPrefix, `${q.pathPrefix}\u{10FFFF}`, [...q.pathPrefix].length, q.pathPrefix);
    }
    const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    if (kind === 'count') return { sql: `SELECT count(*) FROM documents${w}`, params };
    let sql = `SELECT ${DOC_COLS} FROM documents${w} ORDER BY path`;
    if (q.limit !== undefined || q.offset !== undefined) {
      sql += ' LIMIT ? OFFSET ?';
      params.push(q.limit ?? -1, q.offset ?? 0);
    }
    return { sql, params };
  }

  private bump(stage: Stage, readiness: Readiness, n: number): void {
    this.matrix[STAGE_INDEX.get(stage)! * READINESS.length + READINESS_INDEX.get(readiness)!] += n;
  }

  /** Recomputes the counters from the database (two covering-index scans, no table scan). */
  private recount(): void {
    this.matrix.fill(0);
    const ready = READINESS_INDEX.get('ready')!;
    const perStage = this.db.exec('SELECT stage, count(*) FROM documents GROUP BY stage')[0]?.values ?? [];
    const unready = this.db.exec("SELECT stage, readiness, count(*) FROM documents WHERE readiness <> 'ready' GROUP BY readiness, stage")[0]?.values ?? [];
    const unknown = (n: unknown, what: string) => this.logger.warn(`checkpoint store: ${String(n)} document(s) with unknown ${what} are not counted`);
    for (const [stage, n] of perStage) {
      const si = STAGE_INDEX.get(stage as string);
      if (si === undefined) unknown(n, `stage ${String(stage)}`);
      else this.matrix[si * READINESS.length + ready] = n as number;
    }
    for (const [stage, readiness, n] of unready) {
      const si = STAGE_INDEX.get(stage as string);
      const ri = READINESS_INDEX.get(readiness as string);
      if (si === undefined) continue; // reported above
      this.matrix[si * READINESS.length + ready] -= n as number;
      if (ri === undefined) unknown(n, `readiness ${String(readiness)}`);
      else this.matrix[si * READINESS.length + ri] = n as number;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  private assertWritable(): void {
    if (this.closed) throw new StoreClosedError();
    if (this.readOnly) throw new StoreReadOnlyError(`checkpoint store ${this.dir} is open read-only (another process has it open)`);
    if (this.broken) throw new StoreIoError(`checkpoint store is read-only after a write failure: ${this.broken.message}; reopen it`, this.broken);
  }

  /** Appends a change to the journal (in-memory stores: nothing). Must run before the change is applied. */
  private log(entry: JournalOp, durable?: boolean): void {
    if (!this.dir) return;
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
  private write(entry: JournalOp, durable: boolean | undefined, apply: () => void): void {
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
    if (this.dir && this.changesSinceCompaction >= this.compactEvery && this.changesSinceCompaction >= this.compactionThreshold) {
      try {
        this.compactNow(true);
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
    let docs = 0;
    if (this.compactRatio > 0) for (let i = 0; i < this.matrix.length; i++) docs += this.matrix[i];
    return Math.max(this.compactEvery, Math.ceil(this.compactRatio * docs));
  }

  private beginTx(): void {
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

  /** Applies a journaled change to the database (no journal, no counters): used by replay. */
  private apply(entry: JournalOp): void {
    switch (entry.op) {
      case 'doc': {
        validateDocument(entry.data);
        const params = docParams(entry.data);
        params.push(params.shift()!);
        this.st.updateDoc.run(params);
        if (this.db.getRowsModified() === 0) this.st.upsertDoc.run(docParams(entry.data));
        return;
      }
      case 'docDel':
        this.st.delDoc.run([entry.data.path]);
        return;
      case 'reset':
        this.st.resetActive.run([entry.data.at]);
        return;
      case 'run':
        validateRun(entry.data);
        this.st.upsertRun.run(runParams(entry.data));
        return;
      case 'att':
        validateAttempt(entry.data);
        this.st.insAttempt.run(attemptParams(entry.data));
        return;
      case 'dl':
        validateDeadLetter(entry.data);
        this.applyDeadLetter(entry.data);
        return;
      case 'dlRep':
        this.applyDlReprocessed(entry.data);
        return;
      case 'dlDel':
        this.st.delDl.run([entry.data.path]);
        return;
      default:
        throw new Error(`unknown journal op ${JSON.stringify((entry as { op: unknown }).op)}`);
    }
  }

  private applyDlReprocessed(d: { path: string; at: number; note?: string }): void {
    this.st.moveDlToHistory.run([d.at, nn(d.note), d.path]);
    this.st.delDl.run([d.path]);
  }

  /** Queues a dead letter; one that already carries `reprocessedAt` goes straight to the history. */
  private applyDeadLetter(d: DeadLetter): void {
    if (d.reprocessedAt !== undefined) {
      this.st.insDlHistory.run(dlHistoryParams(d));
      this.st.delDl.run([d.path]);
    } else {
      this.st.upsertDl.run(dlParams(d));
    }
  }

  private replay(journals: JournalFile[], report: OpenReport, warn: (m: string) => void, readOnly = false): { repaired: boolean } {
    const snapSeq = this.seq;
    let last = snapSeq;
    let repaired = false;
    const accepted: { seq: number; op: string; data: unknown; file: string }[] = [];
    for (let i = 0; i < journals.length; i++) {
      const j = journals[i];
      // Entirely covered by the snapshot: the next file starts at or below snapSeq + 1.
      if (i + 1 < journals.length && journals[i + 1].startSeq <= snapSeq + 1) continue;
      const name = path.basename(j.file);
      let buf: Buffer;
      try {
        buf = fs.readFileSync(j.file);
      } catch (e) {
        warn(`cannot read journal ${name}: ${(e as Error).message}; its changes are lost`);
        repaired = true;
        continue;
      }
      const { records, issues } = parseJournal(buf);
      if (issues.length > 0) {
        repaired = true;
        report.skippedLines += issues.length;
        const tail = issues.filter((x) => x.tail);
        const mid = issues.filter((x) => !x.tail);
        if (tail.length > 0 && !readOnly) {
          warn(
            `journal ${name}: skipped ${tail.length} torn/incomplete line(s) at the end ` +
              `(line ${tail[0].line}, byte ${tail[0].offset}: ${tail[0].reason}) — an interrupted write that was never acknowledged`,
          );
        }
        if (mid.length > 0 && readOnly) {
          warn(`journal ${name}: skipped ${mid.length} corrupt line(s) (first: line ${mid[0].line}: ${mid[0].reason})`);
        } else if (mid.length > 0) {
          const kept = copyAside(j.file);
          report.movedAside.push(kept);
          warn(
            `journal ${name}: skipped ${mid.length} CORRUPT line(s) followed by valid ones ` +
              `(first: line ${mid[0].line}: ${mid[0].reason}); a copy is kept as ${path.basename(kept)}`,
          );
        }
      }
      for (const rec of records) {
        if (rec.seq <= last) {
          if (rec.seq > snapSeq) {
            warn(`journal ${name}: duplicate or out-of-order seq ${rec.seq} (after ${last}) skipped`);
            repaired = true;
            report.skippedLines++;
          }
          continue;
        }
        if (rec.seq !== last + 1) {
          warn(`journal ${name}: changes ${last + 1}..${rec.seq - 1} are missing; continuing with ${rec.seq}`);
          repaired = true;
        }
        accepted.push({ seq: rec.seq, op: rec.op, data: rec.data, file: name });
        last = rec.seq;
      }
    }

    // A document's full state is journaled on every change: only its last `doc`/`docDel` line matters.
    // Document writes between two `reset` lines commute, so they are applied in path order (B-tree
    // locality makes that about twice as fast); the other tables do not depend on documents.
    const pathOf = (r: { data: unknown }) => {
      const p = (r.data as { path?: unknown } | null)?.path;
      return typeof p === 'string' ? p : undefined;
    };
    const lastWrite = new Map<string, number>();
    accepted.forEach((r, idx) => {
      if (r.op === 'doc' || r.op === 'docDel') {
        const p = pathOf(r);
        if (p !== undefined) lastWrite.set(p, idx);
      }
    });
    const applyOne = (r: (typeof accepted)[number]) => {
      try {
        this.apply({ op: r.op, data: r.data } as JournalOp);
      } catch (e) {
        warn(`journal ${r.file}: change ${r.seq} (${r.op}) could not be applied: ${(e as Error).message}`);
        repaired = true;
        report.skippedLines++;
      }
    };
    let segment: { path: string; rec: (typeof accepted)[number] }[] = [];
    const flush = () => {
      segment.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      for (const x of segment) applyOne(x.rec);
      segment = [];
    };
    for (const r of accepted) if (r.op !== 'doc' && r.op !== 'docDel' && r.op !== 'reset') applyOne(r);
    accepted.forEach((r, idx) => {
      if (r.op === 'reset') {
        flush();
        applyOne(r);
      } else if (r.op === 'doc' || r.op === 'docDel') {
        const p = pathOf(r);
        if (p === undefined) applyOne(r); // invalid: reported by apply
        else if (lastWrite.get(p) === idx) segment.push({ path: p, rec: r });
      }
    });
    flush();
    report.replayed += accepted.length;
    this.seq = last;
    return { repaired };
  }

  /** record seq → export → atomic snapshot → new journal → delete journals no snapshot needs. */
  private compactNow(reopenJournal: boolean): void {
    const dir = this.dir!;
    const t0 = performance.now();
    const primaryFile = path.join(dir, SNAPSHOT_FILE);
    const bakFile = path.join(dir, BACKUP_FILE);
    const tmpFile = `${primaryFile}.tmp`;
    try {
      this.journal?.close(); // fdatasync when anything is pending
    } catch (e) {
      this.broken = e as Error;
      throw new StoreIoError(`journal flush failed: ${(e as Error).message}`, e);
    }
    this.journal = undefined;
    const step = this.onCompactionStep ?? (() => undefined);
    let bytes: Uint8Array;
    let newBakSeq = this.bakSeq;
    try {
      step('journal-closed');
      try {
        this.st.setMeta.run(['journal_seq', String(this.seq)]);
        this.commitTx();
        bytes = this.db.export();
      } finally {
        this.beginTx();
      }
      stampSnapshot(bytes);
      step('exported');
      writeFileDurable(tmpFile, bytes);
      step('temp-written');
      if (fs.existsSync(primaryFile)) {
        fs.rmSync(bakFile, { force: true });
        try {
          fs.linkSync(primaryFile, bakFile);
        } catch {
          fs.copyFileSync(primaryFile, bakFile);
        }
        newBakSeq = this.primarySeq;
        step('backup-linked');
      }
      fs.renameSync(tmpFile, primaryFile);
      fsyncDir(dir);
      step('renamed');
    } catch (e) {
      if (e instanceof SimulatedCrash) throw e;
      this.logger.error?.(`checkpoint store: compaction failed: ${(e as Error).message}`);
      // Keep journaling so that nothing is lost; the previous snapshot + journals still hold the state.
      if (reopenJournal) {
        try {
          this.journal = JournalWriter.create(path.join(dir, journalFileName(this.seq + 1)));
        } catch (e2) {
          this.broken = e2 as Error;
        }
      }
      throw new StoreIoError(`compaction failed: ${(e as Error).message}`, e);
    }
    this.bakSeq = newBakSeq;
    this.primarySeq = this.seq;
    if (reopenJournal) {
      try {
        this.journal = JournalWriter.create(path.join(dir, journalFileName(this.seq + 1)));
      } catch (e) {
        this.broken = e as Error;
        throw new StoreIoError(`cannot create a new journal: ${(e as Error).message}`, e);
      }
    }
    step('journal-created');

    // Journals are kept while the .bak snapshot needs them (bak + journals = full state).
    if (this.bakSeq !== undefined) {
      const files = listJournalFiles(dir);
      for (let i = 0; i < files.length; i++) {
        const f = files[i];
        if (this.journal && f.file === this.journal.file) continue;
        const lastSeqInFile = i + 1 < files.length ? files[i + 1].startSeq - 1 : this.seq;
        if (lastSeqInFile <= this.bakSeq) {
          try {
            fs.unlinkSync(f.file);
          } catch (e) {
            this.logger.warn(`checkpoint store: cannot delete old journal ${f.file}: ${(e as Error).message}`);
          }
        }
      }
    }
    step('journals-deleted');
    this.changesSinceCompaction = 0;
    this.counters.compactions++;
    this.counters.lastCompactionMs = performance.now() - t0;
    this.counters.lastSnapshotBytes = bytes.length;
  }

  // =======================================================================================================
  // Metrics queries for the run dashboard and health (read-only; see RunMetricsAccumulator in core/metrics)

  /**
   * Attempts recorded after the cursor `after` (0 = from the first), oldest first, at most `limit`
   * (default: all). The returned cursor is passed to the next call, so a live view reads each row once.
   * Uses the `attempts_run` index: (run_id, rowid) ranges, no scan of other runs.
   */
  readAttempts(query: { runId?: string; after?: number; limit?: number } = {}): { attempts: AttemptRecord[]; cursor: number } {
    this.assertOpen();
    const where = ['id > ?'];
    const params: SqlValue[] = [query.after ?? 0];
    if (query.runId !== undefined) {
      where.push('run_id = ?');
      params.push(query.runId);
    }
    params.push(query.limit ?? -1);
    const rows = this.all(this.cached(`SELECT id, ${ATT_COLS} FROM attempts WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`), params);
    const attempts = rows.map((r) => rowToAttempt(r.slice(1)));
    return { attempts, cursor: rows.length ? (rows[rows.length - 1][0] as number) : (query.after ?? 0) };
  }

  /**
   * Outcome, duration and end of the last `limit` finished attempts (done, failed, dead-lettered), newest
   * first: of one run (`runId`), or of all runs up to the last attempt of `throughRun` (the recent window
   * as it was when that run ended). A backwards range scan on the primary key: O(limit), whatever the size.
   */
  recentDocumentOutcomes(limit: number, filter: { runId?: string; throughRun?: string } = {}): FinishedOutcome[] {
    this.assertOpen();
    const where = ["outcome IN ('done', 'failed', 'dead-lettered')"];
    const params: SqlValue[] = [];
    if (filter.runId !== undefined) {
      where.push('run_id = ?');
      params.push(filter.runId);
    }
    if (filter.throughRun !== undefined) {
      const last = this.one(this.cached('SELECT max(id) FROM attempts WHERE run_id = ?'), [filter.throughRun])?.[0];
      if (last === null || last === undefined) return [];
      where.push('id <= ?');
      params.push(last as number);
    }
    params.push(limit);
    const rows = this.all(this.cached(`SELECT outcome, duration_ms, ended_at FROM attempts WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`), params);
    return rows.map((r) => ({ outcome: r[0] as AttemptRecord['outcome'], durationMs: r[1] as number, endedAt: r[2] as number }));
  }
}

function stripUndefined<T extends object>(o: T): T {
  for (const k in o) {
    if (o[k] === undefined) {
      const copy = { ...o };
      for (const k2 in copy) if (copy[k2] === undefined) delete copy[k2];
      return copy;
    }
  }
  return o;
}
