/**
 * PDF worker thread (bundled to `dist/pdfWorker.js`). Loads the pdf.js legacy build once, then
 * converts one page range of a PDF per `convert` message: text per page in reading order (see
 * layout.ts), page boundaries, and a position span (page + viewport box) per text item. Between two
 * pages it answers `split` requests of the pool by giving away pages it has not started (protocol.ts).
 *
 * Where the time goes (CPU profile of the two worker threads during the benchmark, busy time): ~68 %
 * inside pdf.js — the glyph loop ~19 %, fonts ~19 % (parsing font programs and building the unicode
 * mapping), content-stream lexing ~12 %, the rest of the parser ~18 % —, ~6 % pdf.js' in-thread message
 * port (a copy per message; needed, pdf.js reuses the objects it sends), ~8 % GC, ~10 % Node (inflate,
 * web streams, file reads), ~8 % our layout. The patches in scripts/pdfjs-patches.js took ~18 % of this
 * thread's CPU time away: fonts −35 % (font programs are no longer compiled to OpenType files, which
 * text extraction never reads), glyph loop −24 % (a text state copy per `q` made every state access
 * megamorphic; the per-glyph text matrix was ~35 % of the time before its own patch), message port −45 %
 * (plain data copied in JS instead of structuredClone). Taken out earlier: the web-stream inflate
 * (syncInflate.ts), per-item string flattening and arrays (layout.ts, toLayoutItem), one object per
 * position span across postMessage (assemble.ts).
 *
 * No network access: the bytes come in the message; cMaps and standard fonts are read from disk
 * (`workerData.assetsDir`). pdf.js' own "worker" runs in-thread (fake worker) — this thread is the
 * isolation boundary, the pool terminates it on timeout.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parentPort, workerData } from 'worker_threads';
import { ErrorCodes } from '../../core/errors';
import type { ConvertedDocument, PageInfo } from '../types';
import { assembleParts, PAGE_SEPARATOR, SpanWriter, type PartResult } from './assemble';
import { layoutPage, type LayoutItem } from './layout';
import type { WorkerConvertRequest, WorkerErrorPayload, WorkerInit, WorkerRequest, WorkerResponse } from './protocol';
import { pagesToGiveAway } from './splitPolicy';
import { scannedPageImage } from './pageImage';
import { decodeLimitExceeded, DecodeLimitError, installDecodeBudget, startDecodeBudget, type DecodeLimitExceeded } from './decodeBudget';
import { installSyncDecompressionStream } from './syncInflate';

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
    installSyncDecompressionStream();
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

/** TOO_LARGE for a document whose decoded data passed the limit (decodeBudget.ts): which limit, how to raise it. */
export function decodeLimitFailure(info: DecodeLimitExceeded): WorkerErrorPayload {
  const mb = (n: number) => Math.ceil(n / 1048576);
  return {
    code: ErrorCodes.TOO_LARGE,
    message:
      `PDF streams decode to more than the memory limit of ${mb(info.limitBytes)} MB: ` +
      'raise the PDF memory limit (setting pdf.maxMemoryMb, CLI --pdf-max-memory-mb) to convert it',
    details: { limitMb: mb(info.limitBytes) },
  };
}

/** Fails the document when its decoded data passed the limit (pdf.js may have swallowed the refusal). */
function throwIfOverDecodeLimit(): void {
  const over = decodeLimitExceeded();
  if (over) throw new ConvertFailure(decodeLimitFailure(over));
}

function classify(err: unknown): WorkerErrorPayload {
  if (err instanceof ConvertFailure) return err.payload;
  const over = decodeLimitExceeded() ?? (err instanceof DecodeLimitError ? err.info : undefined);
  if (over) return decodeLimitFailure(over);
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
  /** PDF user space → viewport: [a, b, c, d, e, f] (pdf.js `PageViewport.transform`). */
  transform: number[];
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/**
 * Text item → layout item in viewport space (top-left origin).
 *
 * Runs once per text item (thousands per page), so it applies the viewport matrix inline instead of
 * calling `viewport.convertToViewportPoint` (an array per point); the arithmetic is the same as
 * pdf.js' `Util.applyTransform`, in the same order, so the boxes are bit-identical.
 */
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
  const m = viewport.transform;
  const m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5];
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  // the four corners of the glyph box: s along the text direction, t along "up"
  let s0: number, s1: number, t0: number, t1: number;
  if (style?.vertical) {
    // vertical writing: the advance (item.height) goes down, the glyph box is centred on the origin
    const half = fontSize / 2;
    s0 = -half; s1 = half; t0 = 0; t1 = -item.height;
  } else {
    s0 = 0; s1 = item.width; t0 = descent * fontSize; t1 = ascent * fontSize;
  }
  for (let i = 0; i < 4; i++) {
    const s = i < 2 ? s0 : s1;
    const t = (i & 1) === 0 ? t0 : t1;
    const px = e + ux * s + vx * t;
    const py = f + uy * s + vy * t;
    const qx = px * m0 + py * m2 + m4;
    const qy = px * m1 + py * m3 + m5;
    if (Number.isNaN(qx) || Number.isNaN(qy)) return undefined;
    if (qx < x0) x0 = qx;
    if (qy < y0) y0 = qy;
    if (qx > x1) x1 = qx;
    if (qy > y1) y1 = qy;
  }
  const ox = e * m0 + f * m2 + m4;
  const oy = e * m1 + f * m3 + m5;
  const ex = e + ux, fy = f + uy;
  const dx = ex * m0 + fy * m2 + m4 - ox;
  const dy = ex * m1 + fy * m3 + m5 - oy;
  const horizontal = !style?.vertical && dx > 0 && Math.abs(dy) < 0.17 * Math.abs(dx);
  if (!(Number.isFinite(x0) && Number.isFinite(y0) && Number.isFinite(x1) && Number.isFinite(y1))) return undefined;
  return { str: item.str, x0: round2(x0), y0: round2(y0), x1: round2(x1), y1: round2(y1), baseline: round2(oy), fontSize: round2(fontSize), horizontal };
}

type PageProxy = Awaited<ReturnType<Awaited<ReturnType<PdfJs['getDocument']>['promise']>['getPage']>>;

/** Operators that paint an image (with the patch of scripts/pdfjs-patches.js every image is `paintImageXObject`). */
let imageOps: Set<number> | undefined;

/**
 * Whether a page paints an image (a page without text that does is probably scanned; one that does not is
 * blank). Its operator list is built without decoding any image (patch in scripts/pdfjs-patches.js) and
 * without annotations; only asked for pages without text. A page whose operators cannot be read counts
 * as without images.
 */
async function pageHasImages(page: PageProxy, pdfjs: PdfJs): Promise<boolean> {
  const ops = pdfjs.OPS as Record<string, number>;
  imageOps ??= new Set(
    ['paintImageXObject', 'paintImageXObjectRepeat', 'paintInlineImageXObject', 'paintInlineImageXObjectGroup', 'paintImageMaskXObject', 'paintImageMaskXObjectGroup', 'paintImageMaskXObjectRepeat', 'paintSolidColorImageMask']
      .map((name) => ops[name])
      .filter((op): op is number => typeof op === 'number'),
  );
  try {
    const list = await page.getOperatorList({ annotationMode: pdfjs.AnnotationMode.DISABLE });
    return list.fnArray.some((fn) => imageOps!.has(fn));
  } catch (err) {
    if (decodeLimitExceeded() || err instanceof DecodeLimitError) throw err;
    return false;
  }
}

/** The part this worker is converting (one at a time), for `split` requests that arrive meanwhile. */
interface Running {
  id: number;
  /** Page being converted. */
  page: number;
  /** Last page of the part; lowered by a split. */
  last: number;
  /** `performance.now()` when the part started (before opening the document). */
  startedAt: number;
  /** When its first page was done (undefined before). */
  firstDoneAt?: number;
  /** Pages done. */
  done: number;
}
let running: Running | undefined;

/** Answers a `split` request: gives away the last pages not started yet, as many as splitPolicy.ts says. */
export function splitRunning(id: number): { from?: number; to?: number } {
  const r = running;
  if (!r || r.id !== id) return {};
  const now = performance.now();
  // before the first page is done (pdf.js awaited a file read) the time so far stands for both
  const openMs = (r.firstDoneAt ?? now) - r.startedAt;
  const pageMs = r.done > 1 ? (now - r.firstDoneAt!) / (r.done - 1) : openMs;
  const given = pagesToGiveAway(r.last - r.page, pageMs, openMs);
  if (given === 0) return {};
  const from = r.last - given + 1;
  const to = r.last;
  r.last = from - 1;
  return { from, to };
}

/** Under OCR `always`, share of a page with text that an image must cover to be recognised. */
const ALWAYS_MIN_COVERAGE = 0.5;

/** Lets queued messages (a `split` request) in between two pages: pdf.js' in-thread worker runs on microtasks only. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface ConvertHooks {
  /** Called once the document is open. */
  opened?(numPages: number, lastPage: number): void;
  /** OCR on: a page's image to recognise (or the size of one over the pixel limit). */
  pageImage?(msg: Omit<Extract<WorkerResponse, { type: 'page-image' }>, 'type' | 'id'>): void;
}

/** Converts pages `firstPage..lastPage` (default: all, up to `maxPages`) of a PDF. */
export async function convertPart(req: WorkerConvertRequest, init: WorkerInit, hooks: ConvertHooks = {}): Promise<PartResult> {
  const pdfjs = await loadPdfjs();
  const startedAt = performance.now();
  startDecodeBudget();
  const task = pdfjs.getDocument({
    data: req.bytes,
    cMapUrl: dirUrl(path.join(init.assetsDir, 'cmaps')),
    cMapPacked: true,
    // needed even for text: the ascent/descent of non-embedded standard fonts come from these files
    // (without them boxes and paragraph breaks change)
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
    const limit = req.maxPages && req.maxPages > 0 ? Math.min(numPages, req.maxPages) : numPages;
    const first = Math.max(1, req.firstPage ?? 1);
    const r: Running = { id: req.id, page: first, last: Math.min(limit, req.lastPage ?? limit), startedAt, done: 0 };
    running = r;
    hooks.opened?.(numPages, r.last);
    let text = '';
    const pages: PageInfo[] = [];
    const spans = new SpanWriter();
    const warnings: string[] = [];
    const ocrPages: number[] = [];
    const blankPages: number[] = [];
    const failedPages: number[] = [];
    for (let n = first; n <= r.last; n++) {
      r.page = n;
      if (n > first) {
        await yieldToEventLoop();
        if (n > r.last) break; // the rest was given away meanwhile
        text += PAGE_SEPARATOR;
      }
      const start = text.length;
      let width: number | undefined;
      let height: number | undefined;
      let failed = false;
      let pageText = '';
      let hasImages = false;
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
          pageText = laid.text;
          text += pageText;
          for (const s of laid.spans) spans.add(start + s.start, start + s.end, n, s.bbox);
          throwIfOverDecodeLimit();
          // (the page's own text: slicing the growing document text would flatten it, a copy per page)
          if (req.ocr && (req.ocr.mode === 'always' || pageText.trim() === '')) {
            // under 'always' a page with text is recognised only when an image covers most of it (a scan
            // with a text layer of its own), not for a logo
            const hasText = pageText.trim() !== '';
            const scan = await scannedPageImage(page, pdfjs, viewport, req.ocr.maxPixels, hasText ? ALWAYS_MIN_COVERAGE : 0);
            hasImages = scan.hasImages;
            if (scan.image) hooks.pageImage?.({ page: n, image: scan.image });
            else if (scan.tooLarge) hooks.pageImage?.({ page: n, tooLarge: scan.tooLarge });
          } else if (pageText.trim() === '') {
            hasImages = await pageHasImages(page, pdfjs);
          }
        } finally {
          page.cleanup();
        }
      } catch (err) {
        const c = classify(err);
        if (c.code === ErrorCodes.PDF_ENCRYPTED || c.code === ErrorCodes.TOO_LARGE) throw new ConvertFailure(c);
        failed = true;
        failedPages.push(n);
        warnings.push(`Page ${n}: text extraction failed: ${(err as Error)?.message ?? String(err)}`);
      }
      throwIfOverDecodeLimit();
      const end = text.length;
      const info: PageInfo = { page: n, start, end };
      if (width !== undefined) info.width = width;
      if (height !== undefined) info.height = height;
      if (!failed && pageText.trim() === '') {
        // only a page that shows an image is probably scanned; one without text or images is blank
        if (hasImages) {
          info.needsOcr = true;
          ocrPages.push(n);
        } else {
          blankPages.push(n);
        }
      }
      pages.push(info);
      r.done++;
      r.firstDoneAt ??= performance.now();
    }
    running = undefined;
    const part: PartResult = { firstPage: first, lastPage: r.last, numPages, limit, text, pages, ...spans.finish(), failedPages, ocrPages, blankPages, warnings };
    if (first === 1) {
      try {
        const md = await doc.getMetadata();
        const docInfo = (md?.info ?? {}) as Record<string, unknown>;
        const picked: Record<string, string> = {};
        for (const k of ['Title', 'Author', 'Subject', 'Producer', 'Creator', 'CreationDate']) {
          const v = docInfo[k];
          if (typeof v === 'string' && v) picked[k.charAt(0).toLowerCase() + k.slice(1)] = v;
        }
        part.info = picked;
      } catch {
        /* metadata is optional */
      }
    }
    return part;
  } finally {
    running = undefined;
    await task.destroy().catch(() => undefined);
  }
}

/** Converts a whole PDF in this thread (one part; tests and profiling). */
export async function convert(req: WorkerConvertRequest, init: WorkerInit): Promise<ConvertedDocument> {
  return assembleParts([await convertPart(req, init)]);
}

// ---------------------------------------------------------------------------------------------

if (parentPort) {
  const port = parentPort;
  const init = (workerData ?? {}) as WorkerInit;
  installDecodeBudget(init.maxDecodedBytes ?? 0);
  // pdf.js can leave a rejected promise behind on broken files; the job's own await reports the error.
  process.on('unhandledRejection', () => undefined);
  const send = (msg: WorkerResponse) => port.postMessage(msg);
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    if (req?.type === 'split') {
      send({ type: 'split-ack', id: req.id, ...splitRunning(req.id) });
      return;
    }
    if (req?.type !== 'convert') return;
    chain = chain.then(async () => {
      if (req.bytes.byteLength === 0) {
        send({ type: 'error', id: req.id, error: { code: ErrorCodes.EMPTY_DOCUMENT, message: 'Empty file' } });
        return;
      }
      try {
        const part = await convertPart(req, init, {
          opened: (numPages, lastPage) => send({ type: 'opened', id: req.id, numPages, lastPage }),
          pageImage: (m) => port.postMessage({ type: 'page-image', id: req.id, ...m } satisfies WorkerResponse, m.image ? [m.image.png.buffer] : []),
        });
        port.postMessage({ type: 'result', id: req.id, part } satisfies WorkerResponse, [part.spans.buffer, part.boxes.buffer]);
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
