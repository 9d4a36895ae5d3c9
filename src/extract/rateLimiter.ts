/**
 * Client-side rate limiting of one provider: requests per minute and tokens per minute (token
 * buckets), a concurrency limit that adapts to 429s (AIMD), and a hold when the provider asks to
 * wait (Retry-After).
 *
 *   const permit = await limiter.acquire(estimatedTokens, signal);
 *   try { …request…; permit.release({ outcome: 'success', tokens: usage.total_tokens }); }
 *   catch (e) { permit.release({ outcome: is429 ? 'rate-limited' : 'failure', retryAfterMs }); }
 *
 * - RPM / TPM: buckets that hold at most one minute's allowance and refill continuously. A request
 *   takes 1 from the request bucket and its estimated tokens from the token bucket; a request larger
 *   than the whole TPM allowance waits for a full bucket and leaves it in debt. `release({ tokens })`
 *   corrects the estimate with what the provider counted.
 * - AIMD: on a 429 the concurrency limit becomes half of what was in flight (at least 1); after
 *   `increaseAfter` successes in a row it grows by 1, back up to `maxConcurrency`. 429s of requests
 *   that started before the last decrease do not halve it again (one decrease per congestion event).
 * - Retry-After puts the whole limiter on hold: nothing starts before that time.
 * - Slow start (`slowStart`, and {@link RateLimiter.rampUp} after a provider outage): the limit starts at
 *   one request and grows by one per answer (doubling per round trip) up to `maxConcurrency`, so a
 *   provider that rejects everything (a wrong key) sees one request, not a burst. A rejection comes back at
 *   once; a request still out after `slowStartPatienceMs` (a long document) is no sign of one, so the limit
 *   also grows by one per such wait without any answer: one slow document does not hold the whole run.
 *
 * Waiters are served first come, first served. Waiting honours an AbortSignal (→ CancelledError).
 * Time comes from an injectable {@link Clock}, so tests need no real waiting.
 */
import { systemClock, type Clock } from '../core/clock';
import { CancelledError } from '../core/errors';

export { systemClock, type Clock } from '../core/clock';

export interface RateLimiterOptions {
  /** Requests per minute (default: unlimited). */
  rpm?: number;
  /** Tokens (prompt + output budget) per minute (default: unlimited). */
  tpm?: number;
  /** Highest number of requests in flight (default: unlimited until a 429 lowers it). */
  maxConcurrency?: number;
  /** Successes in a row after which the concurrency limit grows by 1 (default 10). */
  increaseAfter?: number;
  /** Upper bound of a Retry-After hold, ms (default 5 minutes). */
  maxHoldMs?: number;
  /** Start at one request in flight and grow by one per answer up to `maxConcurrency` (default false). */
  slowStart?: boolean;
  /** In slow start, the limit also grows by one after this long without an answer (default 3 s). */
  slowStartPatienceMs?: number;
  clock?: Clock;
}

/**
 * How a request ended: `answered` is a refusal of that request alone (a 400 for its content): the provider
 * is up and takes the key, which grows the limit in slow start but says nothing about its capacity.
 */
export type ReleaseOutcome = 'success' | 'answered' | 'rate-limited' | 'failure' | 'cancelled';

export interface ReleaseInfo {
  outcome?: ReleaseOutcome;
  /** Tokens the provider actually counted (prompt + completion); corrects the estimate. */
  tokens?: number;
  /** With 'rate-limited': the delay the provider asked for. */
  retryAfterMs?: number;
}

export interface Permit {
  /** Ends the request (idempotent). Default outcome: 'failure' (neither grows nor shrinks the limit). */
  release(info?: ReleaseInfo): void;
}

export interface RateLimiterStats {
  /** Current concurrency limit (Infinity when unlimited). */
  concurrencyLimit: number;
  maxConcurrency: number;
  inFlight: number;
  /** Highest number of requests in flight so far. */
  maxInFlight: number;
  waiting: number;
  /** Requests granted so far. */
  granted: number;
  rateLimited: number;
  decreases: number;
  increases: number;
  /** Clock time until which nothing starts (0 when not on hold). */
  holdUntil: number;
}

interface Waiter {
  tokens: number;
  resolve: (p: Permit) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

const EPS = 1e-9;

function checkPositive(name: string, v: number | undefined, allowInfinity = false): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || Number.isNaN(v) || v <= 0 || (!allowInfinity && !Number.isFinite(v))) throw new RangeError(`${name} must be a positive number, got ${v}`);
}

export class RateLimiter {
  readonly #clock: Clock;
  readonly #rpm?: number;
  readonly #tpm?: number;
  readonly #max: number;
  readonly #increaseAfter: number;
  readonly #maxHoldMs: number;
  readonly #patienceMs: number;
  #limit: number;
  #inFlight = 0;
  #maxInFlight = 0;
  #granted = 0;
  #rateLimited = 0;
  #decreases = 0;
  #increases = 0;
  #successes = 0;
  #epoch = 0;
  #holdUntil = 0;
  #requestBucket: number;
  #tokenBucket: number;
  #lastRefill: number;
  readonly #queue: Waiter[] = [];
  #timer: unknown;
  #timerAt = 0;
  /** Growing by one per answer (slow start) rather than one per `increaseAfter` successes. */
  #slowStart = false;
  /** Last grant or answer (slow start's patience counts from it). */
  #lastMove = 0;

  constructor(options: RateLimiterOptions = {}) {
    checkPositive('rpm', options.rpm);
    checkPositive('tpm', options.tpm);
    checkPositive('maxConcurrency', options.maxConcurrency, true);
    checkPositive('increaseAfter', options.increaseAfter);
    checkPositive('slowStartPatienceMs', options.slowStartPatienceMs);
    this.#clock = options.clock ?? systemClock;
    this.#patienceMs = options.slowStartPatienceMs ?? 3000;
    this.#rpm = options.rpm;
    this.#tpm = options.tpm;
    this.#max = options.maxConcurrency === undefined ? Infinity : options.maxConcurrency === Infinity ? Infinity : Math.max(1, Math.floor(options.maxConcurrency));
    this.#limit = this.#max;
    if (options.slowStart) this.rampUp();
    this.#increaseAfter = Math.max(1, Math.floor(options.increaseAfter ?? 10));
    this.#maxHoldMs = options.maxHoldMs ?? 5 * 60_000;
    this.#requestBucket = this.#rpm ?? 0;
    this.#tokenBucket = this.#tpm ?? 0;
    this.#lastRefill = this.#clock.now();
  }

  get stats(): RateLimiterStats {
    return {
      concurrencyLimit: this.#limit,
      maxConcurrency: this.#max,
      inFlight: this.#inFlight,
      maxInFlight: this.#maxInFlight,
      waiting: this.#queue.length,
      granted: this.#granted,
      rateLimited: this.#rateLimited,
      decreases: this.#decreases,
      increases: this.#increases,
      holdUntil: this.#holdUntil > this.#clock.now() ? this.#holdUntil : 0,
    };
  }

  /** Waits for a slot (concurrency, RPM, `tokens` of TPM, no hold). Rejects with CancelledError on abort. */
  acquire(tokens = 0, signal?: AbortSignal): Promise<Permit> {
    if (signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise<Permit>((resolve, reject) => {
      const w: Waiter = { tokens: Math.max(0, tokens), resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.#queue.indexOf(w);
          if (i >= 0) {
            this.#queue.splice(i, 1);
            reject(new CancelledError());
            this.#pump();
          }
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#queue.push(w);
      this.#pump();
    });
  }

  /** Runs `fn` with a permit; the outcome is 'success' unless `fn` throws (then `classify` decides, default 'failure'). */
  async run<T>(tokens: number, fn: () => Promise<T>, options: { signal?: AbortSignal; classify?: (err: unknown) => ReleaseInfo } = {}): Promise<T> {
    const permit = await this.acquire(tokens, options.signal);
    try {
      const v = await fn();
      permit.release({ outcome: 'success' });
      return v;
    } catch (e) {
      permit.release(options.classify?.(e) ?? { outcome: 'failure' });
      throw e;
    }
  }

  /**
   * Back to one request in flight, growing by one per success up to `maxConcurrency` (after a provider
   * outage: the provider is not hit by every waiting request at once). No effect without a finite maximum.
   */
  rampUp(): void {
    if (!Number.isFinite(this.#max)) return;
    this.#limit = 1;
    this.#slowStart = this.#max > 1;
    this.#successes = 0;
    this.#lastMove = this.#clock.now();
  }

  /** Slow start: one more request in flight (an answer at `now`, or a wait without any until `now`). */
  #grow(now: number): void {
    this.#limit = Math.min(this.#max, this.#limit + 1);
    this.#increases++;
    this.#lastMove = now;
    if (this.#limit >= this.#max) this.#slowStart = false;
  }

  /** Starts nothing before `ms` from now (longer holds win). */
  hold(ms: number): void {
    if (!(ms > 0)) return;
    const until = this.#clock.now() + Math.min(ms, this.#maxHoldMs);
    if (until > this.#holdUntil) this.#holdUntil = until;
    this.#pump();
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#lastRefill);
    this.#lastRefill = now;
    if (this.#rpm !== undefined) this.#requestBucket = Math.min(this.#rpm, this.#requestBucket + (elapsed * this.#rpm) / 60_000);
    if (this.#tpm !== undefined) this.#tokenBucket = Math.min(this.#tpm, this.#tokenBucket + (elapsed * this.#tpm) / 60_000);
  }

  #pump(): void {
    const now = this.#clock.now();
    this.#refill(now);
    if (this.#queue.length === 0 && this.#timer !== undefined) {
      // nobody waits: no timer may keep the process alive
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#queue.length > 0) {
      if (this.#inFlight >= this.#limit) {
        if (!this.#slowStart) return; // a release pumps again
        // slow start: no answer for the patience → one more goes (a release pumps earlier)
        const due = this.#lastMove + this.#patienceMs;
        if (now < due) {
          this.#schedule(due);
          return;
        }
        this.#grow(now);
        continue;
      }
      const w = this.#queue[0];
      let waitMs = 0;
      if (this.#holdUntil > now) waitMs = this.#holdUntil - now;
      else {
        if (this.#rpm !== undefined && this.#requestBucket < 1 - EPS) waitMs = Math.max(waitMs, ((1 - this.#requestBucket) * 60_000) / this.#rpm);
        if (this.#tpm !== undefined) {
          const need = Math.min(w.tokens, this.#tpm);
          if (this.#tokenBucket < need - EPS) waitMs = Math.max(waitMs, ((need - this.#tokenBucket) * 60_000) / this.#tpm);
        }
      }
      if (waitMs > 0) {
        this.#schedule(now + Math.ceil(waitMs));
        return;
      }
      this.#queue.shift();
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      if (this.#rpm !== undefined) this.#requestBucket -= 1;
      if (this.#tpm !== undefined) this.#tokenBucket -= w.tokens;
      this.#inFlight++;
      this.#granted++;
      this.#lastMove = now;
      if (this.#inFlight > this.#maxInFlight) this.#maxInFlight = this.#inFlight;
      w.resolve(this.#permit(w.tokens));
    }
  }

  #schedule(at: number): void {
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return; // an earlier wake-up is already set; it re-plans
      this.#clock.clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#pump();
      },
      Math.max(0, at - this.#clock.now()),
    );
  }

  #permit(estimated: number): Permit {
    const epoch = this.#epoch;
    let released = false;
    return {
      release: (info: ReleaseInfo = {}) => {
        if (released) return;
        released = true;
        const inFlightBefore = this.#inFlight;
        this.#inFlight--;
        this.#refill(this.#clock.now());
        if (this.#tpm !== undefined && info.tokens !== undefined && Number.isFinite(info.tokens)) {
          this.#tokenBucket = Math.min(this.#tpm, this.#tokenBucket + estimated - info.tokens);
        }
        switch (info.outcome ?? 'failure') {
          case 'answered':
            if (this.#slowStart) {
              this.#grow(this.#clock.now());
            }
            break;
          case 'success':
            if (this.#slowStart) {
              this.#grow(this.#clock.now());
            } else if (++this.#successes >= this.#increaseAfter) {
              this.#successes = 0;
              if (this.#limit < this.#max) {
                this.#limit++;
                this.#increases++;
              }
            }
            break;
          case 'rate-limited':
            this.#rateLimited++;
            this.#successes = 0;
            this.#slowStart = false;
            if (epoch === this.#epoch) {
              this.#epoch++;
              this.#limit = Math.max(1, Math.floor(Math.min(this.#limit, inFlightBefore) / 2));
              this.#decreases++;
            }
            if (info.retryAfterMs !== undefined) this.hold(info.retryAfterMs);
            break;
          default:
            break;
        }
        this.#pump();
      },
    };
  }
}
