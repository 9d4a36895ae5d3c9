/**
 * The run dashboard's host ⇄ webview protocol: discriminated unions with readable `type`s, one zod schema
 * per message, validated at both ends ({@link parseToWebview} in the webview, {@link parseFromWebview} in
 * the extension host). Also the view models the webview renders. No `vscode`, no DOM.
 *
 * Order: the webview posts `dashboard/ready` once its listener is installed; the host posts nothing before
 * that, then `dashboard/state`, followed by `dashboard/update` (live, batched) and the answers to requests.
 */
import { z } from 'zod';
import type { HealthReasonCode } from '../core/health';
import type { RunMetrics } from '../core/metrics';

// ---------------------------------------------------------------------------------------------------------
// view models

const num = z.number().finite();
const count = z.number().int().nonnegative();
const outcome = z.enum(['done', 'retry', 'failed', 'dead-lettered', 'cancelled', 'outage']);
const stage = z.enum(['pending', 'reading', 'converting', 'extracting', 'validating', 'exporting', 'done', 'failed', 'dead-lettered']);
const healthLevel = z.enum(['healthy', 'degraded', 'unhealthy']);
const reasonCode = z.enum(['NO_PROGRESS', 'LOW_SUCCESS_RATE', 'DEAD_LETTERS', 'SLOW_DOCUMENTS', 'QUEUE_IDLE']);

export const healthViewSchema = z.object({
  level: healthLevel,
  reasons: z.array(
    z.object({
      code: reasonCode,
      level: z.enum(['degraded', 'unhealthy']),
      message: z.string(),
      threshold: z.object({
        name: z.enum(['maxPendingWhileIdle', 'maxDeadLetters', 'minSuccessRatePercent', 'successRateWindow', 'minSuccessSamples', 'maxAverageDurationSeconds', 'noProgressMinutes']),
        setting: z.string(),
        limit: num,
        actual: num,
      }),
    }),
  ),
});
export type HealthView = z.infer<typeof healthViewSchema>;

export const runMetricsSchema = z.object({
  attempts: count,
  outcomes: z.object({ done: count, retry: count, failed: count, 'dead-lettered': count, cancelled: count, outage: count }),
  documents: z.object({ total: count, succeeded: count, failed: count, deadLettered: count, retrying: count, retried: count }),
  tokensIn: num,
  tokensOut: num,
  cost: num,
  startedAt: num.optional(),
  endedAt: num.optional(),
  lastProgressAt: num.optional(),
  meanDurationMs: num.optional(),
  maxDurationMs: num.optional(),
  docsPerMinute: num,
  timeline: z.object({
    bucketMs: num.positive(),
    rateMs: num.positive(),
    start: num,
    end: num,
    points: z
      .array(
        z.object({
          t: num,
          done: count,
          failed: count,
          retried: count,
          tokensIn: num,
          tokensOut: num,
          cost: num,
          cumulativeTokens: num,
          cumulativeCost: num,
        }),
      )
      .max(2000),
  }),
  topErrors: z
    .array(z.object({ code: z.string(), attempts: count, documents: count, lastMessage: z.string(), lastAt: num, paths: z.array(z.string()).max(50) }))
    .max(100),
  errorCodes: count,
  slowest: z.array(z.object({ path: z.string(), durationMs: num, outcome, attempt: count, stageReached: stage, endedAt: num })).max(100),
  stages: z.array(z.object({ stage: z.enum(['reading', 'converting', 'extracting', 'validating', 'exporting']), totalMs: num, meanMs: num, attempts: count })),
  recent: z.object({
    size: count,
    documents: count,
    succeeded: count,
    failed: count,
    successRate: num.optional(),
    meanDurationMs: num.optional(),
  }),
});

/** One run in the history list. */
export const runRowSchema = z.object({
  id: z.string().min(1),
  status: z.enum(['running', 'paused', 'stopped', 'completed', 'interrupted']),
  trigger: z.string(),
  startedAt: num,
  endedAt: num.optional(),
  model: z.string().optional(),
  /** What this run's attempts ended with (documents done, failed, dead-lettered; retried attempts). */
  counts: z.object({ attempts: count, done: count, failed: count, deadLettered: count, retries: count, pendingAtEnd: count.optional() }).optional(),
  tokensIn: num.optional(),
  tokensOut: num.optional(),
  cost: num.optional(),
  /** Health at the end of the run (now, for the active run). */
  health: healthLevel.optional(),
  /** The run is in progress in this window. */
  live: z.boolean(),
});
export type RunRow = z.infer<typeof runRowSchema>;

export const dashboardModelSchema = z.object({
  folder: z.string(),
  run: runRowSchema,
  /** Health now (active run) or at the end of the run. */
  health: healthViewSchema,
  metrics: runMetricsSchema,
  /** The live run waits for a failing provider (no document starts or uses up attempts meanwhile). */
  waiting: z.object({ since: num, nextTryAt: num.optional(), probes: count, code: z.string(), message: z.string() }).optional(),
  /** When the host computed it (epoch ms). */
  generatedAt: num,
});
export type DashboardModel = z.infer<typeof dashboardModelSchema>;

export const comparisonColumnSchema = z.object({
  runId: z.string(),
  model: z.string().max(500).optional(),
  startedAt: num,
  status: runRowSchema.shape.status,
  documents: count,
  succeeded: count,
  failed: count,
  /** 0..1, undefined when nothing finished. */
  successRate: num.optional(),
  docsPerMinute: num,
  cost: num,
  costPerDocument: num.optional(),
  tokens: num,
  meanDurationMs: num.optional(),
  durationMs: num.optional(),
  /**
   * Accuracy against the reviewers' corrections (0..1, null when nothing was compared) over the checked
   * documents this run has a result for; absent when it has none.
   */
  accuracy: z
    .object({
      documents: count,
      overall: num.nullable(),
      fields: z.array(z.object({ name: z.string().max(500), accuracy: num.nullable(), total: count })).max(200),
    })
    .optional(),
});
export type ComparisonColumn = z.infer<typeof comparisonColumnSchema>;

export const exportFormatSchema = z.enum(['csv', 'json']);
export type ExportFormat = z.infer<typeof exportFormatSchema>;

// ---------------------------------------------------------------------------------------------------------
// messages

export const toWebviewSchema = z.discriminatedUnion('type', [
  /** Everything: after `ready`, after a run was selected, when the history changed. */
  z.object({ type: z.literal('dashboard/state'), runs: z.array(runRowSchema).max(1000), selectedRunId: z.string().optional(), model: dashboardModelSchema.optional() }),
  /** Live metrics of the selected run (at most a few per second). */
  z.object({ type: z.literal('dashboard/update'), model: dashboardModelSchema }),
  /** Answer to `dashboard/compare`. */
  z.object({ type: z.literal('dashboard/comparison'), columns: z.tuple([comparisonColumnSchema, comparisonColumnSchema]) }),
  /** A short message shown in the page (export done, nothing to reveal, …). */
  z.object({ type: z.literal('dashboard/notice'), level: z.enum(['info', 'warning', 'error']), message: z.string().max(2000) }),
]);
export type ToWebview = z.infer<typeof toWebviewSchema>;

export const fromWebviewSchema = z.discriminatedUnion('type', [
  /** The page is listening; `selectedRunId` is the run it showed before it was reloaded (webview state). */
  z.object({ type: z.literal('dashboard/ready'), selectedRunId: z.string().min(1).max(200).optional() }),
  z.object({ type: z.literal('dashboard/selectRun'), runId: z.string().min(1).max(200) }),
  z.object({ type: z.literal('dashboard/compare'), runIds: z.tuple([z.string().min(1).max(200), z.string().min(1).max(200)]) }),
  /** Reveal the documents that failed with this error code in the Documents tree. */
  z.object({ type: z.literal('dashboard/revealErrorCode'), code: z.string().min(1).max(200) }),
  z.object({ type: z.literal('dashboard/revealDocument'), path: z.string().min(1).max(4096) }),
  z.object({ type: z.literal('dashboard/export'), format: exportFormatSchema }),
  /** Receipt after a comparison was rendered: its verdict line and table rows (tests use it). */
  z.object({ type: z.literal('dashboard/comparisonRendered'), verdict: z.string().max(2000), rows: count }),
  /** Receipt after each render: what is on screen (logs and tests use it). */
  z.object({
    type: z.literal('dashboard/rendered'),
    runId: z.string().optional(),
    charts: count,
    errorCodes: z.array(z.string()).max(100),
    live: z.boolean(),
  }),
]);
export type FromWebview = z.infer<typeof fromWebviewSchema>;

export type ToWebviewType = ToWebview['type'];
export type FromWebviewType = FromWebview['type'];

/** The message, or undefined when it is not a valid host → webview message. */
export function parseToWebview(data: unknown): ToWebview | undefined {
  const r = toWebviewSchema.safeParse(data);
  return r.success ? r.data : undefined;
}

/** The message, or undefined when it is not a valid webview → host message. */
export function parseFromWebview(data: unknown): FromWebview | undefined {
  const r = fromWebviewSchema.safeParse(data);
  return r.success ? r.data : undefined;
}

// Compile-time checks: the schemas describe exactly the core's types.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const metricsMatch: Same<z.infer<typeof runMetricsSchema>, RunMetrics> = true;
const reasonsMatch: Same<HealthView['reasons'][number]['code'], HealthReasonCode> = true;
void metricsMatch;
void reasonsMatch;
