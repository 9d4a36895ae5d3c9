/**
 * The `fetch` the extractor gives the `openai` client: it reads the whole answer before it resolves, so the
 * client's request timeout (which ends when `fetch` resolves) also covers a body that stalls half-way, and it
 * refuses answers over a size bound instead of buffering whatever a server sends.
 */

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
    return new Response(Buffer.concat(chunks), { status: res.status, statusText: res.statusText, headers });
  };
}
