/**
 * The data behind the run dashboard, read from a checkpoint store: metrics of one run (incrementally, for
 * live updates), history rows, health at the end of a run, and run comparisons. No `vscode` import: the
 * panel feeds it a store and gets protocol view models back.
 */
import type { RunAccuracy } from '../../eval/runAccuracy';
import type { ProviderWait } from '../../core/events';
import { evaluateHealth, healthSummary, type HealthReport, type HealthThresholds } from '../../core/health';
import { recentWindowOf, RunMetricsAccumulator, type FinishedOutcome, type MetricsOptions, type RunMetrics } from '../../core/metrics';
import type { RunRecord } from '../../core/types';
import type { ComparisonColumn, DashboardModel, HealthView, RunRow } from '../../shared/dashboardProtocol';
import type { CheckpointStore } from '../../store/types';

/** Attempts read per query while catching up with a run. */
const PAGE = 5000;

/** Metrics of one run, read from the store incrementally: each attempt row is read once. */
export class RunMetricsReader {
  readonly runId: string;
  /** The store it reads (a new reader is needed when the folder's store is opened again). */
  readonly store: CheckpointStore;
  readonly #acc: RunMetricsAccumulator;
  #cursor = 0;
  /** Fallback for stores without `readAttempts`: attempts already added. */
  #seen = 0;

  constructor(store: CheckpointStore, runId: string, options: MetricsOptions = {}) {
    this.store = store;
    this.runId = runId;
    this.#acc = new RunMetricsAccumulator(options);
  }

  /** Attempts added so far. */
  get size(): number {
    return this.#acc.size;
  }

  /** Reads the attempts recorded since the last call; returns how many were new. */
  refresh(): number {
    const store = this.store;
    let added = 0;
    if (store.readAttempts) {
      for (;;) {
        const { attempts, cursor } = store.readAttempts({ runId: this.runId, after: this.#cursor, limit: PAGE });
        this.#cursor = cursor;
        for (const a of attempts) this.#acc.add(a);
        added += attempts.length;
        if (attempts.length < PAGE) break;
      }
      return added;
    }
    const all = store.listAttempts({ runId: this.runId });
    for (let i = this.#seen; i < all.length; i++) this.#acc.add(all[i]);
    added = Math.max(0, all.length - this.#seen);
    this.#seen = all.length;
    return added;
  }

  snapshot(run: RunRecord, now: number, live: boolean): RunMetrics {
    return this.#acc.snapshot({ startedAt: run.startedAt, ...(live ? { now } : { endedAt: run.endedAt ?? this.#acc.snapshot().endedAt ?? now }) });
  }
}

export function healthView(report: Pick<HealthReport, 'level' | 'reasons'>): HealthView {
  return healthSummary(report);
}

/** The last finished outcomes of all runs up to the end of `runId`, newest first. */
function outcomesThrough(store: CheckpointStore, runId: string, limit: number): FinishedOutcome[] {
  if (store.recentDocumentOutcomes) return store.recentDocumentOutcomes(limit, { throughRun: runId });
  const all = store.listAttempts();
  let end = -1;
  all.forEach((a, i) => a.runId === runId && (end = i));
  return all
    .slice(0, end + 1)
    .filter((a) => a.outcome === 'done' || a.outcome === 'failed' || a.outcome === 'dead-lettered')
    .reverse()
    .slice(0, limit);
}

/**
 * Health at the end of a finished run: what the status bar showed when it ended — the last documents
 * finished up to then (of every run, as the live rule counts them), the dead letters and pending documents
 * it left, and no run active (so a queue left behind shows up).
 */
export function healthAtEnd(store: CheckpointStore, run: RunRecord, thresholds: Partial<HealthThresholds>): HealthReport {
  const window = thresholds.successRateWindow ?? 100;
  const outcomes = outcomesThrough(store, run.id, window);
  const end = run.endedAt ?? outcomes[0]?.endedAt ?? run.startedAt;
  return evaluateHealth(
    {
      now: end,
      running: false,
      paused: false,
      pending: run.totals?.pending ?? 0,
      deadLetters: run.totals?.deadLettered ?? 0,
      recent: recentWindowOf(outcomes, window),
      ...(outcomes[0] ? { lastProgressAt: outcomes[0].endedAt } : {}),
    },
    thresholds,
  );
}

/** This run's attempt totals: from the store's SQL aggregate when it has one, else by reading its attempts. */
function runTotals(store: CheckpointStore, runId: string): { done: number; failed: number; deadLettered: number; retries: number; attempts: number; tokensIn: number; tokensOut: number; cost: number; meanDurationMs?: number } {
  if (store.attemptStats) {
    const s = store.attemptStats({ runId });
    return {
      done: s.byOutcome.done ?? 0,
      failed: s.byOutcome.failed ?? 0,
      deadLettered: s.byOutcome['dead-lettered'] ?? 0,
      retries: s.byOutcome.retry ?? 0,
      attempts: s.attempts,
      tokensIn: s.tokensIn,
      tokensOut: s.tokensOut,
      cost: s.cost,
      ...(s.attempts ? { meanDurationMs: s.meanDurationMs } : {}),
    };
  }
  const t = { done: 0, failed: 0, deadLettered: 0, retries: 0, attempts: 0, tokensIn: 0, tokensOut: 0, cost: 0, sum: 0 };
  for (const a of store.listAttempts({ runId })) {
    t.attempts++;
    t.tokensIn += a.tokensIn;
    t.tokensOut += a.tokensOut;
    t.cost += a.cost;
    t.sum += a.durationMs;
    if (a.outcome === 'done') t.done++;
    else if (a.outcome === 'failed') t.failed++;
    else if (a.outcome === 'dead-lettered') t.deadLettered++;
    else if (a.outcome === 'retry') t.retries++;
  }
  const { sum, ...rest } = t;
  return { ...rest, ...(t.attempts ? { meanDurationMs: sum / t.attempts } : {}) };
}

/**
 * Run history rows. Finished runs do not change: their rows (with health at the end) are cached in `cache`;
 * the active run's row is rebuilt on every call.
 */
export function runRows(
  store: CheckpointStore,
  options: { liveRunId?: string; liveHealth?: HealthReport; thresholds: Partial<HealthThresholds>; limit?: number; cache?: Map<string, RunRow> },
): RunRow[] {
  const rows: RunRow[] = [];
  for (const run of store.listRuns(options.limit ?? 100)) {
    const live = run.id === options.liveRunId;
    const finished = !live && run.endedAt !== undefined;
    const cached = finished ? options.cache?.get(run.id) : undefined;
    if (cached) {
      rows.push(cached);
      continue;
    }
    const t = runTotals(store, run.id);
    const health = live ? options.liveHealth?.level : healthAtEnd(store, run, options.thresholds).level;
    const row: RunRow = {
      id: run.id,
      status: run.status,
      trigger: run.trigger,
      startedAt: run.startedAt,
      ...(run.endedAt !== undefined ? { endedAt: run.endedAt } : {}),
      ...(run.model ? { model: run.model } : {}),
      counts: { attempts: t.attempts, done: t.done, failed: t.failed, deadLettered: t.deadLettered, retries: t.retries, ...(run.totals ? { pendingAtEnd: run.totals.pending } : {}) },
      tokensIn: t.tokensIn,
      tokensOut: t.tokensOut,
      cost: t.cost,
      ...(health ? { health } : {}),
      live,
    };
    if (finished) options.cache?.set(run.id, row);
    rows.push(row);
  }
  return rows;
}

/** One side of a run comparison. */
export function comparisonColumn(store: CheckpointStore, run: RunRecord, now: number, accuracy?: RunAccuracy): ComparisonColumn {
  const t = runTotals(store, run.id);
  const finished = t.done + t.failed + t.deadLettered;
  const durationMs = Math.max(0, (run.endedAt ?? now) - run.startedAt);
  return {
    runId: run.id,
    ...(run.model ? { model: run.model } : {}),
    startedAt: run.startedAt,
    status: run.status,
    documents: finished,
    succeeded: t.done,
    failed: t.failed + t.deadLettered,
    ...(finished ? { successRate: t.done / finished } : {}),
    docsPerMinute: durationMs > 0 ? t.done / (durationMs / 60_000) : 0,
    cost: t.cost,
    ...(t.done ? { costPerDocument: t.cost / t.done } : {}),
    tokens: t.tokensIn + t.tokensOut,
    ...(t.meanDurationMs !== undefined ? { meanDurationMs: t.meanDurationMs } : {}),
    durationMs,
    ...(accuracy
      ? {
          accuracy: {
            documents: accuracy.documents,
            overall: accuracy.overall.accuracy,
            fields: Object.entries(accuracy.fields)
              .slice(0, 200)
              .map(([name, f]) => ({ name, accuracy: f.accuracy, total: f.total })),
          },
        }
      : {}),
  };
}

/** The dashboard model of one run. */
export function dashboardModel(folder: string, row: RunRow, health: HealthReport, metrics: RunMetrics, now: number, waiting?: ProviderWait): DashboardModel {
  return { folder, run: row, health: healthView(health), metrics, ...(waiting ? { waiting: { ...waiting } } : {}), generatedAt: now };
}

/** The history row of a run, from its metrics (the live run's row is rebuilt on every update this way). */
export function rowFromMetrics(run: RunRecord, metrics: RunMetrics, health: HealthReport['level'] | undefined, live: boolean): RunRow {
  return {
    id: run.id,
    status: run.status,
    trigger: run.trigger,
    startedAt: run.startedAt,
    ...(run.endedAt !== undefined ? { endedAt: run.endedAt } : {}),
    ...(run.model ? { model: run.model } : {}),
    counts: {
      attempts: metrics.attempts,
      done: metrics.outcomes.done,
      failed: metrics.outcomes.failed,
      deadLettered: metrics.outcomes['dead-lettered'],
      retries: metrics.outcomes.retry,
      ...(run.totals ? { pendingAtEnd: run.totals.pending } : {}),
    },
    tokensIn: metrics.tokensIn,
    tokensOut: metrics.tokensOut,
    cost: metrics.cost,
    ...(health ? { health } : {}),
    live,
  };
}
