/** PDF converter: runs pdf.js in a pool of worker threads (see pool.ts / worker.ts). */
import { ErrorCodes, ExtractionError } from '../../core/errors';
import { converterCacheKey } from '../cache';
import { emptyDocumentError, throwIfAborted } from '../text';
import type { ConvertedDocument, ConvertInput, Converter } from '../types';
import type { Ocr } from '../ocr/ocr';
import { ocrPageText, spliceOcrPages, type OcrPageText } from '../ocr/ocrText';
import { checkPdfLimits } from './limits';
import { PdfWorkerPool, type PdfPoolOptions } from './pool';

/**
 * Output version of the PDF converter (text, page offsets, boxes): bump when layout.ts or worker.ts
 * change what they produce, so cached conversions are redone.
 */
export const PDF_CONVERTER_VERSION = 2;

export interface PdfConverterOptions extends Omit<PdfPoolOptions, 'size'> {
  poolSize?: number;
  /** Convert at most this many pages (the rest is reported in `warnings`). */
  maxPages?: number;
  /** OCR of scanned pages (shared with the image converter); absent or mode `off`: NEEDS_OCR as before. */
  ocrEngine?: Ocr;
}

export interface PdfConverter extends Converter {
  /** The pool, created on first use (undefined before). */
  readonly pool: PdfWorkerPool | undefined;
  /**
   * The grey PNG images (pageImage.ts, in the workers) of those of `pages` that are scans — the pages OCR
   * reads — by page number; for multimodal models (extract/pageImages.ts). Empty when OCR is off.
   */
  scannedPageImages(bytes: Uint8Array, pages: readonly number[], signal?: AbortSignal): Promise<Map<number, { png: Uint8Array<ArrayBuffer>; width: number; height: number }>>;
  dispose(): Promise<void>;
}

/** Throws INVALID_CONFIG naming the option when a limit (maxPages, timeoutMs, maxWorkerMemoryMb, poolSize) is out of range. */
export function createPdfConverter(options: PdfConverterOptions): PdfConverter {
  const limits = checkPdfLimits({ ...options });
  let pool: PdfWorkerPool | undefined;
  let disposed = false;
  const ocrOn = options.ocrEngine && options.ocrEngine.mode !== 'off' ? options.ocrEngine : undefined;
  const getPool = () => {
    if (disposed) throw new ExtractionError(ErrorCodes.CANCELLED, 'PDF converter disposed', { retryable: false, stage: 'converting' });
    pool ??= new PdfWorkerPool({ ...options, size: limits.poolSize });
    return pool;
  };
  return {
    id: 'pdf',
    // only the page limit changes the output (time and memory limits make a conversion fail, and
    // failures are not cached)
    cacheKey: converterCacheKey('pdf', PDF_CONVERTER_VERSION, { maxPages: limits.maxPages, ...ocrOn?.cacheOptions, ...(ocrOn ? { maxPixels: ocrOn.maxPixels } : {}) }),
    extensions: ['.pdf'],
    get pool() {
      return pool;
    },
    async scannedPageImages(bytes, pages, signal) {
      const want = new Set(pages);
      const out = new Map<number, { png: Uint8Array<ArrayBuffer>; width: number; height: number }>();
      if (!ocrOn || !want.size) return out;
      // the conversion's own page images: the text is dropped, nothing is recognised
      await getPool().convert(bytes, {
        signal,
        maxPages: limits.maxPages,
        ocr: { mode: ocrOn.mode === 'always' ? 'always' : 'auto', maxPixels: ocrOn.maxPixels },
        onPageImage: (msg) => {
          if (msg.image && want.has(msg.page)) out.set(msg.page, { png: msg.image.png, width: msg.image.width, height: msg.image.height });
        },
      });
      return out;
    },
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      if (input.bytes.byteLength === 0) throw emptyDocumentError(input.path);
      try {
        if (!ocrOn) return await getPool().convert(input.bytes, { signal: input.signal, path: input.path, maxPages: limits.maxPages });
        return await convertWithOcr(getPool(), ocrOn, input, limits.maxPages);
      } catch (err) {
        if (err instanceof ExtractionError && err.code === ErrorCodes.EMPTY_DOCUMENT) throw emptyDocumentError(input.path);
        if (err instanceof ExtractionError && !err.message.includes(input.path) && err.code !== ErrorCodes.CANCELLED) {
          // keep the code/flags, add the path for messages
          throw new ExtractionError(err.code, `${err.message} (${input.path})`, {
            retryable: err.retryable,
            stage: 'converting',
            cause: err.cause,
            details: err.details,
          });
        }
        throw err;
      }
    },
    async dispose() {
      disposed = true;
      await pool?.dispose();
    },
  };
}

/**
 * Converts a PDF while the OCR pool recognises the page images its workers send (scanned pages, or every
 * page with an image under `always`), then puts the OCR text in place of those pages' text. A page whose
 * OCR fails is a warning; when no page has text at all, the first OCR error (CONVERT_TIMEOUT, TOO_LARGE,
 * …) fails the document, and OCR that found nothing gives EMPTY_DOCUMENT.
 */
async function convertWithOcr(pool: PdfWorkerPool, ocr: Ocr, input: ConvertInput, maxPages: number | undefined): Promise<ConvertedDocument> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  input.signal?.addEventListener('abort', onAbort, { once: true });
  const pending = new Map<number, Promise<OcrPageText | Error>>();
  try {
    const doc = await pool.convert(input.bytes, {
      signal: input.signal,
      path: input.path,
      maxPages,
      ocr: { mode: ocr.mode === 'always' ? 'always' : 'auto', maxPixels: ocr.maxPixels },
      onPageImage: (msg) => {
        if (msg.tooLarge) {
          const { width, height } = msg.tooLarge;
          pending.set(
            msg.page,
            Promise.resolve(
              new ExtractionError(ErrorCodes.TOO_LARGE, `page ${msg.page} image is ${width} × ${height} pixels, more than the OCR limit of ${ocr.maxPixels}`, {
                retryable: false,
                stage: 'converting',
                details: { width, height, maxPixels: ocr.maxPixels },
              }),
            ),
          );
        } else if (msg.image) {
          const { png, toPage } = msg.image;
          pending.set(
            msg.page,
            ocr
              .recognize({ kind: 'encoded', bytes: png }, { signal: stop.signal, label: `${input.path} page ${msg.page}` })
              .then((r) => ocrPageText(r, msg.page, toPage), (e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
          );
        }
      },
    });
    const texts = new Map<number, OcrPageText>();
    const warnings: string[] = [];
    let firstError: Error | undefined;
    for (const [page, p] of [...pending.entries()].sort((a, b) => a[0] - b[0])) {
      const r = await p;
      throwIfAborted(input.signal);
      if (r instanceof Error) {
        firstError ??= r;
        warnings.push(`Page ${page}: OCR failed: ${r.message}`);
      } else if (r.text.trim() !== '') {
        texts.set(page, r);
      }
    }
    spliceOcrPages(doc, texts);
    const ocrPages = [...texts.keys()];
    for (const pg of doc.pages ?? []) {
      const t = texts.get(pg.page);
      if (!t) continue;
      pg.ocr = true;
      pg.ocrConfidence = t.meanConfidence;
      delete pg.needsOcr;
    }
    const meta = (doc.meta ??= {});
    const stillScanned = ((meta.needsOcrPages as number[] | undefined) ?? []).filter((n) => !texts.has(n));
    if (stillScanned.length) meta.needsOcrPages = stillScanned;
    else delete meta.needsOcrPages;
    if (ocrPages.length) meta.ocrPages = ocrPages;
    meta.ocr = { engine: ocr.cacheOptions?.engine, languages: ocr.cacheOptions?.languages };
    if (doc.text.trim() === '') {
      if (firstError) throw firstError;
      throw new ExtractionError(ErrorCodes.EMPTY_DOCUMENT, `OCR found no text on the ${pending.size} scanned page${pending.size === 1 ? '' : 's'} of the PDF`, {
        retryable: false,
        stage: 'converting',
        details: { pages: [...pending.keys()] },
      });
    }
    if (warnings.length) doc.warnings = [...(doc.warnings ?? []), ...warnings];
    return doc;
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
    // the document failed or was cancelled: pages still queued for OCR are dropped
    stop.abort();
    await Promise.allSettled(pending.values());
  }
}
