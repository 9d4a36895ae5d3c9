/**
 * Turning what the `openai` client throws into {@link ExtractionError}s with stable codes (see
 * `src/core/errors.ts`), clear messages that say what to do, the delay a 429 asked for, and never the API key.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAIError } from 'openai';
import { CancelledError, ErrorCodes, ExtractionError, isAbortError, toExtractionError } from '../core/errors';
import { parseRetryAfter } from '../core/retry';
import { redactSecrets } from './redact';

/** Context that makes error messages specific; `apiKey` is only used to scrub it from messages. */
export interface ClassifyContext {
  apiKey?: string;
  baseURL?: string;
  model?: string;
  timeoutMs?: number;
}

export function hostOf(baseURL: string | undefined): string {
  if (!baseURL) return 'the model server';
  try {
    const u = new URL(baseURL);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, '')}`; // no user:password, no query
  } catch {
    return 'the model server';
  }
}

function serverMessage(err: APIError, apiKey?: string): string {
  const body = err.error as { message?: unknown } | undefined;
  const raw = typeof body?.message === 'string' ? body.message : '';
  return raw ? truncate(redactSecrets(raw, apiKey), 300) : '';
}

/** The most telling part of a connection error: an errno-style code (ECONNREFUSED…) or the innermost message. */
function connectionCause(err: unknown): string {
  let cur: unknown = (err as { cause?: unknown })?.cause;
  let innermost: string | undefined;
  const seen = new Set<unknown>();
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    const message = (cur as { message?: unknown }).message;
    if (typeof message === 'string' && message !== '' && message !== 'fetch failed') innermost = message;
    cur = (cur as { cause?: unknown }).cause;
  }
  return truncate(innermost ?? (err as Error)?.message ?? 'connection failed', 200);
}

/** The first error named `name` in `err`'s cause chain. */
function causeNamed(err: unknown, name: string): Error | undefined {
  const seen = new Set<unknown>();
  for (let cur: unknown = err; cur && typeof cur === 'object' && !seen.has(cur); cur = (cur as { cause?: unknown }).cause) {
    seen.add(cur);
    if ((cur as Error).name === name) return cur as Error;
  }
  return undefined;
}

/** A plain error carrying only the scrubbed message, kept as `cause` (the original may hold secrets). */
function safeCause(err: unknown, apiKey?: string): Error {
  const e = new Error(redactSecrets((err as Error)?.message ?? String(err), apiKey));
  e.name = (err as Error)?.name ?? 'Error';
  return e;
}

/**
 * Turns anything the `openai` client throws into an {@link ExtractionError} with a stable code
 * (see `src/core/errors.ts`), a clear message that says what to do, and — for 429 — the delay the
 * server asked for. Messages never contain the API key.
 */
export function classifyOpenAIError(err: unknown, ctx: ClassifyContext = {}): ExtractionError {
  if (err instanceof ExtractionError) return err;
  if (err instanceof APIUserAbortError || isAbortError(err)) return new CancelledError();
  const key = ctx.apiKey;
  const cause = safeCause(err, key);
  const make = (code: string, message: string, extra: { retryAfterMs?: number; details?: Record<string, unknown>; retryable?: boolean } = {}): ExtractionError =>
    new ExtractionError(code, redactSecrets(message, key), { cause, ...extra });

  if (err instanceof APIConnectionTimeoutError) {
    return make(
      ErrorCodes.TIMEOUT,
      `The model did not answer within ${ctx.timeoutMs !== undefined ? `${ctx.timeoutMs} ms` : 'the request timeout'}. Retrying may help; for long documents raise the request timeout.`,
    );
  }
  const tooLarge = causeNamed(err, 'ResponseTooLargeError');
  if (tooLarge) {
    return make(ErrorCodes.MALFORMED_OUTPUT, `The model server sent an answer that is too large (${tooLarge.message}); it was not read. Check the server or the model's output limit.`);
  }
  if (err instanceof APIConnectionError) {
    return make(ErrorCodes.NETWORK, `Could not reach ${hostOf(ctx.baseURL)} (${connectionCause(err)}). Check the base URL, proxy settings and network connection.`);
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const status = err.status;
    const msg = serverMessage(err, key);
    const said = msg ? ` Server said: ${msg}` : '';
    const code = String(err.code ?? '');
    const type = String(err.type ?? '');
    const model = ctx.model ? `'${ctx.model}'` : 'the configured model';
    const details = { status, ...(code ? { providerCode: code } : {}), ...(err.requestID ? { requestId: err.requestID } : {}) };
    switch (true) {
      case status === 401:
        return make(
          ErrorCodes.AUTH_FAILED,
          `${key ? 'The API key was rejected (401)' : 'No API key is set (401)'}. Set a valid key with 'Extraction Workbench: Set API Key' or OPENAI_API_KEY.`,
          { details },
        );
      case status === 403:
        return make(ErrorCodes.FORBIDDEN, `Access denied (403): the API key may not use ${model}, this project or this region.${said}`, { details });
      case status === 404 && (code === 'model_not_found' || /model/i.test(msg)):
        return make(ErrorCodes.UNKNOWN_MODEL, `The model ${model} does not exist or this API key has no access to it (404). Choose another model in the settings.`, { details });
      case status === 404:
        return make(ErrorCodes.INVALID_CONFIG, `The endpoint was not found at ${hostOf(ctx.baseURL)} (404). Check the base URL (it usually ends in /v1).${said}`, { details, retryable: false });
      case status === 408:
        return make(ErrorCodes.REQUEST_TIMEOUT, `The server timed out waiting for the request (408). It will be retried.${said}`, { details });
      case status === 409:
        return make(ErrorCodes.CONFLICT, `The request conflicted with another one (409). It will be retried.${said}`, { details });
      case status === 413:
        return make(ErrorCodes.TOO_LARGE, `The request is too large for the server (413). Split the document or use a model with a larger context.`, { details });
      case status === 429 && (code === 'insufficient_quota' || type === 'insufficient_quota'):
        return make(ErrorCodes.QUOTA_EXCEEDED, 'The API account has run out of quota (429 insufficient_quota). Check the plan and billing details with the provider; retrying will not help.', {
          details,
        });
      case status === 429: {
        const retryAfterMs = parseRetryAfter(err.headers);
        const wait = retryAfterMs !== undefined ? ` The server asked to wait ${formatMs(retryAfterMs)}.` : '';
        return make(ErrorCodes.RATE_LIMITED, `Rate limited by the provider (429).${wait} Lower the concurrency if this keeps happening.${said}`, {
          details,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        });
      }
      case status >= 500:
        return make(ErrorCodes.SERVER_ERROR, `The model server failed (${status}); this is usually temporary and will be retried.${said}`, { details });
      case status === 400 && (code === 'context_length_exceeded' || /context length|maximum context|too many tokens/i.test(msg)):
        return make(ErrorCodes.TOO_LARGE, `The document is too long for ${model}'s context window (400). Use a model with a larger context or split the document.${said}`, { details });
      default:
        return make(ErrorCodes.BAD_REQUEST, `The model server rejected the request (${status}). Check the model, schema and options.${said}`, { details });
    }
  }
  if (err instanceof OpenAIError) {
    return make(ErrorCodes.INVALID_CONFIG, `The OpenAI client could not send the request: ${(err as Error).message}`, { retryable: false });
  }
  const e = toExtractionError(err);
  return new ExtractionError(e.code, redactSecrets(e.message, key), { retryable: e.retryable, cause, details: e.details });
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms)} ms`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
