/**
 * Talking to one OpenAI-compatible provider: every request of an extractor goes through here.
 *
 * - It waits while the provider's {@link CircuitBreaker} is open (an outage: the breaker probes with
 *   {@link ProviderChannel.probe} until the provider answers), then for a {@link RateLimiter} permit (RPM,
 *   TPM, adaptive concurrency, Retry-After hold, slow start; after an outage the limiter ramps up again).
 * - A 429 means "slow down", not failure: the request waits (Retry-After, else a backoff) and is sent again;
 *   only a request refused for `maxRateLimitWaitMs` fails with `RATE_LIMITED` (not retryable).
 * - Provider failures (5xx, network, timeouts) are reported to the breaker; one of a request that was on the
 *   wire when the circuit opened is marked `details.outage`, so the pipeline does not count it against the
 *   document. Any other answer tells the breaker the provider is up.
 * - Each request (and its reply or error) goes to the opt-in request log.
 *
 * The `openai` client runs with `maxRetries: 0`; retries between attempts belong to the pipeline.
 */
import type OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { isProviderFailure, type CircuitBreaker } from '../core/circuitBreaker';
import { sleep, type Clock } from '../core/clock';
import { CancelledError, ErrorCodes, ExtractionError, isRunFatalCode } from '../core/errors';
import { backoffDelay, type RetryPolicy } from '../core/retry';
import type { RequestLogSink } from '../store/requestLog';
import { classifyOpenAIError, formatMs, type ClassifyContext } from './classifyError';
import { answerText, type ExtractionMode } from './modes';
import type { RateLimiter } from './rateLimiter';
import { estimateTokens } from './tokens';

export interface ProviderChannelOptions {
  client: OpenAI;
  model: string;
  limiter: RateLimiter;
  breaker: CircuitBreaker;
  /** Waits between 429s without Retry-After. */
  backoff: RetryPolicy;
  /** How long one request may be refused with 429s before it fails. */
  maxRateLimitWaitMs: number;
  /** Time limit of a probe is the smaller of this and 30 s. */
  timeoutMs: number;
  /** Output budget field of a probe's one-token answer. */
  maxTokensParam: 'max_completion_tokens' | 'max_tokens';
  context: () => ClassifyContext;
  requestLog?: RequestLogSink;
  clock: Clock;
  random: () => number;
}

/** Who a request is for: the breaker, the request log and the history tell documents apart by it. */
export interface RequestOrigin {
  path: string;
  runId?: string;
  attempt?: number;
  /** 1-based chunk of a long document. */
  part?: number;
}

export interface SendOptions {
  mode: ExtractionMode;
  signal?: AbortSignal;
  origin: RequestOrigin;
  /** Called once per request put on the wire (429s that are sent again included). */
  onRequest?: () => void;
  /** Turns a provider's answer about the request itself (a 4xx) into another error, e.g. "mode not supported". */
  rejected?: (raw: unknown, e: ExtractionError) => Error | undefined;
}

export class ProviderChannel {
  readonly #o: ProviderChannelOptions;

  constructor(options: ProviderChannelOptions) {
    this.#o = options;
    // outages are probed with a minimal request; after one, the limiter ramps back up from one request
    options.breaker.setProbe((signal) => this.probe(signal));
    options.breaker.onEvent((e) => {
      if (e.type === 'closed' && e.outage) options.limiter.rampUp();
    });
  }

  get limiter(): RateLimiter {
    return this.#o.limiter;
  }

  get breaker(): CircuitBreaker {
    return this.#o.breaker;
  }

  /**
   * One minimal request (a one-token answer) for the circuit breaker: resolves when it succeeds, rejects
   * with the classified error otherwise (the breaker judges it: a 4xx about the request still shows the
   * provider up, a 5xx or a connection failure does not). Costs a handful of tokens.
   */
  async probe(signal?: AbortSignal): Promise<void> {
    const body = { model: this.#o.model, messages: [{ role: 'user' as const, content: 'Reply with OK.' }], [this.#o.maxTokensParam]: 1 } as ChatCompletionCreateParamsNonStreaming;
    try {
      await this.#o.client.chat.completions.create(body, { ...(signal ? { signal } : {}), timeout: Math.min(this.#o.timeoutMs, 30_000) });
    } catch (err) {
      throw classifyOpenAIError(err, this.#o.context());
    }
  }

  /** One request: waits for the breaker and a permit, waits out 429s, reports to the breaker and the log. */
  async send(body: ChatCompletionCreateParamsNonStreaming, o: SendOptions): Promise<ChatCompletion> {
    const { breaker, limiter, clock } = this.#o;
    const { signal, origin } = o;
    const tokens = estimateBodyTokens(body) + (body.max_completion_tokens ?? body.max_tokens ?? 0);
    let refusedSince: number | undefined;
    for (let refusals = 0; ; ) {
      await breaker.whenClosed(signal);
      const permit = await limiter.acquire(tokens, signal);
      // The openai client adds an 'abort' listener to the signal it gets and never removes it; a run-wide
      // signal would collect one per request. Give it a per-request child signal instead.
      const child = signal ? new AbortController() : undefined;
      const forward = (): void => child?.abort(signal?.reason);
      signal?.addEventListener('abort', forward, { once: true });
      o.onRequest?.();
      const sentAt = breaker.sent();
      const startedAt = Date.now();
      let e: ExtractionError;
      try {
        const response = await this.#o.client.chat.completions.create(body, child ? { signal: child.signal } : undefined);
        permit.release({ outcome: 'success', ...(response.usage ? { tokens: response.usage.total_tokens } : {}) });
        breaker.success(origin.path, sentAt);
        this.#log(origin, body, o.mode, startedAt, { response });
        return response;
      } catch (err) {
        e = classifyOpenAIError(err, this.#o.context());
        if (e instanceof CancelledError) {
          permit.release({ outcome: 'cancelled', tokens: 0 });
          throw e;
        }
        this.#log(origin, body, o.mode, startedAt, { error: e });
        if (e.code !== ErrorCodes.RATE_LIMITED) {
          // a refusal of this request alone (not the key, model or quota: those stop the run) is an answer
          permit.release({ outcome: isProviderFailure(e.code) || isRunFatalCode(e.code) ? 'failure' : 'answered', tokens: 0 });
          if (isProviderFailure(e.code)) {
            // during an outage the failure is the provider's, not the document's
            if (breaker.failure(origin.path, e.code, e.message) === 'outage') throw withDetails(e, { outage: true });
            throw e;
          }
          breaker.success(origin.path, sentAt); // the provider answered
          throw o.rejected?.(err, e) ?? e;
        }
        // 429: slow down (the limiter lowers the concurrency and holds for Retry-After), then send again
        permit.release({ outcome: 'rate-limited', tokens: 0, ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}) });
      } finally {
        signal?.removeEventListener('abort', forward);
      }
      const now = clock.now();
      refusedSince ??= now;
      if (now - refusedSince >= this.#o.maxRateLimitWaitMs) {
        throw new ExtractionError(ErrorCodes.RATE_LIMITED, `The provider refused this request with 429 (rate limited) for ${formatMs(now - refusedSince)} (${refusals + 1} times). ${e.message}`, {
          retryable: false,
          cause: e,
          details: { ...e.details, refusals: refusals + 1 },
        });
      }
      refusals++;
      if (e.retryAfterMs === undefined) await sleep(clock, backoffDelay(this.#o.backoff, refusals, undefined, this.#o.random), signal);
    }
  }

  /** One line of the opt-in request log (nothing without a sink or a run). */
  #log(origin: RequestOrigin, body: ChatCompletionCreateParamsNonStreaming, mode: ExtractionMode, startedAt: number, outcome: { response: ChatCompletion } | { error: ExtractionError }): void {
    const log = this.#o.requestLog;
    if (!log || !origin.runId) return;
    const { messages, model, ...rest } = body;
    const params = Object.fromEntries(Object.entries(rest).filter(([k]) => k !== 'response_format' && k !== 'tools'));
    const choice = 'response' in outcome ? outcome.response.choices?.[0] : undefined;
    log.write({
      at: startedAt,
      runId: origin.runId,
      path: origin.path,
      ...(origin.attempt !== undefined ? { attempt: origin.attempt } : {}),
      ...(origin.part !== undefined ? { part: origin.part } : {}),
      model,
      mode,
      messages: messages.map((m) => ({ role: m.role, content: (m as { content?: unknown }).content ?? (m as { tool_calls?: unknown }).tool_calls })),
      params,
      durationMs: Date.now() - startedAt,
      ...('response' in outcome
        ? {
            status: 200,
            ...(choice?.message ? { reply: answerText(mode, choice.message).text } : {}),
            ...(choice?.finish_reason ? { finishReason: choice.finish_reason } : {}),
            tokensIn: outcome.response.usage?.prompt_tokens ?? 0,
            tokensOut: outcome.response.usage?.completion_tokens ?? 0,
          }
        : {
            error: { code: outcome.error.code, message: outcome.error.message },
            ...(typeof outcome.error.details?.status === 'number' ? { status: outcome.error.details.status } : {}),
          }),
    });
  }
}

/** `e` with more details (an ExtractionError's details are read-only). */
function withDetails(e: ExtractionError, details: Record<string, unknown>): ExtractionError {
  return new ExtractionError(e.code, e.message, {
    retryable: e.retryable,
    ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
    ...(e.stage ? { stage: e.stage } : {}),
    cause: e.cause,
    details: { ...e.details, ...details },
    tokensIn: e.tokensIn,
    tokensOut: e.tokensOut,
  });
}

/** Rough prompt tokens of a request body (4 characters a token; no tokenizer on the hot path). */
export function estimateBodyTokens(body: ChatCompletionCreateParamsNonStreaming): number {
  let chars = 0;
  for (const m of body.messages) {
    const c = (m as { content?: unknown }).content;
    if (typeof c === 'string') chars += c.length;
    else if (Array.isArray(c)) for (const p of c) chars += typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text.length : 0;
    chars += 16;
  }
  if (body.response_format?.type === 'json_schema') chars += JSON.stringify(body.response_format.json_schema.schema ?? {}).length;
  if (body.tools) chars += JSON.stringify(body.tools).length;
  return estimateTokens(chars);
}
