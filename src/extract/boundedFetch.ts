/**
 * The `fetch` the extractor gives the `openai` client: it reads the whole answer before it resolves, so the
 * client's request timeout (which ends when `fetch` resolves) also covers a body that stalls half-way, and it
 * refuses answers over a size bound instead of buffering whatever a server sends.
 *
 * By default requests go through undici's `request` (Node's own HTTP client, the one under the global
 * `fetch`) rather than through `fetch` itself: the WHATWG layer — a Request, streams for both bodies, the
 * fetch algorithm's bookkeeping — cost ~0.5 ms of CPU per request here (measured: 2,000 requests through the
 * openai client, 2.8 s of CPU with the global `fetch`, 1.8 s through `request`), which at a local model's
 * speed is a large part of a document's cost. The client still gets a standard `Response`.
 */
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Agent, Dispatcher } from 'undici';

/** An answer larger than the extractor accepts. */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(readonly limit: number) {
    super(`the answer is larger than ${Math.round(limit / 1024 / 1024)} MiB`);
  }
}

/**
 * A `fetch` that reads the whole body before it resolves, so the client's request timeout (which ends when
 * `fetch` resolves) also covers a body that stalls half-way, and that refuses bodies over `maxBytes`.
 */
export function bufferedFetch(inner: typeof fetch, maxBytes: number): typeof fetch {
  return async (input, init) => {
    const res = await inner(input, init);
    if (!res.body) return res;
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) {
      await res.body.cancel().catch(() => undefined);
      throw new ResponseTooLargeError(maxBytes);
    }
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new ResponseTooLargeError(maxBytes);
      }
      chunks.push(value);
    }
    const headers = new Headers(res.headers);
    headers.delete('content-encoding'); // already decoded
    headers.delete('content-length');
    return new BufferedResponse(Buffer.concat(chunks), { status: res.status, statusText: res.statusText, headers });
  };
}

/**
 * A `Response` whose body is already in memory: `text()` and `json()` (what the openai client calls) read
 * the bytes directly instead of through a stream — a web stream per answer cost ~0.15 ms of CPU, measured
 * over 2,000 answers. `body` is still a stream, made when asked for; reading the body twice fails as it does
 * for any `Response`.
 */
export class BufferedResponse extends Response {
  readonly #bytes: Buffer<ArrayBuffer> | null;
  readonly #init: ResponseInit;
  #used = false;
  #stream: ReadableStream<Uint8Array<ArrayBuffer>> | null | undefined;

  constructor(bytes: Buffer<ArrayBuffer> | null, init: ResponseInit) {
    super(null, init);
    this.#bytes = NULL_BODY.has(init.status ?? 200) ? null : bytes;
    this.#init = init;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this.#stream === undefined) {
      const bytes = this.#bytes;
      this.#stream = bytes === null ? null : new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array(bytes)), c.close()) });
    }
    return this.#stream;
  }

  override get bodyUsed(): boolean {
    return this.#used || (this.#stream?.locked ?? false);
  }

  #take(): Buffer<ArrayBuffer> {
    if (this.bodyUsed) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    return this.#bytes ?? Buffer.alloc(0);
  }

  override async text(): Promise<string> {
    return this.#take().toString('utf8');
  }

  override async json(): Promise<unknown> {
    return JSON.parse(this.#take().toString('utf8'));
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.#take();
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.arrayBuffer());
  }

  override async blob(): Promise<Blob> {
    return new Blob([this.#take()], { type: this.headers.get('content-type') ?? '' });
  }

  override async formData(): Promise<FormData> {
    return new Response(this.#take(), this.#init).formData();
  }

  override clone(): Response {
    if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
    return new BufferedResponse(this.#bytes, { status: this.status, statusText: this.statusText, headers: new Headers(this.headers) });
  }
}

/**
 * The connections every direct fetch shares (keep-alive per origin, as the global `fetch` has). No header or
 * body timeout of its own: the client's request timeout, through the abort signal, is the one that applies
 * (undici's 300 s defaults would cut a slow local model's answer that the configured timeout allows).
 */
let sharedAgent: Agent | undefined;
function agent(): Agent {
  if (!sharedAgent) {
    // loaded when the first request is sent, not when a command that sends none starts
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Agent } = require('undici') as typeof import('undici');
    sharedAgent = new Agent({ headersTimeout: 0, bodyTimeout: 0, maxRedirections: 20 });
  }
  return sharedAgent;
}

/** Statuses whose answer has no body (a `Response` with one is refused). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A bounded, buffering `fetch` (as {@link bufferedFetch}) that sends requests with undici's `request`. What
 * it cannot send that way (a `Request` object, a streamed or form body: the extractor sends none) goes
 * through `fallback`. Redirects are followed, as `fetch` does; a compressed answer (a server may compress
 * when the request names no encoding) is decoded, the bound applying to the decoded size.
 */
export function directFetch(maxBytes: number, fallback: typeof fetch = fetch, dispatcherOf: () => Dispatcher = agent): typeof fetch {
  const viaFallback = bufferedFetch(fallback, maxBytes);
  return async (input, init = {}) => {
    const body = init.body;
    if (input instanceof Request || !(body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array)) return viaFallback(input, init);
    const url = input instanceof URL ? input : new URL(String(input));
    // as fetch does; the message leaves the URL out (it would show the password)
    if (url.username || url.password) throw new TypeError('The URL includes credentials (user:password@host): fetch refuses such URLs; give the key as the API key instead.');
    const res = await dispatcherOf().request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: headerRecord(init.headers),
      body: body ?? undefined,
      signal: init.signal ?? undefined,
    });
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes && !res.headers['content-encoding']) {
      res.body.on('error', () => undefined).destroy(); // closes the connection (undici reports that as an error)
      throw new ResponseTooLargeError(maxBytes);
    }
    const decoded = decodedBody(res.body, res.headers['content-encoding']);
    let bytes: Buffer<ArrayBuffer>;
    try {
      bytes = await readBounded(decoded ?? res.body, maxBytes);
    } catch (err) {
      res.body.destroy(); // the connection is not reused with an answer half read
      throw err;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined || (decoded && (name === 'content-encoding' || name === 'content-length'))) continue;
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else headers.set(name, value);
    }
    return new BufferedResponse(bytes, { status: res.statusCode, headers });
  };
}

/** A request's headers as undici's `request` takes them. */
function headerRecord(headers: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  if (headers instanceof Headers) headers.forEach((value, name) => (out[name] = value));
  else if (Array.isArray(headers)) for (const [name, value] of headers) out[name.toLowerCase()] = value;
  else for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

/** The body decoded, for an answer with a content encoding (undefined: none, or one left as is). */
function decodedBody(body: Readable, encoding: string | string[] | undefined): Readable | undefined {
  const coding = (Array.isArray(encoding) ? encoding.join(',') : (encoding ?? '')).trim().toLowerCase();
  const decoder = coding === 'gzip' || coding === 'x-gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : coding === 'br' ? createBrotliDecompress() : undefined;
  if (!decoder) return undefined;
  body.on('error', (err) => decoder.destroy(err));
  return body.pipe(decoder);
}

/** All of `stream`, refused (and the stream destroyed) past `maxBytes`. */
function readBounded(stream: Readable, maxBytes: number): Promise<Buffer<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer<ArrayBuffer>[] = []; // a stream's chunks: never on shared memory
    let total = 0;
    stream.on('data', (chunk: Buffer<ArrayBuffer>) => {
      total += chunk.byteLength;
      if (total > maxBytes) {
        stream.destroy();
        reject(new ResponseTooLargeError(maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)));
    stream.once('error', reject);
    stream.once('close', () => reject(new Error('the answer ended before it was complete')));
  });
}
