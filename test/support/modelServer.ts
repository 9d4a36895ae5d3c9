/**
 * A local OpenAI-compatible model server for tests (node:http, no framework).
 *
 *   const server = await startModelServer({ latencyMs: 5 });
 *   server.setScript('invoices/a.pdf', [{ status: 429, retryAfter: 1 }, { reply: { total: 12 } }]);
 *   new OpenAI({ baseURL: server.url, apiKey: 'test', maxRetries: 0 });
 *   ...
 *   await server.close();
 *
 * Endpoints: `POST /v1/chat/completions`, `GET /v1/models`. Answers are shaped like OpenAI's
 * (ids, usage, `{ error: { message, type, param, code } }` bodies, `retry-after` headers).
 *
 * Documents are identified by a line `Document: <path>` in the first user message (what
 * `OpenAIExtractor` sends). Each request consumes one step of that document's script; when it is
 * used up, the default script; then the default responder (`options.responder`, or a built-in one
 * that answers the smallest value valid for the request's JSON schema).
 *
 * Chunks of a long document also carry a line `Part: <k> of <n>`: their requests are recorded with
 * `part`/`parts`, and a script set for `<path>#<k>` is consumed before the document's own script.
 *
 * Provider capabilities (`options.supports`, `setSupports`): a server without `json_schema` /
 * `json_object` / `tools` answers requests that use them with a 400 naming the parameter, as older
 * OpenAI models, vLLM, Ollama or llama.cpp do. A request with `tools` gets its answer as a call of the
 * first tool (arguments = the reply's JSON), finish_reason 'stop' when `tool_choice` names it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options that any step may carry. */
export interface StepCommon {
  /** Delay before answering, ms (overrides the server's `latencyMs`). */
  latencyMs?: number;
  /**
   * The answer waits for this promise (then for the latency): a test holds a client on a request for as long
   * as it needs, and lets it go when it is done, instead of guessing a latency long enough.
   */
  holdUntil?: Promise<unknown>;
  /** Token counts to report instead of the estimated ones. */
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  /** finish_reason for `reply`/`content` steps (default 'stop'). */
  finishReason?: 'stop' | 'length' | 'content_filter' | 'tool_calls';
  /**
   * Token log-probabilities returned when the request asks for them (`logprobs: true`): the content is cut
   * into tokens (words, spaces, single punctuation marks); a token listed in `tokens` gets that
   * log-probability, every other one `default` (default 0: certain).
   */
  logprobs?: { default?: number; tokens?: Record<string, number> };
}

export type Step = StepCommon &
  (
    | { reply: unknown } // content = JSON.stringify(reply), finish_reason 'stop'
    | { content: string } // raw content
    | { status: number; retryAfter?: number | string; retryAfterMs?: number; code?: string | null; type?: string; message?: string }
    | { hang: true } // never answers; the request ends only when the client aborts (or the server closes)
    | { malformed: true } // content that is not valid JSON
    | { truncated: true; reply?: unknown } // half of the JSON, finish_reason 'length'
    | { refusal: string } // content null, message.refusal set
    | { reset: true } // destroys the socket without answering (connection error on the client)
    | { stall: true } // sends the headers and half of a good answer, then nothing more (until the client goes away)
  );

export interface RecordedRequest {
  /** 0-based arrival order. */
  index: number;
  method: string;
  path: string;
  /** Value of the `Document:` line, or '' when there is none. */
  document: string;
  /** Parsed JSON body (undefined for GET or an unparsable body). */
  body: ChatBody | undefined;
  /** Concatenated text of the first user message (the document text and instructions). */
  userText: string;
  headers: http.IncomingHttpHeaders;
  /** Date.now() when the body was received. */
  receivedAt: number;
  /** 1-based count of requests for this document so far (re-asks included). */
  attempt: number;
  /** 1-based chunk number from a `Part: <k> of <n>` line, when there is one. */
  part?: number;
  /** Chunk count from the `Part:` line. */
  parts?: number;
  /**
   * HTTP status of the answer once it was sent. Stays undefined while the request is in flight, and for
   * good when the client went away first (an aborted request: the model's work never reached the client).
   */
  status?: number;
}

export interface ChatMessage {
  role: string;
  content: string | Array<{ type: string; text?: string }> | null;
  tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

/** What the server accepts (all true by default). */
export interface ServerSupports {
  /** `response_format: { type: 'json_schema' }` (structured outputs). */
  jsonSchema?: boolean;
  /** `response_format: { type: 'json_object' }` (JSON mode). */
  jsonObject?: boolean;
  /** `tools` / `tool_choice` (function calling). */
  tools?: boolean;
  /** `logprobs: true` (token log-probabilities). */
  logprobs?: boolean;
}

export interface ChatTool {
  type: string;
  function?: { name?: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export interface ChatBody {
  model?: string;
  messages?: ChatMessage[];
  response_format?: { type: string; json_schema?: { name?: string; schema?: Record<string, unknown>; strict?: boolean } };
  tools?: ChatTool[];
  tool_choice?: unknown;
  temperature?: number;
  max_completion_tokens?: number;
  max_tokens?: number;
  [key: string]: unknown;
}

export type Responder = (req: RecordedRequest) => Step | Promise<Step>;

export interface ModelServerOptions {
  /** Default delay before every answer, ms. */
  latencyMs?: number;
  /** Answers requests no script covers. Default: the smallest value valid for the request's schema. */
  responder?: Responder;
  /** When set, requests must send `Authorization: Bearer <requireApiKey>` or get 401. */
  requireApiKey?: string;
  /** Model ids listed by GET /v1/models; when set, other models get 404 model_not_found. */
  models?: string[];
  /** Keep request bodies in `requests` (default true). Turn off for very large runs. */
  recordBodies?: boolean;
  /** Port to listen on (default 0: any free port). */
  port?: number;
  /** Features the server accepts (default: all). */
  supports?: ServerSupports;
}

export interface ModelServerStats {
  /** Chat completion requests received. */
  total: number;
  perDocument: Map<string, number>;
  /** Highest number of chat requests in flight at once. */
  maxConcurrency: number;
  /** Chat requests currently in flight. */
  inFlight: number;
  /** Highest number of requests of documents (with a `Document:` line; not probes) in flight at once. */
  maxDocumentConcurrency: number;
  documentsInFlight: number;
}

export interface ModelServer {
  /** Base URL ending in `/v1`, e.g. `http://127.0.0.1:41234/v1`. */
  readonly url: string;
  readonly port: number;
  /** Every chat completion request, in arrival order. */
  readonly requests: RecordedRequest[];
  readonly stats: ModelServerStats;
  /** Sets the default script (consumed by any document without its own steps left). */
  setScript(steps: Step[]): void;
  /** Sets the script of one document (its `Document:` path). */
  setScript(document: string, steps: Step[]): void;
  setResponder(responder: Responder | undefined): void;
  setLatency(ms: number): void;
  /** Changes the features the server accepts (missing fields: supported). */
  setSupports(supports: ServerSupports): void;
  /** Steps not yet consumed for a document ('*' for the default script). */
  remaining(document?: string): number;
  /** Requests for one document. */
  requestsFor(document: string): RecordedRequest[];
  /** Forgets scripts, recorded requests and stats (options stay). */
  reset(): void;
  /** Ends hanging requests, closes keep-alive connections and stops listening. */
  close(): Promise<void>;
}

const DEFAULT_SCRIPT = '*';

const ERROR_TEXTS: Record<number, { message: string; type: string; code: string | null }> = {
  400: { message: 'Invalid request: the request body could not be processed.', type: 'invalid_request_error', code: null },
  401: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { message: 'Country, region, or territory not supported', type: 'request_forbidden', code: 'unsupported_country_region_territory' },
  404: { message: 'The requested resource was not found.', type: 'invalid_request_error', code: null },
  408: { message: 'Request timed out.', type: 'timeout', code: null },
  409: { message: 'The request conflicted with another request. Please retry.', type: 'conflict', code: null },
  429: { message: 'Rate limit reached for requests. Please try again later.', type: 'requests', code: 'rate_limit_exceeded' },
  500: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', code: null },
  502: { message: 'Bad gateway.', type: 'server_error', code: null },
  503: { message: 'The engine is currently overloaded, please try again later.', type: 'server_error', code: null },
};

const QUOTA_ERROR = {
  message: 'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
  type: 'insufficient_quota',
  code: 'insufficient_quota',
};

/** Finds `Document: <path>` in a user message. */
export function parseDocumentLine(text: string): string {
  const m = /^Document: (.*)$/m.exec(text);
  return m ? m[1].trim() : '';
}

/** Finds `Part: <k> of <n>` (chunks of a long document) in a user message. */
export function parsePartLine(text: string): { part: number; parts: number } | undefined {
  const m = /^Part: (\d+) of (\d+)/m.exec(text);
  return m ? { part: Number(m[1]), parts: Number(m[2]) } : undefined;
}

/** The JSON schema a request asks for: its response format's, else its first tool's parameters. */
export function requestSchema(body: ChatBody | undefined): Record<string, unknown> | undefined {
  return body?.response_format?.json_schema?.schema ?? body?.tools?.find((t) => t.function?.parameters)?.function?.parameters;
}

function messageText(m: ChatMessage | undefined): string {
  if (!m || m.content == null) return '';
  if (typeof m.content === 'string') return m.content;
  return m.content.map((p) => p.text ?? '').join('');
}

/** Rough token estimate (4 characters a token), deterministic. */
function estimateTokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

/** The smallest value valid for a (strict) JSON schema: null where allowed, first enum value, '' / 0 / false / [] otherwise. */
export function sampleForSchema(schema: unknown, root: unknown = schema, depth = 0): unknown {
  if (!schema || typeof schema !== 'object' || depth > 32) return null;
  const s = schema as Record<string, unknown>;
  if (typeof s.$ref === 'string') {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(s.$ref);
    const target = s.$ref === '#' ? root : m ? ((root as Record<string, Record<string, unknown>>)[m[1]] ?? {})[m[2]] : undefined;
    return sampleForSchema(target, root, depth + 1);
  }
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  if (Array.isArray(s.anyOf)) {
    const nullBranch = (s.anyOf as Array<Record<string, unknown>>).find((b) => b.type === 'null');
    return nullBranch ? null : sampleForSchema(s.anyOf[0], root, depth + 1);
  }
  const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : [];
  if (types.includes('null')) return null;
  switch (types[0]) {
    case 'string':
      return '';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) out[k] = sampleForSchema(v, root, depth + 1);
      return out;
    }
    default:
      return null;
  }
}

const defaultResponder: Responder = (req) => {
  const schema = requestSchema(req.body);
  return { reply: schema ? sampleForSchema(schema) : {} };
};

/** `choices[0].logprobs` for a content: tokens (words, spaces, punctuation) and their log-probabilities (see {@link StepCommon.logprobs}). */
export function tokenLogprobs(content: string, step: StepCommon): { content: Array<{ token: string; logprob: number; bytes: number[]; top_logprobs: [] }>; refusal: null } {
  const tokens = content.match(/[\p{L}\p{N}_.]+|\s+|[^\p{L}\p{N}_.\s]/gu) ?? [];
  return {
    content: tokens.map((token) => ({ token, logprob: step.logprobs?.tokens?.[token] ?? step.logprobs?.default ?? 0, bytes: [...Buffer.from(token)], top_logprobs: [] })),
    refusal: null,
  };
}

export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  let latencyMs = options.latencyMs ?? 0;
  let responder: Responder = options.responder ?? defaultResponder;
  let supports: ServerSupports = { ...options.supports };
  const recordBodies = options.recordBodies ?? true;
  const scripts = new Map<string, Step[]>();
  const requests: RecordedRequest[] = [];
  const stats: ModelServerStats = { total: 0, perDocument: new Map(), maxConcurrency: 0, inFlight: 0, maxDocumentConcurrency: 0, documentsInFlight: 0 };
  const pending = new Set<NodeJS.Timeout>();
  const openResponses = new Set<http.ServerResponse>();
  let seq = 0;
  const created = Math.floor(Date.now() / 1000);

  function nextStep(document: string, part?: number): Step | undefined {
    for (const key of [...(part !== undefined ? [`${document}#${part}`] : []), document, DEFAULT_SCRIPT]) {
      const list = scripts.get(key);
      if (list && list.length > 0) return list.shift();
    }
    return undefined;
  }

  function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.destroyed || res.writableEnded) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-request-id': `req_${(++seq).toString(16).padStart(12, '0')}`,
      ...headers,
    });
    res.end(text);
  }

  function sendError(res: http.ServerResponse, status: number, err: { message: string; type: string; code: string | null; param?: string | null }, headers: Record<string, string> = {}): void {
    sendJson(res, status, { error: { message: err.message, type: err.type, param: err.param ?? null, code: err.code } }, headers);
  }

  function completion(body: ChatBody, promptChars: number, content: string | null, finish: string, step: StepCommon, refusal: string | null = null): unknown {
    const prompt = step.usage?.prompt_tokens ?? estimateTokens(promptChars);
    const completionTokens = step.usage?.completion_tokens ?? estimateTokens((content ?? refusal ?? '').length);
    const tool = refusal === null && content !== null ? body.tools?.find((t) => t.type === 'function' && t.function?.name) : undefined;
    const message = tool
      ? {
          role: 'assistant',
          content: null,
          refusal: null,
          annotations: [],
          tool_calls: [{ id: `call_${(++seq).toString(36)}`, type: 'function', function: { name: tool.function!.name!, arguments: content } }],
        }
      : { role: 'assistant', content, refusal, annotations: [] };
    // A forced tool_choice ends with 'stop' (as OpenAI answers); an optional tool call with 'tool_calls'.
    const finishReason = tool && finish === 'stop' && !(body.tool_choice && typeof body.tool_choice === 'object') ? 'tool_calls' : finish;
    return {
      id: `chatcmpl-${(++seq).toString(36)}${Math.random().toString(36).slice(2, 10)}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model ?? 'unknown',
      choices: [{ index: 0, message, logprobs: body.logprobs === true && typeof content === 'string' && !tool ? tokenLogprobs(content, step) : null, finish_reason: finishReason }],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completionTokens,
        total_tokens: prompt + completionTokens,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_test',
    };
  }

  function answer(res: http.ServerResponse, body: ChatBody, promptChars: number, step: Step): void {
    if ('reset' in step) {
      res.socket?.destroy();
      return;
    }
    if ('status' in step) {
      const status = step.status;
      const headers: Record<string, string> = {};
      if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
      if (step.retryAfterMs !== undefined) headers['retry-after-ms'] = String(step.retryAfterMs);
      let err: { message: string; type: string; code: string | null; param?: string | null };
      if (step.code === 'insufficient_quota') err = { ...QUOTA_ERROR };
      else if (step.code === 'model_not_found') {
        err = { message: `The model \`${body.model ?? ''}\` does not exist or you do not have access to it.`, type: 'invalid_request_error', code: 'model_not_found', param: 'model' };
      } else {
        const base = ERROR_TEXTS[status] ?? { message: `Error ${status}.`, type: status >= 500 ? 'server_error' : 'invalid_request_error', code: null };
        err = { ...base, ...(step.code !== undefined ? { code: step.code } : {}) };
      }
      if (step.type !== undefined) err.type = step.type;
      if (step.message !== undefined) err.message = step.message;
      if (status === 429 && err.code === 'rate_limit_exceeded') {
        headers['x-ratelimit-limit-requests'] = '500';
        headers['x-ratelimit-remaining-requests'] = '0';
      }
      sendError(res, status, err, headers);
      return;
    }
    if ('hang' in step) return; // the response stays open until the client goes away or close()
    if ('stall' in step) {
      const text = JSON.stringify(completion(body, promptChars, JSON.stringify(sampleForSchema(requestSchema(body)) ?? {}), 'stop', step));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, Math.floor(text.length / 2)));
      return; // the rest never comes
    }
    if ('refusal' in step) {
      sendJson(res, 200, completion(body, promptChars, null, 'stop', step, step.refusal));
      return;
    }
    if ('malformed' in step) {
      sendJson(res, 200, completion(body, promptChars, '{"result": {"value": 12, "unterminated": "oops', 'stop', step));
      return;
    }
    if ('truncated' in step) {
      const reply = step.reply ?? sampleForSchema(requestSchema(body)) ?? {};
      const full = JSON.stringify(reply);
      const half = full.slice(0, Math.max(1, Math.floor(full.length / 2)));
      const maxTokens = body.max_completion_tokens ?? body.max_tokens;
      sendJson(res, 200, completion(body, promptChars, half, 'length', { ...step, usage: { completion_tokens: maxTokens ?? undefined, ...step.usage } }));
      return;
    }
    const content = 'content' in step ? step.content : JSON.stringify(step.reply);
    sendJson(res, 200, completion(body, promptChars, content, step.finishReason ?? 'stop', step));
  }

  async function handleChat(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
    let body: ChatBody | undefined;
    try {
      body = JSON.parse(raw) as ChatBody;
    } catch {
      body = undefined;
    }
    const messages = Array.isArray(body?.messages) ? body!.messages! : [];
    const firstUser = messages.find((m) => m.role === 'user');
    const userText = messageText(firstUser);
    const document = parseDocumentLine(userText);
    const part = parsePartLine(userText);
    const count = (stats.perDocument.get(document) ?? 0) + 1;
    stats.perDocument.set(document, count);
    stats.total++;
    const record: RecordedRequest = {
      index: requests.length,
      method: req.method ?? 'POST',
      path: req.url ?? '',
      document,
      body: recordBodies ? body : undefined,
      userText: recordBodies ? userText : '',
      headers: req.headers,
      receivedAt: Date.now(),
      attempt: count,
      ...(part ? { part: part.part, parts: part.parts } : {}),
    };
    requests.push(record);
    res.once('finish', () => (record.status = res.statusCode));
    if (document) {
      stats.documentsInFlight++;
      stats.maxDocumentConcurrency = Math.max(stats.maxDocumentConcurrency, stats.documentsInFlight);
      let counted = true;
      const end = (): void => {
        if (counted) stats.documentsInFlight--;
        counted = false;
      };
      res.once('finish', end);
      res.once('close', end);
    }

    if (options.requireApiKey !== undefined) {
      const auth = req.headers.authorization ?? '';
      const given = auth.replace(/^Bearer\s+/i, '');
      if (given !== options.requireApiKey) {
        // Echo the key given (unmasked) so tests can check that clients never repeat it.
        sendError(res, 401, { message: `Incorrect API key provided: ${given}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: 'invalid_request_error', code: 'invalid_api_key' });
        return;
      }
    }
    if (!body || messages.length === 0) {
      sendError(res, 400, { message: body ? "Missing required parameter: 'messages'." : 'We could not parse the JSON body of your request.', type: 'invalid_request_error', code: null, param: body ? 'messages' : null });
      return;
    }
    if (options.models && !options.models.includes(body.model ?? '')) {
      sendError(res, 404, { message: `The model \`${body.model ?? ''}\` does not exist or you do not have access to it.`, type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
      return;
    }

    const unsupported = unsupportedFeature(body);
    if (unsupported) {
      sendError(res, 400, unsupported);
      return;
    }

    const step = nextStep(document, part?.part) ?? (await responder({ ...record, body, userText }));
    const delay = step.latencyMs ?? latencyMs;
    const promptChars = messages.reduce((n, m) => n + messageText(m).length, 0);
    if (step.holdUntil) await Promise.race([step.holdUntil, new Promise<void>((resolve) => res.once('close', () => resolve()))]);
    if (delay > 0 && !('hang' in step) && !('stall' in step)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          pending.delete(t);
          resolve();
        }, delay);
        pending.add(t);
        res.once('close', () => {
          clearTimeout(t);
          pending.delete(t);
          resolve();
        });
      });
    }
    answer(res, body, promptChars, step);
  }

  function unsupportedFeature(body: ChatBody): { message: string; type: string; code: string | null; param?: string | null } | undefined {
    if (body.logprobs !== undefined && supports.logprobs === false) {
      return { message: 'logprobs is not supported by this model', type: 'invalid_request_error', code: null, param: 'logprobs' };
    }
    const format = body.response_format?.type;
    if ((format === 'json_schema' && supports.jsonSchema === false) || (format === 'json_object' && supports.jsonObject === false)) {
      return { message: `Invalid parameter: 'response_format' of type '${format}' is not supported with this model.`, type: 'invalid_request_error', code: null, param: 'response_format' };
    }
    if (Array.isArray(body.tools) && body.tools.length > 0 && supports.tools === false) {
      return { message: `${body.model ?? 'This model'} does not support tools`, type: 'invalid_request_error', code: null, param: 'tools' };
    }
    return undefined;
  }

  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    if (req.method === 'POST' && /\/v1\/chat\/completions\/?$/.test(url)) {
      stats.inFlight++;
      stats.maxConcurrency = Math.max(stats.maxConcurrency, stats.inFlight);
      openResponses.add(res);
      let done = false;
      const finished = (): void => {
        if (done) return;
        done = true;
        stats.inFlight--;
        openResponses.delete(res);
      };
      res.once('finish', finished); // answered (before the client can send its next request)
      res.once('close', finished); // or the client went away
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        handleChat(req, res, Buffer.concat(chunks).toString('utf8')).catch((e: unknown) => {
          sendError(res, 500, { message: `Test server error: ${(e as Error)?.message ?? String(e)}`, type: 'server_error', code: null });
        });
      });
      return;
    }
    req.resume();
    if (req.method === 'GET' && /\/v1\/models\/?$/.test(url)) {
      if (options.requireApiKey !== undefined && (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '') !== options.requireApiKey) {
        sendError(res, 401, { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' });
        return;
      }
      const ids = options.models ?? ['gpt-4o-mini', 'gpt-4o', 'test-model'];
      sendJson(res, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created, owned_by: 'test' })) });
      return;
    }
    sendError(res, 404, { message: `Invalid URL (${req.method} ${url})`, type: 'invalid_request_error', code: null });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.requestTimeout = 0; // hanging requests are a feature here
  server.maxRequestsPerSocket = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  function setScript(a: string | Step[], b?: Step[]): void {
    if (Array.isArray(a)) scripts.set(DEFAULT_SCRIPT, [...a]);
    else scripts.set(a, [...(b ?? [])]);
  }

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    stats,
    setScript: setScript as ModelServer['setScript'],
    setResponder(r) {
      responder = r ?? options.responder ?? defaultResponder;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    setSupports(s) {
      supports = { ...s };
    },
    remaining(document = DEFAULT_SCRIPT) {
      return scripts.get(document)?.length ?? 0;
    },
    requestsFor(document) {
      return requests.filter((r) => r.document === document);
    },
    reset() {
      scripts.clear();
      requests.length = 0;
      stats.total = 0;
      stats.perDocument.clear();
      stats.maxConcurrency = stats.inFlight;
      stats.maxDocumentConcurrency = stats.documentsInFlight;
    },
    async close() {
      for (const t of pending) clearTimeout(t);
      pending.clear();
      for (const res of openResponses) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
