/**
 * OCR as the converters use it: the mode, the languages and their data, the pool (created on the first
 * page) and what goes into the converted-text cache key (mode, languages, data sizes, engine version),
 * so changing any of them redoes the conversion and a re-run with the same ones reads the cache.
 */
import * as path from 'path';
import { ErrorCodes, ExtractionError } from '../../core/errors';
import { resolveLanguages, type LanguageData } from './languages';
import { OcrPool, type OcrJobOptions } from './ocrPool';
import type { OcrImage, OcrPageResult } from './protocol';

export type OcrMode = 'auto' | 'always' | 'off';
export const OCR_MODES: readonly OcrMode[] = ['auto', 'always', 'off'];

/** Engine identity for cache keys: tesseract.js' version (the WebAssembly core ships with it). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const OCR_ENGINE = `tesseract.js-${(require('tesseract.js/package.json') as { version: string }).version}`;

/** Default pixel limit of one page image (width × height): 100 MP ≈ A3 at 600 dpi. */
export const DEFAULT_OCR_MAX_PIXELS = 100_000_000;

export interface OcrOptions {
  /** `auto` (default): pages without a text layer; `always`: every page showing an image; `off`: none (NEEDS_OCR). */
  mode?: OcrMode;
  /** Tesseract language codes, default `['eng']`. */
  languages?: string[];
  /** Time limit per page, ms (0: none). */
  pageTimeoutMs?: number;
  /** Worker threads; default: cores. */
  workers?: number;
  /** Pixel limit per page image. */
  maxPixels?: number;
  /** `dist/ocrWorker.js`. */
  workerPath: string;
  /** Folders searched first for `<lang>.traineddata[.gz]` (user folder, then the bundled `tessdata/`). */
  dataDirs?: string[];
}

export interface Ocr {
  readonly mode: OcrMode;
  readonly maxPixels: number;
  /** What changes OCR output: part of the PDF and image converters' cache keys (undefined when off). */
  readonly cacheOptions: Record<string, unknown> | undefined;
  readonly pool: OcrPool | undefined;
  recognize(image: OcrImage, opts?: OcrJobOptions): Promise<OcrPageResult>;
  dispose(): Promise<void>;
}

export function checkOcrMode(mode: unknown): OcrMode {
  if (mode === undefined) return 'auto';
  if (OCR_MODES.includes(mode as OcrMode)) return mode as OcrMode;
  throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `Invalid OCR option: ocr must be one of ${OCR_MODES.join(', ')} (got ${JSON.stringify(mode)})`, { retryable: false });
}

/** Resolves the language data now (INVALID_CONFIG naming the npm package of a missing language) unless OCR is off. */
export function createOcr(options: OcrOptions): Ocr {
  const mode = checkOcrMode(options.mode);
  const maxPixels = options.maxPixels ?? DEFAULT_OCR_MAX_PIXELS;
  const languages: LanguageData[] = mode === 'off' ? [] : resolveLanguages(options.languages ?? ['eng'], [...(options.dataDirs ?? []), path.join(path.dirname(options.workerPath), 'tessdata')]);
  let pool: OcrPool | undefined;
  let disposed = false;
  return {
    mode,
    maxPixels,
    cacheOptions: mode === 'off' ? undefined : { ocr: mode, engine: OCR_ENGINE, languages: languages.map((l) => `${l.code}:${l.bytes}`).join('+') },
    get pool() {
      return pool;
    },
    recognize(image, opts) {
      if (disposed) return Promise.reject(new ExtractionError(ErrorCodes.CANCELLED, 'OCR disposed', { retryable: false }));
      if (mode === 'off') return Promise.reject(new ExtractionError(ErrorCodes.NEEDS_OCR, 'OCR is off', { retryable: false, stage: 'converting' }));
      pool ??= new OcrPool({ workerPath: options.workerPath, languages, size: options.workers, pageTimeoutMs: options.pageTimeoutMs });
      return pool.recognize(image, opts);
    },
    async dispose() {
      disposed = true;
      await pool?.dispose();
    },
  };
}
