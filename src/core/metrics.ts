/**
 * Run metrics from attempt rows: documents completed per time bucket, success and failure counts,
 * tokens and cost over time, top error codes, slowest documents, time per stage, and the "recent window"
 * (last N finished documents) that health is judged on.
 *
 * Pure: no I/O, no `vscode`. One pass over the attempts with O(1) work per attempt (plus one map entry per
 * document and per timeline bucket), so 100,000 attempts take a few tens of milliseconds. The
 * {@link RunMetricsAccumulator} is incremental: a live dashboard adds the attempts recorded since its last
 * refresh and takes a new {@link RunMetricsAccumulator.snapshot} without reading the run again.
 */
import type { AttemptRecord, Stage } from './types';

export type AttemptOutcome = AttemptRecord['outcome'];

/** The stages a document passes through while it is processed, in order. */
export const TIMED_STAGES = ['reading', 'converting', 'extracting', 'validating', 'exporting'] as const;
export type TimedStage = (typeof TIMED_STAGES)[number];

export const OUTCOMES: readonly AttemptOutcome[] = ['done', 'retry', 'failed', 'dead-lettered', 'cancelled', 'outage'];

export interface MetricsOptions {
  /**
   * Finest timeline resolution, ms (default 5,000). Attempts are counted per `bucketMs`; a timeline shows
   * the narrowest "nice" width (5 s, 10 s, 15 s, 30 s, 1 min, 2 min, 5 min, … 1 h, 2 h, …) that is a
   * multiple of it and gives at most `maxBuckets` buckets, so short runs are not one bar and long runs stay
   * readable. Rates are per minute whatever the width.
   */
  bucketMs?: number;
  /** Most buckets a timeline has (default 60). */
  maxBuckets?: number;
  /** Error codes listed (default 10). */
  topErrors?: number;
  /** Slowest documents listed (default 10). */
  slowest?: number;
  /** Example documents kept per error code (default 5). */
  samplePaths?: number;
  /** Finished documents in the recent window (default 100). */
  recentWindow?: number;
}

export interface SnapshotOptions {
  /** Start of the run (default: the first attempt's start). */
  startedAt?: number;
  /** End of the run when it finished; running runs pass `now` instead. */
  endedAt?: number;
  /** Current time for a running run (the timeline reaches it). */
  now?: number;
}

/** One timeline bucket. Attempts fall into the bucket of their `endedAt`. */
export interface TimelinePoint {
  /** Bucket start, epoch ms. */
  t: number;
  /** Documents completed (attempts that ended `done`). */
  done: number;
  /** Documents that failed for good (attempts that ended `failed` or `dead-lettered`). */
  failed: number;
  /** Attempts that failed and were retried. */
  retried: number;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  /** Tokens (in + out) up to the end of this bucket. */
  cumulativeTokens: number;
  /** Cost up to the end of this bucket. */
  cumulativeCost: number;
}

export interface Timeline {
  /** Width of each point's bucket, ms (a multiple of the `bucketMs` option). */
  bucketMs: number;
  /** The unit of rates (60,000: per minute); a point's rate is `count × rateMs / bucketMs`. */
  rateMs: number;
  start: number;
  end: number;
  points: TimelinePoint[];
}

export interface ErrorCount {
  code: string;
  /** Failed attempts with this code (retried or not). */
  attempts: number;
  /** Distinct documents that had an attempt fail with this code. */
  documents: number;
  lastMessage: string;
  lastAt: number;
  /** Up to `samplePaths` documents, most recent first. */
  paths: string[];
}

export interface SlowDocument {
  path: string;
  /** The document's longest attempt, ms. */
  durationMs: number;
  outcome: AttemptOutcome;
  attempt: number;
  stageReached: Stage;
  endedAt: number;
}

export interface StageTime {
  stage: TimedStage;
  totalMs: number;
  /** Mean over the attempts that spent time in the stage. */
  meanMs: number;
  attempts: number;
}

export interface RecentWindow {
  /** Window size (the option). */
  size: number;
  /** Finished documents in the window (≤ size). */
  documents: number;
  succeeded: number;
  failed: number;
  /** succeeded / documents, undefined without documents. */
  successRate?: number;
  /** Mean duration of the successful attempts in the window, ms. */
  meanDurationMs?: number;
}

export interface DocumentCounts {
  /** Distinct documents with at least one (non-cancelled) attempt. */
  total: number;
  /** Documents whose last attempt ended `done`. */
  succeeded: number;
  /** Documents whose last attempt ended `failed` (run-fatal error). */
  failed: number;
  /** Documents whose last attempt ended `dead-lettered`. */
  deadLettered: number;
  /** Documents whose last attempt is waiting for a retry. */
  retrying: number;
  /** Documents that needed more than one attempt. */
  retried: number;
}

export interface RunMetrics {
  attempts: number;
  /** Attempts per outcome. */
  outcomes: Record<AttemptOutcome, number>;
  documents: DocumentCounts;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  startedAt?: number;
  endedAt?: number;
  /** When the last document finished (done, failed or dead-lettered). */
  lastProgressAt?: number;
  /** Mean duration of successful attempts, ms. */
  meanDurationMs?: number;
  maxDurationMs?: number;
  /** Documents completed per minute over the run. */
  docsPerMinute: number;
  timeline: Timeline;
  topErrors: ErrorCount[];
  /** Distinct error codes seen. */
  errorCodes: number;
  slowest: SlowDocument[];
  stages: StageTime[];
  recent: RecentWindow;
}

const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;
/** Timeline widths a person reads easily. */
const NICE_WIDTHS = [1, 2, 5, 10, 15, 30].map((x) => x * S).concat([1, 2, 5, 10, 15, 30].map((x) => x * MIN), [1, 2, 3, 6, 12, 24, 48, 168].map((x) => x * HOUR));
/** Rates are per minute. */
export const RATE_MS = MIN;

interface BucketAcc {
  done: number;
  failed: number;
  retried: number;
  tokensIn: number;
  tokensOut: number;
  cost: number;
}

interface ErrorAcc {
  attempts: number;
  docs: Set<string>;
  lastMessage: string;
  lastAt: number;
  samples: string[];
}

/** Final-state codes per document. */
const F_NONE = 0;
const F_DONE = 1;
const F_FAILED = 2;
const F_DEAD = 3;
const F_RETRY = 4;

function positiveInt(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be an integer ≥ 1, got ${v}`);
  return v;
}

function nonNegative(v: number): number {
  return Number.isFinite(v) && v > 0 ? v : 0;
}

/** Incremental metrics over attempts, added in the order they were recorded. */
export class RunMetricsAccumulator {
  readonly #bucketMs: number;
  readonly #maxBuckets: number;
  readonly #topErrors: number;
  readonly #slowestN: number;
  readonly #samplePaths: number;
  readonly #window: number;

  #attempts = 0;
  readonly #outcomes: Record<AttemptOutcome, number> = { done: 0, retry: 0, failed: 0, 'dead-lettered': 0, cancelled: 0, outage: 0 };
  #tokensIn = 0;
  #tokensOut = 0;
  #cost = 0;
  #firstStartedAt: number | undefined;
  #lastEndedAt: number | undefined;
  #lastProgressAt: number | undefined;
  #doneDurationSum = 0;
  #maxDuration: number | undefined;
  readonly #buckets = new Map<number, BucketAcc>();
  readonly #errors = new Map<string, ErrorAcc>();
  /** path → final state code, and how many attempts it had. */
  readonly #final = new Map<string, number>();
  readonly #attemptsPerDoc = new Map<string, number>();
  readonly #docCounts = [0, 0, 0, 0, 0];
  #retriedDocs = 0;
  /** Top documents by longest attempt, sorted descending; at most `slowest` entries. */
  #slowest: SlowDocument[] = [];
  readonly #stageTotal = new Float64Array(TIMED_STAGES.length);
  readonly #stageCount = new Float64Array(TIMED_STAGES.length);
  // ring buffer of the last `window` finished documents
  readonly #ringOk: Uint8Array;
  readonly #ringMs: Float64Array;
  #ringHead = 0;
  #ringLen = 0;

  constructor(options: MetricsOptions = {}) {
    this.#bucketMs = positiveInt('bucketMs', options.bucketMs, 5_000);
    this.#maxBuckets = positiveInt('maxBuckets', options.maxBuckets, 60);
    this.#topErrors = positiveInt('topErrors', options.topErrors, 10);
    this.#slowestN = positiveInt('slowest', options.slowest, 10);
    this.#samplePaths = positiveInt('samplePaths', options.samplePaths, 5);
    this.#window = positiveInt('recentWindow', options.recentWindow, 100);
    this.#ringOk = new Uint8Array(this.#window);
    this.#ringMs = new Float64Array(this.#window);
  }

  /** Attempts added so far. */
  get size(): number {
    return this.#attempts;
  }

  addAll(attempts: Iterable<AttemptRecord>): this {
    for (const a of attempts) this.add(a);
    return this;
  }

  add(a: AttemptRecord): void {
    const outcome = a.outcome;
    this.#attempts++;
    this.#outcomes[outcome] = (this.#outcomes[outcome] ?? 0) + 1;
    const tokensIn = nonNegative(a.tokensIn);
    const tokensOut = nonNegative(a.tokensOut);
    const cost = nonNegative(a.cost);
    this.#tokensIn += tokensIn;
    this.#tokensOut += tokensOut;
    this.#cost += cost;
    if (this.#firstStartedAt === undefined || a.startedAt < this.#firstStartedAt) this.#firstStartedAt = a.startedAt;
    if (this.#lastEndedAt === undefined || a.endedAt > this.#lastEndedAt) this.#lastEndedAt = a.endedAt;

    // timeline
    const key = Math.floor(a.endedAt / this.#bucketMs);
    let b = this.#buckets.get(key);
    if (!b) {
      b = { done: 0, failed: 0, retried: 0, tokensIn: 0, tokensOut: 0, cost: 0 };
      this.#buckets.set(key, b);
    }
    b.tokensIn += tokensIn;
    b.tokensOut += tokensOut;
    b.cost += cost;

    if (outcome === 'cancelled' || outcome === 'outage') return; // a stop or a provider outage, not a property of the document

    const duration = nonNegative(a.durationMs);
    const finished = outcome === 'done' || outcome === 'failed' || outcome === 'dead-lettered';
    if (outcome === 'done') {
      b.done++;
      this.#doneDurationSum += duration;
    } else if (outcome === 'retry') b.retried++;
    else b.failed++;
    if (this.#maxDuration === undefined || duration > this.#maxDuration) this.#maxDuration = duration;
    if (finished && (this.#lastProgressAt === undefined || a.endedAt > this.#lastProgressAt)) this.#lastProgressAt = a.endedAt;

    // per document: final state and retries
    const seen = this.#attemptsPerDoc.get(a.path) ?? 0;
    this.#attemptsPerDoc.set(a.path, seen + 1);
    if (seen === 1) this.#retriedDocs++;
    const before = this.#final.get(a.path) ?? F_NONE;
    const after = outcome === 'done' ? F_DONE : outcome === 'failed' ? F_FAILED : outcome === 'dead-lettered' ? F_DEAD : F_RETRY;
    if (before !== after) {
      if (before !== F_NONE) this.#docCounts[before]--;
      this.#docCounts[after]++;
      this.#final.set(a.path, after);
    }

    // errors
    if (outcome !== 'done') {
      const code = a.errorCode ?? 'UNKNOWN';
      let e = this.#errors.get(code);
      if (!e) {
        e = { attempts: 0, docs: new Set(), lastMessage: '', lastAt: 0, samples: [] };
        this.#errors.set(code, e);
      }
      e.attempts++;
      e.docs.add(a.path);
      if (a.endedAt >= e.lastAt) {
        e.lastAt = a.endedAt;
        e.lastMessage = a.errorMessage ?? '';
      }
      const i = e.samples.indexOf(a.path);
      if (i >= 0) e.samples.splice(i, 1);
      e.samples.unshift(a.path);
      if (e.samples.length > this.#samplePaths) e.samples.pop();
    }

    // slowest documents (each document once, with its longest attempt)
    this.#offerSlow(a, duration);

    // stages
    if (a.stageMs) {
      for (let i = 0; i < TIMED_STAGES.length; i++) {
        const ms = a.stageMs[TIMED_STAGES[i]];
        if (ms !== undefined && Number.isFinite(ms) && ms >= 0) {
          this.#stageTotal[i] += ms;
          this.#stageCount[i]++;
        }
      }
    }

    // recent window
    if (finished) {
      this.#ringOk[this.#ringHead] = outcome === 'done' ? 1 : 0;
      this.#ringMs[this.#ringHead] = duration;
      this.#ringHead = (this.#ringHead + 1) % this.#window;
      if (this.#ringLen < this.#window) this.#ringLen++;
    }
  }

  #offerSlow(a: AttemptRecord, duration: number): void {
    const list = this.#slowest;
    const n = this.#slowestN;
    const existing = list.findIndex((s) => s.path === a.path);
    if (existing >= 0) {
      if (duration <= list[existing].durationMs) return;
      list.splice(existing, 1);
    } else if (list.length >= n && duration <= list[list.length - 1].durationMs) {
      return;
    }
    const entry: SlowDocument = { path: a.path, durationMs: duration, outcome: a.outcome, attempt: a.attempt, stageReached: a.stageReached, endedAt: a.endedAt };
    let i = list.length;
    while (i > 0 && list[i - 1].durationMs < duration) i--;
    list.splice(i, 0, entry);
    if (list.length > n) list.pop();
  }

  /** The metrics as of now. Cheap: O(buckets + error codes), independent of the number of attempts. */
  snapshot(options: SnapshotOptions = {}): RunMetrics {
    const startedAt = options.startedAt ?? this.#firstStartedAt;
    const endedAt = options.endedAt ?? options.now ?? this.#lastEndedAt;
    const done = this.#outcomes.done;
    const elapsedMin = startedAt !== undefined && endedAt !== undefined ? Math.max(0, endedAt - startedAt) / 60_000 : 0;
    const topErrors: ErrorCount[] = [...this.#errors.entries()]
      .map(([code, e]) => ({ code, attempts: e.attempts, documents: e.docs.size, lastMessage: e.lastMessage, lastAt: e.lastAt, paths: [...e.samples] }))
      .sort((x, y) => y.attempts - x.attempts || y.documents - x.documents || (x.code < y.code ? -1 : 1))
      .slice(0, this.#topErrors);
    const stages: StageTime[] = TIMED_STAGES.map((stage, i) => ({
      stage,
      totalMs: this.#stageTotal[i],
      meanMs: this.#stageCount[i] ? this.#stageTotal[i] / this.#stageCount[i] : 0,
      attempts: this.#stageCount[i],
    }));
    return {
      attempts: this.#attempts,
      outcomes: { ...this.#outcomes },
      documents: {
        total: this.#final.size,
        succeeded: this.#docCounts[F_DONE],
        failed: this.#docCounts[F_FAILED],
        deadLettered: this.#docCounts[F_DEAD],
        retrying: this.#docCounts[F_RETRY],
        retried: this.#retriedDocs,
      },
      tokensIn: this.#tokensIn,
      tokensOut: this.#tokensOut,
      cost: this.#cost,
      ...(startedAt !== undefined ? { startedAt } : {}),
      ...(endedAt !== undefined ? { endedAt } : {}),
      ...(this.#lastProgressAt !== undefined ? { lastProgressAt: this.#lastProgressAt } : {}),
      ...(done ? { meanDurationMs: this.#doneDurationSum / done } : {}),
      ...(this.#maxDuration !== undefined ? { maxDurationMs: this.#maxDuration } : {}),
      docsPerMinute: elapsedMin > 0 ? done / elapsedMin : 0,
      timeline: this.#timeline(startedAt, endedAt),
      topErrors,
      errorCodes: this.#errors.size,
      slowest: this.#slowest.map((s) => ({ ...s })),
      stages,
      recent: this.#recent(),
    };
  }

  #recent(): RecentWindow {
    let ok = 0;
    let okMs = 0;
    for (let i = 0; i < this.#ringLen; i++) {
      if (this.#ringOk[i]) {
        ok++;
        okMs += this.#ringMs[i];
      }
    }
    const n = this.#ringLen;
    return {
      size: this.#window,
      documents: n,
      succeeded: ok,
      failed: n - ok,
      ...(n ? { successRate: ok / n } : {}),
      ...(ok ? { meanDurationMs: okMs / ok } : {}),
    };
  }

  #timeline(startedAt: number | undefined, endedAt: number | undefined): Timeline {
    const base = this.#bucketMs;
    if (!this.#buckets.size && (startedAt === undefined || endedAt === undefined)) {
      return { bucketMs: base, rateMs: RATE_MS, start: startedAt ?? 0, end: endedAt ?? startedAt ?? 0, points: [] };
    }
    let minKey = Infinity;
    let maxKey = -Infinity;
    for (const k of this.#buckets.keys()) {
      if (k < minKey) minKey = k;
      if (k > maxKey) maxKey = k;
    }
    if (startedAt !== undefined) minKey = Math.min(minKey, Math.floor(startedAt / base));
    if (endedAt !== undefined) maxKey = Math.max(maxKey, Math.floor(Math.max(endedAt - 1, startedAt ?? endedAt - 1) / base));
    const baseCount = maxKey - minKey + 1;
    const fits = (w: number) => Math.floor(((maxKey + 1) * base - 1) / w) - Math.floor((minKey * base) / w) + 1 <= this.#maxBuckets;
    const width = NICE_WIDTHS.find((w) => w >= base && w % base === 0 && fits(w)) ?? base * Math.ceil(baseCount / Math.max(1, this.#maxBuckets - 1));
    // align wide buckets to multiples of their width (nice clock times)
    const start = Math.floor((minKey * base) / width) * width;
    const count = Math.floor((maxKey * base - start) / width) + 1;
    const points: TimelinePoint[] = new Array(count);
    for (let i = 0; i < count; i++) points[i] = { t: start + i * width, done: 0, failed: 0, retried: 0, tokensIn: 0, tokensOut: 0, cost: 0, cumulativeTokens: 0, cumulativeCost: 0 };
    for (const [k, b] of this.#buckets) {
      const i = Math.min(count - 1, Math.max(0, Math.floor((k * base - start) / width)));
      const p = points[i];
      p.done += b.done;
      p.failed += b.failed;
      p.retried += b.retried;
      p.tokensIn += b.tokensIn;
      p.tokensOut += b.tokensOut;
      p.cost += b.cost;
    }
    let tokens = 0;
    let cost = 0;
    for (const p of points) {
      tokens += p.tokensIn + p.tokensOut;
      cost += p.cost;
      p.cumulativeTokens = tokens;
      p.cumulativeCost = cost;
    }
    return { bucketMs: width, rateMs: RATE_MS, start, end: start + count * width, points };
  }
}

/** Metrics of a set of attempts (typically one run's), in one pass. */
export function computeRunMetrics(attempts: Iterable<AttemptRecord>, options: MetricsOptions & SnapshotOptions = {}): RunMetrics {
  return new RunMetricsAccumulator(options).addAll(attempts).snapshot(options);
}

/** Success rate of finished documents (done / (done + failed + dead-lettered)), undefined when none finished. */
export function successRate(m: Pick<RunMetrics, 'documents'>): number | undefined {
  const finished = m.documents.succeeded + m.documents.failed + m.documents.deadLettered;
  return finished ? m.documents.succeeded / finished : undefined;
}

/** A finished-document outcome, newest first, as the store's `recentDocumentOutcomes` returns them. */
export interface FinishedOutcome {
  outcome: AttemptOutcome;
  durationMs: number;
  endedAt: number;
}

/** The recent window from the last finished outcomes (any order), without a full metrics pass. */
export function recentWindowOf(outcomes: readonly FinishedOutcome[], size = 100): RecentWindow {
  let n = 0;
  let ok = 0;
  let okMs = 0;
  for (const o of outcomes) {
    if (o.outcome !== 'done' && o.outcome !== 'failed' && o.outcome !== 'dead-lettered') continue;
    if (n >= size) break;
    n++;
    if (o.outcome === 'done') {
      ok++;
      okMs += nonNegative(o.durationMs);
    }
  }
  return { size, documents: n, succeeded: ok, failed: n - ok, ...(n ? { successRate: ok / n } : {}), ...(ok ? { meanDurationMs: okMs / ok } : {}) };
}

// ---------------------------------------------------------------------------------------------------------
// export

function csvCell(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : String(Math.round(v * 1e6) / 1e6)) : v;
  // formula injection: cells starting with = + - @ are prefixed so spreadsheets show them as text
  const safe = typeof v === 'string' && /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Run metadata written with exported metrics. */
export interface MetricsExportMeta {
  runId: string;
  status?: string;
  trigger?: string;
  startedAt?: number;
  endedAt?: number;
  health?: { level: string; reasons: ReadonlyArray<{ code: string; message: string }> };
}

/**
 * The metrics as one CSV table in long form (`section,key,metric,value`): easy to filter and pivot in a
 * spreadsheet, one header for every section (summary, timeline, errors, slowest, stages).
 */
export function metricsToCsv(m: RunMetrics, meta: MetricsExportMeta): string {
  const rows: Array<[string, string | number | undefined, string, string | number | undefined]> = [];
  const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
  rows.push(['run', meta.runId, 'status', meta.status], ['run', meta.runId, 'trigger', meta.trigger]);
  rows.push(['run', meta.runId, 'startedAt', iso(meta.startedAt ?? m.startedAt)], ['run', meta.runId, 'endedAt', iso(meta.endedAt)]);
  if (meta.health) {
    rows.push(['run', meta.runId, 'health', meta.health.level]);
    for (const r of meta.health.reasons) rows.push(['health', r.code, 'message', r.message]);
  }
  const s = (metric: string, value: number | undefined) => rows.push(['summary', '', metric, value]);
  s('attempts', m.attempts);
  for (const o of OUTCOMES) s(`attempts.${o}`, m.outcomes[o]);
  s('documents', m.documents.total);
  s('documents.succeeded', m.documents.succeeded);
  s('documents.failed', m.documents.failed);
  s('documents.deadLettered', m.documents.deadLettered);
  s('documents.retrying', m.documents.retrying);
  s('documents.retried', m.documents.retried);
  s('successRate', successRate(m));
  s('docsPerMinute', m.docsPerMinute);
  s('meanDurationMs', m.meanDurationMs);
  s('maxDurationMs', m.maxDurationMs);
  s('tokensIn', m.tokensIn);
  s('tokensOut', m.tokensOut);
  s('cost', m.cost);
  for (const p of m.timeline.points) {
    const t = iso(p.t);
    rows.push(['timeline', t, 'done', p.done], ['timeline', t, 'failed', p.failed], ['timeline', t, 'retried', p.retried]);
    rows.push(['timeline', t, 'tokensIn', p.tokensIn], ['timeline', t, 'tokensOut', p.tokensOut], ['timeline', t, 'cost', p.cost]);
  }
  for (const e of m.topErrors) {
    rows.push(['errors', e.code, 'attempts', e.attempts], ['errors', e.code, 'documents', e.documents], ['errors', e.code, 'lastMessage', e.lastMessage]);
  }
  for (const d of m.slowest) rows.push(['slowest', d.path, 'durationMs', d.durationMs], ['slowest', d.path, 'outcome', d.outcome]);
  for (const st of m.stages) rows.push(['stages', st.stage, 'totalMs', st.totalMs], ['stages', st.stage, 'meanMs', st.meanMs], ['stages', st.stage, 'attempts', st.attempts]);
  const lines = ['section,key,metric,value', ...rows.map((r) => r.map(csvCell).join(','))];
  return lines.join('\r\n') + '\r\n';
}

/** The metrics as pretty JSON with the run's metadata. */
export function metricsToJson(m: RunMetrics, meta: MetricsExportMeta): string {
  return JSON.stringify({ formatVersion: 1, run: meta, metrics: m }, null, 2) + '\n';
}
