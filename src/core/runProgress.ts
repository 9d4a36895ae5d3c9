/** A run's progress: what it is at a moment ({@link progressOf}), and its events, at most one per interval ({@link emitProgress}). */
import type { CheckpointStore } from '../store/types';
import type { ActiveRun } from './activeRun';
import type { EventBus, RunProgress } from './events';

export function progressOf(store: CheckpointStore, run: ActiveRun, now: number, paused: boolean): RunProgress {
  const counts = store.counts();
  const elapsedMin = Math.max(1e-9, (now - run.record.startedAt) / 60000);
  const docsPerMinute = run.stats.done / elapsedMin;
  const remaining = counts.pending + counts.running + counts.failed;
  return {
    runId: run.record.id,
    ...counts,
    inFlight: run.processing,
    docsPerMinute,
    ...(docsPerMinute > 0 ? { etaMs: Math.round((remaining / docsPerMinute) * 60000) } : {}),
    paused,
    ...(run.waiting ? { waitingForProvider: { ...run.waiting } } : {}),
  };
}

export interface ProgressContext {
  events: EventBus;
  now(): number;
  intervalMs: number;
  progressOf(run: ActiveRun): RunProgress;
}

/** Emits `run/progress` now when `force` or the interval has passed since the last; else once when it has. */
export function emitProgress(ctx: ProgressContext, run: ActiveRun, force = false): void {
  if (run.finished) return;
  const now = ctx.now();
  const due = run.lastProgressAt + ctx.intervalMs;
  if (force || now >= due) {
    if (run.progressTimer) {
      clearTimeout(run.progressTimer);
      run.progressTimer = undefined;
    }
    run.lastProgressAt = now;
    ctx.events.emit({ type: 'run/progress', progress: ctx.progressOf(run) });
  } else if (!run.progressTimer) {
    run.progressTimer = setTimeout(() => {
      run.progressTimer = undefined;
      emitProgress(ctx, run, true);
    }, due - now);
  }
}
