import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  combineHealth,
  DEFAULT_HEALTH_THRESHOLDS,
  evaluateHealth,
  formatHealth,
  healthInputFromStore,
  healthThresholds,
  InvalidHealthThresholdError,
  turnedUnhealthy,
  type HealthInput,
  type HealthReasonCode,
  type HealthReport,
} from '../../src/core/health';
import { RunMetricsAccumulator } from '../../src/core/metrics';
import type { AttemptRecord } from '../../src/core/types';
import { SqlJsCheckpointStore } from '../../src/store/sqlStore';
import { runCli } from '../support/cli';
import { startModelServer, type ModelServer } from '../support/modelServer';

const T0 = Date.UTC(2025, 0, 1, 10, 0, 0);
const MIN = 60_000;

function input(over: Partial<HealthInput> = {}): HealthInput {
  return { now: T0, running: false, paused: false, pending: 0, deadLetters: 0, recent: { documents: 0, succeeded: 0 }, ...over };
}

const codes = (r: HealthReport): HealthReasonCode[] => r.reasons.map((x) => x.code);

function attempt(p: string, outcome: AttemptRecord['outcome'], durationMs = 1000, endedAt = T0): AttemptRecord {
  return { runId: 'r', path: p, attempt: 1, stageReached: outcome === 'done' ? 'done' : 'extracting', startedAt: endedAt - durationMs, endedAt, durationMs, outcome, tokensIn: 1, tokensOut: 1, cost: 0, ...(outcome === 'done' ? {} : { errorCode: 'BAD_REQUEST' }) };
}

/** Health of a live run whose recent window comes from a metrics accumulator, as the extension does it. */
function liveHealth(acc: RunMetricsAccumulator, over: Partial<HealthInput> = {}): HealthReport {
  const m = acc.snapshot();
  return evaluateHealth(input({ running: true, recent: m.recent, lastProgressAt: m.lastProgressAt, now: m.lastProgressAt ?? T0, ...over }));
}

describe('health: each rule triggers and clears', () => {
  it('is healthy with nothing to report', () => {
    const r = evaluateHealth(input());
    assert.equal(r.level, 'healthy');
    assert.deepEqual(r.reasons, []);
    assert.deepEqual(formatHealth(r), ['Health: healthy']);
  });

  it('NO_PROGRESS (unhealthy): an active run with no finished document for 5 minutes', () => {
    const started = input({ running: true, lastProgressAt: T0 });
    assert.equal(evaluateHealth({ ...started, now: T0 + 4 * MIN }).level, 'healthy');
    assert.equal(evaluateHealth({ ...started, now: T0 + 5 * MIN }).level, 'healthy', 'exactly the limit is still fine');
    const stuck = evaluateHealth({ ...started, now: T0 + 6 * MIN });
    assert.equal(stuck.level, 'unhealthy');
    assert.deepEqual(codes(stuck), ['NO_PROGRESS']);
    assert.match(stuck.reasons[0].message, /No document finished for 6 min/);
    assert.deepEqual(stuck.reasons[0].threshold, { name: 'noProgressMinutes', setting: 'extractionWorkbench.health.noProgressMinutes', limit: 5, actual: 6 });
    // a document finishes: cleared
    assert.equal(evaluateHealth({ ...started, now: T0 + 6 * MIN, lastProgressAt: T0 + 6 * MIN - 1000 }).level, 'healthy');
    // paused, or no run at all: nobody expects progress
    assert.equal(evaluateHealth({ ...started, now: T0 + 60 * MIN, paused: true }).level, 'healthy');
    assert.equal(evaluateHealth({ ...started, now: T0 + 60 * MIN, running: false }).level, 'healthy');
  });

  it('LOW_SUCCESS_RATE (unhealthy): under 90 % of the last 100 documents, once 10 are judged', () => {
    const acc = new RunMetricsAccumulator({ recentWindow: 100 });
    let t = T0;
    const add = (n: number, outcome: AttemptRecord['outcome']) => {
      for (let i = 0; i < n; i++) acc.add(attempt(`d${t}`, outcome, 1000, (t += 1000)));
    };
    add(3, 'dead-lettered');
    add(6, 'done');
    assert.equal(liveHealth(acc).level, 'healthy', '6 of 9 is not judged yet: fewer than 10 documents');
    add(1, 'done');
    const low = liveHealth(acc);
    assert.deepEqual(codes(low), ['LOW_SUCCESS_RATE'], '7 of 10');
    assert.equal(low.level, 'unhealthy');
    assert.equal(low.reasons[0].threshold.actual, 70);
  });

  it('LOW_SUCCESS_RATE counts exactly the last window and clears when the failures leave it', () => {
    const acc = new RunMetricsAccumulator({ recentWindow: 100 });
    let t = T0;
    const add = (n: number, outcome: AttemptRecord['outcome']) => {
      for (let i = 0; i < n; i++) acc.add(attempt(`d${t}`, outcome, 1000, (t += 1000)));
    };
    add(95, 'done');
    add(5, 'dead-lettered');
    assert.equal(liveHealth(acc).level, 'healthy', '95 %');
    add(6, 'failed');
    const low = liveHealth(acc);
    assert.deepEqual(codes(low), ['LOW_SUCCESS_RATE'], '89 of the last 100');
    assert.equal(low.level, 'unhealthy');
    assert.equal(low.reasons[0].threshold.actual, 89);
    assert.match(low.reasons[0].message, /Only 89 % of the last 100 documents succeeded \(11 failed; limit 90 %\)/);
    add(100, 'done');
    assert.equal(liveHealth(acc).level, 'healthy', 'the failures left the window');
  });

  it('DEAD_LETTERS (degraded): more than 10 in the queue', () => {
    assert.equal(evaluateHealth(input({ deadLetters: 10 })).level, 'healthy');
    const r = evaluateHealth(input({ deadLetters: 11 }));
    assert.equal(r.level, 'degraded');
    assert.deepEqual(codes(r), ['DEAD_LETTERS']);
    assert.equal(r.reasons[0].threshold.setting, 'extractionWorkbench.health.maxDeadLetters');
    assert.equal(evaluateHealth(input({ deadLetters: 2 })).level, 'healthy', 'reprocessed: cleared');
  });

  it('SLOW_DOCUMENTS (degraded): successful documents above 60 s on average', () => {
    const acc = new RunMetricsAccumulator({ recentWindow: 10 });
    let t = T0;
    for (let i = 0; i < 10; i++) acc.add(attempt(`s${i}`, 'done', 61_000, (t += 61_000)));
    const slow = liveHealth(acc);
    assert.deepEqual(codes(slow), ['SLOW_DOCUMENTS']);
    assert.equal(slow.level, 'degraded');
    assert.equal(slow.reasons[0].threshold.actual, 61);
    for (let i = 0; i < 10; i++) acc.add(attempt(`f${i}`, 'done', 2000, (t += 2000)));
    assert.equal(liveHealth(acc).level, 'healthy', 'faster documents pushed the slow ones out of the window');
  });

  it('QUEUE_IDLE (degraded): more than 50 pending while nothing runs, or the run is paused', () => {
    assert.equal(evaluateHealth(input({ pending: 50 })).level, 'healthy');
    const idle = evaluateHealth(input({ pending: 51 }));
    assert.deepEqual(codes(idle), ['QUEUE_IDLE']);
    assert.match(idle.reasons[0].message, /51 documents pending while no run is processing them/);
    assert.equal(evaluateHealth(input({ pending: 500, running: true, lastProgressAt: T0 })).level, 'healthy', 'a run is working on them');
    assert.match(evaluateHealth(input({ pending: 500, running: true, paused: true })).reasons[0].message, /while the run is paused/);
  });

  it('is unhealthy when any reason is, with the worst reasons first', () => {
    const r = evaluateHealth(input({ running: true, lastProgressAt: T0, now: T0 + 10 * MIN, deadLetters: 30, recent: { documents: 50, succeeded: 10, meanDurationMs: 90_000 } }));
    assert.equal(r.level, 'unhealthy');
    assert.deepEqual(codes(r), ['NO_PROGRESS', 'LOW_SUCCESS_RATE', 'DEAD_LETTERS', 'SLOW_DOCUMENTS']);
    assert.deepEqual(
      r.reasons.map((x) => x.level),
      ['unhealthy', 'unhealthy', 'degraded', 'degraded'],
    );
  });
});

describe('health: thresholds and transitions', () => {
  it('uses the documented defaults and accepts custom thresholds', () => {
    assert.deepEqual(healthThresholds(), { ...DEFAULT_HEALTH_THRESHOLDS });
    assert.equal(DEFAULT_HEALTH_THRESHOLDS.maxPendingWhileIdle, 50);
    assert.equal(DEFAULT_HEALTH_THRESHOLDS.maxDeadLetters, 10);
    assert.equal(DEFAULT_HEALTH_THRESHOLDS.minSuccessRatePercent, 90);
    assert.equal(DEFAULT_HEALTH_THRESHOLDS.successRateWindow, 100);
    assert.equal(DEFAULT_HEALTH_THRESHOLDS.maxAverageDurationSeconds, 60);
    assert.equal(DEFAULT_HEALTH_THRESHOLDS.noProgressMinutes, 5);
    assert.equal(evaluateHealth(input({ deadLetters: 3 }), { maxDeadLetters: 2 }).level, 'degraded');
    assert.equal(evaluateHealth(input({ recent: { documents: 10, succeeded: 5 } }), { minSuccessRatePercent: 40 }).level, 'healthy');
  });

  it('rejects thresholds out of range with a named error', () => {
    assert.throws(() => healthThresholds({ minSuccessRatePercent: 120 }), InvalidHealthThresholdError);
    assert.throws(() => healthThresholds({ maxDeadLetters: 1.5 }), /maxDeadLetters must be an integer between 0 and/);
    assert.throws(() => evaluateHealth(input(), { noProgressMinutes: Number.NaN }), InvalidHealthThresholdError);
  });

  it('notifies once when health turns unhealthy', () => {
    assert.equal(turnedUnhealthy(undefined, 'unhealthy'), true);
    assert.equal(turnedUnhealthy('degraded', 'unhealthy'), true);
    assert.equal(turnedUnhealthy('unhealthy', 'unhealthy'), false);
    assert.equal(turnedUnhealthy('healthy', 'degraded'), false);
  });

  it('combines folders: the worst level, every reason', () => {
    const a = evaluateHealth(input({ deadLetters: 20 }));
    const b = evaluateHealth(input({ running: true, lastProgressAt: T0, now: T0 + 9 * MIN }));
    const c = combineHealth([a, b], T0);
    assert.equal(c.level, 'unhealthy');
    assert.deepEqual(codes(c), ['NO_PROGRESS', 'DEAD_LETTERS']);
    assert.equal(combineHealth([], T0).level, 'healthy');
  });
});

describe('health: input from a store', () => {
  it('reads counts and the last finished outcomes from the sql.js store', async () => {
    const store = await SqlJsCheckpointStore.open();
    try {
      let t = T0;
      for (let i = 0; i < 12; i++) {
        const p = `d${i}.txt`;
        store.putDocument({ path: p, size: 1, mtimeMs: 1, readiness: 'ready', stage: i < 11 ? 'dead-lettered' : 'pending', attempts: 1, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 1 });
        if (i < 11) store.recordAttempt(attempt(p, 'dead-lettered', 500, (t += 1000)));
      }
      store.recordAttempt(attempt('d11.txt', 'retry', 500, (t += 1000)));
      const inp = healthInputFromStore(store, { now: t + 10 * MIN, running: true, paused: false, runStartedAt: T0 });
      assert.equal(inp.deadLetters, 11);
      assert.equal(inp.pending, 1);
      assert.deepEqual(inp.recent, { size: 100, documents: 11, succeeded: 0, failed: 11, successRate: 0 });
      assert.equal(inp.lastProgressAt, T0 + 11_000, 'the last finished document, not the retry');
      assert.deepEqual(codes(evaluateHealth(inp)), ['NO_PROGRESS', 'LOW_SUCCESS_RATE', 'DEAD_LETTERS']);
    } finally {
      store.close();
    }
  });

  it('a run whose dead letters are reprocessed to done is healthy: each document counts by its latest outcome', async () => {
    const store = await SqlJsCheckpointStore.open();
    try {
      let t = T0;
      const paths = Array.from({ length: 12 }, (_, i) => `d${i}.txt`);
      for (const p of paths) {
        store.putDocument({ path: p, size: 1, mtimeMs: 1, readiness: 'ready', stage: 'dead-lettered', attempts: 1, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 1 });
        store.recordAttempt(attempt(p, 'dead-lettered', 500, (t += 1000)));
        store.putDeadLetter({ path: p, runId: 'r', stage: 'extracting', code: 'BAD_REQUEST', message: 'x', attempts: 1, at: t });
      }
      const state = () => ({ now: t, running: false, paused: false });
      assert.deepEqual(codes(evaluateHealth(healthInputFromStore(store, state()))), ['LOW_SUCCESS_RATE', 'DEAD_LETTERS']);
      for (const p of paths) {
        store.markDeadLetterReprocessed(p, t, 'retry');
        store.patchDocument(p, { stage: 'done' });
        store.recordAttempt({ ...attempt(p, 'done', 500, (t += 1000)), runId: 'r2' });
      }
      const inp = healthInputFromStore(store, state());
      assert.deepEqual(inp.recent, { size: 100, documents: 12, succeeded: 12, failed: 0, successRate: 1, meanDurationMs: 500 });
      assert.equal(evaluateHealth(inp).level, 'healthy');
      // the same through listAttempts (stores without recentDocumentOutcomes)
      const plain = { counts: () => store.counts(), listAttempts: (f?: { limit?: number }) => store.listAttempts(f) };
      assert.deepEqual(healthInputFromStore(plain, state()).recent, inp.recent);
    } finally {
      store.close();
    }
  });

  it('falls back to listAttempts for stores without the metrics queries, and measures progress from the run start', () => {
    const attempts = [attempt('a', 'done', 100, T0 - 5000), attempt('b', 'retry', 100, T0 - 4000)];
    const store = { counts: () => ({ pending: 3, deadLettered: 0 }), listAttempts: () => attempts };
    const inp = healthInputFromStore(store, { now: T0 + MIN, running: true, paused: false, runStartedAt: T0 });
    assert.deepEqual(inp.recent, { size: 100, documents: 1, succeeded: 1, failed: 0, successRate: 1, meanDurationMs: 100 });
    assert.equal(inp.lastProgressAt, T0, 'a run that just started has made no progress yet, but is not stuck either');
  });
});

describe('health: CLI status', function () {
  this.timeout(60_000);
  let server: ModelServer;
  let root: string;

  before(async () => {
    server = await startModelServer({ latencyMs: 1 });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-health-cli-'));
    for (let i = 0; i < 14; i++) fs.writeFileSync(path.join(root, `inv${String(i).padStart(2, '0')}.txt`), `Invoice ${i}\nTotal: ${i} EUR\n`);
    fs.writeFileSync(path.join(root, 'schema.json'), JSON.stringify({ type: 'object', properties: { total: { type: 'number' } }, required: ['total'] }));
  });
  after(async () => {
    await server?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const state = () => path.join(root, '.extraction');
  const run = () => runCli(['run', root, '--schema', path.join(root, 'schema.json'), '--base-url', server.url, '--include', '*.txt']);

  it('prints "Health: healthy" and includes it in --json after a clean run', async () => {
    const r = await run();
    assert.equal(r.code, 0, r.stderr);
    const text = await runCli(['status', '--state', state()]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Health: healthy$/m);
    const json = JSON.parse((await runCli(['status', '--state', state(), '--json'])).stdout) as { health: { level: string; reasons: unknown[] } };
    assert.deepEqual(json.health, { level: 'healthy', reasons: [] });
  });

  it('reports dead letters and a low success rate with their thresholds', async () => {
    for (let i = 0; i < 12; i++) {
      const p = `inv${String(i).padStart(2, '0')}.txt`;
      fs.appendFileSync(path.join(root, p), 'changed\n');
      server.setScript(p, [{ status: 400 }]);
    }
    const r = await run();
    assert.equal(r.code, 1, r.stderr);
    const text = await runCli(['status', '--state', state()]);
    assert.match(text.stdout, /^Health: unhealthy$/m);
    assert.match(text.stdout, /^ {2}- \[LOW_SUCCESS_RATE\] Only \d+ % of the last \d+ documents succeeded/m);
    assert.match(text.stdout, /^ {2}- \[DEAD_LETTERS\] 12 documents in the dead-letter queue \(limit 10\)\.$/m);
    const json = JSON.parse((await runCli(['status', '--state', state(), '--json'])).stdout) as {
      deadLetters: number;
      health: { level: string; reasons: Array<{ code: string; level: string; threshold: { setting: string; limit: number; actual: number } }> };
    };
    assert.equal(json.deadLetters, 12);
    assert.equal(json.health.level, 'unhealthy');
    assert.deepEqual(
      json.health.reasons.map((x) => [x.code, x.level]),
      [
        ['LOW_SUCCESS_RATE', 'unhealthy'],
        ['DEAD_LETTERS', 'degraded'],
      ],
    );
    const dl = json.health.reasons[1].threshold;
    assert.deepEqual(dl, { name: 'maxDeadLetters', setting: 'extractionWorkbench.health.maxDeadLetters', limit: 10, actual: 12 });
  });

  it('turns healthy again once the dead letters are reprocessed to done', async () => {
    const r = await runCli(['dlq', 'retry', '--all', '--state', state()]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse((await runCli(['status', '--state', state(), '--json'])).stdout) as { deadLetters: number; done: number; health: { level: string; reasons: unknown[] } };
    assert.deepEqual([json.deadLetters, json.done], [0, 14]);
    assert.deepEqual(json.health, { level: 'healthy', reasons: [] }, 'the 12 earlier failures of reprocessed documents no longer count');
  });
});
