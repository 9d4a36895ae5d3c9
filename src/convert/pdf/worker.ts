/**
 * PDF worker thread (bundled to `dist/pdfWorker.js`). Loads the pdf.js legacy build once, then
 * converts one PDF per `convert` message: text per page in reading order (see layout.ts), page
 * boundaries, and a position span (page + viewport box) per text item.
 *
 * No network access: the bytes come in the message; cMaps and standard fonts are read from disk
 * (`workerData.assetsDir`). pdf.js' own "worker" runs in-thread (fake worker) — this thread is the
 * isolation boundary, the pool terminates it on timeout.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parentPort, workerData } from 'worker_threads';
import { ErrorCodes } from '../../core/errors';
import type { ConvertedDocument, PageInfo, PositionSpan } from '../types';
import { layoutPage, type LayoutItem } from './layout';
import type { WorkerErrorPayload, WorkerInit, WorkerRequest, WorkerResponse } from './protocol';

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');

/** pdf.js 5.x runs `new DOMMatrix()` at import when @napi-rs/canvas is absent; text extraction never uses it. */
function installDomMatrixStub(): void {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.DOMMatrix !== 'undefined') return;
  class DOMMatrixStub {
    a = 1; b = 0; c = 0; d = 1; e = 0; f = 0;
    constructor(init?: number[]) {
      if (Array.isArray(init) && init.length >= 6) [this.a, this.b, this.c, this.d, this.e, this.f] = init;
    }
    multiplySelf(): this { return this; }
    preMultiplySelf(): this { return this; }
    translate(): this { return this; }
    translateSelf(): this { return this; }
    scale(): this { return this; }
    scaleSelf(): this { return this; }
    invertSelf(): this { return this; }
    multiply(): this { return this; }
    inverse(): this { return this; }
  }
  g.DOMMatrix = DOMMatrixStub;
}

/**
 * The legacy build's core-js polyfills *replace* a few built-ins that Node 20 already has (they fail
 * core-js' strictness probes): `Array.prototype.push` (a JS version, ~25 % slower text extraction),
 * `JSON.parse`, `JSON.stringify`. Put the native ones back after import; polyfills for missing
 * built-ins (Promise.withResolvers, Uint8Array.prototype.toHex, …) stay.
 */
function restoreNatives(): () => void {
  const saved: [object, PropertyKey, PropertyDescriptor | undefined][] = [
    [Array.prototype, 'push', Object.getOwnPropertyDescriptor(Array.prototype, 'push')],
    [JSON, 'parse', Object.getOwnPropertyDescriptor(JSON, 'parse')],
    [JSON, 'stringify', Object.getOwnPropertyDescriptor(JSON, 'stringify')],
  ];
  return () => {
    for (const [target, key, desc] of saved) {
      if (desc && Object.getOwnPropertyDescriptor(target, key)?.value !== desc.value) Object.defineProperty(target, key, desc);
    }
  };
}

let pdfjsPromise: Promise<PdfJs> | undefined;
function loadPdfjs(): Promise<PdfJs> {
  pdfjsPromise ??= (async () => {
    installDomMatrixStub();
    const restore = restoreNatives();
    try {
      // Registers globalThis.pdfjsWorker, so pdf.js sets up its in-thread worker without importing a file.
      await import('pdfjs-dist/legacy/build/pdf.worker.mjs');
      return await import('pdfjs-dist/legacy/build/pdf.mjs');
    } finally {
      restore();
    }
  })();
  return pdfjsPromise;
}

/**
 * Keeps cMaps and standard font files in memory across documents (pdf.js would read them from disk
 * again for every document). Same interface as pdf.js' NodeBinaryDataFactory.
 */
const binaryCache = new Map<string, Promise<Uint8Array>>();
class CachedBinaryDataFactory {
  cMapUrl: string | null;
  standardFontDataUrl: string | null;
  wasmUrl: string | null;
  constructor({ cMapUrl = null, standardFontDataUrl = null, wasmUrl = null }: { cMapUrl?: string | null; standardFontDataUrl?: string | null; wasmUrl?: string | null }) {
    this.cMapUrl = cMapUrl;
    this.standardFontDataUrl = standardFontDataUrl;
    this.wasmUrl = wasmUrl;
  }
  async fetch({ kind, filename }: { kind: 'cMapUrl' | 'standardFontDataUrl' | 'wasmUrl'; filename: string }): Promise<Uint8Array> {
    const base = this[kind];
    if (!base) throw new Error(`Ensure that the \`${kind}\` API parameter is provided.`);
    const file = `${base}${filename}`;
    let p = binaryCache.get(file);
    if (!p) {
      p = fs.promises.readFile(file).then((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      binaryCache.set(file, p);
      p.catch(() => binaryCache.delete(file));
    }
    try {
      return (await p).slice(); // a copy: pdf.js may transfer (detach) what it gets
    } catch {
      throw new Error(`Unable to load ${kind === 'cMapUrl' ? 'CMap' : 'font'} data at: ${file}`);
    }
  }
}

function dirUrl(dir: string): string {
  return dir.endsWith(path.sep) || dir.endsWith('/') ? dir : dir + path.sep;
}

class ConvertFailure extends Error {
  constructor(readonly payload: WorkerErrorPayload) {
    super(payload.message);
  }
}

function classify(err: unknown): WorkerErrorPayload {
  if (err instanceof ConvertFailure) return err.payload;
  const e = err as { name?: string; message?: string; code?: number };
  const message = e?.message ?? String(err);
  switch (e?.name) {
    case 'PasswordException':
      return {
        code: ErrorCodes.PDF_ENCRYPTED,
        message: `PDF is password-protected (${e.code === 2 ? 'incorrect password' : 'password required'})`,
        details: { reason: e.code === 2 ? 'incorrect-password' : 'password-required' },
      };
    case 'InvalidPDFException':
    case 'FormatError':
    case 'UnknownErrorException':
    case 'MissingPDFException':
    case 'UnexpectedResponseException':
    case 'ResponseException':
      return { code: ErrorCodes.PDF_CORRUPT, message: `Invalid or corrupt PDF: ${message}` };
  }
  if (err instanceof RangeError && /allocat|memory|too large|Invalid array length/i.test(message)) {
    return { code: ErrorCodes.TOO_LARGE, message: `PDF too large to convert: ${message}` };
  }
  return { code: ErrorCodes.PDF_CORRUPT, message: `Cannot parse PDF: ${message}` };
}

interface TextItemLike {
  str: string;
  transform: number[];
  width: number;
  height: number;
  fontName: string;
}

interface TextStyleLike {
  ascent?: number;
  descent?: number;
  vertical?: boolean;
}

interface ViewportLike {
  width: number;
  height: number;
  convertToViewportPoint(x: number, y: number): number[];
}

/** Text item → layout item in viewport space (top-left origin). */
export function toLayoutItem(item: TextItemLike, style: TextStyleLike | undefined, viewport: ViewportLike): LayoutItem | undefined {
  if (!item.str) return undefined;
  const [a, b, c, d, e, f] = item.transform;
  const sx = Math.hypot(a, b);
  const sy = Math.hypot(c, d);
  if (!(sx > 0) && !(sy > 0)) return undefined;
  // unit vectors along the text direction (u) and "up" (v) in PDF user space
  const ux = sx > 0 ? a / sx : d / sy, uy = sx > 0 ? b / sx : -c / sy;
  const vx = sy > 0 ? c / sy : -uy, vy = sy > 0 ? d / sy : ux;
  const fontSize = sy > 0 ? sy : sx;
  let ascent = style?.ascent;
  let descent = style?.descent;
  if (!(typeof ascent === 'number' && ascent > 0.3 && ascent < 1.5)) ascent = 0.8;
  if (!(typeof descent === 'number' && descent <= 0 && descent > -0.8)) descent = -0.2;
  const corners: [number, number][] = [];
  if (style?.vertical) {
    // vertical writing: the advance (item.height) goes down, the glyph box is centred on the origin
    const adv = item.height;
    const half = fontSize / 2;
    for (const s of [-half, half]) for (const t of [0, -adv]) corners.push([e + ux * s + vx * t, f + uy * s + vy * t]);
  } else {
    const w = item.width;
    for (const s of [0, w]) for (const t of [descent * fontSize, ascent * fontSize]) corners.push([e + ux * s + vx * t, f + uy * s + vy * t]);
  }
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [px, py] of corners) {
    const [qx, qy] = viewport.convertToViewportPoint(px, py);
    x0 = Math.min(x0, qx); y0 = Math.min(y0, qy);
    x1 = Math.max(x1, qx); y1 = Math.max(y1, qy);
  }
  const [ox, oy] = viewport.convertToViewportPoint(e, f);
  const [dx, dy] = viewport.convertToViewportPoint(e + ux, f + uy).map((v, i) => v - (i === 0 ? ox : oy));
  const horizontal = !style?.vertical && dx > 0 && Math.abs(dy) < 0.17 * Math.abs(dx);
  if (![x0, y0, x1, y1].every(Number.isFinite)) return undefined;
  const r = (v: number) => Math.round(v * 100) / 100;
  return { str: item.str, x0: r(x0), y0: r(y0), x1: r(x1), y1: r(y1), baseline: r(oy), fontSize: r(fontSize), horizontal };
}

const PAGE_SEPARATOR = '\n\n';

async function convert(req: WorkerRequest, init: WorkerInit): Promise<ConvertedDocument> {
  const pdfjs = await loadPdfjs();
  const task = pdfjs.getDocument({
    data: req.bytes,
    cMapUrl: dirUrl(path.join(init.assetsDir, 'cmaps')),
    cMapPacked: true,
    standardFontDataUrl: dirUrl(path.join(init.assetsDir, 'standard_fonts')),
    verbosity: 0,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    useWasm: false,
    stopAtErrors: false,
    BinaryDataFactory: CachedBinaryDataFactory as never,
  });
  try {
    const doc = await task.promise;
    const numPages = doc.numPages;
    if (!numPages) throw new ConvertFailure({ code: ErrorCodes.EMPTY_DOCUMENT, message: 'PDF has no pages' });
    const last = req.maxPages && req.maxPages > 0 ? Math.min(numPages, req.maxPages) : numPages;
    let text = '';
    const pages: PageInfo[] = [];
    const positions: PositionSpan[] = [];
    const warnings: string[] = [];
    const ocrPages: number[] = [];
    const failedPages: number[] = [];
    for (let n = 1; n <= last; n++) {
      if (n > 1) text += PAGE_SEPARATOR;
      const start = text.length;
      let width: number | undefined;
      let height: number | undefined;
      try {
        const page = await doc.getPage(n);
        try {
          const viewport = page.getViewport({ scale: 1 });
          width = Math.round(viewport.width * 100) / 100;
          height = Math.round(viewport.height * 100) / 100;
          const content = await page.getTextContent();
          const styles = content.styles as Record<string, TextStyleLike>;
          const items: LayoutItem[] = [];
          for (const raw of content.items) {
            if (!('str' in raw)) continue;
            const li = toLayoutItem(raw as TextItemLike, styles[(raw as TextItemLike).fontName], viewport);
            if (li) items.push(li);
          }
          const laid = layoutPage(items);
          text += laid.text;
          for (const s of laid.spans) positions.push({ start: start + s.start, end: start + s.end, page: n, bbox: s.bbox });
        } finally {
          page.cleanup();
        }
      } catch (err) {
        const c = classify(err);
        if (c.code === ErrorCodes.PDF_ENCRYPTED) throw new ConvertFailure(c);
        failedPages.push(n);
        warnings.push(`Page ${n}: text extraction failed: ${(err as Error)?.message ?? String(err)}`);
      }
      const end = text.length;
      const info: PageInfo = { page: n, start, end };
      if (width !== undefined) info.width = width;
      if (height !== undefined) info.height = height;
      if (text.slice(start, end).trim() === '' && !failedPages.includes(n)) {
        info.needsOcr = true;
        ocrPages.push(n);
      }
      pages.push(info);
    }
    if (failedPages.length === last) {
      throw new ConvertFailure({ code: ErrorCodes.PDF_CORRUPT, message: `No page of the PDF could be read (${warnings[0] ?? ''})`, details: { pages: failedPages } });
    }
    if (text.trim() === '') {
      throw new ConvertFailure({
        code: ErrorCodes.NEEDS_OCR,
        message: `PDF has no text layer (${ocrPages.length} page${ocrPages.length === 1 ? '' : 's'} probably scanned); OCR needed`,
        details: { pages: ocrPages, pageCount: numPages },
      });
    }
    if (ocrPages.length > 0) {
      warnings.push(`${ocrPages.length} of ${last} pages have no text layer (need OCR): ${ocrPages.join(', ')}`);
    }
    if (last < numPages) warnings.push(`Only the first ${last} of ${numPages} pages were converted`);
    // trim trailing separators of empty trailing pages from the text end (page offsets stay valid)
    const meta: Record<string, unknown> = { pageCount: numPages };
    try {
      const md = await doc.getMetadata();
      const info = (md?.info ?? {}) as Record<string, unknown>;
      for (const k of ['Title', 'Author', 'Subject', 'Producer', 'Creator', 'CreationDate']) {
        if (typeof info[k] === 'string' && info[k]) meta[k.charAt(0).toLowerCase() + k.slice(1)] = info[k];
      }
      if (ocrPages.length) meta.needsOcrPages = ocrPages;
    } catch {
      /* metadata is optional */
    }
    const out: ConvertedDocument = { format: 'pdf', text, pages, positions, meta };
    if (warnings.length) out.warnings = warnings;
    return out;
  } finally {
    await task.destroy().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------

if (parentPort) {
  const port = parentPort;
  const init = (workerData ?? {}) as WorkerInit;
  // pdf.js can leave a rejected promise behind on broken files; the job's own await reports the error.
  process.on('unhandledRejection', () => undefined);
  const send = (msg: WorkerResponse) => port.postMessage(msg);
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    if (req?.type !== 'convert') return;
    chain = chain.then(async () => {
      if (req.bytes.byteLength === 0) {
        send({ type: 'error', id: req.id, error: { code: ErrorCodes.EMPTY_DOCUMENT, message: 'Empty file' } });
        return;
      }
      try {
        const doc = await convert(req, init);
        send({ type: 'result', id: req.id, doc });
      } catch (err) {
        send({ type: 'error', id: req.id, error: classify(err) });
      }
    });
  });
  loadPdfjs().then(
    () => send({ type: 'ready' }),
    (err) => {
      // cannot work without pdf.js: crash so the pool reports it
      setImmediate(() => {
        throw err;
      });
    },
  );
}
