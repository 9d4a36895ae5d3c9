/** PDF converter: runs pdf.js in a pool of worker threads (see pool.ts / worker.ts). */
import { ErrorCodes, ExtractionError } from '../../core/errors';
import { emptyDocumentError, throwIfAborted } from '../text';
import type { ConvertedDocument, ConvertInput, Converter } from '../types';
import { PdfWorkerPool, type PdfPoolOptions } from './pool';

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

export function createPdfConverter(options: PdfConverterOptions): PdfConverter {
  let pool: PdfWorkerPool | undefined;
  let disposed = false;
  const getPool = () => {
    if (disposed) throw new ExtractionError(ErrorCodes.CANCELLED, 'PDF converter disposed', { retryable: false, stage: 'converting' });
    pool ??= new PdfWorkerPool({ ...options, size: options.poolSize });
    return pool;
  };
  return {
    id: 'pdf',
    extensions: ['.pdf'],
    get pool() {
      return pool;
    },
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      if (input.bytes.byteLength === 0) throw emptyDocumentError(input.path);
      try {
        return await getPool().convert(input.bytes, { signal: input.signal, path: input.path, maxPages: options.maxPages });
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
