/**
 * Messages between the PDF pool (main thread) and `pdfWorker.js`.
 *
 * A document is converted as one or more page ranges ("parts"). The first part starts at page 1 with an
 * open end; when another worker is idle the pool may ask the worker holding a long part to give away
 * pages it has not started yet (`split` → `split-ack`, splitPolicy.ts), and queues that range as a new
 * part. The pool joins the parts in page order (assemble.ts).
 */
import type { PartResult } from './assemble';

export interface WorkerConvertRequest {
  type: 'convert';
  /** Id of this part (unique per pool). */
  id: number;
  bytes: Uint8Array;
  /** Page limit of the document (pages after it are not converted). */
  maxPages?: number;
  /** 1-based first page of the part. Default 1; the part that starts at page 1 also reads the metadata. */
  firstPage?: number;
  /** 1-based last page of the part (inclusive). Default: the last page (after `maxPages`). */
  lastPage?: number;
  /** OCR on: pages to send to OCR as `page-image` (`auto`: pages without text; `always`: every page with an image). */
  ocr?: { mode: 'auto' | 'always'; maxPixels: number };
}

/** Give away some of the pages not started yet (answered with `split-ack`; see splitPolicy.ts). */
export interface WorkerSplitRequest {
  type: 'split';
  id: number;
}

export type WorkerRequest = WorkerConvertRequest | WorkerSplitRequest;

export interface WorkerErrorPayload {
  code: string;
  message: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export type WorkerResponse =
  | { type: 'ready' }
  /** The document is open: it has `numPages` pages, the part ends at `lastPage`. */
  | { type: 'opened'; id: number; numPages: number; lastPage: number }
  /** Answer to `split`: pages `from..to` are given away (the part now ends at `from - 1`); absent when refused. */
  | { type: 'split-ack'; id: number; from?: number; to?: number }
  /** The largest image of a page for OCR (pageImage.ts), or the size of one over the pixel limit. */
  | { type: 'page-image'; id: number; page: number; image?: PageImageMessage; tooLarge?: { width: number; height: number } }
  | { type: 'result'; id: number; part: PartResult }
  | { type: 'error'; id: number; error: WorkerErrorPayload };

export interface PageImageMessage {
  width: number;
  height: number;
  /** The image in 8-bit grey, as a PNG file. */
  png: Uint8Array<ArrayBuffer>;
  /** Pixel → page viewport matrix. */
  toPage: number[];
}

export interface WorkerInit {
  /** Directory with pdf.js `standard_fonts/` and `cmaps/`. */
  assetsDir: string;
  /** Limit of decoded stream data a document may hold at once, in bytes (decodeBudget.ts); 0 or absent: none. */
  maxDecodedBytes?: number;
}
