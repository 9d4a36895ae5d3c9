/**
 * Provider outages, poison documents, rate limits and hopeless errors, end to end: the real pipeline and
 * OpenAI extractor against the test model server (scaled-down probe intervals, real time).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTextConverter } from '../../src/convert/text';
import type { CircuitBreakerOptions } from '../../src/core/circuitBreaker';
import { ErrorCodes } from '../../src/core/errors';
import type { PipelineEvent } from '../../src/core/events';
import { Pipeline, type RunSummary } from '../../src/core/pipeline';
import { OpenAIExtractor } from '../../src/extract/openaiExtractor';
import { MemoryCheckpointStore } from '../fakes/memoryStore';
import { startModelServer, type ModelServer, type RecordedRequest, type Step } from '../support/modelServer';
import { seededRandom } from '../support/random';

const text = createTextConverter();
const converters = { get: (ext: string) => (ext === '.txt' ? text : undefined) };
const schema = { type: 'object', properties: { title: { type: 'string' } }, required: ['title'], additionalProperties: false };
const ok = (req: RecordedRequest): Step => ({ reply: { title: req.document || 'probe' } });

interface Run {
  summary: RunSummary;
  events: PipelineEvent[];
  store: MemoryCheckpointStore;
  out: string;
  root: string;
}

/** A folder of `names` (text files), one pipeline over it with the real extractor, run to the end. */
async function runFolder(
  server: ModelServer,
  names: string[],
  o: { concurrency?: number; maxAttempts?: number; breaker?: CircuitBreakerOptions } = {},
): Promise<Run> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-outage-'));
  for (const n of names) fs.writeFileSync(path.join(root, n), `Title: ${n}\n`);
  const out = path.join(root, '..', `${path.basename(root)}-out`);
  const store = new MemoryCheckpointStore();
  const concurrency = o.concurrency ?? 4;
  const extractor = new OpenAIExtractor({
    baseURL: server.url,
    apiKey: 'k',
    model: 'gpt-4o-mini',
    timeoutMs: 5000,
    rateLimit: { maxConcurrency: concurrency, slowStart: true },
    backoff: { baseDelayMs: 5, maxDelayMs: 20, jitter: 0 },
    circuitBreaker: { probeBaseMs: 20, probeMaxMs: 80, ...o.breaker },
  });
  const pipeline = new Pipeline({
    root,
    outDir: out,
    store,
    converters,
    extractor,
    schema,
    concurrency,
    retry: { baseDelayMs: 5, maxDelayMs: 20, jitter: 0, maxAttempts: o.maxAttempts ?? 3 },
    progressIntervalMs: 0,
  });
  const events: PipelineEvent[] = [];
  pipeline.events.on((e) => events.push(e));
  const summary = await pipeline.start({ trigger: 'test' }).done;
  return { summary, events, store, out, root };
}

const names = (n: number, prefix = 'doc'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}.txt`);
const count = (events: PipelineEvent[], type: PipelineEvent['type']): number => events.filter((e) => e.type === type).length;

describe('provider outages and poison documents (pipeline + OpenAI extractor + test server)', function () {
  this.timeout(60_000);
  let server: ModelServer;
  before(async () => {
    server = await startModelServer();
  });
  afterEach(() => {
    server.reset();
    server.setResponder(undefined);
  });
  after(async () => server.close());

  it('an outage at the start and another mid-run: the run waits and completes, nothing dead-lettered, no attempt used up', async () => {
    const FAILED_PROBES = 3; // each outage ends after this many failed probes: the next one succeeds
    const concurrency = 4;
    const threshold = 3;
    let down = true;
    let failedProbes = 0;
    let outage = 1;
    let successes = 0;
    const during: Array<{ outage: number; probe: boolean; status: number }> = [];
    server.setResponder((req) => {
      const probe = req.document === '';
      if (!down && !probe && outage === 1 && successes >= 20) {
        down = true; // the second outage, mid-run
        outage = 2;
        failedProbes = 0;
      }
      if (down) {
        during.push({ outage, probe, status: 503 });
        if (probe && ++failedProbes >= FAILED_PROBES) down = false;
        return { status: 503 };
      }
      if (!probe) successes++;
      return ok(req);
    });
    const r = await runFolder(server, names(40), { concurrency, breaker: { threshold } });

    assert.equal(r.summary.status, 'completed', r.summary.reason);
    assert.equal(r.summary.counts.done, 40);
    assert.equal(r.summary.counts.deadLettered, 0);
    assert.equal(count(r.events, 'run/provider-recovered'), 2, 'two outages, each waited out');
    assert.ok(count(r.events, 'run/provider-waiting') >= 2);
    for (const n of [1, 2]) {
      const docs = during.filter((d) => d.outage === n && !d.probe).length;
      const probes = during.filter((d) => d.outage === n && d.probe).length;
      assert.ok(docs <= threshold + concurrency, `outage ${n}: ${docs} document requests reached the failing provider`);
      assert.equal(probes, FAILED_PROBES, `outage ${n}: only the probe schedule reached it meanwhile`);
    }
    // the outages cost no document an attempt: each is done with one attempt counted
    for (const name of names(40)) assert.equal(r.store.getDocument(name)?.attempts, 1, `${name}: attempts counted`);
    const outageRows = r.store.listAttempts().filter((a) => a.outcome === 'outage');
    for (const a of outageRows) assert.equal(a.errorCode, ErrorCodes.SERVER_ERROR);
  });

  it('5 documents that always fail among 50, listed last: exactly max-attempts requests each, dead-lettered; the breaker never opens', async () => {
    const poison = names(5, 'zz');
    server.setResponder((req) => (poison.includes(req.document) ? { status: 500 } : ok(req)));
    const r = await runFolder(server, [...names(45), ...poison], { concurrency: 4, maxAttempts: 3 });
    assert.equal(r.summary.status, 'completed', r.summary.reason);
    assert.equal(r.summary.counts.done, 45);
    assert.equal(r.summary.counts.deadLettered, 5);
    for (const p of poison) {
      assert.equal(server.requestsFor(p).length, 3, `${p}: requests`);
      const letter = r.store.getDeadLetter(p);
      assert.equal(letter?.code, ErrorCodes.SERVER_ERROR);
      assert.equal(letter?.attempts, 3);
      assert.equal(letter?.stage, 'extracting');
    }
    assert.equal(count(r.events, 'run/provider-waiting'), 0, 'never waited for the provider');
    assert.equal(r.summary.fatalError, undefined);
  });

  it("every document's first request fails and 5 % get 429 with Retry-After: 300/300 done, concurrency respected", async () => {
    const random = seededRandom(42);
    let rateLimited = 0;
    server.setResponder((req) => {
      if (req.document === '') return ok(req);
      if (req.attempt === 1) return { status: 500 };
      if (random() < 0.05) {
        rateLimited++;
        return { status: 429, retryAfterMs: 50 };
      }
      return ok(req);
    });
    const concurrency = 8;
    const r = await runFolder(server, names(300), { concurrency, maxAttempts: 4 });
    assert.equal(r.summary.status, 'completed', r.summary.reason);
    assert.equal(r.summary.counts.done, 300);
    assert.equal(r.summary.counts.deadLettered, 0);
    assert.ok(rateLimited > 0, 'some 429s were sent');
    assert.ok(server.stats.maxDocumentConcurrency <= concurrency, `${server.stats.maxDocumentConcurrency} document requests at once`);
    // a 429 does not use up an attempt: no document needed more than the one retry of its first failure
    assert.equal(r.store.listAttempts().filter((a) => a.outcome === 'retry' && a.errorCode === ErrorCodes.RATE_LIMITED).length, 0);
  });

  for (const [name, step, code] of [
    ['401', { status: 401 }, ErrorCodes.AUTH_FAILED],
    ['insufficient_quota', { status: 429, code: 'insufficient_quota' }, ErrorCodes.QUOTA_EXCEEDED],
  ] as const) {
    it(`${name} at the start stops the run after one request (slow start), with what to do`, async () => {
      server.setResponder(() => step);
      const r = await runFolder(server, names(20), { concurrency: 4 });
      assert.equal(r.summary.status, 'stopped');
      assert.equal(r.summary.fatalError?.code, code);
      assert.ok(server.requests.length <= 2, `${server.requests.length} requests`);
      assert.equal(r.summary.counts.deadLettered, 0);
    });
  }

  it('an outage longer than the limit stops the run (PROVIDER_UNAVAILABLE): documents stay pending with their attempts', async () => {
    server.setResponder(() => ({ status: 503 }));
    const r = await runFolder(server, names(10), { concurrency: 2, breaker: { maxOutageMs: 300 } });
    assert.equal(r.summary.status, 'stopped');
    assert.equal(r.summary.fatalError?.code, ErrorCodes.PROVIDER_UNAVAILABLE);
    assert.match(r.summary.fatalError?.message ?? '', /raise maxOutageMinutes to wait longer/);
    assert.equal(r.summary.counts.deadLettered, 0);
    assert.equal(r.summary.counts.done, 0);
    assert.equal(r.summary.counts.pending, 10);
    for (const d of r.store.listDocuments()) assert.equal(d.attempts, 0, `${d.path}: attempts`);
  });

  it('a document out of attempts while the provider is down waits for it instead of being dead-lettered', async () => {
    let failures = 0;
    server.setResponder((req) => (failures++ < 6 ? { status: 502 } : ok(req)));
    // one document, one slot: its failures alone never make the breaker verify (one document is no evidence)
    const r = await runFolder(server, names(1), { concurrency: 1, maxAttempts: 2 });
    assert.equal(r.summary.counts.done, 1);
    assert.equal(r.summary.counts.deadLettered, 0);
    assert.equal(count(r.events, 'run/provider-recovered'), 1);
    assert.ok(server.requests.some((q) => q.document === '' && q.status === 502), 'the provider was probed');
  });
});
