/**
 * Converter registry: maps file extensions to converters.
 *
 * Importing this module is cheap: pdf.js is only loaded inside the PDF worker threads (started on the
 * first PDF), mammoth, htmlparser2, exceljs, SheetJS and mailparser only on the first DOCX / HTML / XLSX / XLS / e-mail.
 */
import * as path from 'path';
import { createCsvConverter } from './csv';
import { createDocxConverter } from './docx';
import { createEmlConverter } from './eml';
import { createHtmlConverter } from './html';
import { createJsonConverter } from './json';
import { createJsonlConverter } from './jsonl';
import { createPdfConverter } from './pdf/pdfConverter';
import { checkPdfLimits } from './pdf/limits';
import { createImageConverter } from './ocr/imageConverter';
import { createOcr, type Ocr, type OcrMode } from './ocr/ocr';
import { createMarkdownConverter, createTextConverter } from './text';
import type { Converter } from './types';
import { createXlsConverter } from './xls';
import { createXlsxConverter } from './xlsx';

export type { BBox, ConvertedDocument, ConvertInput, Converter, FileConvertInput, PageInfo, PositionSpan, StreamConversion } from './types';
export { STREAM_ABOVE_BYTES } from './textStream';
export { decodeText, convertTextBytes, createTextConverter, createMarkdownConverter } from './text';
export { splitCsv, parseCsv } from './csv';
export type { CsvChunk, CsvRecord } from './csv';
export { htmlToText } from './html';
export { locate, pageAt } from './pdf/layout';
export type { LocatedBox } from './pdf/layout';
export { createPdfConverter, PDF_CONVERTER_VERSION } from './pdf/pdfConverter';
export { pdfLimitsSchema, checkPdfLimits } from './pdf/limits';
export type { PdfLimits } from './pdf/limits';
export type { PdfConverter, PdfConverterOptions } from './pdf/pdfConverter';
export { createOcr, OCR_MODES, OCR_ENGINE, DEFAULT_OCR_MAX_PIXELS } from './ocr/ocr';
export type { Ocr, OcrMode, OcrOptions } from './ocr/ocr';
export { IMAGE_EXTENSIONS } from './ocr/imageConverter';
export { chunkByPages, chunkByChars, sliceDocument } from './chunking';
export type { TextChunk, CharChunkOptions } from './chunking';
export { ConvertCache, sha256Hex, converterCacheKey, CONVERT_CACHE_VERSION, DEFAULT_CONVERT_CACHE_MAX_BYTES } from './cache';
export type { ConvertCacheOptions, PruneResult } from './cache';

export interface ConverterRegistryOptions {
  /** Bundled PDF worker script. Default: `path.join(__dirname, 'pdfWorker.js')` (beside the bundle). */
  pdfWorkerPath?: string;
  /** Directory holding pdf.js `standard_fonts/` and `cmaps/`. Default: `path.join(__dirname, 'pdfjs')`. */
  pdfAssetsDir?: string;
  // PDF limits: checked by `createConverterRegistry` (pdf/limits.ts, INVALID_CONFIG when out of range)
  /** PDF worker threads, 1–64. Default `min(2, cores)`. */
  poolSize?: number;
  /** Time limit for converting one PDF, in ms (0: none). Default 120 000; exceeded → CONVERT_TIMEOUT. */
  timeoutMs?: number;
  /**
   * Memory limit in MB (≥ 32). Default 1024; exceeded → TOO_LARGE. Bounds each PDF worker's heap and its
   * decoded stream data, and the XML a DOCX may unpack to (a 128th of it, at least 4 MB: docx.ts).
   */
  maxWorkerMemoryMb?: number;
  /** Convert at most this many pages of each PDF (a warning names the limit). Default: all pages. Part of the cache key. */
  maxPages?: number;
  // OCR (ocr/ocr.ts): scanned PDF pages and image files
  /** `auto` (default): pages without a text layer; `always`: every page showing an image; `off`: NEEDS_OCR. */
  ocr?: OcrMode;
  /** Tesseract languages, default `['eng']`; one without installed data → INVALID_CONFIG naming its npm package. */
  ocrLanguages?: string[];
  /** Time limit of OCR per page, in ms (0: none). Default 120 000; exceeded → CONVERT_TIMEOUT. */
  ocrTimeoutMs?: number;
  /** OCR worker threads. Default: the number of cores. */
  ocrWorkers?: number;
  /** Pixel limit of one page image (width × height). Default 100 000 000; more → TOO_LARGE. */
  ocrMaxPixels?: number;
  /** Folder searched first for `<lang>.traineddata[.gz]`. */
  ocrDataDir?: string;
  /** Bundled OCR worker script. Default: `path.join(__dirname, 'ocrWorker.js')`. */
  ocrWorkerPath?: string;
  /** CSV, TSV and JSONL files above this many bytes are converted from a stream (textStream.ts). Default 16 MB. */
  streamAboveBytes?: number;
}

export interface ConverterRegistry {
  /** Converter for an extension (`.pdf`, `pdf`, `PDF`) or a file name (`a/b.pdf`); undefined if unsupported. */
  get(extensionOrPath: string): Converter | undefined;
  /** Lower-case extensions with the dot, sorted. */
  readonly supportedExtensions: readonly string[];
  readonly converters: readonly Converter[];
  /** OCR shared by the PDF and image converters (mode, pool once started). */
  readonly ocr: Ocr;
  /** Terminates the PDF workers and releases everything else. Idempotent. */
  dispose(): Promise<void>;
}

export function normalizeExtension(extensionOrPath: string): string {
  const s = extensionOrPath.trim().toLowerCase();
  if (s.startsWith('.') && !s.slice(1).includes('.') && !/[\\/]/.test(s)) return s;
  const ext = path.extname(s);
  return ext || '.' + s;
}

/** Throws INVALID_CONFIG naming the option when a PDF limit is out of range (see pdf/limits.ts). */
export function createConverterRegistry(options: ConverterRegistryOptions = {}): ConverterRegistry {
  checkPdfLimits({ ...options });
  const ocr = createOcr({
    mode: options.ocr,
    languages: options.ocrLanguages,
    pageTimeoutMs: options.ocrTimeoutMs,
    workers: options.ocrWorkers,
    maxPixels: options.ocrMaxPixels,
    workerPath: options.ocrWorkerPath ?? path.join(options.pdfWorkerPath ? path.dirname(options.pdfWorkerPath) : __dirname, 'ocrWorker.js'),
    ...(options.ocrDataDir ? { dataDirs: [options.ocrDataDir] } : {}),
  });
  const converters: Converter[] = [
    createTextConverter(),
    createMarkdownConverter(),
    createPdfConverter({
      workerPath: options.pdfWorkerPath ?? path.join(__dirname, 'pdfWorker.js'),
      assetsDir: options.pdfAssetsDir ?? path.join(__dirname, 'pdfjs'),
      poolSize: options.poolSize,
      timeoutMs: options.timeoutMs,
      maxWorkerMemoryMb: options.maxWorkerMemoryMb,
      maxPages: options.maxPages,
      ocrEngine: ocr,
    }),
    createImageConverter(ocr),
    createHtmlConverter(),
    createCsvConverter({ streamAboveBytes: options.streamAboveBytes }),
    createJsonConverter(),
    createJsonlConverter({ streamAboveBytes: options.streamAboveBytes }),
    createDocxConverter({ memoryMb: options.maxWorkerMemoryMb }),
    createXlsxConverter({ memoryMb: options.maxWorkerMemoryMb }),
    createXlsConverter({ memoryMb: options.maxWorkerMemoryMb }),
    // attachments are converted by the converter their name calls for (an .eml inside an .eml is named only)
    createEmlConverter({ converterFor: (name) => (normalizeExtension(name) === '.eml' ? undefined : byExt.get(normalizeExtension(name))) }),
  ];
  const byExt = new Map<string, Converter>();
  for (const c of converters) for (const e of c.extensions) byExt.set(e.toLowerCase(), c);
  const supportedExtensions = Object.freeze([...byExt.keys()].sort());
  let disposed: Promise<void> | undefined;
  return {
    get: (ext) => byExt.get(normalizeExtension(ext)),
    supportedExtensions,
    converters,
    ocr,
    dispose() {
      disposed ??= Promise.all([...converters.map((c) => c.dispose?.()), ocr.dispose()]).then(() => undefined);
      return disposed;
    },
  };
}
