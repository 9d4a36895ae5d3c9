import { strict as assert } from 'node:assert';
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter, shouldRetry, validateRetryPolicy, type RetryPolicy } from '../../src/core/retry';

const policy = (p: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  jitter: 0,
  maxRetryAfterMs: 5000,
  ...p,
});

/** A deterministic "random" source cycling through the given values. */
function seq(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe('retry: backoffDelay', () => {
  it('grows exponentially from the base delay (no jitter)', () => {
    const p = policy();
    assert.deepEqual([1, 2, 3, 4].map((r) => backoffDelay(p, r, undefined, () => 0.5)), [100, 200, 400, 800]);
  });

  it('is capped at maxDelayMs, also for very large retry numbers', () => {
    const p = policy();
    assert.equal(backoffDelay(p, 5), 1000);
    assert.equal(backoffDelay(p, 10), 1000);
    assert.equal(backoffDelay(p, 2000), 1000, 'no Infinity/NaN for huge retry numbers');
  });

  it('treats retry numbers below 1 like the first retry', () => {
    assert.equal(backoffDelay(policy(), 0), 100);
    assert.equal(backoffDelay(policy(), -3), 100);
  });

  it('jitter stays within [delay·(1−jitter), delay] for injected random values', () => {
    const p = policy({ jitter: 0.5 });
    assert.equal(backoffDelay(p, 3, undefined, () => 0), 200, 'lowest: half the delay');
    assert.equal(backoffDelay(p, 3, undefined, () => 0.5), 300);
    assert.equal(backoffDelay(p, 3, undefined, () => 0.999999), 400, 'highest: the full delay');
    const rnd = seq(0.13, 0.77, 0.01, 0.99, 0.5, 0.42);
    for (let retry = 1; retry <= 8; retry++) {
      const exp = Math.min(1000, 100 * 2 ** (retry - 1));
      for (let i = 0; i < 6; i++) {
        const d = backoffDelay(p, retry, undefined, rnd);
        assert.ok(d >= Math.floor(exp * 0.5) && d <= exp, `retry ${retry}: ${d} within [${exp * 0.5}, ${exp}]`);
      }
    }
  });

  it('full jitter (1) can go down to 0; no jitter ignores random entirely', () => {
    assert.equal(backoffDelay(policy({ jitter: 1 }), 4, undefined, () => 0), 0);
    assert.equal(backoffDelay(policy({ jitter: 1 }), 4, undefined, () => 0.25), 200);
    assert.equal(backoffDelay(policy({ jitter: 0 }), 2, undefined, () => 0), 200);
    assert.equal(backoffDelay(policy({ jitter: 0 }), 2, undefined, () => 0.9), 200);
  });

  it('returns whole milliseconds', () => {
    assert.ok(Number.isInteger(backoffDelay(policy({ jitter: 0.5, baseDelayMs: 333 }), 1, undefined, () => 0.123)));
  });

  it('Retry-After wins when longer than the backoff', () => {
    assert.equal(backoffDelay(policy(), 1, 3000, () => 0.5), 3000);
  });

  it('the backoff wins when longer than Retry-After', () => {
    assert.equal(backoffDelay(policy(), 4, 50, () => 0.5), 800);
    assert.equal(backoffDelay(policy(), 1, 0), 100, 'Retry-After: 0 does not mean "retry at once"');
  });

  it('Retry-After is capped at maxRetryAfterMs', () => {
    assert.equal(backoffDelay(policy(), 1, 10 * 60_000), 5000);
    assert.equal(backoffDelay(DEFAULT_RETRY_POLICY, 1, 24 * 3600_000, () => 0), DEFAULT_RETRY_POLICY.maxRetryAfterMs);
  });

  it('ignores a negative Retry-After', () => {
    assert.equal(backoffDelay(policy(), 2, -500), 200);
  });
});

describe('retry: parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

  it('reads seconds (integer and fractional)', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '2' })), 2000);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '1.5' })), 1500);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '0' })), 0);
  });

  it('reads retry-after-ms and prefers it over retry-after', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '250' })), 250);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' })), 250);
  });

  it('falls back to retry-after when retry-after-ms is garbage', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': 'soon', 'retry-after': '3' })), 3000);
  });

  it('reads an HTTP date relative to now; a past date means 0', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Wed, 21 Oct 2015 07:28:30 GMT' }), now), 30_000);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Wed, 21 Oct 2015 07:00:00 GMT' }), now), 0);
  });

  it('clamps negative numbers to 0', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '-5' })), 0);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '-5' })), 0);
  });

  it('returns undefined for garbage, empty values, missing headers', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' })), undefined);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'NaN' })), undefined);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '' })), undefined);
    assert.equal(parseRetryAfter(new Headers()), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  it('accepts a plain record of lower-case header names', () => {
    assert.equal(parseRetryAfter({ 'retry-after': '4' }), 4000);
    assert.equal(parseRetryAfter({ 'retry-after-ms': '120' }), 120);
    assert.equal(parseRetryAfter({}), undefined);
  });
});

describe('retry: policy', () => {
  it('validateRetryPolicy names the bad field', () => {
    assert.equal(validateRetryPolicy(DEFAULT_RETRY_POLICY), DEFAULT_RETRY_POLICY);
    assert.throws(() => validateRetryPolicy(policy({ maxAttempts: 0 })), /maxAttempts must be an integer ≥ 1, got 0/);
    assert.throws(() => validateRetryPolicy(policy({ maxAttempts: 1.5 })), /maxAttempts/);
    assert.throws(() => validateRetryPolicy(policy({ baseDelayMs: -1 })), /baseDelayMs must be ≥ 0/);
    assert.throws(() => validateRetryPolicy(policy({ maxDelayMs: 50 })), /maxDelayMs must be ≥ baseDelayMs/);
    assert.throws(() => validateRetryPolicy(policy({ jitter: 1.5 })), /jitter must be within 0..1/);
    assert.throws(() => validateRetryPolicy(policy({ jitter: Number.NaN })), /jitter/);
  });

  it('shouldRetry: only retryable errors, only while attempts remain', () => {
    const p = policy({ maxAttempts: 3 });
    assert.equal(shouldRetry(p, 1, true), true);
    assert.equal(shouldRetry(p, 2, true), true);
    assert.equal(shouldRetry(p, 3, true), false);
    assert.equal(shouldRetry(p, 1, false), false);
  });
});
