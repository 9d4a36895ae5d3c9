/**
 * Limits of the PDF converter that a user may want to set: page limit, per-document time limit, memory
 * limit per worker thread and number of worker threads. Checked once when the converter is created, so a
 * bad value fails the run at the start with INVALID_CONFIG and the option's name, instead of workers that
 * cannot start or a limit that silently does nothing.
 *
 * The units are the converter's (ms, MB); a settings layer that shows seconds converts before passing.
 */
import { z } from 'zod';
import { ErrorCodes, ExtractionError } from '../../core/errors';

export const pdfLimitsSchema = z.object({
  /** Convert at most this many pages of a PDF; a warning names the pages left out. Unset: all pages. */
  maxPages: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000').optional(),
  /** Time limit for converting one PDF, in ms (0: none). Default 120 000. */
  timeoutMs: z.number().int('must be a whole number of ms').min(0, 'must be 0 (no limit) or more').max(86_400_000, 'must be at most 86400000 (one day)').optional(),
  /** Heap limit of each PDF worker thread, in MB; a PDF that needs more fails with TOO_LARGE. Default 1024. */
  maxWorkerMemoryMb: z.number().int('must be a whole number of MB').min(32, 'must be at least 32 (MB)').max(65_536, 'must be at most 65536 (MB)').optional(),
  /** PDF worker threads. Default min(2, cores). */
  poolSize: z.number().int('must be a whole number').min(1, 'must be at least 1').max(64, 'must be at most 64').optional(),
  // OCR of scanned pages and images (src/convert/ocr/ocr.ts); here so they travel with the PDF limits
  /** `auto` (default) | `always` | `off`. */
  ocr: z.enum(['auto', 'always', 'off'], 'must be auto, always or off').optional(),
  /** Tesseract language codes, default ["eng"]. */
  ocrLanguages: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{1,31}$/, 'must be Tesseract language codes (eng, deu, chi_sim, …)')).min(1, 'must name at least one language').optional(),
  /** Time limit of OCR per page, in ms (0: none). Default 120 000. */
  ocrTimeoutMs: z.number().int('must be a whole number of ms').min(0, 'must be 0 (no limit) or more').max(86_400_000, 'must be at most 86400000 (one day)').optional(),
  /** OCR worker threads. Default: the number of cores. */
  ocrWorkers: z.number().int('must be a whole number').min(1, 'must be at least 1').max(64, 'must be at most 64').optional(),
  /** Pixel limit of one page image. Default 100 000 000. */
  ocrMaxPixels: z.number().int('must be a whole number').min(10_000, 'must be at least 10000').max(2_000_000_000, 'must be at most 2000000000').optional(),
  /** Folder searched first for language data. */
  ocrDataDir: z.string().min(1).optional(),
});

export type PdfLimits = z.infer<typeof pdfLimitsSchema>;

/** The limits in `options` (other fields are ignored), checked; INVALID_CONFIG naming the option otherwise. */
export function checkPdfLimits(options: Record<string, unknown>): PdfLimits {
  const picked = {
    maxPages: options.maxPages,
    timeoutMs: options.timeoutMs,
    maxWorkerMemoryMb: options.maxWorkerMemoryMb,
    poolSize: options.poolSize,
    ocr: options.ocr,
    ocrLanguages: options.ocrLanguages,
    ocrTimeoutMs: options.ocrTimeoutMs,
    ocrWorkers: options.ocrWorkers,
    ocrMaxPixels: options.ocrMaxPixels,
    ocrDataDir: options.ocrDataDir,
  };
  const parsed = pdfLimitsSchema.safeParse(picked);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => {
    const name = String(i.path[0] ?? '');
    const value: unknown = picked[name as keyof typeof picked];
    return `${name} ${i.message} (got ${typeof value === 'string' ? JSON.stringify(value) : String(value)})`;
  });
  throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `Invalid PDF/OCR converter option: ${problems.join('; ')}`, { retryable: false });
}
