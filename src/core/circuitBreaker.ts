/**
 * Circuit breaker of one provider: an outage pauses the work and probes the provider until it answers
 * again; it never ends a run by itself (only an outage longer than `maxOutageMs` does).
 *
 * - **Evidence, not one document.** Provider failures (5xx, network errors, timeouts) count only while no
 *   request sent after them has succeeded, and a document's failure does not count when a request sent
 *   after that document's previous failure succeeded: that document is the problem, not the provider (a
 *   "poison" document is retried and dead-lettered; the breaker stays closed). What counts is the order
 *   of sending ({@link sent}) and failing: an answer to a request sent before a failure, or before the
 *   outage began, is no evidence against it. When `threshold` failures
 *   from at least `minDocuments` documents add up, the breaker *verifies* with one small probe request
 *   (dispatch waits meanwhile): an answer closes it again, a failure opens it.
 * - **Open: wait and probe.** Requests wait in {@link whenClosed}; one probe is sent after `probeBaseMs`,
 *   then at doubling intervals up to `probeMaxMs` (with jitter). The documents whose failures opened the
 *   circuit get those attempts back (`refunds` of the `opened` event), and a failure of a request that was
 *   already on the wire counts as `outage`, not against its document. A probe (or any request) that
 *   succeeds closes the circuit; the caller ramps back up (the rate limiter's slow start).
 * - **Giving up.** After `maxOutageMs` of failed probes, or at once when a probe gets an answer that no
 *   waiting fixes (401, 403, unknown model, no quota), waiters are rejected with that error and the
 *   `gave-up` event tells the run to stop.
 *
 * Time comes from an injectable {@link Clock}; the probe is injected ({@link setProbe}) by whoever can talk
 * to the provider. Without a probe the breaker cannot verify, so it never opens.
 */
import { systemClock, type Clock } from './clock';
import { CancelledError, ErrorCodes, ExtractionError } from './errors';
import type { Disposable } from './events';

/** Error codes that say the provider (not the document or the request) is failing. */
export const PROVIDER_FAILURE_CODES: ReadonlySet<string> = new Set([ErrorCodes.SERVER_ERROR, ErrorCodes.NETWORK, ErrorCodes.TIMEOUT, ErrorCodes.REQUEST_TIMEOUT]);

/** Answers to a probe that no waiting fixes: the breaker gives up at once. */
const HOPELESS_CODES: ReadonlySet<string> = new Set([ErrorCodes.AUTH_FAILED, ErrorCodes.FORBIDDEN, ErrorCodes.UNKNOWN_MODEL, ErrorCodes.QUOTA_EXCEEDED]);

/** How long an outage may last before the breaker gives up, by default (30 minutes). */
export const DEFAULT_MAX_OUTAGE_MS = 30 * 60_000;

export function isProviderFailure(code: string): boolean {
  return PROVIDER_FAILURE_CODES.has(code);
}

export interface CircuitBreakerOptions {
  /** Provider failures since the last success that make the breaker verify (default 3; 0 disables the breaker). */
  threshold?: number;
  /** Distinct documents those failures must come from (default 2). */
  minDocuments?: number;
  /** Wait before the first probe of an open circuit, ms (default 2 s). */
  probeBaseMs?: number;
  /** Longest wait between probes, ms (default 60 s). */
  probeMaxMs?: number;
  /** 0..1: each wait is randomised by ± this share (default 0.2). */
  jitter?: number;
  /** How long an outage may last before the breaker gives up, ms (default 30 minutes). */
  maxOutageMs?: number;
  /** Names the provider in messages (default "The provider"). */
  provider?: string;
  clock?: Clock;
  random?: () => number;
}

export type CircuitState = 'closed' | 'verifying' | 'open' | 'gave-up';

export interface Outage {
  /** When the circuit opened. */
  since: number;
  /** When the next probe goes out (undefined while one is in flight). */
  nextProbeAt?: number;
  /** Probes sent so far. */
  probes: number;
  lastCode: string;
  lastError: string;
}

export type CircuitEvent =
  | { type: 'verifying' }
  | { type: 'opened'; outage: Outage; refunds: ReadonlyMap<string, number> }
  | { type: 'waiting'; outage: Outage }
  | { type: 'closed'; at: number; outage?: Outage }
  | { type: 'gave-up'; error: ExtractionError };

/** Sends one small request; resolves when the provider answered, rejects with an ExtractionError otherwise. */
export type Probe = (signal: AbortSignal) => Promise<void>;

/** What a failure meant: counted towards an outage, not counted (the document is suspect), or part of an outage. */
export type FailureVerdict = 'counted' | 'not-counted' | 'outage';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Documents remembered with their last failure (bounded; the oldest are forgotten). */
const MAX_REMEMBERED = 10_000;

export class CircuitBreaker {
  readonly threshold: number;
  readonly minDocuments: number;
  readonly probeBaseMs: number;
  readonly probeMaxMs: number;
  readonly jitter: number;
  readonly maxOutageMs: number;
  readonly provider: string;
  readonly #clock: Clock;
  readonly #random: () => number;
  #state: CircuitState = 'closed';
  #outage: Outage | undefined;
  #gaveUp: ExtractionError | undefined;
  #probe: Probe | undefined;
  #probing: Promise<boolean> | undefined;
  #probeAbort: AbortController | undefined;
  #timer: unknown;
  /** Orders sending and failing (a counter, not a clock: events of one millisecond keep their order). */
  #seq = 0;
  /** Sequence number of the latest request that succeeded when it was sent. */
  #lastSuccessSent = -1;
  /** Document → sequence number of its last failure. */
  readonly #lastFailure = new Map<string, number>();
  /** Counted failures (document, sequence number) not yet outdated by a success. */
  #counted: Array<{ doc: string; at: number }> = [];
  /** Sequence number when the current verification or outage began. */
  #checkSince = 0;
  #lastCode = '';
  #lastError = '';
  readonly #waiters = new Set<Waiter>();
  readonly #listeners = new Set<(e: CircuitEvent) => void>();

  constructor(options: CircuitBreakerOptions = {}) {
    const int = (name: string, v: number, min: number): number => {
      if (!(Number.isInteger(v) && v >= min)) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
      return v;
    };
    const ms = (name: string, v: number): number => {
      if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`${name} must be a number of milliseconds ≥ 0, got ${v}`);
      return v;
    };
    this.threshold = int('threshold', options.threshold ?? 3, 0);
    this.minDocuments = int('minDocuments', options.minDocuments ?? 2, 1);
    this.probeBaseMs = ms('probeBaseMs', options.probeBaseMs ?? 2000);
    this.probeMaxMs = Math.max(this.probeBaseMs, ms('probeMaxMs', options.probeMaxMs ?? 60_000));
    this.jitter = options.jitter ?? 0.2;
    if (!(this.jitter >= 0 && this.jitter <= 1)) throw new RangeError(`jitter must be within 0..1, got ${this.jitter}`);
    this.maxOutageMs = ms('maxOutageMs', options.maxOutageMs ?? DEFAULT_MAX_OUTAGE_MS);
    this.provider = options.provider ?? 'The provider';
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  /** Sets how the provider is probed (the extractor does, with a minimal request). */
  setProbe(probe: Probe | undefined): void {
    this.#probe = probe;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** The current outage (open circuit), or undefined. */
  get outage(): Outage | undefined {
    return this.#outage ? { ...this.#outage } : undefined;
  }

  /** Call when a request is sent; hand the result back to {@link success}. */
  sent(): number {
    return ++this.#seq;
  }

  onEvent(listener: (e: CircuitEvent) => void): Disposable {
    this.#listeners.add(listener);
    return { dispose: () => this.#listeners.delete(listener) };
  }

  /** The provider answered a request of `doc` ({@link sent} returned `sentAt`): a success, or a 4xx about the request. */
  success(doc?: string, sentAt: number = this.sent()): void {
    this.#markUp(sentAt);
    if (doc !== undefined) this.#lastFailure.delete(doc);
    // a request sent since the check began was answered: the provider is back (an answer to one sent
    // before says nothing about the outage)
    if ((this.#state === 'open' || this.#state === 'verifying') && sentAt > this.#checkSince) this.#close();
  }

  /** A provider failure of a request of `doc`. */
  failure(doc: string, code: string, message: string): FailureVerdict {
    this.#lastCode = code;
    this.#lastError = message;
    if (this.#state === 'open' || this.#state === 'gave-up') {
      if (this.#outage) Object.assign(this.#outage, { lastCode: code, lastError: message });
      return 'outage';
    }
    if (this.threshold === 0) return 'counted';
    const now = ++this.#seq;
    const previous = this.#lastFailure.get(doc);
    this.#lastFailure.delete(doc);
    this.#lastFailure.set(doc, now);
    if (this.#lastFailure.size > MAX_REMEMBERED) this.#lastFailure.delete(this.#lastFailure.keys().next().value as string);
    // a request sent after this document last failed succeeded: the document is the problem
    if (previous !== undefined && previous < this.#lastSuccessSent) return 'not-counted';
    this.#counted.push({ doc, at: now });
    if (this.#state === 'closed' && this.#counted.length >= this.threshold && new Set(this.#counted.map((c) => c.doc)).size >= this.minDocuments) this.#verify();
    return 'counted';
  }

  /**
   * Whether the provider is up, for a document that has used up its attempts on provider failures: 'up'
   * when a request sent after the document's last failure succeeded, or a probe answers now — the document
   * is the problem; 'down' when the circuit is open or the probe fails (which opens it).
   */
  async verifyDocument(doc: string): Promise<'up' | 'down'> {
    if (this.threshold === 0 || !this.#probe) return 'up';
    if (this.#lastSuccessSent > (this.#lastFailure.get(doc) ?? Number.POSITIVE_INFINITY)) return 'up';
    if (this.#state === 'open' || this.#state === 'gave-up') return 'down';
    const sentAt = this.sent();
    const up = await this.#runProbe();
    if (up) {
      this.success(undefined, sentAt);
      return 'up';
    }
    if (this.#state === 'closed' || this.#state === 'verifying') this.#open();
    return 'down';
  }

  /**
   * Resolves when the circuit is closed (at once when it is); rejects with the breaker's error when it
   * gave up, with CancelledError when `signal` aborts.
   */
  whenClosed(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    if (this.#state === 'gave-up') return Promise.reject(this.#gaveUp);
    if (signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          this.#waiters.delete(w);
          reject(new CancelledError());
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#waiters.add(w);
    });
  }

  /** Back to closed with nothing counted (a run ended; the next one starts afresh). */
  reset(): void {
    this.#clearTimer();
    this.#probeAbort?.abort();
    const wasWaiting = this.#state !== 'closed';
    this.#state = 'closed';
    this.#outage = undefined;
    this.#gaveUp = undefined;
    this.#counted = [];
    this.#lastFailure.clear();
    if (wasWaiting) this.#settleWaiters();
  }

  // ------------------------------------------------------------------------------------------ internals

  /** A request sent at `sentAt` succeeded: failures before that are outdated. */
  #markUp(sentAt: number): void {
    if (sentAt > this.#lastSuccessSent) this.#lastSuccessSent = sentAt;
    this.#counted = this.#counted.filter((c) => c.at > sentAt);
  }

  #emit(e: CircuitEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(e);
      } catch {
        /* a listener's failure must not break the breaker */
      }
    }
  }

  #verify(): void {
    if (!this.#probe) return;
    this.#state = 'verifying';
    this.#checkSince = this.#seq;
    const sentAt = this.sent();
    this.#emit({ type: 'verifying' });
    void this.#runProbe().then((up) => {
      if (this.#state !== 'verifying') return; // settled meanwhile (a success, a reset)
      if (up) {
        this.#markUp(sentAt);
        this.#close();
      } else this.#open();
    });
  }

  /** One probe, shared with the one already in flight. Resolves true when the provider answered. */
  #runProbe(): Promise<boolean> {
    if (this.#probing) return this.#probing;
    const probe = this.#probe;
    if (!probe) return Promise.resolve(true);
    const abort = new AbortController();
    this.#probeAbort = abort;
    const probing = (async () => {
      try {
        await probe(abort.signal);
        return true;
      } catch (e) {
        return this.#judgeProbeFailure(e);
      } finally {
        this.#probing = undefined;
        this.#probeAbort = undefined;
      }
    })();
    this.#probing = probing;
    return probing;
  }

  /** Whether a failed probe still shows the provider up (it answered, e.g. 429 or 400). */
  #judgeProbeFailure(e: unknown): boolean {
    const code = e instanceof ExtractionError ? e.code : ErrorCodes.NETWORK;
    const message = e instanceof Error ? e.message : String(e);
    if (code === ErrorCodes.CANCELLED) return false;
    if (HOPELESS_CODES.has(code)) {
      this.#giveUp(e as ExtractionError);
      return false;
    }
    if (PROVIDER_FAILURE_CODES.has(code)) {
      this.#lastCode = code;
      this.#lastError = message;
      if (this.#outage) Object.assign(this.#outage, { lastCode: code, lastError: message });
      return false;
    }
    return true;
  }

  #open(): void {
    const refunds = new Map<string, number>();
    for (const c of this.#counted) refunds.set(c.doc, (refunds.get(c.doc) ?? 0) + 1);
    this.#counted = [];
    this.#state = 'open';
    this.#checkSince = this.#seq;
    this.#outage = { since: this.#clock.now(), probes: 0, lastCode: this.#lastCode, lastError: this.#lastError };
    this.#scheduleProbe();
    this.#emit({ type: 'opened', outage: { ...this.#outage }, refunds });
  }

  #scheduleProbe(): void {
    const o = this.#outage;
    if (!o) return;
    const base = Math.min(this.probeMaxMs, this.probeBaseMs * 2 ** o.probes);
    let delay = Math.round(base * (1 - this.jitter + 2 * this.jitter * this.#random()));
    // the last probe goes out when the outage limit is reached, not a whole interval after it
    const deadline = o.since + this.maxOutageMs - this.#clock.now();
    delay = Math.max(0, Math.min(delay, Math.max(0, deadline)));
    o.nextProbeAt = this.#clock.now() + delay;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#tick();
    }, delay);
  }

  async #tick(): Promise<void> {
    const o = this.#outage;
    if (this.#state !== 'open' || !o) return;
    o.probes++;
    o.nextProbeAt = undefined;
    const sentAt = this.sent();
    const up = await this.#runProbe();
    if (this.#state !== 'open' || this.#outage !== o) return; // closed by a request meanwhile, reset, or gave up
    if (up) {
      this.#markUp(sentAt);
      this.#close();
      return;
    }
    if (this.#clock.now() - o.since >= this.maxOutageMs) {
      const minutes = Math.round(this.maxOutageMs / 6000) / 10;
      this.#giveUp(
        new ExtractionError(
          ErrorCodes.PROVIDER_UNAVAILABLE,
          `${this.provider} has failed for ${minutes} minute${minutes === 1 ? '' : 's'} (${o.probes} probe${o.probes === 1 ? '' : 's'}; last error: [${o.lastCode}] ${o.lastError}). ` +
            'The run stopped with its progress saved: run it again (or Resume) once the provider is back, or raise maxOutageMinutes to wait longer.',
          { retryable: false, details: { since: o.since, probes: o.probes, lastCode: o.lastCode } },
        ),
      );
      return;
    }
    this.#scheduleProbe();
    this.#emit({ type: 'waiting', outage: { ...o } });
  }

  #close(): void {
    const outage = this.#outage;
    this.#clearTimer();
    this.#state = 'closed';
    this.#outage = undefined;
    this.#settleWaiters();
    this.#emit({ type: 'closed', at: this.#clock.now(), ...(outage ? { outage: { ...outage } } : {}) });
  }

  #giveUp(error: ExtractionError): void {
    if (this.#state === 'gave-up') return;
    this.#clearTimer();
    this.#state = 'gave-up';
    this.#gaveUp = error;
    this.#outage = undefined;
    this.#settleWaiters();
    this.#emit({ type: 'gave-up', error });
  }

  #settleWaiters(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) {
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      if (this.#state === 'gave-up') w.reject(this.#gaveUp);
      else w.resolve();
    }
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
