import { strict as assert } from 'node:assert';
import type { AttemptRecord } from '../../src/core/types';
import { computeRunMetrics, metricsToCsv, metricsToJson, recentWindowOf, RunMetricsAccumulator, successRate, TIMED_STAGES, type RunMetrics } from '../../src/core/metrics';
import { dashboardModelSchema, fromWebviewSchema, parseFromWebview, parseToWebview, runMetricsSchema } from '../../src/shared/dashboardProtocol';
import { SqlJsCheckpointStore } from '../../src/store/sqlStore';
import { seededRandom } from '../support/random';

const T0 = Date.UTC(2025, 0, 1, 10, 0, 0);
const MIN = 60_000;

function att(path: string, over: Partial<AttemptRecord> = {}): AttemptRecord {
  const startedAt = over.startedAt ?? T0;
  const durationMs = over.durationMs ?? 1000;
  return {
    runId: 'r1',
    path,
    attempt: 1,
    stageReached: 'done',
    startedAt,
    endedAt: over.endedAt ?? startedAt + durationMs,
    durationMs,
    outcome: 'done',
    tokensIn: 100,
    tokensOut: 20,
    cost: 0.01,
    ...over,
  };
}

function fail(path: string, code: string, over: Partial<AttemptRecord> = {}): AttemptRecord {
  return att(path, { outcome: 'dead-lettered', stageReached: 'extracting', errorCode: code, errorMessage: `${code} happened`, tokensIn: 0, tokensOut: 0, cost: 0, ...over });
}

/** A deterministic pseudo-random generator (tests must not be flaky). */

describe('metrics: counts and totals', () => {
  it('counts attempts per outcome and documents by their last attempt', () => {
    const m = computeRunMetrics([
      att('a'),
      att('b', { outcome: 'retry', errorCode: 'RATE_LIMITED' }),
      att('b', { attempt: 2 }),
      fail('c', 'BAD_REQUEST'),
      att('d', { outcome: 'failed', errorCode: 'AUTH_FAILED' }),
      att('e', { outcome: 'retry', errorCode: 'TIMEOUT' }),
      att('f', { outcome: 'cancelled', errorCode: 'CANCELLED' }),
    ]);
    assert.equal(m.attempts, 7);
    assert.deepEqual(m.outcomes, { done: 2, retry: 2, failed: 1, 'dead-lettered': 1, cancelled: 1, outage: 0 });
    assert.deepEqual(m.documents, { total: 5, succeeded: 2, failed: 1, deadLettered: 1, retrying: 1, retried: 1 });
    assert.equal(successRate(m), 2 / 4);
    assert.equal(m.tokensIn, 600, 'every attempt\'s tokens count, the cancelled one\'s too');
    assert.equal(m.errorCodes, 4, 'CANCELLED is not an error of the document');
  });

  it('moves a document between final states when it is reprocessed', () => {
    const acc = new RunMetricsAccumulator();
    acc.add(fail('x', 'BAD_REQUEST'));
    assert.equal(acc.snapshot().documents.deadLettered, 1);
    acc.add(att('x', { attempt: 1, startedAt: T0 + MIN }));
    const m = acc.snapshot();
    assert.equal(m.documents.deadLettered, 0);
    assert.equal(m.documents.succeeded, 1);
    assert.equal(m.documents.total, 1);
    assert.equal(m.documents.retried, 1);
  });

  it('gives docs/min over the run and the mean duration of successful attempts', () => {
    const list = Array.from({ length: 30 }, (_, i) => att(`d${i}`, { startedAt: T0 + i * 10_000, durationMs: 2000 + i }));
    const m = computeRunMetrics(list, { startedAt: T0, endedAt: T0 + 5 * MIN });
    assert.equal(m.docsPerMinute, 30 / 5);
    assert.equal(m.meanDurationMs, 2000 + 14.5);
    assert.equal(m.maxDurationMs, 2029);
    assert.equal(m.lastProgressAt, T0 + 29 * 10_000 + 2029);
  });

  it('is empty but valid without attempts', () => {
    const m = computeRunMetrics([]);
    assert.equal(m.attempts, 0);
    assert.deepEqual(m.timeline.points, []);
    assert.equal(successRate(m), undefined);
    assert.equal(m.recent.successRate, undefined);
    assert.ok(runMetricsSchema.safeParse(m).success);
  });

  it('checks its options', () => {
    assert.throws(() => new RunMetricsAccumulator({ bucketMs: 0 }), /bucketMs must be an integer ≥ 1/);
    assert.throws(() => new RunMetricsAccumulator({ recentWindow: 1.5 }), RangeError);
  });
});

describe('metrics: timeline', () => {
  it('buckets completions per minute of their end, fills gaps, and accumulates tokens and cost', () => {
    const m = computeRunMetrics(
      [
        att('a', { startedAt: T0, durationMs: 30_000 }), // ends 10:00:30
        att('b', { startedAt: T0 + 10_000, durationMs: 40_000 }), // 10:00:50
        fail('c', 'BAD_REQUEST', { startedAt: T0 + 2 * MIN, durationMs: 5000 }), // 10:02:05
        att('d', { startedAt: T0 + 3 * MIN, durationMs: 1000, outcome: 'retry', errorCode: 'TIMEOUT', cost: 0.5, tokensIn: 1, tokensOut: 1 }),
      ],
      { startedAt: T0, endedAt: T0 + 4 * MIN, bucketMs: MIN },
    );
    const tl = m.timeline;
    assert.equal(tl.bucketMs, MIN);
    assert.equal(tl.rateMs, MIN);
    assert.equal(tl.start, T0);
    assert.deepEqual(
      tl.points.map((p) => [p.t - T0, p.done, p.failed, p.retried]),
      [
        [0, 2, 0, 0],
        [MIN, 0, 0, 0],
        [2 * MIN, 0, 1, 0],
        [3 * MIN, 0, 0, 1],
      ],
    );
    assert.deepEqual(
      tl.points.map((p) => p.cumulativeTokens),
      [240, 240, 240, 242],
    );
    assert.ok(Math.abs(tl.points[3].cumulativeCost - 0.52) < 1e-9);
    assert.equal(tl.end, T0 + 4 * MIN);
  });

  it('reaches `now` for a running run with no attempts yet', () => {
    const m = computeRunMetrics([], { startedAt: T0, now: T0 + 150_000 });
    assert.equal(m.timeline.bucketMs, 5000, 'a short run gets 5-second buckets');
    assert.equal(m.timeline.points.length, 30);
    assert.ok(m.timeline.points.every((p) => p.done === 0));
  });

  it('picks the narrowest nice bucket width that fits, from seconds to hours', () => {
    const widthFor = (ms: number) => computeRunMetrics([], { startedAt: T0, now: T0 + ms }).timeline.bucketMs;
    assert.equal(widthFor(9000), 5000);
    assert.equal(widthFor(10 * MIN), 10_000);
    assert.equal(widthFor(2 * 60 * MIN), 2 * MIN);
    assert.equal(widthFor(24 * 60 * MIN), 30 * MIN);
    for (const ms of [1000, 59_000, 7 * MIN, 95 * MIN, 30 * 60 * MIN, 400 * 60 * MIN]) {
      const tl = computeRunMetrics([], { startedAt: T0 + 1234, now: T0 + 1234 + ms }).timeline;
      assert.ok(tl.points.length <= 60, `${ms} ms: ${tl.points.length} buckets`);
      assert.ok(tl.start <= T0 + 1234 && tl.end >= T0 + 1234 + ms, 'the timeline covers the run');
    }
  });

  it('widens buckets to a nice multiple for long runs and keeps every completion', () => {
    const list: AttemptRecord[] = [];
    for (let i = 0; i < 600; i++) list.push(att(`d${i}`, { startedAt: T0 + i * MIN, durationMs: 1000 })); // 10 hours
    const m = computeRunMetrics(list, { startedAt: T0, endedAt: T0 + 600 * MIN, maxBuckets: 120 });
    assert.equal(m.timeline.bucketMs, 5 * MIN);
    assert.equal(m.timeline.rateMs, MIN);
    assert.ok(m.timeline.points.length <= 120);
    assert.equal(
      m.timeline.points.reduce((n, p) => n + p.done, 0),
      600,
    );
    assert.equal(m.timeline.points[0].t % (5 * MIN), 0, 'wide buckets start at round clock times');
  });
});

describe('metrics: errors, slowest documents, stages, recent window', () => {
  it('lists top error codes by attempts with distinct documents and recent examples', () => {
    const list: AttemptRecord[] = [];
    for (let i = 0; i < 7; i++) list.push(fail(`bad/${i}.txt`, 'BAD_REQUEST', { startedAt: T0 + i }));
    for (let i = 0; i < 3; i++) list.push(att('slow.txt', { outcome: 'retry', errorCode: 'TIMEOUT', attempt: i + 1, startedAt: T0 + 100 + i }));
    list.push(fail('x.pdf', 'CONVERT_FAILED'));
    const m = computeRunMetrics(list, { topErrors: 2, samplePaths: 3 });
    assert.deepEqual(
      m.topErrors.map((e) => [e.code, e.attempts, e.documents]),
      [
        ['BAD_REQUEST', 7, 7],
        ['TIMEOUT', 3, 1],
      ],
    );
    assert.deepEqual(m.topErrors[0].paths, ['bad/6.txt', 'bad/5.txt', 'bad/4.txt']);
    assert.equal(m.topErrors[0].lastMessage, 'BAD_REQUEST happened');
    assert.equal(m.errorCodes, 3);
  });

  it('lists the slowest documents once each, by their longest attempt (same as brute force)', () => {
    const r = seededRandom(7);
    const list: AttemptRecord[] = [];
    for (let i = 0; i < 5000; i++) {
      const p = `doc${Math.floor(r() * 800)}`;
      list.push(att(p, { durationMs: Math.floor(r() * 1_000_000), outcome: r() < 0.1 ? 'retry' : 'done', errorCode: 'X' }));
    }
    const m = computeRunMetrics(list, { slowest: 10 });
    const max = new Map<string, number>();
    for (const a of list) max.set(a.path, Math.max(max.get(a.path) ?? 0, a.durationMs));
    const expected = [...max.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
    assert.deepEqual(
      m.slowest.map((s) => [s.path, s.durationMs]),
      expected,
    );
  });

  it('sums and averages time per stage over the attempts that spent time there', () => {
    const m = computeRunMetrics([
      att('a', { stageMs: { reading: 10, converting: 100, extracting: 1000, validating: 1, exporting: 5 } }),
      att('b', { stageMs: { reading: 30, converting: 300, extracting: 3000, validating: 3, exporting: 15 } }),
      fail('c', 'BAD_REQUEST', { stageMs: { reading: 20, converting: 200, extracting: 500 } }),
      att('d'), // no stage timings recorded
    ]);
    assert.deepEqual(
      m.stages.map((s) => s.stage),
      [...TIMED_STAGES],
    );
    const by = Object.fromEntries(m.stages.map((s) => [s.stage, s]));
    assert.equal(by.extracting.totalMs, 4500);
    assert.equal(by.extracting.attempts, 3);
    assert.equal(by.extracting.meanMs, 1500);
    assert.equal(by.exporting.meanMs, 10);
  });

  it('keeps the last N finished documents for the success rate, ignoring retries and cancellations', () => {
    const acc = new RunMetricsAccumulator({ recentWindow: 10 });
    for (let i = 0; i < 20; i++) acc.add(fail(`f${i}`, 'BAD_REQUEST'));
    for (let i = 0; i < 8; i++) acc.add(att(`ok${i}`, { durationMs: 4000 }));
    acc.add(att('r', { outcome: 'retry', errorCode: 'TIMEOUT' }));
    acc.add(att('c', { outcome: 'cancelled' }));
    const w = acc.snapshot().recent;
    assert.deepEqual(w, { size: 10, documents: 10, succeeded: 8, failed: 2, successRate: 0.8, meanDurationMs: 4000 });
  });

  it('recentWindowOf gives the same window from newest-first store rows', () => {
    const rows = [
      { outcome: 'done' as const, durationMs: 10, endedAt: 5 },
      { outcome: 'retry' as const, durationMs: 10, endedAt: 4 },
      { outcome: 'dead-lettered' as const, durationMs: 10, endedAt: 3 },
      { outcome: 'done' as const, durationMs: 30, endedAt: 2 },
      { outcome: 'done' as const, durationMs: 99, endedAt: 1 },
    ];
    assert.deepEqual(recentWindowOf(rows, 3), { size: 3, documents: 3, succeeded: 2, failed: 1, successRate: 2 / 3, meanDurationMs: 20 });
  });
});

describe('metrics: incremental and at scale', () => {
  it('gives the same snapshot whether attempts arrive in one batch or many', () => {
    const r = seededRandom(42);
    const list: AttemptRecord[] = [];
    for (let i = 0; i < 3000; i++) {
      const kind = r();
      const p = `d${Math.floor(r() * 1200)}`;
      const startedAt = T0 + i * 1000;
      if (kind < 0.8) list.push(att(p, { startedAt, durationMs: Math.floor(r() * 9000), stageMs: { reading: 1, extracting: Math.floor(r() * 100) } }));
      else if (kind < 0.9) list.push(att(p, { startedAt, outcome: 'retry', errorCode: 'RATE_LIMITED' }));
      else list.push(fail(p, r() < 0.5 ? 'BAD_REQUEST' : 'SCHEMA_MISMATCH', { startedAt }));
    }
    const once = computeRunMetrics(list, { startedAt: T0, endedAt: T0 + 3000 * 1000 });
    const acc = new RunMetricsAccumulator();
    for (let i = 0; i < list.length; i += 137) acc.addAll(list.slice(i, i + 137));
    assert.deepEqual(acc.snapshot({ startedAt: T0, endedAt: T0 + 3000 * 1000 }), once);
  });

  it('summarises 100,000 attempts into a bounded model that passes the protocol schema', () => {
    const r = seededRandom(1);
    const acc = new RunMetricsAccumulator();
    for (let i = 0; i < 100_000; i++) {
      const startedAt = T0 + i * 300;
      const ok = r() < 0.95;
      acc.add(ok ? att(`docs/${i}.pdf`, { startedAt, durationMs: 500 + Math.floor(r() * 5000) }) : fail(`docs/${i}.pdf`, `E${Math.floor(r() * 30)}`, { startedAt }));
    }
    const m = acc.snapshot({ startedAt: T0, endedAt: T0 + 100_000 * 300 + 10_000 });
    assert.equal(m.attempts, 100_000);
    assert.equal(m.documents.total, 100_000);
    assert.ok(m.timeline.points.length <= 120);
    assert.equal(m.topErrors.length, 10);
    assert.equal(m.slowest.length, 10);
    const parsed = runMetricsSchema.safeParse(m);
    assert.ok(parsed.success, parsed.success ? '' : parsed.error.message);
    assert.ok(JSON.stringify(m).length < 100_000, 'the model posted to the webview stays small');
  });
});

describe('metrics: export', () => {
  const metrics = (): RunMetrics =>
    computeRunMetrics([att('a.txt'), fail('=cmd|calc.txt', 'BAD_REQUEST', { errorMessage: 'bad, "quoted"\nline' })], { startedAt: T0, endedAt: T0 + MIN });

  it('writes one long-form CSV table, escaped and safe against formula injection', () => {
    const csv = metricsToCsv(metrics(), { runId: 'r1', status: 'completed', trigger: 'cli', startedAt: T0, endedAt: T0 + MIN, health: { level: 'healthy', reasons: [] } });
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines[0], 'section,key,metric,value');
    assert.ok(lines.includes('summary,,documents.succeeded,1'));
    assert.ok(lines.includes('run,r1,health,healthy'));
    assert.ok(lines.some((l) => l.startsWith('timeline,2025-01-01T10:00:00.000Z,done,1')));
    assert.ok(csv.includes(`\r\nerrors,BAD_REQUEST,lastMessage,"bad, ""quoted""\nline"\r\n`), 'quotes doubled, comma and newline quoted');
    assert.ok(csv.includes(`slowest,'=cmd|calc.txt,durationMs`), 'a cell starting with = is written as text');
    assert.ok(lines.some((l) => l.startsWith('stages,extracting,totalMs,')));
  });

  it('writes JSON with the run and the metrics', () => {
    const json = JSON.parse(metricsToJson(metrics(), { runId: 'r1' })) as { formatVersion: number; run: { runId: string }; metrics: RunMetrics };
    assert.equal(json.formatVersion, 1);
    assert.equal(json.run.runId, 'r1');
    assert.equal(json.metrics.documents.deadLettered, 1);
  });
});

describe('dashboard protocol', () => {
  const model = () => ({
    folder: 'invoices',
    run: { id: 'r1', status: 'completed', trigger: 'cli', startedAt: T0, endedAt: T0 + MIN, live: false, health: 'healthy' },
    health: { level: 'healthy', reasons: [] },
    metrics: computeRunMetrics([att('a')], { startedAt: T0, endedAt: T0 + MIN }),
    generatedAt: T0,
  });

  it('accepts the host messages the dashboard sends and rejects malformed ones', () => {
    assert.ok(dashboardModelSchema.safeParse(model()).success);
    assert.equal(parseToWebview({ type: 'dashboard/state', runs: [model().run], selectedRunId: 'r1', model: model() })?.type, 'dashboard/state');
    assert.equal(parseToWebview({ type: 'dashboard/update', model: { ...model(), metrics: { attempts: -1 } } }), undefined);
    assert.equal(parseToWebview({ type: 'dashboard/unknown' }), undefined);
    assert.equal(parseToWebview('<script>'), undefined);
  });

  it('accepts the webview messages and rejects anything else', () => {
    assert.deepEqual(parseFromWebview({ type: 'dashboard/ready' }), { type: 'dashboard/ready' });
    assert.equal(parseFromWebview({ type: 'dashboard/export', format: 'csv' })?.type, 'dashboard/export');
    assert.equal(parseFromWebview({ type: 'dashboard/export', format: 'exe' }), undefined);
    assert.equal(parseFromWebview({ type: 'dashboard/compare', runIds: ['a'] }), undefined);
    assert.equal(parseFromWebview({ type: 'dashboard/revealErrorCode', code: '' }), undefined);
    assert.ok(fromWebviewSchema.safeParse({ type: 'dashboard/rendered', charts: 5, errorCodes: ['X'], live: true }).success);
  });
});

describe('store: metrics queries', () => {
  it('reads attempts with a cursor (each row once) and the last finished outcomes newest first', async () => {
    const store = await SqlJsCheckpointStore.open();
    try {
      store.recordAttempt(att('a', { runId: 'r1' }));
      store.recordAttempt(att('b', { runId: 'r2' }));
      store.recordAttempt(att('c', { runId: 'r1', outcome: 'retry', errorCode: 'TIMEOUT' }));
      const first = store.readAttempts({ runId: 'r1', limit: 1 });
      assert.deepEqual(
        first.attempts.map((a) => a.path),
        ['a'],
      );
      const rest = store.readAttempts({ runId: 'r1', after: first.cursor });
      assert.deepEqual(
        rest.attempts.map((a) => a.path),
        ['c'],
      );
      assert.equal(rest.attempts[0].errorCode, 'TIMEOUT');
      const none = store.readAttempts({ runId: 'r1', after: rest.cursor });
      assert.deepEqual(none.attempts, []);
      assert.equal(none.cursor, rest.cursor, 'an empty read keeps the cursor');
      store.recordAttempt(fail('d', 'BAD_REQUEST', { runId: 'r1', durationMs: 7, endedAt: 99 }));
      assert.deepEqual(
        store.readAttempts({ runId: 'r1', after: rest.cursor }).attempts.map((a) => a.path),
        ['d'],
      );
      assert.equal(store.readAttempts().attempts.length, 4, 'all runs without a filter');

      assert.deepEqual(store.recentDocumentOutcomes(10), [
        { outcome: 'dead-lettered', durationMs: 7, endedAt: 99 },
        { outcome: 'done', durationMs: 1000, endedAt: T0 + 1000 },
        { outcome: 'done', durationMs: 1000, endedAt: T0 + 1000 },
      ]);
      assert.equal(store.recentDocumentOutcomes(1)[0].outcome, 'dead-lettered');
      assert.equal(store.recentDocumentOutcomes(10, { runId: 'r2' }).length, 1);
      store.recordAttempt(att('e', { runId: 'r3', endedAt: 500 }));
      assert.deepEqual(
        store.recentDocumentOutcomes(10, { throughRun: 'r2' }).map((o) => o.endedAt),
        [T0 + 1000, T0 + 1000],
        'the window as it was when r2 ended: a, b (c was a retry)',
      );
      assert.equal(store.recentDocumentOutcomes(10, { throughRun: 'r3' }).length, 4);
      assert.deepEqual(store.recentDocumentOutcomes(10, { throughRun: 'unknown' }), []);
    } finally {
      store.close();
    }
  });
});
