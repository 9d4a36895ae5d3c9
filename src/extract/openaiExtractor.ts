/**
 * Extractor backed by an OpenAI-compatible chat completions endpoint.
 *
 * One `extract()` call = one conversation per document (or per chunk of a long document):
 *
 * - **Modes** ({@link ModeOption}): structured outputs (`json_schema`, strict), JSON mode
 *   (`json_object`, schema in the prompt), plain text with JSON repair (`text`), or tool calling
 *   (`tools`). `auto` (default) starts with `json_schema` and, when the provider rejects it (a 400 about
 *   `response_format`), falls back to `json_object`, then to `text` — remembered for the instance, so
 *   later documents go straight to the mode that works.
 * - **Re-asks**: an answer that parses but breaks the user's original schema is sent back with the
 *   errors, up to `maxReasks` times.
 * - **Truncation**: an answer cut off at the output limit (`finish_reason: length`) is asked again with
 *   twice the output budget, up to `maxOutputTokensCap`; still cut off at the cap, a long document is
 *   extracted in chunks instead, and a chunk still cut off is split in halves (up to
 *   {@link MAX_SPLIT_DEPTH} times; offsets into the whole text are kept, so merging and grounding work
 *   as for any chunk). Only a piece that cannot be split further fails with `TRUNCATED_OUTPUT`.
 * - **Long documents**: when the prompt would not fit `contextTokens` (counted with the o200k
 *   tokenizer), the document is split (by pages, else by characters with overlap), the chunks are
 *   extracted in parallel (`chunkConcurrency`) with a relaxed schema and merged (see `merge.ts`);
 *   chunk answers are checkpointed in `chunkCacheDir`, so a failed attempt redoes only the failed
 *   chunks (`chunkedExtraction.ts`).
 * - **Provider protection**: every request goes through the instance's {@link ProviderChannel}
 *   (`providerChannel.ts`): it waits while the circuit breaker is open (an outage, probed until the provider
 *   answers) and for the rate limiter, waits out 429s instead of failing, and marks the failures of an
 *   outage so the pipeline does not count them against the document.
 * - **Bounded answers**: the whole answer (headers and body) must arrive within the request timeout and
 *   is at most `maxResponseBytes`; when no answer of a call is complete, it gives up after {@link MAX_TRUNCATIONS}
 *   cut-off answers (a model that always stops at the output limit would cost dozens of requests).
 *
 * The `openai` client runs with `maxRetries: 0`: retries and backoff between attempts belong to the
 * pipeline's policy, which reads the `code`, `retryable` and `retryAfterMs` of the
 * {@link ExtractionError}s thrown here. Errors carry every token spent in the call.
 */
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionContentPart, ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { CircuitBreaker, DEFAULT_MAX_OUTAGE_MS, type CircuitBreakerOptions } from '../core/circuitBreaker';
import { systemClock, type Clock } from '../core/clock';
import { CancelledError, ErrorCodes, ExtractionError } from '../core/errors';
import { DEFAULT_RETRY_POLICY, validateRetryPolicy, type RetryPolicy } from '../core/retry';
import type { RequestLogSink } from '../store/requestLog';
import { bufferedFetch, directFetch } from './boundedFetch';
import { ChunkCache, documentKey } from './chunkCache';
import { ChunkedExtraction } from './chunkedExtraction';
import { canSplit } from './chunkPlan';
import { hostOf, type ClassifyContext } from './classifyError';
import { DEFAULT_CONTEXT_TOKENS } from './estimate';
import { Spend, TruncatedAtCap, type Compiled, type PartRequest, type PartResult } from './extractionPart';
import { toPartialSchema } from './merge';
import { logprobConfidences, type ConfidenceOption } from './confidence';
import { checkInputMode, imagePart, imagesRejected, pageImagesOf, type InputMode, type PageImageSource } from './pageImages';
import { PromptRoom } from './promptRoom';
import { AUTO_FALLBACK, answerText, EXTRACTION_MODES, MAX_TOKENS_PARAMS, parseAnswer, reaskMessages, rejectsImages, rejectsLogprobs, rejectsMode, requestBody, systemPrompt, type ExtractionMode, type MaxTokensParam, type ModeOption } from './modes';
import { costWith, PriceTable, validatePrice, type ModelPrice } from './pricing';
import { buildUserMessage, notJsonMessage, reaskMessage } from './prompt';
import { ProviderChannel, type SendOptions } from './providerChannel';
import { RateLimiter, type RateLimiterOptions } from './rateLimiter';
import { createValidator, toStrictSchema } from './schema';
import { fitsTokens } from './tokens';
import type { ExtractInput, ExtractOutput, Extractor, JsonSchema } from './types';

export { buildUserMessage, SYSTEM_PROMPT } from './prompt';
export { classifyOpenAIError, type ClassifyContext } from './classifyError';
export { bufferedFetch, ResponseTooLargeError } from './boundedFetch';
export { redactSecrets } from './redact';
export type { ModelPrice } from './pricing';
export type { ExtractionMode, MaxTokensParam, ModeOption } from './modes';
export { DEFAULT_CONTEXT_TOKENS, DEFAULT_OUTPUT_RESERVE } from './estimate';
export { MAX_SPLIT_DEPTH } from './chunkedExtraction';

export const DEFAULT_OUTPUT_CAP = 16_384;
/** Cut-off answers (finish_reason 'length') one extract call accepts, while no answer was complete, before it gives up. */
export const MAX_TRUNCATIONS = 8;
/** Default bound of one answer's size: far above any real structured answer, far below what hurts. */
export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export interface OpenAIExtractorOptions {
  /** Base URL of the API, ending in `/v1` (default: OpenAI's). */
  baseURL?: string;
  /** API key. Never appears in error messages. */
  apiKey: string;
  /** Model id, e.g. `gpt-4o-mini`. */
  model: string;
  /** Timeout of one request (one attempt), ms. */
  timeoutMs: number;
  /** Sampling temperature; omitted from the request when undefined (some models reject it). */
  temperature?: number;
  /** Output tokens per request; omitted from the request when undefined (the provider's default applies). */
  maxOutputTokens?: number;
  /** Highest output budget when a cut-off answer is asked again with a doubled budget (default 16384, at least `maxOutputTokens`). */
  maxOutputTokensCap?: number;
  /** Request field for the output budget: `max_completion_tokens` (OpenAI, default) or `max_tokens` (older compatible servers). */
  maxTokensParam?: MaxTokensParam;
  /** Follow-up requests when the answer breaks the schema (default 2). */
  maxReasks?: number;
  /** Price of this extractor's model; wins over `prices`. */
  price?: ModelPrice;
  /** Price table (default: the well-known list prices); a model not in it costs 0. */
  prices?: PriceTable | Record<string, ModelPrice>;
  /** How the answer's shape is requested (default 'auto': json_schema, falling back to json_object, then text). */
  mode?: ModeOption;
  /** Context window of the model in tokens (default 128000). Longer documents are extracted in chunks. */
  contextTokens?: number;
  /** Chunks of one document extracted at once (default 3). */
  chunkConcurrency?: number;
  /** Characters shared by consecutive chunks when a document is split by characters (default: 5 % of a chunk, at most 2000). */
  chunkOverlapChars?: number;
  /** Folder for chunk checkpoints (e.g. `.extraction/chunks`); without it a failed long document is redone whole. */
  chunkCacheDir?: string;
  /** Client-side rate limits of this provider, or a limiter shared with other extractors of the same provider. */
  rateLimit?: RateLimiterOptions | RateLimiter;
  /** Circuit breaker options, or a breaker shared with other extractors of the same provider. */
  circuitBreaker?: CircuitBreakerOptions | CircuitBreaker;
  /** Waits between 429s without Retry-After (default: the retry policy's defaults). */
  backoff?: Partial<RetryPolicy>;
  /** How long one request may be refused with 429s before it fails with RATE_LIMITED, ms (default 30 minutes). */
  maxRateLimitWaitMs?: number;
  /** Largest answer accepted, bytes (default 8 MiB); a larger one fails with MALFORMED_OUTPUT. */
  maxResponseBytes?: number;
  /** Opt-in log of every request and reply (`logRequests`); needs `runId` in the extract input. */
  requestLog?: RequestLogSink;
  /** Time source of the waits between 429s (tests). */
  clock?: Clock;
  random?: () => number;
  /** Replaces `fetch` (tests, proxies). */
  fetch?: typeof fetch;
  /**
   * `logprobs`: asks for token log-probabilities (`logprobs: true`) and returns per-value confidences; a
   * provider that rejects the parameter is asked without it from then on (reported once via `onNotice`).
   * Default `grounding`: not asked.
   */
  confidence?: ConfidenceOption;
  /** Something the user should know once (e.g. log-probabilities not supported). */
  onNotice?: (message: string) => void;
  /**
   * `text` (default), `images` (the pages of image documents are sent as images too) or `auto` (only the
   * pages OCR read poorly): see pageImages.ts. Needs `pageImages`.
   */
  input?: InputMode;
  /** Reads the page images of a document (the session's, from the run's folder). */
  pageImages?: PageImageSource;
}

/** The provider rejected the mode itself (e.g. no json_schema support). */
class ModeRejected extends Error {
  constructor(
    readonly mode: ExtractionMode,
    readonly error: ExtractionError,
  ) {
    super(error.message);
  }
}

/** The provider rejected `logprobs: true`. */
class LogprobsRejected extends Error {}

function positiveInt(name: string, v: number | undefined, min = 1): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) {
    throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `${name} must be an integer ≥ ${min}, got ${v}.`);
  }
}

export class OpenAIExtractor implements Extractor {
  readonly model: string;
  /** What is sent of a document: its text, or page images too (part of the extraction fingerprint). */
  readonly inputMode: InputMode;
  readonly #client: OpenAI;
  readonly #options: OpenAIExtractorOptions;
  readonly #maxReasks: number;
  readonly #compiled = new WeakMap<object, Compiled>();
  readonly #explicitMode: ExtractionMode | undefined;
  #mode: ExtractionMode;
  /** Token log-probabilities are asked for (`confidence: "logprobs"`, until the provider rejects them). */
  #logprobs: boolean;
  readonly #prices: PriceTable;
  readonly #channel: ProviderChannel;
  /** Long documents: chunk plans, checkpoints, parallel chunks and their merge (chunkedExtraction.ts). */
  readonly #chunked: ChunkedExtraction;
  /** The room of a request in the context window: text budget, output budget, examples (promptRoom.ts). */
  readonly #room: PromptRoom;

  constructor(options: OpenAIExtractorOptions) {
    if (!options.model || typeof options.model !== 'string') {
      throw new ExtractionError(ErrorCodes.INVALID_CONFIG, 'No model is set. Choose a model (e.g. gpt-4o-mini) in the settings.');
    }
    if (!(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
      throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `The request timeout must be a positive number of milliseconds, got ${options.timeoutMs}.`);
    }
    const maxReasks = options.maxReasks ?? 2;
    if (!(Number.isInteger(maxReasks) && maxReasks >= 0)) {
      throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `maxReasks must be an integer ≥ 0, got ${maxReasks}.`);
    }
    positiveInt('maxOutputTokens', options.maxOutputTokens);
    positiveInt('maxOutputTokensCap', options.maxOutputTokensCap);
    positiveInt('contextTokens', options.contextTokens, 256);
    positiveInt('chunkConcurrency', options.chunkConcurrency);
    if (options.maxTokensParam !== undefined && !MAX_TOKENS_PARAMS.includes(options.maxTokensParam)) {
      throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `maxTokensParam must be one of ${MAX_TOKENS_PARAMS.join(', ')}; got ${JSON.stringify(options.maxTokensParam)}.`);
    }
    const mode = options.mode ?? 'auto';
    if (mode !== 'auto' && !EXTRACTION_MODES.includes(mode)) {
      throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `mode must be one of auto, ${EXTRACTION_MODES.join(', ')}; got ${JSON.stringify(mode)}.`);
    }
    this.model = options.model;
    this.#options = options;
    this.#maxReasks = maxReasks;
    this.#explicitMode = mode === 'auto' ? undefined : mode;
    this.#mode = this.#explicitMode ?? 'json_schema';
    this.#logprobs = options.confidence === 'logprobs';
    this.inputMode = checkInputMode(options.input);
    let limiter: RateLimiter;
    let breaker: CircuitBreaker;
    let backoff: RetryPolicy;
    try {
      if (options.price) validatePrice(options.model, options.price);
      this.#prices = options.prices instanceof PriceTable ? options.prices : new PriceTable(options.prices ?? {});
      limiter = options.rateLimit instanceof RateLimiter ? options.rateLimit : new RateLimiter(options.rateLimit ?? {});
      breaker = options.circuitBreaker instanceof CircuitBreaker ? options.circuitBreaker : new CircuitBreaker({ provider: `The provider at ${hostOf(options.baseURL)}`, ...options.circuitBreaker });
      backoff = validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...options.backoff });
      positiveInt('maxResponseBytes', options.maxResponseBytes);
    } catch (e) {
      if (e instanceof ExtractionError) throw e;
      throw new ExtractionError(ErrorCodes.INVALID_CONFIG, (e as Error).message);
    }
    this.#chunked = new ChunkedExtraction({
      cache: options.chunkCacheDir ? new ChunkCache(options.chunkCacheDir) : undefined,
      concurrency: options.chunkConcurrency ?? 3,
      overlapChars: options.chunkOverlapChars,
      model: this.model,
      mode: () => this.#mode,
      extractPart: (req) => this.#extractPart(req),
      partial: (schema, compiled) => this.#partial(schema, compiled),
      costOf: (tokensIn, tokensOut) => this.costOf(tokensIn, tokensOut),
    });
    this.#room = new PromptRoom({
      contextTokens: options.contextTokens ?? DEFAULT_CONTEXT_TOKENS,
      outputCap: Math.max(options.maxOutputTokensCap ?? DEFAULT_OUTPUT_CAP, options.maxOutputTokens ?? 0),
      maxOutputTokens: options.maxOutputTokens,
      maxReasks,
      mode: () => this.#mode,
    });
    const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#client = new OpenAI({
      apiKey: options.apiKey || 'no-api-key-set',
      ...(options.baseURL ? { baseURL: options.baseURL } : {}),
      maxRetries: 0,
      timeout: Math.max(1, Math.round(options.timeoutMs)),
      // the whole answer is read inside the timed fetch: a body that stalls times out, a huge one is refused
      fetch: options.fetch ? bufferedFetch(options.fetch, maxResponseBytes) : directFetch(maxResponseBytes),
    });
    this.#channel = new ProviderChannel({
      client: this.#client,
      model: this.model,
      limiter,
      breaker,
      backoff,
      // a request refused with 429s for as long as an outage may last fails
      maxRateLimitWaitMs: options.maxRateLimitWaitMs ?? DEFAULT_MAX_OUTAGE_MS,
      timeoutMs: options.timeoutMs,
      maxTokensParam: options.maxTokensParam ?? 'max_completion_tokens',
      context: () => this.#context(),
      ...(options.requestLog ? { requestLog: options.requestLog } : {}),
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
    });
  }

  /** One minimal request for the circuit breaker (see {@link ProviderChannel.probe}). */
  probe(signal?: AbortSignal): Promise<void> {
    return this.#channel.probe(signal);
  }

  /** The mode requests are sent in now (in `auto`, the one that last worked). */
  get mode(): ExtractionMode {
    return this.#mode;
  }

  get rateLimiter(): RateLimiter {
    return this.#channel.limiter;
  }

  get circuitBreaker(): CircuitBreaker {
    return this.#channel.breaker;
  }

  /** Cost of a number of tokens with the configured prices (0 for a model without a price). */
  costOf(tokensIn: number, tokensOut: number): number {
    return costWith(this.#options.price ?? this.#prices.priceOf(this.model), tokensIn, tokensOut);
  }

  /** Cost of tokens of another model (a classification model), by `price` or else the price table. */
  costOfModel(model: string, tokensIn: number, tokensOut: number, price?: ModelPrice): number {
    if (model === this.model && !price) return this.costOf(tokensIn, tokensOut);
    return costWith(price ?? this.#prices.priceOf(model), tokensIn, tokensOut);
  }

  /**
   * One request of another kind than an extraction (a classification), through this extractor's provider
   * channel: the same circuit breaker, rate limiter, 429 waits and request log.
   */
  send(body: ChatCompletionCreateParamsNonStreaming, options: SendOptions): Promise<ChatCompletion> {
    return this.#channel.send(body, options);
  }

  async extract(input: ExtractInput): Promise<ExtractOutput> {
    if (input.signal?.aborted) throw new CancelledError();
    const compiled = this.#compile(input.schema);
    const spend = new Spend();
    try {
      return await this.#extract(input, compiled, spend);
    } catch (err) {
      throw this.#withSpend(err, spend);
    }
  }

  async #extract(input: ExtractInput, compiled: Compiled, spend: Spend): Promise<ExtractOutput> {
    const doc = input.document;
    let key: string | undefined;
    const docKey = () => (key ??= documentKey({ text: doc.text, schema: input.schema, instructions: input.instructions, model: this.model }));
    let minChunks = await this.#chunked.planOf(docKey, input.attempt);
    // Most documents fit by their size in bytes alone (a token is at least a byte): no tokenizer needed.
    if (minChunks === undefined && (this.#room.fitsByBytes(input, compiled) || fitsTokens(doc.text, this.#room.textBudget(input, compiled)))) {
      try {
        const r = await this.#extractPart({ input, document: doc, compiled, spend });
        return {
          data: r.data,
          model: r.model,
          tokensIn: spend.tokensIn,
          tokensOut: spend.tokensOut,
          cost: this.costOf(spend.tokensIn, spend.tokensOut),
          requests: spend.requests,
          mode: r.mode,
          validatedAgainst: input.schema,
          ...(r.confidence ? { confidence: r.confidence } : {}),
          ...(r.examples ? { examples: r.examples } : {}),
        };
      } catch (e) {
        if (!(e instanceof TruncatedAtCap) || !canSplit(doc)) throw e;
        // The answer does not fit the output cap: extract in chunks from now on.
        minChunks = await this.#chunked.afterTruncation(docKey());
      }
    }
    return this.#chunked.extract(input, compiled, spend, this.#room.textBudget(input, compiled), docKey(), minChunks ?? 1);
  }

  /** One conversation: request, then re-asks / larger output budgets / mode fallbacks as needed. */
  async #extractPart(req: PartRequest): Promise<PartResult> {
    const { input, compiled, spend } = req;
    const { signal } = input;
    let mode = this.#mode;
    const examples = this.#room.examplesFor(input, compiled, req.document);
    const text = buildUserMessage({ path: input.path, document: req.document, instructions: input.instructions }, req.part, examples);
    const images = await pageImagesOf(this.inputMode, this.#options.pageImages, input.path, req.document);
    const user: ChatCompletionContentPart[] | string = images.length ? [{ type: 'text', text }, ...images.map(imagePart)] : text;
    const start = (): ChatCompletionMessageParam[] => [
      { role: 'system', content: systemPrompt(mode, compiled) },
      { role: 'user', content: user },
    ];
    let messages = start();
    let budget = this.#options.maxOutputTokens;
    let reasks = 0;
    let requests = 0;
    const requestsText = (): string => `${requests} request${requests === 1 ? '' : 's'}`;

    for (;;) {
      if (signal?.aborted) throw new CancelledError();
      // log-probabilities of a tool call's arguments are not returned: asked for in the content modes only
      const logprobs = this.#logprobs && mode !== 'tools';
      const body: ChatCompletionCreateParamsNonStreaming = {
        ...requestBody(mode, messages, compiled, {
          model: this.model,
          ...(this.#options.temperature !== undefined ? { temperature: this.#options.temperature } : {}),
          ...(budget !== undefined ? { maxOutputTokens: budget } : {}),
          ...(this.#options.maxTokensParam ? { maxTokensParam: this.#options.maxTokensParam } : {}),
        }),
        ...(logprobs ? { logprobs: true } : {}),
      };
      let response: ChatCompletion;
      requests++;
      try {
        response = await this.#channel.send(body, {
          mode,
          ...(signal ? { signal } : {}),
          origin: { path: input.path, runId: input.runId, attempt: input.attempt, ...(req.part ? { part: req.part.index } : {}) },
          onRequest: () => spend.add(0, 0, 1),
          rejected: (raw, e) =>
            images.length && rejectsImages(raw)
              ? imagesRejected(this.model, this.inputMode, e)
              : rejectsMode(raw, mode)
                ? new ModeRejected(mode, e)
                : logprobs && rejectsLogprobs(raw)
                  ? new LogprobsRejected(e.message)
                  : undefined,
        });
      } catch (e) {
        if (e instanceof LogprobsRejected) {
          this.#noLogprobs(e.message);
          continue;
        }
        if (e instanceof ModeRejected) {
          const next = this.#fallback(e.mode);
          if (!next) throw e.error;
          mode = next;
          messages = start();
          reasks = 0;
          continue;
        }
        throw e;
      }
      spend.add(response.usage?.prompt_tokens ?? 0, response.usage?.completion_tokens ?? 0, 0);

      const choice = response.choices?.[0];
      if (!choice) throw new ExtractionError(ErrorCodes.MALFORMED_OUTPUT, 'The model returned no answer (no choices in the response). Retrying usually helps.');
      if (choice.finish_reason === 'length') {
        if (spend.truncated() > MAX_TRUNCATIONS && spend.root.answers === 0) {
          // a model that cuts off every answer would otherwise cost dozens of requests per document (larger
          // budgets, chunks, halves); a long document whose pieces do get answered may split on
          throw new ExtractionError(
            ErrorCodes.TRUNCATED_OUTPUT,
            `The model's answers were cut off at the output token limit ${MAX_TRUNCATIONS + 1} times for this document, so it was given up. Raise maxOutputTokensCap (if the model allows more output), simplify the schema, or check the model's output limit.`,
            { retryable: false, details: { truncations: MAX_TRUNCATIONS + 1, rawReply: answerText(mode, choice.message).text, ...(req.part ? { part: req.part.index } : {}) } },
          );
        }
        const larger = this.#room.largerBudget(budget, response.usage?.completion_tokens, body);
        if (larger !== undefined) {
          budget = larger;
          continue;
        }
        const limit = budget ?? this.#options.maxOutputTokens;
        throw new TruncatedAtCap(
          ErrorCodes.TRUNCATED_OUTPUT,
          `The model's answer was cut off at the output token limit${limit ? ` (${limit} tokens)` : ''}. Raise the maximum output tokens or simplify the schema.`,
          { details: { maxOutputTokens: limit, rawReply: answerText(mode, choice.message).text, ...(req.part ? { part: req.part.index } : {}) } },
        );
      }
      spend.answered();
      const refusal = choice.message?.refusal;
      if (refusal || choice.finish_reason === 'content_filter') {
        throw new ExtractionError(ErrorCodes.MODEL_REFUSED, `The model refused to extract this document${refusal ? `: ${truncate(refusal, 200)}` : ' (content filter)'}.`, { retryable: false });
      }
      const answer = answerText(mode, choice.message);
      let parsed: unknown;
      try {
        parsed = parseAnswer(mode, answer.text);
      } catch (e) {
        if (mode === 'json_schema' || reasks >= this.#maxReasks) {
          throw new ExtractionError(ErrorCodes.MALFORMED_OUTPUT, `The model's answer is not valid JSON (${(e as Error).message}). Retrying usually helps.`, {
            details: { content: truncate(answer.text, 500), rawReply: answer.text },
          });
        }
        messages.push(...reaskMessages(mode, answer, notJsonMessage((e as Error).message)));
        reasks++;
        continue;
      }
      const result = compiled.validate(parsed);
      if (result.ok) {
        const tokens = logprobs ? choice.logprobs?.content : undefined;
        const confidence = tokens?.length ? logprobConfidences(answer.text, tokens) : undefined;
        return {
          data: result.data,
          model: response.model || this.model,
          mode,
          ...(confidence && Object.keys(confidence).length ? { confidence } : {}),
          ...(examples.length ? { examples: examples.map((e) => e.source) } : {}),
        };
      }
      if (reasks >= this.#maxReasks) {
        const shown = result.errors.slice(0, 5).join('; ');
        throw new ExtractionError(
          ErrorCodes.SCHEMA_MISMATCH,
          `The model's answer does not match the schema after ${requestsText()}${req.part ? ` (part ${req.part.index} of ${req.part.count})` : ''}: ${shown}${result.errors.length > 5 ? ` (and ${result.errors.length - 5} more)` : ''}.`,
          { details: { errors: result.errors, rawReply: answer.text } },
        );
      }
      messages.push(...reaskMessages(mode, answer, reaskMessage(result.errors)));
      reasks++;
    }
  }

  /** The provider refused `logprobs`: not asked again by this extractor; said once. */
  #noLogprobs(reason: string): void {
    if (!this.#logprobs) return;
    this.#logprobs = false;
    this.#options.onNotice?.(`The provider does not accept "logprobs" (${truncate(reason, 200)}): confidences come from grounding only.`);
  }

  /** In `auto`, the mode after `failed` (remembered for the instance); undefined when there is none. */
  #fallback(failed: ExtractionMode): ExtractionMode | undefined {
    if (this.#explicitMode) return undefined;
    if (this.#mode === failed) {
      const next = AUTO_FALLBACK[failed];
      if (!next) return undefined;
      this.#mode = next;
    }
    return this.#mode;
  }

  /** Adds the tokens and requests of the whole call to an error (they cost money even though it failed). */
  #withSpend(err: unknown, spend: Spend): unknown {
    if (err instanceof CancelledError || !(err instanceof ExtractionError)) return err;
    if (spend.requests === 0) return err;
    return new ExtractionError(err.code, err.message, {
      retryable: err.retryable,
      ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      ...(err.stage ? { stage: err.stage } : {}),
      cause: err.cause,
      details: { ...err.details, requests: spend.requests, ...(spend.tokensIn || spend.tokensOut ? { cost: this.costOf(spend.tokensIn, spend.tokensOut) } : {}) },
      tokensIn: spend.tokensIn,
      tokensOut: spend.tokensOut,
    });
  }

  #context(): ClassifyContext {
    return { apiKey: this.#options.apiKey, baseURL: this.#client.baseURL, model: this.model, timeoutMs: this.#options.timeoutMs };
  }

  #compile(schema: JsonSchema): Compiled {
    let c = this.#compiled.get(schema);
    if (!c) {
      const strict = toStrictSchema(schema);
      c = { strict, validate: createValidator(schema), name: schemaName(schema) };
      this.#compiled.set(schema, c);
    }
    return c;
  }

  #partial(schema: JsonSchema, compiled: Compiled): Compiled {
    if (!compiled.partial) {
      const partial = toPartialSchema(schema);
      compiled.partial = { strict: toStrictSchema(partial), validate: createValidator(partial), name: compiled.name };
    }
    return compiled.partial;
  }
}

/** A `json_schema.name`: letters, digits, `_` and `-`, at most 64 characters. */
function schemaName(schema: JsonSchema): string {
  const title = typeof schema.title === 'string' ? schema.title : '';
  const name = title.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
  return name || 'extraction';
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
