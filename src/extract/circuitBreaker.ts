/**
 * Circuit breaker for one provider: after `threshold` consecutive provider failures (5xx, network
 * errors, timeouts) it opens and requests fail at once with `CIRCUIT_OPEN` (a run-fatal code: the run
 * pauses with a clear message instead of burning through every document). After `resetAfterMs` it lets
 * one trial request through (half-open); its success closes the circuit, its failure opens it again.
 * Any answer that shows the provider is up (a success, or a 4xx other than 408/429) resets the count.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';
import { systemClock, type Clock } from './rateLimiter';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (default 5; 0 disables the breaker). */
  threshold?: number;
  /** Time an open circuit waits before a trial request, ms (default 30 s). */
  resetAfterMs?: number;
  clock?: Clock;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/** Error codes that count as provider failures. */
export const PROVIDER_FAILURE_CODES: ReadonlySet<string> = new Set([ErrorCodes.SERVER_ERROR, ErrorCodes.NETWORK, ErrorCodes.TIMEOUT, ErrorCodes.REQUEST_TIMEOUT]);

export class CircuitBreaker {
  readonly threshold: number;
  readonly resetAfterMs: number;
  readonly #clock: Clock;
  #failures = 0;
  #openedAt = 0;
  #state: CircuitState = 'closed';
  #trialInFlight = false;
  #lastError = '';

  constructor(options: CircuitBreakerOptions = {}) {
    const threshold = options.threshold ?? 5;
    if (!(Number.isInteger(threshold) && threshold >= 0)) throw new RangeError(`The circuit breaker threshold must be an integer ≥ 0, got ${threshold}`);
    this.threshold = threshold;
    this.resetAfterMs = Math.max(0, options.resetAfterMs ?? 30_000);
    this.#clock = options.clock ?? systemClock;
  }

  get state(): CircuitState {
    if (this.#state === 'open' && this.#clock.now() - this.#openedAt >= this.resetAfterMs) return 'half-open';
    return this.#state;
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  /**
   * Call before a request: throws `CIRCUIT_OPEN` while the circuit is open (or while the single
   * half-open trial request is in flight). Returns whether this request is the trial.
   */
  before(provider: string): boolean {
    if (this.threshold === 0 || this.#state === 'closed') return false;
    if (this.state === 'half-open' && !this.#trialInFlight) {
      this.#state = 'half-open';
      this.#trialInFlight = true;
      return true;
    }
    throw this.#error(provider);
  }

  /** The provider answered (success, or a 4xx that is not about load). */
  success(): void {
    this.#failures = 0;
    this.#state = 'closed';
    this.#trialInFlight = false;
  }

  /** A provider failure; returns the CIRCUIT_OPEN error when this failure opened the circuit. */
  failure(provider: string, message: string): ExtractionError | undefined {
    if (this.threshold === 0) return undefined;
    this.#failures++;
    this.#lastError = message;
    const wasTrial = this.#trialInFlight;
    this.#trialInFlight = false;
    if (wasTrial || (this.#state === 'closed' && this.#failures >= this.threshold)) {
      this.#state = 'open';
      this.#openedAt = this.#clock.now();
      return this.#error(provider);
    }
    if (this.#state !== 'closed') return this.#error(provider);
    return undefined;
  }

  /** A request ended without telling anything about the provider (cancelled, 429). */
  neutral(wasTrial: boolean): void {
    if (wasTrial) this.#trialInFlight = false;
  }

  /** Closes the circuit (e.g. when the user resumes the run). */
  reset(): void {
    this.success();
  }

  #error(provider: string): ExtractionError {
    const waitS = Math.max(0, Math.ceil((this.resetAfterMs - (this.#clock.now() - this.#openedAt)) / 1000));
    return new ExtractionError(
      ErrorCodes.CIRCUIT_OPEN,
      `${provider} failed ${this.#failures} time${this.#failures === 1 ? '' : 's'} in a row, so requests are paused (circuit breaker). Last error: ${this.#lastError || 'unknown'} ` +
        `Check the provider's status, then resume the run${waitS > 0 ? ` (a trial request is allowed again in ${waitS} s)` : ''}.`,
      { retryable: false, details: { consecutiveFailures: this.#failures, threshold: this.threshold } },
    );
  }
}
