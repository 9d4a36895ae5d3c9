/**
 * A synchronous stand-in for `DecompressionStream`, installed in the PDF worker thread only.
 *
 * Why: pdf.js 5.x inflates every FlateDecode stream (content streams, embedded fonts, cMaps) through
 * `new DecompressionStream('deflate')` when the global exists. In Node that is a WHATWG stream adapter
 * over an async zlib Transform: per stream a writable + readable web stream pair, a zlib handle, a
 * thread-pool round trip and several promise hops. Profiled on real PDFs this was ~11 % of the worker's
 * CPU time, most of it adapter overhead rather than inflating. Our input is always a complete buffer,
 * so one `zlib.inflateSync` call does the same work.
 *
 * Same output: the same zlib with the same defaults as Node's `DecompressionStream` (which wraps
 * `zlib.createInflate()`); on corrupt or truncated data the iteration throws like the real stream, and
 * pdf.js then falls back to its own lenient JavaScript inflater exactly as before. Formats Node does
 * not support (pdf.js probes `brotli`) throw at construction like the real class.
 *
 * It implements only what pdf.js (pinned version, see package.json) uses: `writable.getWriter()`
 * with `ready` / `write()` / `close()`, and async iteration of `readable`.
 *
 * Memory: the output may not pass the worker's limit for decoded data (decodeBudget.ts). zlib stops at
 * `maxOutputLength`; the stream then fails like a corrupt one, and since the refusal is sticky, pdf.js'
 * fallback inflater is refused at its first buffer too — a flate bomb costs at most the limit.
 */
import * as zlib from 'zlib';
import { inflateAllowance, inflateRefused } from './decodeBudget';

type Inflate = (buf: Uint8Array, options: zlib.ZlibOptions) => Buffer;

const INFLATERS: Record<string, Inflate> = {
  deflate: (b, o) => zlib.inflateSync(b, o),
  'deflate-raw': (b, o) => zlib.inflateRawSync(b, o),
  gzip: (b, o) => zlib.gunzipSync(b, o),
};

/** zlib's own cap on `maxOutputLength`. */
const MAX_OUTPUT = 4 * 1024 * 1024 * 1024;

/**
 * Inflates within the decode budget: a first try with what is left; when cut off, a second one after a
 * garbage collection (buffers of earlier pages may still be counted); then the budget's error.
 */
export function inflateWithinBudget(inflate: Inflate, input: Uint8Array): Buffer {
  for (let attempt = 0; ; attempt++) {
    const allowance = inflateAllowance(attempt > 0);
    if (allowance < 1) throw inflateRefused(0);
    try {
      return inflate(input, allowance >= MAX_OUTPUT ? {} : { maxOutputLength: allowance });
    } catch (err) {
      if ((err as NodeJS.ErrnoException)?.code !== 'ERR_BUFFER_TOO_LARGE' || allowance >= MAX_OUTPUT) throw err;
      if (attempt > 0) throw inflateRefused(allowance);
    }
  }
}

export class SyncDecompressionStream {
  readonly writable: { getWriter(): SyncWriter };
  readonly readable: AsyncIterable<Uint8Array>;

  constructor(format: string) {
    const inflate = INFLATERS[format];
    if (!inflate) throw new TypeError(`Unsupported compression format: '${format}'`);
    const chunks: Uint8Array[] = [];
    let closed = false;
    let onClose!: () => void;
    const whenClosed = new Promise<void>((resolve) => (onClose = resolve));
    const writer: SyncWriter = {
      ready: Promise.resolve(),
      write(chunk: Uint8Array) {
        if (closed) return Promise.reject(new TypeError('write after close'));
        chunks.push(chunk);
        return Promise.resolve();
      },
      close() {
        closed = true;
        onClose();
        return Promise.resolve();
      },
    };
    this.writable = { getWriter: () => writer };
    this.readable = {
      async *[Symbol.asyncIterator]() {
        // pdf.js writes once and closes a few microtasks later: all input is there once closed
        await whenClosed;
        const input = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        const out = inflateWithinBudget(inflate, input);
        yield new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      },
    };
  }
}

interface SyncWriter {
  ready: Promise<void>;
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Replaces `globalThis.DecompressionStream` in this thread (the PDF worker). */
export function installSyncDecompressionStream(): void {
  (globalThis as Record<string, unknown>).DecompressionStream = SyncDecompressionStream;
}
