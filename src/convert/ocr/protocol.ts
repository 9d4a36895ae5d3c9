/**
 * Messages between the OCR pool (main thread, ocrPool.ts) and `ocrWorker.js` (one tesseract.js engine per
 * thread). One page image per `ocr` request.
 */

/** What a worker recognises: an image file Leptonica decodes (PNG, JPEG, WebP, BMP; PDF scans come as grey PNG), or a page of a TIFF. */
export type OcrImage =
  | { kind: 'encoded'; bytes: Uint8Array<ArrayBuffer> }
  /** Page `page` (0-based, among the TIFF's full-size images) of a TIFF, decoded with UTIF in the worker. */
  | { kind: 'tiff'; bytes: Uint8Array<ArrayBuffer>; page: number };

export interface OcrRequest {
  type: 'ocr';
  id: number;
  image: OcrImage;
}

export interface OcrWord {
  text: string;
  /** Tesseract's word confidence, 0–100. */
  confidence: number;
  /** [x0, y0, x1, y1] in image pixels (origin top-left). */
  bbox: [number, number, number, number];
}

export interface OcrLine {
  words: OcrWord[];
  /** Lines with the same number belong to one paragraph (a blank line between paragraphs). */
  paragraph: number;
}

export interface OcrPageResult {
  lines: OcrLine[];
  /** Size of the recognised image in pixels. */
  width: number;
  height: number;
}

export interface OcrErrorPayload {
  code: string;
  message: string;
}

export type OcrResponse =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: OcrPageResult }
  | { type: 'error'; id: number; error: OcrErrorPayload }
  /** The engine could not start (language data unreadable, …): the pool fails what waits and stops. */
  | { type: 'fatal'; error: OcrErrorPayload };

export interface OcrWorkerInit {
  /** Language codes and their traineddata files (`.traineddata` or `.traineddata.gz`), in order of preference. */
  languages: { code: string; file: string }[];
}
