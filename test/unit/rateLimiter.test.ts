import { strict as assert } from 'node:assert';
import { CancelledError, ErrorCodes, ExtractionError } from '../../src/core/errors';
import { OpenAIExtractor, type OpenAIExtractorOptions } from '../../src/extract/openaiExtractor';
import { RateLimiter, type Permit } from '../../src/extract/rateLimiter';
import { FakeClock, flush } from '../support/fakeClock';
import type { ExtractInput, JsonSchema } from '../../src/extract/types';
import { startModelServer, type ModelServer } from '../support/modelServer';
import { until } from '../support/assertions';

/** Tracks a pending acquire without awaiting it. */
function track(p: Promise<Permit>): { permit?: Permit; error?: unknown; done: () => boolean } {
  const s: { permit?: Permit; error?: unknown; done: () => boolean } = { done: () => s.permit !== undefined || s.error !== undefined };
  p.then(
    (v) => (s.permit = v),
    (e) => (s.error = e),
  );
  return s;
}

describe('RateLimiter', () => {
  it('requests per minute: a token bucket (burst of rpm, then one every 60/rpm s)', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter({ rpm: 2, clock });
    const a = track(rl.acquire());
    const b = track(rl.acquire());
    const c = track(rl.acquire());
    await flush();
    assert.equal(a.done() && b.done(), true);
    assert.equal(c.done(), false);
    assert.equal(rl.stats.waiting, 1);
    await clock.advance(29_999);
    assert.equal(c.done(), false, 'not before 30 s');
    await clock.advance(1);
    assert.equal(c.done(), true);
    assert.equal(rl.stats.granted, 3);
  });

  it('tokens per minute: waits for the estimate, corrected by the actual count on release', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter({ tpm: 1000, clock });
    const a = track(rl.acquire(600));
    const b = track(rl.acquire(600));
    await flush();
    assert.equal(a.done(), true);
    assert.equal(b.done(), false);
    await clock.advance(11_999); // 400 + 199.98 tokens
    assert.equal(b.done(), false);
    await clock.advance(1); // 600 tokens
    assert.equal(b.done(), true);
    // both used only 100 tokens: 1000 come back
    a.permit!.release({ outcome: 'success', tokens: 100 });
    b.permit!.release({ outcome: 'success', tokens: 100 });
    const c = track(rl.acquire(1000));
    await flush();
    assert.equal(c.done(), true);
  });

  it('a request larger than the whole TPM allowance waits for a full bucket and leaves a debt', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter({ tpm: 1000, clock });
    const big = track(rl.acquire(5000));
    const next = track(rl.acquire(100));
    await flush();
    assert.equal(big.done(), true);
    assert.equal(next.done(), false);
    await clock.advance(245_999);
    assert.equal(next.done(), false);
    await clock.advance(1);
    assert.equal(next.done(), true);
  });

  it('AIMD: a 429 halves what was in flight (once per congestion event); successes grow it back to the maximum', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter({ maxConcurrency: 8, increaseAfter: 2, clock });
    const permits = await Promise.all(Array.from({ length: 8 }, () => rl.acquire()));
    const waiting = track(rl.acquire());
    await flush();
    assert.equal(waiting.done(), false);
    assert.equal(rl.stats.inFlight, 8);
    permits[0].release({ outcome: 'rate-limited' });
    assert.equal(rl.stats.concurrencyLimit, 4);
    // the others started before the decrease: their 429s do not halve it again
    for (const p of permits.slice(1, 4)) p.release({ outcome: 'rate-limited' });
    assert.equal(rl.stats.concurrencyLimit, 4);
    assert.equal(rl.stats.decreases, 1);
    await flush();
    assert.equal(waiting.done(), false, '4 still in flight, limit 4');
    permits[4].release({ outcome: 'success' });
    await flush();
    assert.equal(waiting.done(), true);
    // a 429 of a request started after the decrease halves again
    waiting.permit!.release({ outcome: 'rate-limited' });
    assert.equal(rl.stats.concurrencyLimit, 2);
    for (const p of permits.slice(5)) p.release({ outcome: 'success' });
    // grow back: +1 per 2 successes, up to 8 and no further
    for (let i = 0; i < 20; i++) (await rl.acquire()).release({ outcome: 'success' });
    assert.equal(rl.stats.concurrencyLimit, 8);
    assert.equal(rl.stats.inFlight, 0);
  });

  it('slow start: one request first; each answer lets one more go, and so does a wait without any answer', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter({ maxConcurrency: 4, slowStart: true, slowStartPatienceMs: 1000, clock });
    const a = track(rl.acquire());
    const b = track(rl.acquire());
    const c = track(rl.acquire());
    await flush();
    assert.equal(a.done(), true);
    assert.equal(b.done(), false, 'the first request goes alone');
    // a long first request (a big document): after the patience, one more goes, then another
    await clock.advance(999);
    assert.equal(b.done(), false);
    await clock.advance(1);
    assert.equal(b.done(), true, 'one more after 1 s without an answer');
    assert.equal(c.done(), false, 'the patience counts from the last request let go');
    await clock.advance(1000);
    assert.equal(c.done(), true);
    assert.equal(rl.stats.concurrencyLimit, 3);
    // an answer refusing that request alone (a 400) grows the limit at once, as a success does
    const d = track(rl.acquire());
    const e = track(rl.acquire());
    await flush();
    assert.equal(d.done(), false);
    a.permit!.release({ outcome: 'answered' });
    await flush();
    assert.equal(rl.stats.concurrencyLimit, 4);
    assert.equal(d.done() && e.done(), true, 'two go: the one released and the one the answer added');
    // at the maximum, waiting adds nothing
    const f = track(rl.acquire());
    await clock.advance(10_000);
    assert.equal(f.done(), false);
    assert.equal(rl.stats.concurrencyLimit, 4);
    b.permit!.release({ outcome: 'failure' });
    await flush();
    assert.equal(f.done(), true);
    for (const t of [c, d, e, f]) t.permit!.release({ outcome: 'success' });
    assert.equal(rl.stats.inFlight, 0);
  });

  it('Retry-After holds the whole limiter', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter({ clock });
    (await rl.acquire()).release({ outcome: 'rate-limited', retryAfterMs: 5000 });
    const a = track(rl.acquire());
    const b = track(rl.acquire());
    await clock.advance(4999);
    assert.equal(a.done() || b.done(), false);
    assert.ok(rl.stats.holdUntil > 0);
    await clock.advance(1);
    assert.equal(a.done(), true);
    assert.equal(rl.stats.concurrencyLimit, 1, 'the 429 also lowered the concurrency (1 was in flight)');
    assert.equal(b.done(), false);
    a.permit!.release({ outcome: 'success' });
    await flush();
    assert.equal(b.done(), true);
  });

  it('waiting honours an AbortSignal; the queue moves on', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter({ maxConcurrency: 1, clock });
    const first = await rl.acquire();
    const ac = new AbortController();
    const aborted = track(rl.acquire(0, ac.signal));
    const next = track(rl.acquire());
    ac.abort();
    await flush();
    assert.ok(aborted.error instanceof CancelledError);
    assert.equal(rl.stats.waiting, 1);
    first.release({ outcome: 'success' });
    await flush();
    assert.equal(next.done(), true);
    await assert.rejects(rl.acquire(0, ac.signal), CancelledError);
  });

  it('first come, first served; release is idempotent; bad options are refused', async () => {
    const rl = new RateLimiter({ maxConcurrency: 1 });
    const order: number[] = [];
    const first = await rl.acquire();
    const ps = [1, 2, 3].map((i) => rl.acquire().then((p) => (order.push(i), p.release({ outcome: 'success' }))));
    first.release();
    first.release();
    await Promise.all(ps);
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(rl.stats.inFlight, 0);
    assert.throws(() => new RateLimiter({ rpm: 0 }), /rpm must be a positive number/);
    assert.throws(() => new RateLimiter({ tpm: -1 }), /tpm/);
  });
});

describe('OpenAIExtractor with the rate limiter and the circuit breaker', function () {
  this.timeout(30_000);
  let server: ModelServer;
  const schema: JsonSchema = { type: 'object', properties: { n: { type: 'string' } }, required: ['n'] };
  const input = (path: string): ExtractInput => ({ path, document: { format: 'text', text: `Doc ${path}` }, schema });
  const make = (o: Partial<OpenAIExtractorOptions> = {}): OpenAIExtractor =>
    new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'gpt-4o-mini', timeoutMs: 5000, ...o });

  before(async () => {
    server = await startModelServer();
  });
  afterEach(() => {
    server.reset();
    server.setLatency(0);
  });
  after(async () => server.close());

  /** Like the pipeline: retries RATE_LIMITED. */
  async function extractRetrying(ex: OpenAIExtractor, path: string): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await ex.extract(input(path));
        return;
      } catch (e) {
        if (!(e instanceof ExtractionError) || e.code !== ErrorCodes.RATE_LIMITED || i > 5) throw e;
      }
    }
  }

  it('adaptive concurrency: 429s lower the requests in flight at the server, successes bring them back', async () => {
    const ex = make({ rateLimit: { maxConcurrency: 8, increaseAfter: 8 } });
    const limiter = ex.rateLimiter;
    server.setLatency(40);
    // phase 1: eight at once, all rate-limited
    for (let i = 0; i < 8; i++) server.setScript(`p1-${i}`, [{ status: 429, retryAfterMs: 20 }]);
    await Promise.all(Array.from({ length: 8 }, (_, i) => extractRetrying(ex, `p1-${i}`)));
    assert.ok(server.stats.maxConcurrency <= 8);
    assert.equal(limiter.stats.decreases, 1, 'one congestion event');
    assert.ok(limiter.stats.concurrencyLimit <= 5, `limit after the 429s: ${limiter.stats.concurrencyLimit}`);

    // phase 2: the server sees at most the lowered limit
    const lowered = limiter.stats.concurrencyLimit;
    server.reset();
    await Promise.all(Array.from({ length: 8 }, (_, i) => ex.extract(input(`p2-${i}`))));
    assert.ok(server.stats.maxConcurrency <= lowered, `server saw ${server.stats.maxConcurrency} at once, limit ${lowered}`);

    // recovery: successes grow the limit back to the configured maximum, and no further
    for (let round = 0; round < 12 && limiter.stats.concurrencyLimit < 8; round++) {
      await Promise.all(Array.from({ length: 8 }, (_, i) => ex.extract(input(`r${round}-${i}`))));
    }
    assert.equal(limiter.stats.concurrencyLimit, 8);
    server.reset();
    await Promise.all(Array.from({ length: 16 }, (_, i) => ex.extract(input(`p3-${i}`))));
    assert.ok(server.stats.maxConcurrency <= 8);
    assert.equal(limiter.stats.concurrencyLimit, 8);
  });

  it('rpm: the request over the limit is not sent until the window allows it (injected clock)', async () => {
    const clock = new FakeClock();
    const ex = make({ rateLimit: { rpm: 2, clock } });
    const done: string[] = [];
    const all = ['a', 'b', 'c'].map((p) => ex.extract(input(p)).then(() => done.push(p)));
    await until(() => done.length === 2 && ex.rateLimiter.stats.waiting === 1, 'two requests and one waiting');
    assert.equal(server.requests.length, 2);
    await clock.advance(29_000);
    assert.equal(server.requests.length, 2);
    await clock.advance(1_000);
    await Promise.all(all);
    assert.equal(server.requests.length, 3);
  });

  it('Retry-After of a 429 holds the refused request and later requests of the same extractor', async () => {
    const clock = new FakeClock();
    const ex = make({ clock, rateLimit: { clock } });
    server.setScript('a', [{ status: 429, retryAfter: 10 }]);
    const finished: string[] = [];
    const a = ex.extract(input('a')).then(() => finished.push('a'));
    await until(() => server.requests.length === 1 && ex.rateLimiter.stats.waiting === 1, 'the 429');
    const b = ex.extract(input('b')).then(() => finished.push('b'));
    await until(() => ex.rateLimiter.stats.waiting === 2, 'b waiting');
    await clock.advance(9_999);
    assert.deepEqual(finished, []);
    assert.equal(server.requests.length, 1);
    await clock.advance(1);
    await Promise.all([a, b]);
    assert.equal(server.requests.length, 3, 'a sent again, b sent once');
    assert.equal(ex.rateLimiter.stats.rateLimited, 1);
  });

  it('a limiter can be shared by several extractors of one provider', async () => {
    const clock = new FakeClock();
    const shared = new RateLimiter({ rpm: 1, clock });
    const a = make({ rateLimit: shared });
    const b = make({ rateLimit: shared, model: 'gpt-4o' });
    await a.extract(input('a'));
    let done = false;
    const p = b.extract(input('b')).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(done, false);
    await clock.advance(60_000);
    await p;
  });
});
