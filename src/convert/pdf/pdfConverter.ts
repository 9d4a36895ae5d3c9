/** PDF converter: runs pdf.js in a pool of worker threads (see pool.ts / worker.ts). */
import { ErrorCodes, ExtractionError } from '../../core/errors';
import { converterCacheKey } from '../cache';
import { emptyDocumentError, throwIfAborted } from '../text';
import type { ConvertedDocument, ConvertInput, Converter } from '../types';
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
}

export interface PdfConverter extends Converter {
  /** The pool, created on first use (undefined before). */
  readonly pool: PdfWorkerPool | undefined;
  dispose(): Promise<void>;
}

/** Throws INVALID_CONFIG naming the option when a limit (maxPages, timeoutMs, maxWorkerMemoryMb, poolSize) is out of range. */
export function createPdfConverter(options: PdfConverterOptions): PdfConverter {
  const limits = checkPdfLimits({ ...options });
  let pool: PdfWorkerPool | undefined;
  let disposed = false;
  const getPool = () => {
    if (disposed) throw new ExtractionError(ErrorCodes.CANCELLED, 'PDF converter disposed', { retryable: false, stage: 'converting' });
    pool ??= new PdfWorkerPool({ ...options, size: limits.poolSize });
    return pool;
  };
  return {
    id: 'pdf',
    // only the page limit changes the output (time and memory limits make a conversion fail, and
    // failures are not cached)
    cacheKey: converterCacheKey('pdf', PDF_CONVERTER_VERSION, { maxPages: limits.maxPages }),
    extensions: ['.pdf'],
    get pool() {
      return pool;
    },
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      if (input.bytes.byteLength === 0) throw emptyDocumentError(input.path);
      try {
        return await getPool().convert(input.bytes, { signal: input.signal, path: input.path, maxPages: limits.maxPages });
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
