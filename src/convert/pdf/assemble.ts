/**
 * Joins the page ranges ("parts") of a PDF converted by one or more workers into one document, and makes
 * the document-level decisions that need every page: no page readable → PDF_CORRUPT, no text at all →
 * NEEDS_OCR when some page shows an image (probably scanned), else EMPTY_DOCUMENT (blank pages only), the
 * OCR and page-limit warnings, metadata.
 *
 * No pdf.js: runs on the main thread in the pool. A part carries its position spans packed in two
 * typed arrays (see {@link SpanWriter}): a long document has tens of thousands of spans, and one object
 * per span made the structured clone across `postMessage` cost more on both threads than building the
 * span objects here (~4× for 1,000 pages).
 */
import { ErrorCodes, ExtractionError } from '../../core/errors';
import type { BBox, ConvertedDocument, PageInfo, PositionSpan } from '../types';

/** Between the text of two pages. */
export const PAGE_SEPARATOR = '\n\n';

/** Pages `firstPage..lastPage` of a document, as one worker converted them. */
export interface PartResult {
  firstPage: number;
  lastPage: number;
  /** Pages in the document. */
  numPages: number;
  /** Last page to convert in the document: `min(numPages, maxPages)`. */
  limit: number;
  /** The pages' text joined by {@link PAGE_SEPARATOR} (none before the first page of the part). */
  text: string;
  /** Offsets relative to this part's `text`. */
  pages: PageInfo[];
  /** Position spans: `[start, end, page]` per span, offsets relative to this part's `text` (see {@link SpanWriter}). */
  spans: Int32Array<ArrayBuffer>;
  /** `[x0, y0, x1, y1]` per span. */
  boxes: Float64Array<ArrayBuffer>;
  /** Pages whose text could not be extracted. */
  failedPages: number[];
  /** Readable pages without any text that show an image (probably scanned). */
  ocrPages: number[];
  /** Readable pages without text and without images (blank). */
  blankPages: number[];
  /** One `Page n: …` warning per failed page, in page order. */
  warnings: string[];
  /** Document information (title, author, …); read by the part that starts at page 1 only. */
  info?: Record<string, string>;
}

/** Collects position spans of a part into the packed form of {@link PartResult}. */
export class SpanWriter {
  #ints: number[] = [];
  #boxes: number[] = [];

  add(start: number, end: number, page: number, bbox: BBox): void {
    this.#ints.push(start, end, page);
    this.#boxes.push(bbox[0], bbox[1], bbox[2], bbox[3]);
  }

  finish(): { spans: Int32Array<ArrayBuffer>; boxes: Float64Array<ArrayBuffer> } {
    return { spans: Int32Array.from(this.#ints), boxes: Float64Array.from(this.#boxes) };
  }
}

function fail(code: string, message: string, details?: Record<string, unknown>): never {
  throw new ExtractionError(code, message, { retryable: false, stage: 'converting', ...(details ? { details } : {}) });
}

/**
 * The converted document of `parts` (any order; together they must cover pages 1..limit exactly once).
 * The page objects of the parts are reused (those of later parts get their offsets shifted).
 */
export function assembleParts(parts: readonly PartResult[], options: { ocr?: boolean } = {}): ConvertedDocument {
  if (parts.length === 0) fail(ErrorCodes.INTERNAL, 'PDF conversion returned no pages');
  const sorted = [...parts].sort((a, b) => a.firstPage - b.firstPage);
  const { numPages, limit } = sorted[0];
  let expected = 1;
  for (const p of sorted) {
    if (p.firstPage !== expected || p.lastPage < p.firstPage - 1 || p.numPages !== numPages || p.limit !== limit) {
      fail(ErrorCodes.INTERNAL, `PDF page ranges do not fit together (pages ${p.firstPage}-${p.lastPage} after page ${expected - 1} of ${limit})`);
    }
    expected = p.lastPage + 1;
  }
  if (expected !== limit + 1) fail(ErrorCodes.INTERNAL, `PDF conversion covered pages 1-${expected - 1} of ${limit}`);

  let text = '';
  const pages: PageInfo[] = [];
  const positions: PositionSpan[] = [];
  for (const [i, p] of sorted.filter((x) => x.lastPage >= x.firstPage).entries()) {
    if (i > 0) text += PAGE_SEPARATOR;
    const at = text.length;
    text += p.text;
    for (const pg of p.pages) {
      pg.start += at;
      pg.end += at;
      pages.push(pg);
    }
    const { spans, boxes } = p;
    if (spans.length !== (boxes.length / 4) * 3) fail(ErrorCodes.INTERNAL, `PDF part ${p.firstPage}-${p.lastPage}: ${spans.length / 3} spans but ${boxes.length / 4} boxes`);
    for (let k = 0, b = 0; k < spans.length; k += 3, b += 4) {
      positions.push({ start: spans[k] + at, end: spans[k + 1] + at, page: spans[k + 2], bbox: [boxes[b], boxes[b + 1], boxes[b + 2], boxes[b + 3]] });
    }
  }
  const failedPages = sorted.flatMap((p) => p.failedPages);
  const ocrPages = sorted.flatMap((p) => p.ocrPages);
  const blankPages = sorted.flatMap((p) => p.blankPages ?? []);
  const warnings = sorted.flatMap((p) => p.warnings);

  if (failedPages.length === limit) {
    fail(ErrorCodes.PDF_CORRUPT, `No page of the PDF could be read (${warnings[0] ?? ''})`, { pages: failedPages });
  }
  if (text.trim() === '' && !(options.ocr && ocrPages.length > 0)) {
    if (ocrPages.length === 0) {
      fail(ErrorCodes.EMPTY_DOCUMENT, `PDF has no text and no images (${blankPages.length} blank page${blankPages.length === 1 ? '' : 's'})`, {
        pages: blankPages,
        pageCount: numPages,
      });
    }
    fail(ErrorCodes.NEEDS_OCR, `PDF has no text layer (${ocrPages.length} page${ocrPages.length === 1 ? '' : 's'} with images and no text, probably scanned) and OCR is off: turn it on (setting extractionWorkbench.ocr.mode, CLI --ocr auto) to read it`, {
      pages: ocrPages,
      pageCount: numPages,
    });
  }
  // with OCR on the converter recognises those pages (and warns about the ones it could not)
  if (ocrPages.length > 0 && !options.ocr) warnings.push(`${ocrPages.length} of ${limit} pages have no text layer (need OCR): ${ocrPages.join(', ')}`);
  if (limit < numPages) warnings.push(`Only the first ${limit} of ${numPages} pages were converted`);
  const meta: Record<string, unknown> = { pageCount: numPages, ...sorted[0].info };
  if (ocrPages.length) meta.needsOcrPages = ocrPages;
  if (blankPages.length) meta.blankPages = blankPages;
  const out: ConvertedDocument = { format: 'pdf', text, pages, positions, meta };
  if (warnings.length) out.warnings = warnings;
  return out;
}
