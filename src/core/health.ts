/**
 * Run health: `healthy`, `degraded` or `unhealthy`, with the reasons, computed from a few store metrics
 * against configurable thresholds. Pure: the caller gathers a {@link HealthInput} (from the store, a live
 * metrics accumulator, or a finished run's record) and gets a {@link HealthReport}.
 *
 * Which reasons make a run unhealthy and which only degraded:
 *
 * | code               | level       | rule (defaults)                                                        |
 * | ------------------ | ----------- | ---------------------------------------------------------------------- |
 * | `NO_PROGRESS`      | unhealthy   | a run is active (not paused) and no document finished for 5 minutes    |
 * | `LOW_SUCCESS_RATE` | unhealthy   | under 90 % of the last 100 finished documents succeeded (≥ 10 judged)  |
 * |                    |             | (each document counted once, by its latest outcome)                    |
 * | `DEAD_LETTERS`     | degraded    | more than 10 documents in the dead-letter queue                        |
 * | `SLOW_DOCUMENTS`   | degraded    | successful documents of the last 100 took more than 60 s on average    |
 * | `QUEUE_IDLE`       | degraded    | more than 50 documents pending while no run processes them (or paused) |
 *
 * Unhealthy means the extraction is not doing its job right now and needs a person: it is stuck, or it is
 * losing documents (and spending tokens) at a high rate. Degraded means work needs attention but nothing
 * is being lost while it waits: dead letters can be reprocessed later, slow documents still finish, a
 * waiting queue is only waiting. The overall level is the worst level among the reasons.
 */

import { recentWindowOf, type FinishedOutcome } from './metrics';
import type { AttemptRecord } from './types';
import { ErrorCodes } from './errors';

export type HealthLevel = 'healthy' | 'degraded' | 'unhealthy';

export type HealthReasonCode = 'NO_PROGRESS' | 'LOW_SUCCESS_RATE' | 'DEAD_LETTERS' | 'SLOW_DOCUMENTS' | 'QUEUE_IDLE';

/** Thresholds of the health rules. Every one is a setting `extractionWorkbench.health.<name>`. */
export interface HealthThresholds {
  /** Pending documents tolerated while no run processes them (default 50). */
  maxPendingWhileIdle: number;
  /** Documents tolerated in the dead-letter queue (default 10). */
  maxDeadLetters: number;
  /** Lowest acceptable success rate over the recent window, in percent (default 90). */
  minSuccessRatePercent: number;
  /** Finished documents the success rate and average duration are computed over (default 100). */
  successRateWindow: number;
  /** Finished documents needed in the window before the success rate is judged (default 10). */
  minSuccessSamples: number;
  /** Highest acceptable average duration of a successful document, in seconds (default 60). */
  maxAverageDurationSeconds: number;
  /** Minutes without a finished document, while a run is active, before it counts as stuck (default 5). */
  noProgressMinutes: number;
}

export const DEFAULT_HEALTH_THRESHOLDS: Readonly<HealthThresholds> = Object.freeze({
  maxPendingWhileIdle: 50,
  maxDeadLetters: 10,
  minSuccessRatePercent: 90,
  successRateWindow: 100,
  minSuccessSamples: 10,
  maxAverageDurationSeconds: 60,
  noProgressMinutes: 5,
});

/** The setting that holds each threshold. */
export const HEALTH_SETTING_PREFIX = 'extractionWorkbench.health.';

const LIMITS: Record<keyof HealthThresholds, { min: number; max: number; integer: boolean }> = {
  maxPendingWhileIdle: { min: 0, max: 1e9, integer: true },
  maxDeadLetters: { min: 0, max: 1e9, integer: true },
  minSuccessRatePercent: { min: 0, max: 100, integer: false },
  successRateWindow: { min: 1, max: 100_000, integer: true },
  minSuccessSamples: { min: 1, max: 100_000, integer: true },
  maxAverageDurationSeconds: { min: 0.001, max: 1e7, integer: false },
  noProgressMinutes: { min: 0.01, max: 1e6, integer: false },
};

/** A threshold value out of range (named, so callers can tell it from other errors). */
export class InvalidHealthThresholdError extends RangeError {
  override readonly name = 'InvalidHealthThresholdError';
  constructor(
    readonly key: keyof HealthThresholds,
    readonly value: unknown,
  ) {
    const l = LIMITS[key];
    super(`health threshold ${key} must be ${l.integer ? 'an integer' : 'a number'} between ${l.min} and ${l.max}, got ${JSON.stringify(value)}`);
  }
}

/** Defaults completed with `partial`; throws {@link InvalidHealthThresholdError} for a value out of range. */
export function healthThresholds(partial: Partial<HealthThresholds> = {}): HealthThresholds {
  const out = { ...DEFAULT_HEALTH_THRESHOLDS };
  for (const key of Object.keys(LIMITS) as (keyof HealthThresholds)[]) {
    const v = partial[key];
    if (v === undefined) continue;
    const l = LIMITS[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < l.min || v > l.max || (l.integer && !Number.isInteger(v))) throw new InvalidHealthThresholdError(key, v);
    out[key] = v;
  }
  return out;
}

/** What health is judged on. {@link healthInputFromStore} gathers it from a checkpoint store. */
export interface HealthInput {
  now: number;
  /** A run is active (started, not finished). */
  running: boolean;
  /** The active run is paused. */
  paused: boolean;
  /** Documents waiting to be processed (rejected ones not counted). */
  pending: number;
  /** Documents in the dead-letter queue. */
  deadLetters: number;
  /** The last finished documents (at most `successRateWindow`). */
  recent: { documents: number; succeeded: number; meanDurationMs?: number };
  /** When the last document finished, or the active run started if that is later. */
  lastProgressAt?: number;
}

export interface HealthReason {
  code: HealthReasonCode;
  level: Exclude<HealthLevel, 'healthy'>;
  message: string;
  /** The threshold that was crossed: its name, setting, limit, and the value measured. */
  threshold: { name: keyof HealthThresholds; setting: string; limit: number; actual: number };
}

export interface HealthReport {
  level: HealthLevel;
  /** Worst first. Empty when healthy. */
  reasons: HealthReason[];
  /** When it was computed. */
  at: number;
}

const RANK: Record<HealthLevel, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

export function worseOf(a: HealthLevel, b: HealthLevel): HealthLevel {
  return RANK[a] >= RANK[b] ? a : b;
}

export function compareHealth(a: HealthLevel, b: HealthLevel): number {
  return RANK[a] - RANK[b];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function fmtSeconds(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

function fmtMinutes(ms: number): string {
  const m = ms / 60_000;
  return m < 10 ? `${Math.floor(m * 10) / 10} min` : `${Math.floor(m)} min`;
}

/** Applies the health rules. */
export function evaluateHealth(input: HealthInput, thresholds: Partial<HealthThresholds> = {}): HealthReport {
  const t = healthThresholds(thresholds);
  const reasons: HealthReason[] = [];
  const reason = (code: HealthReasonCode, level: HealthReason['level'], name: keyof HealthThresholds, actual: number, message: string) =>
    reasons.push({ code, level, message, threshold: { name, setting: HEALTH_SETTING_PREFIX + name, limit: t[name], actual } });

  const active = input.running && !input.paused;
  if (active && input.lastProgressAt !== undefined) {
    const idleMs = Math.max(0, input.now - input.lastProgressAt);
    if (idleMs > t.noProgressMinutes * 60_000) {
      reason('NO_PROGRESS', 'unhealthy', 'noProgressMinutes', idleMs / 60_000, `No document finished for ${fmtMinutes(idleMs)} while the run is active (limit ${t.noProgressMinutes} min).`);
    }
  }
  const { documents, succeeded } = input.recent;
  if (documents >= t.minSuccessSamples && documents > 0) {
    const percent = (succeeded / documents) * 100;
    if (percent < t.minSuccessRatePercent) {
      reason(
        'LOW_SUCCESS_RATE',
        'unhealthy',
        'minSuccessRatePercent',
        percent,
        `Only ${Math.round(percent) < t.minSuccessRatePercent ? Math.round(percent) : percent.toFixed(1)} % of the last ${plural(documents, 'document')} succeeded (${documents - succeeded} failed; limit ${t.minSuccessRatePercent} %).`,
      );
    }
  }
  if (input.deadLetters > t.maxDeadLetters) {
    reason('DEAD_LETTERS', 'degraded', 'maxDeadLetters', input.deadLetters, `${plural(input.deadLetters, 'document')} in the dead-letter queue (limit ${t.maxDeadLetters}).`);
  }
  const mean = input.recent.meanDurationMs;
  if (mean !== undefined && mean > t.maxAverageDurationSeconds * 1000) {
    reason('SLOW_DOCUMENTS', 'degraded', 'maxAverageDurationSeconds', mean / 1000, `Documents take ${fmtSeconds(mean)} on average (limit ${t.maxAverageDurationSeconds} s).`);
  }
  if ((!input.running || input.paused) && input.pending > t.maxPendingWhileIdle) {
    reason(
      'QUEUE_IDLE',
      'degraded',
      'maxPendingWhileIdle',
      input.pending,
      `${plural(input.pending, 'document')} pending while ${input.running ? 'the run is paused' : 'no run is processing them'} (limit ${t.maxPendingWhileIdle}).`,
    );
  }
  reasons.sort((a, b) => RANK[b.level] - RANK[a.level]);
  const level = reasons.reduce<HealthLevel>((l, r) => worseOf(l, r.level), 'healthy');
  return { level, reasons, at: input.now };
}

/** True when health went from not unhealthy (or unknown) to unhealthy: the moment to notify. */
export function turnedUnhealthy(previous: HealthLevel | undefined, next: HealthLevel): boolean {
  return next === 'unhealthy' && previous !== 'unhealthy';
}

/** The worst of several reports (several workspace folders); reasons of every report, worst first. */
export function combineHealth(reports: readonly HealthReport[], now: number): HealthReport {
  const reasons = reports.flatMap((r) => r.reasons).sort((a, b) => RANK[b.level] - RANK[a.level]);
  return { level: reports.reduce<HealthLevel>((l, r) => worseOf(l, r.level), 'healthy'), reasons, at: now };
}

/** Codicon for a level: `pass`, `warning`, `error`. */
export function healthIcon(level: HealthLevel): 'pass' | 'warning' | 'error' {
  return level === 'healthy' ? 'pass' : level === 'degraded' ? 'warning' : 'error';
}

/** Plain-text lines: `Health: degraded`, then one line per reason. */
export function formatHealth(report: Pick<HealthReport, 'level' | 'reasons'>): string[] {
  return [`Health: ${report.level}`, ...report.reasons.map((r) => `  - [${r.code}] ${r.message}`)];
}

/** The part of a report that goes into `status --json` and exports. */
export function healthSummary(report: Pick<HealthReport, 'level' | 'reasons'>): { level: HealthLevel; reasons: HealthReason[] } {
  return { level: report.level, reasons: report.reasons.map((r) => ({ code: r.code, level: r.level, message: r.message, threshold: { ...r.threshold } })) };
}

/** The store calls health needs (structural, so the CLI, the extension and tests pass any store). */
export interface HealthSource {
  counts(): { pending: number; deadLettered: number };
  /** Each document's latest finished outcome, newest first; stores without it are read through `listAttempts`. */
  recentDocumentOutcomes?(limit: number): FinishedOutcome[];
  listAttempts(filter?: { limit?: number }): AttemptRecord[];
}

/** Run state that the store alone cannot tell. */
export interface RunState {
  now: number;
  running: boolean;
  paused: boolean;
  /** Start of the active run: progress is measured from it until the first document finishes. */
  runStartedAt?: number;
}

/**
 * The latest finished outcome of each document, newest first, from attempts in any order of recording
 * (oldest first, as `listAttempts` returns them): a document that failed and later succeeded counts once, as done.
 */
export function latestOutcomes(attempts: readonly AttemptRecord[]): FinishedOutcome[] {
  const seen = new Set<string>();
  const out: FinishedOutcome[] = [];
  for (let i = attempts.length - 1; i >= 0; i--) {
    const a = attempts[i];
    if (a.outcome !== 'done' && a.outcome !== 'failed' && a.outcome !== 'dead-lettered') continue;
    if (a.errorCode === ErrorCodes.NO_MATCHING_JOB) continue; // classified as no job's document: settled, not failed
    if (seen.has(a.path)) continue;
    seen.add(a.path);
    out.push({ outcome: a.outcome, durationMs: a.durationMs, endedAt: a.endedAt });
  }
  return out;
}

/**
 * Gathers a {@link HealthInput} from a store: O(1) counts plus the last `window` finished documents, each
 * counted by its current (latest) outcome.
 */
export function healthInputFromStore(store: HealthSource, state: RunState, window: number = DEFAULT_HEALTH_THRESHOLDS.successRateWindow): HealthInput {
  const c = store.counts();
  const outcomes: FinishedOutcome[] = store.recentDocumentOutcomes ? store.recentDocumentOutcomes(window) : latestOutcomes(store.listAttempts({ limit: window * 4 }));
  const recent = recentWindowOf(outcomes, window);
  let lastProgressAt = outcomes.reduce<number | undefined>((m, o) => (m === undefined || o.endedAt > m ? o.endedAt : m), undefined);
  if (state.running && state.runStartedAt !== undefined && (lastProgressAt === undefined || state.runStartedAt > lastProgressAt)) lastProgressAt = state.runStartedAt;
  return {
    now: state.now,
    running: state.running,
    paused: state.paused,
    pending: c.pending,
    deadLetters: c.deadLettered,
    recent,
    ...(lastProgressAt !== undefined ? { lastProgressAt } : {}),
  };
}
