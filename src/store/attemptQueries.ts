/**
 * Read queries over the attempts table: a document's or run's attempts, the live dashboard's cursor reads,
 * health's recent window and the SQL aggregates of run history. All use an index (`attempts_path`,
 * `attempts_run` or the primary key): their cost depends on what they return, not on the size of the state.
 */
import type { SqlValue } from 'sql.js';
import type { FinishedOutcome } from '../core/metrics';
import type { AttemptRecord } from '../core/types';
import type { AttemptStats } from './options';
import { ATT_COLS, ATT_REPLY_COLS, TIMED_STAGES, rowToAttempt } from './rows';
import type { StatementRunner } from './statements';

/** Oldest first; with `limit`, the most recent `limit` attempts (still oldest first); `rawReply`: with the raw replies. */
export function listAttempts(sql: StatementRunner, filter: { path?: string; runId?: string; limit?: number; rawReply?: boolean } = {}): AttemptRecord[] {
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
  const text = `SELECT ${filter.rawReply ? ATT_REPLY_COLS : ATT_COLS} FROM attempts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
  params.push(filter.limit ?? -1);
  return sql.all(sql.cached(text), params).map(rowToAttempt).reverse();
}

/** Aggregates over attempts (all, or one run's). */
export function attemptStats(sql: StatementRunner, filter: { runId?: string } = {}): AttemptStats {
  const where = filter.runId !== undefined ? 'WHERE run_id = ?' : '';
  const params: SqlValue[] = filter.runId !== undefined ? [filter.runId] : [];
  const stageCols = TIMED_STAGES.map((s) => `avg(ms_${s})`).join(', ');
  const r = sql.one(sql.cached(`SELECT count(*), total(tokens_in), total(tokens_out), total(cost), avg(duration_ms), ${stageCols} FROM attempts ${where}`), params)!;
  const byOutcome: AttemptStats['byOutcome'] = {};
  for (const row of sql.all(sql.cached(`SELECT outcome, count(*) FROM attempts ${where} GROUP BY outcome`), params)) {
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

/**
 * Attempts recorded after the cursor `after` (0 = from the first), oldest first, at most `limit`
 * (default: all). The returned cursor is passed to the next call, so a live view reads each row once.
 * Uses the `attempts_run` index: (run_id, rowid) ranges, no scan of other runs.
 */
export function readAttempts(sql: StatementRunner, query: { runId?: string; after?: number; limit?: number } = {}): { attempts: AttemptRecord[]; cursor: number } {
  const where = ['id > ?'];
  const params: SqlValue[] = [query.after ?? 0];
  if (query.runId !== undefined) {
    where.push('run_id = ?');
    params.push(query.runId);
  }
  params.push(query.limit ?? -1);
  const rows = sql.all(sql.cached(`SELECT id, ${ATT_COLS} FROM attempts WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`), params);
  const attempts = rows.map((r) => rowToAttempt(r.slice(1)));
  return { attempts, cursor: rows.length ? (rows[rows.length - 1][0] as number) : (query.after ?? 0) };
}

/**
 * Outcome, duration and end of the last `limit` finished documents, newest first: each document's latest
 * finished attempt (done, failed, dead-lettered), so a dead letter that was reprocessed successfully counts
 * as done, not as a failure that stays in the window. Of one run (`runId`), or of all runs up to the last
 * attempt of `throughRun` (the recent window as it was when that run ended). A backwards range scan on the
 * primary key with one `attempts_path` seek per row: O(limit + the later attempts of those documents).
 */
export function recentDocumentOutcomes(sql: StatementRunner, limit: number, filter: { runId?: string; throughRun?: string } = {}): FinishedOutcome[] {
  // a document a router job's classification found no job for was settled, not failed: health leaves it out
  const finished = (t: string): string => `${t}.outcome IN ('done', 'failed', 'dead-lettered') AND coalesce(${t}.error_code, '') <> 'NO_MATCHING_JOB'`;
  const where = [finished('a')];
  const later = ['b.path = a.path', 'b.id > a.id', finished('b')];
  const params: SqlValue[] = [];
  const laterParams: SqlValue[] = [];
  if (filter.runId !== undefined) {
    where.push('a.run_id = ?');
    params.push(filter.runId);
    later.push('b.run_id = ?');
    laterParams.push(filter.runId);
  }
  if (filter.throughRun !== undefined) {
    const last = sql.one(sql.cached('SELECT max(id) FROM attempts WHERE run_id = ?'), [filter.throughRun])?.[0];
    if (last === null || last === undefined) return [];
    where.push('a.id <= ?');
    params.push(last as number);
    later.push('b.id <= ?');
    laterParams.push(last as number);
  }
  where.push(`NOT EXISTS (SELECT 1 FROM attempts b WHERE ${later.join(' AND ')})`);
  const rows = sql.all(sql.cached(`SELECT a.outcome, a.duration_ms, a.ended_at FROM attempts a WHERE ${where.join(' AND ')} ORDER BY a.id DESC LIMIT ?`), [
    ...params,
    ...laterParams,
    limit,
  ]);
  return rows.map((r) => ({ outcome: r[0] as AttemptRecord['outcome'], durationMs: r[1] as number, endedAt: r[2] as number }));
}
