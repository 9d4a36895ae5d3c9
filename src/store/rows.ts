/**
 * Row ⇄ object mapping of the checkpoint tables (column lists, statement parameters, rows back to
 * {@link DocumentState}, {@link RunRecord}, {@link AttemptRecord}, {@link DeadLetter}) and the cheap
 * validation every change passes before it is journaled: it keeps the counters and the journal consistent.
 */
import type { SqlValue } from 'sql.js';
import { ACTIVE_STAGES, type AttemptRecord, type DeadLetter, type DocumentState, type Readiness, type RunRecord, type Stage } from '../core/types';

export const STAGES: readonly Stage[] = ['pending', 'reading', 'converting', 'extracting', 'validating', 'exporting', 'done', 'failed', 'dead-lettered'];
export const READINESS: readonly Readiness[] = ['not-ready', 'ready', 'rejected'];
export const STAGE_INDEX = new Map<string, number>(STAGES.map((s, i) => [s, i]));
export const READINESS_INDEX = new Map<string, number>(READINESS.map((r, i) => [r, i]));
export const ACTIVE_SQL_LIST = ACTIVE_STAGES.map((s) => `'${s}'`).join(', ');
/** Stages with a timing column on attempts (terminal stages take no time of their own). */
export const TIMED_STAGES: readonly Stage[] = ['pending', 'reading', 'converting', 'extracting', 'validating', 'exporting'];

export const DOC_COLS =
  'path, size, mtime_ms, content_hash, fingerprint, readiness, reject_reason, stage, attempts, error_code, error_message, ' +
  'error_stage, error_retryable, result_path, tokens_in, tokens_out, cost, duration_ms, updated_at, job, job_key';
export const RUN_COLS = 'id, started_at, ended_at, trigger, root, status, fingerprint, model, totals';
/** Attempt columns read by listings (the raw reply, up to 64 KB, only when asked for: {@link ATT_REPLY_COLS}). */
export const ATT_COLS =
  'run_id, path, attempt, stage_reached, started_at, ended_at, duration_ms, outcome, error_code, error_message, tokens_in, tokens_out, cost, ' +
  TIMED_STAGES.map((s) => `ms_${s}`).join(', ') +
  ', requests, model, raw_reply_truncated';
/** Every attempt column: what is inserted, and read with the raw reply. */
export const ATT_REPLY_COLS = `${ATT_COLS}, raw_reply`;
/** Index of the first column after the timed stages in {@link ATT_COLS}. */
const ATT_EXTRA = 13 + TIMED_STAGES.length;
/** Most of a raw reply the store keeps, in UTF-8 bytes (64 KB). */
export const RAW_REPLY_LIMIT_BYTES = 64 * 1024;
export const DL_COLS = 'path, run_id, stage, code, message, attempts, at';
export const DL_HISTORY_COLS = 'path, run_id, stage, code, message, attempts, at, reprocessed_at, note';

export function placeholders(cols: string): string {
  return cols
    .split(',')
    .map(() => '?')
    .join(', ');
}

export function excludedSet(cols: string, key: string): string {
  return cols
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== key)
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
}

export const nn = (v: unknown): SqlValue => (v === undefined ? null : (v as SqlValue));

export function docParams(d: DocumentState): SqlValue[] {
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
    nn(d.job),
    nn(d.jobKey),
  ];
}

export function rowToDoc(r: SqlValue[]): DocumentState {
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
  if (r[19] != null) d.job = r[19] as string;
  if (r[20] != null) d.jobKey = r[20] as string;
  return d;
}

export function runParams(r: RunRecord): SqlValue[] {
  return [r.id, r.startedAt, nn(r.endedAt), r.trigger, r.root, r.status, r.fingerprint, nn(r.model), r.totals ? JSON.stringify(r.totals) : null];
}

export function rowToRun(r: SqlValue[]): RunRecord {
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

export function attemptParams(a: AttemptRecord): SqlValue[] {
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
  p.push(nn(a.requests), nn(a.model), a.rawReplyTruncated ? 1 : null, nn(a.rawReply));
  return p;
}

/**
 * The attempt with its raw reply cut to {@link RAW_REPLY_LIMIT_BYTES} (at a character boundary) and marked
 * `rawReplyTruncated`; the same object when there is nothing to cut.
 */
export function capRawReply(a: AttemptRecord): AttemptRecord {
  const reply = a.rawReply;
  if (reply === undefined || reply.length * 3 <= RAW_REPLY_LIMIT_BYTES) return a; // 3 bytes per UTF-16 unit at most
  const bytes = Buffer.from(reply, 'utf8');
  if (bytes.length <= RAW_REPLY_LIMIT_BYTES) return a;
  let end = RAW_REPLY_LIMIT_BYTES;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // not inside a multi-byte character
  return { ...a, rawReply: bytes.subarray(0, end).toString('utf8'), rawReplyTruncated: true };
}

export function rowToAttempt(r: SqlValue[]): AttemptRecord {
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
  if (r[ATT_EXTRA] != null) a.requests = r[ATT_EXTRA] as number;
  if (r[ATT_EXTRA + 1] != null) a.model = r[ATT_EXTRA + 1] as string;
  if (r[ATT_EXTRA + 2] != null && r[ATT_EXTRA + 2] !== 0) a.rawReplyTruncated = true;
  if (r[ATT_EXTRA + 3] != null) a.rawReply = r[ATT_EXTRA + 3] as string;
  return a;
}

export function dlParams(d: DeadLetter): SqlValue[] {
  return [d.path, d.runId, d.stage, d.code, d.message, d.attempts, d.at];
}

export function dlHistoryParams(d: DeadLetter): SqlValue[] {
  return [...dlParams(d), nn(d.reprocessedAt), nn(d.note)];
}

export function rowToDeadLetter(r: SqlValue[]): DeadLetter {
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
// Validation

export function fail(message: string): never {
  throw new TypeError(`checkpoint store: ${message}`);
}

export function checkNumber(v: unknown, what: string, where: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${what} must be a finite number (${where})`);
}

export function checkOptionalString(v: unknown, what: string, where: string): void {
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
  checkOptionalString(d.job, 'job', d.path);
  checkOptionalString(d.jobKey, 'jobKey', d.path);
  const e = d.lastError;
  if (e !== undefined) {
    if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || !STAGE_INDEX.has(e.stage)) {
      fail(`lastError needs code, message and a known stage (${d.path})`);
    }
  }
}

export function validateRun(r: RunRecord): void {
  if (!r || typeof r.id !== 'string' || r.id.length === 0) fail('run id must be a non-empty string');
  checkNumber(r.startedAt, 'startedAt', r.id);
  if (typeof r.trigger !== 'string' || typeof r.status !== 'string' || typeof r.root !== 'string' || typeof r.fingerprint !== 'string') {
    fail(`run needs trigger, status, root and fingerprint (${r.id})`);
  }
}

export function validateAttempt(a: AttemptRecord): void {
  if (!a || typeof a.runId !== 'string' || typeof a.path !== 'string') fail('attempt needs runId and path');
  if (!STAGE_INDEX.has(a.stageReached)) fail(`unknown stage ${JSON.stringify(a.stageReached)} (${a.path})`);
  for (const k of ['attempt', 'startedAt', 'endedAt', 'durationMs', 'tokensIn', 'tokensOut', 'cost'] as const) checkNumber(a[k], k, a.path);
  if (typeof a.outcome !== 'string') fail(`attempt outcome missing (${a.path})`);
  if (a.requests !== undefined) checkNumber(a.requests, 'requests', a.path);
  checkOptionalString(a.model, 'model', a.path);
  checkOptionalString(a.rawReply, 'rawReply', a.path);
  if (a.rawReplyTruncated !== undefined && typeof a.rawReplyTruncated !== 'boolean') fail(`rawReplyTruncated must be a boolean (${a.path})`);
}

export function validateDeadLetter(d: DeadLetter): void {
  if (!d || typeof d.path !== 'string' || d.path.length === 0) fail('dead letter path must be a non-empty string');
  if (typeof d.runId !== 'string' || typeof d.code !== 'string' || typeof d.message !== 'string') fail(`dead letter needs runId, code, message (${d.path})`);
  if (!STAGE_INDEX.has(d.stage)) fail(`unknown stage ${JSON.stringify(d.stage)} (${d.path})`);
  checkNumber(d.attempts, 'attempts', d.path);
  checkNumber(d.at, 'at', d.path);
  if (d.reprocessedAt !== undefined) checkNumber(d.reprocessedAt, 'reprocessedAt', d.path);
  checkOptionalString(d.note, 'note', d.path);
}

/** The object without its `undefined` fields (the same object when it has none). */
export function stripUndefined<T extends object>(o: T): T {
  for (const k in o) {
    if (o[k] === undefined) {
      const copy = { ...o };
      for (const k2 in copy) if (copy[k2] === undefined) delete copy[k2];
      return copy;
    }
  }
  return o;
}
