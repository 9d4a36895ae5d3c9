/**
 * Joins the page ranges ("parts") of a PDF converted by one or more workers into one document, and makes
 * the document-level decisions that need every page: no page readable → PDF_CORRUPT, no text at all →
 * NEEDS_OCR, the OCR and page-limit warnings, metadata.
 *
 * Pure (no pdf.js): runs on the main thread in the pool. Joining shifts the offsets of the later parts;
 * a document converted as a single part is passed through without copying.
 */
import { ErrorCodes, ExtractionError } from '../../core/errors';
import type { ConvertedDocument, PageInfo, PositionSpan } from '../types';

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
  /** Offsets relative to this part's `text`. */
  positions: PositionSpan[];
  /** Pages whose text could not be extracted. */
  failedPages: number[];
  /** Readable pages without any text (probably scanned). */
  ocrPages: number[];
  /** One `Page n: …` warning per failed page, in page order. */
  warnings: string[];
  /** Document information (title, author, …); read by the part that starts at page 1 only. */
  info?: Record<string, string>;
}

function fail(code: string, message: string, details?: Record<string, unknown>): never {
  throw new ExtractionError(code, message, { retryable: false, stage: 'converting', ...(details ? { details } : {}) });
}

/** The converted document of `parts` (any order; together they must cover pages 1..limit exactly once). */
export function assembleParts(parts: readonly PartResult[]): ConvertedDocument {
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

  let text: string;
  let pages: PageInfo[];
  let positions: PositionSpan[];
  const nonEmpty = sorted.filter((p) => p.lastPage >= p.firstPage);
  if (nonEmpty.length === 1) {
    ({ text, pages, positions } = nonEmpty[0]);
  } else {
    text = '';
    pages = [];
    positions = [];
    for (const [i, p] of nonEmpty.entries()) {
      if (i > 0) text += PAGE_SEPARATOR;
      const at = text.length;
      text += p.text;
      for (const pg of p.pages) pages.push({ ...pg, start: pg.start + at, end: pg.end + at });
      for (const s of p.positions) positions.push({ ...s, start: s.start + at, end: s.end + at });
    }
  }
  const failedPages = sorted.flatMap((p) => p.failedPages);
  const ocrPages = sorted.flatMap((p) => p.ocrPages);
  const warnings = sorted.flatMap((p) => p.warnings);

  if (failedPages.length === limit) {
    fail(ErrorCodes.PDF_CORRUPT, `No page of the PDF could be read (${warnings[0] ?? ''})`, { pages: failedPages });
  }
  if (text.trim() === '') {
    fail(ErrorCodes.NEEDS_OCR, `PDF has no text layer (${ocrPages.length} page${ocrPages.length === 1 ? '' : 's'} probably scanned); OCR needed`, {
      pages: ocrPages,
      pageCount: numPages,
    });
  }
  if (ocrPages.length > 0) warnings.push(`${ocrPages.length} of ${limit} pages have no text layer (need OCR): ${ocrPages.join(', ')}`);
  if (limit < numPages) warnings.push(`Only the first ${limit} of ${numPages} pages were converted`);
  const meta: Record<string, unknown> = { pageCount: numPages, ...sorted[0].info };
  if (ocrPages.length) meta.needsOcrPages = ocrPages;
  const out: ConvertedDocument = { format: 'pdf', text, pages, positions, meta };
  if (warnings.length) out.warnings = warnings;
  return out;
}
