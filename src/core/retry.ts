/** Retry policy: pure functions, no timers. */

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** Delay before the first retry, ms. */
  baseDelayMs: number;
  /** Upper bound for any computed delay, ms. */
  maxDelayMs: number;
  /** 0..1: share of the delay that is randomised ("full jitter" at 1). */
  jitter: number;
  /** Upper bound for a server-requested Retry-After, ms. Longer requests are capped. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  jitter: 0.5,
  maxRetryAfterMs: 5 * 60_000,
};

/** Checks a policy and throws a specific error for a bad field. */
export function validateRetryPolicy(p: RetryPolicy): RetryPolicy {
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw new RangeError(`maxAttempts must be an integer ≥ 1, got ${p.maxAttempts}`);
  if (!(p.baseDelayMs >= 0)) throw new RangeError(`baseDelayMs must be ≥ 0, got ${p.baseDelayMs}`);
  if (!(p.maxDelayMs >= p.baseDelayMs)) throw new RangeError(`maxDelayMs must be ≥ baseDelayMs, got ${p.maxDelayMs}`);
  if (!(p.jitter >= 0 && p.jitter <= 1)) throw new RangeError(`jitter must be within 0..1, got ${p.jitter}`);
  return p;
}

/**
 * Delay before retry number `retry` (1 = first retry): exponential backoff, capped, with jitter.
 * A server-requested delay wins when it is longer (capped at `maxRetryAfterMs`).
 */
export function backoffDelay(policy: RetryPolicy, retry: number, retryAfterMs?: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const jittered = exp * (1 - policy.jitter) + exp * policy.jitter * random();
  if (retryAfterMs !== undefined && retryAfterMs >= 0) {
    return Math.max(Math.min(retryAfterMs, policy.maxRetryAfterMs), Math.round(jittered));
  }
  return Math.round(jittered);
}

export function shouldRetry(policy: RetryPolicy, attemptsMade: number, retryable: boolean): boolean {
  return retryable && attemptsMade < policy.maxAttempts;
}

/** Parses `retry-after-ms` / `Retry-After` (seconds or HTTP date) headers into ms. */
export function parseRetryAfter(headers: { get(name: string): string | null } | Record<string, string | undefined> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const get = (n: string): string | null | undefined =>
    typeof (headers as { get?: unknown }).get === 'function' ? (headers as { get(name: string): string | null }).get(n) : (headers as Record<string, string | undefined>)[n];
  const ms = get('retry-after-ms');
  if (ms != null && ms !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = get('retry-after');
  if (ra == null || ra === '') return undefined;
  if (Number.isFinite(Number(ra))) return Math.max(0, Number(ra) * 1000);
  const date = Date.parse(ra);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
