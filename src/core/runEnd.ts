/**
 * The end of a run: its record with the final totals, written durably ({@link recordRunEnd}), and the summary
 * its caller gets ({@link summaryOf}).
 */
import type { CheckpointStore } from '../store/types';
import { errorInfoOf, type ActiveRun } from './activeRun';
import type { Logger } from './logger';
import type { RunSummary } from './pipelineOptions';
import { emptyCounts, type RunCounts } from './types';

export interface RunEnd {
  status: RunSummary['status'];
  counts: RunCounts;
  endedAt: number;
}

/**
 * Writes the run's end (status, time, totals) durably. A store that cannot (a full disk) does not keep the
 * run from ending: the reason is kept as the run's error, and the next run resumes.
 */
export function recordRunEnd(store: CheckpointStore, log: Logger, run: ActiveRun, endedAt: number): RunEnd {
  let counts: RunCounts;
  try {
    counts = store.counts();
  } catch (err) {
    // a store closed under the run (a bug elsewhere): the run still ends, and gives the output folder back
    log.error(`The end of run ${run.record.id} could not be counted: ${(err as Error).message}`);
    if (!run.fatalError) run.fatalError = errorInfoOf(err, 'pending');
    counts = emptyCounts();
  }
  const status: RunSummary['status'] = run.interrupted ? 'interrupted' : run.stopReason ? 'stopped' : 'completed';
  run.record = {
    ...run.record,
    endedAt,
    status,
    totals: { ...counts, tokensIn: run.stats.tokensIn, tokensOut: run.stats.tokensOut, cost: run.stats.cost },
  };
  try {
    store.putRun(run.record, { durable: true });
  } catch (err) {
    log.error(`The end of run ${run.record.id} could not be recorded: ${(err as Error).message}`);
    if (!run.fatalError) run.fatalError = errorInfoOf(err, 'pending');
  }
  return { status, counts, endedAt };
}

export function summaryOf(run: ActiveRun, end: RunEnd): RunSummary {
  return {
    runId: run.record.id,
    status: end.status,
    ...(run.stopReason ? { reason: run.stopReason } : {}),
    ...(run.fatalError ? { fatalError: run.fatalError } : {}),
    counts: end.counts,
    done: run.stats.done,
    deadLettered: run.stats.deadLettered,
    skipped: run.stats.skipped,
    rejected: run.stats.rejected,
    rejectedTooLarge: run.stats.rejectedTooLarge,
    tokensIn: run.stats.tokensIn,
    tokensOut: run.stats.tokensOut,
    cost: run.stats.cost,
    durationMs: end.endedAt - run.record.startedAt,
  };
}
