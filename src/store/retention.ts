/**
 * History retention: attempts, dead-letter history, runs and request logs older than the retention limits
 * are pruned once per run (when a session opens), so the state stays small however long a folder is used.
 *
 * A limit of runs (`historyRetentionRuns`, default 20: the attempts of the last 20 runs stay) and a limit
 * of age (`historyRetentionDays`, default 30); history outside either limit goes, 0 turns a limit off.
 * Never pruned, whatever the limits:
 *  - the latest run (the one being resumed or just finished) and everything of it;
 *  - each document's latest attempt (its last error and raw reply stay inspectable);
 *  - the attempts and dead-letter history of documents still in the dead-letter queue;
 *  - runs that something kept still refers to.
 *
 * The pruning is one journaled change (`prune`, with the run ids it keeps resolved), applied by the same
 * code on replay. It depends only on the runs, attempts and dead letters, which replay applies in journal
 * order, so a replayed prune removes exactly the rows the original did.
 */
import type { Database, SqlValue } from 'sql.js';
import type { Logger } from '../core/logger';
import type { StatementRunner } from './statements';
import type { CheckpointStore } from './types';

/** What {@link CheckpointStore.pruneHistory} is asked to keep. */
export interface PruneOptions {
  /** Keep the attempts of the newest `keepRuns` runs (0 or absent: no limit of runs). */
  keepRuns?: number;
  /** Prune history that ended before this time (ms since the epoch; absent: no limit of age). */
  olderThan?: number;
}

/** The journaled prune: the limits with the kept runs resolved. */
export interface PruneChange {
  /** The runs inside the limit of runs (absent: no limit of runs). */
  keepRunIds?: string[];
  olderThan?: number;
  /** The latest run: never pruned. */
  currentRunId?: string;
}

/** How much one pruning removed. */
export interface PruneReport {
  attempts: number;
  deadLetterHistory: number;
  runs: number;
  requestLogs: number;
}

export const DEFAULT_HISTORY_RETENTION_RUNS = 20;
export const DEFAULT_HISTORY_RETENTION_DAYS = 30;

/** The retention settings of a run (`RunSettings` fields); absent = the defaults, 0 = no limit. */
export interface RetentionSettings {
  historyRetentionRuns?: number;
  historyRetentionDays?: number;
}

const DAY_MS = 86_400_000;

/** The prune options of retention settings at `now`. */
export function pruneOptionsOf(settings: RetentionSettings, now: number): PruneOptions {
  const runs = settings.historyRetentionRuns ?? DEFAULT_HISTORY_RETENTION_RUNS;
  const days = settings.historyRetentionDays ?? DEFAULT_HISTORY_RETENTION_DAYS;
  return {
    ...(Number.isFinite(runs) && runs > 0 ? { keepRuns: Math.floor(runs) } : {}),
    ...(Number.isFinite(days) && days > 0 ? { olderThan: now - days * DAY_MS } : {}),
  };
}

/** Resolves the limits against the store's runs; undefined when no limit is set (nothing to prune). */
export function resolvePrune(sql: StatementRunner, options: PruneOptions): PruneChange | undefined {
  const keepRuns = options.keepRuns !== undefined && Number.isFinite(options.keepRuns) && options.keepRuns > 0 ? Math.floor(options.keepRuns) : undefined;
  const olderThan = options.olderThan !== undefined && Number.isFinite(options.olderThan) ? options.olderThan : undefined;
  if (keepRuns === undefined && olderThan === undefined) return undefined;
  const newest = sql.all(sql.cached('SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT ?'), [keepRuns ?? 1]).map((r) => r[0] as string);
  return {
    ...(keepRuns !== undefined ? { keepRunIds: newest } : {}),
    ...(olderThan !== undefined ? { olderThan } : {}),
    ...(newest.length ? { currentRunId: newest[0] } : {}),
  };
}

/** SQL that is true for history outside the limits: its run is not kept, or it is older than the limit. */
function outside(change: PruneChange, runCol: string, timeExpr: string): { sql: string; params: SqlValue[] } {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  if (change.keepRunIds) {
    if (change.keepRunIds.length === 0) parts.push('1');
    else {
      parts.push(`${runCol} NOT IN (${change.keepRunIds.map(() => '?').join(', ')})`);
      params.push(...change.keepRunIds);
    }
  }
  if (change.olderThan !== undefined) {
    parts.push(`${timeExpr} < ?`);
    params.push(change.olderThan);
  }
  if (parts.length === 0) return { sql: '0', params: [] };
  let sql = `(${parts.join(' OR ')})`;
  if (change.currentRunId !== undefined) {
    sql += ` AND ${runCol} <> ?`;
    params.push(change.currentRunId);
  }
  return { sql, params };
}

/** Applies a prune to the database (the write path and replay): the rows removed per table. */
export function applyPrune(db: Database, change: PruneChange): Omit<PruneReport, 'requestLogs'> {
  const run = (sql: string, params: SqlValue[]): number => {
    db.run(sql, params);
    return db.getRowsModified();
  };
  const a = outside(change, 'run_id', 'ended_at');
  const attempts = run(
    `DELETE FROM attempts WHERE ${a.sql} AND path NOT IN (SELECT path FROM dead_letters) AND id NOT IN (SELECT max(id) FROM attempts GROUP BY path)`,
    a.params,
  );
  const h = outside(change, 'run_id', 'reprocessed_at');
  const deadLetterHistory = run(`DELETE FROM dead_letter_history WHERE ${h.sql} AND path NOT IN (SELECT path FROM dead_letters)`, h.params);
  const r = outside(change, 'id', 'coalesce(ended_at, started_at)');
  const runs = run(
    `DELETE FROM runs WHERE ${r.sql}` +
      ' AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = runs.id)' +
      ' AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.run_id = runs.id)' +
      ' AND NOT EXISTS (SELECT 1 FROM dead_letter_history h WHERE h.run_id = runs.id)',
    r.params,
  );
  return { attempts, deadLetterHistory, runs };
}

/** Checks a journaled prune (replay of a hand-edited or foreign line). */
export function validatePrune(change: PruneChange): void {
  const ok =
    change &&
    typeof change === 'object' &&
    (change.keepRunIds === undefined || (Array.isArray(change.keepRunIds) && change.keepRunIds.every((id) => typeof id === 'string'))) &&
    (change.olderThan === undefined || (typeof change.olderThan === 'number' && Number.isFinite(change.olderThan))) &&
    (change.currentRunId === undefined || typeof change.currentRunId === 'string');
  if (!ok) throw new TypeError('checkpoint store: invalid prune change');
}

/**
 * Prunes a store's history by the retention settings when a run is about to start. Never fails the run:
 * a store without pruning (an in-memory fake) or a read-only one is left alone, errors are logged.
 */
export function pruneHistoryOnRunStart(store: CheckpointStore, settings: RetentionSettings, logger?: Pick<Logger, 'info' | 'warn'>, now = Date.now()): PruneReport | undefined {
  if (!store.pruneHistory) return undefined;
  try {
    const report = store.pruneHistory(pruneOptionsOf(settings, now));
    const n = report.attempts + report.deadLetterHistory + report.runs + report.requestLogs;
    if (n > 0) {
      logger?.info(
        `History retention: pruned ${report.attempts} attempt(s), ${report.deadLetterHistory} dead-letter history entr${report.deadLetterHistory === 1 ? 'y' : 'ies'}, ` +
          `${report.runs} run(s) and ${report.requestLogs} request log(s)`,
      );
    }
    return report;
  } catch (err) {
    logger?.warn(`History retention: pruning failed (${(err as Error)?.message ?? err}); the run goes on`);
    return undefined;
  }
}
