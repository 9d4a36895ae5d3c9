/**
 * Named, classified errors. Every failure that reaches the pipeline is turned into an
 * {@link ExtractionError} with a stable `code` and a `retryable` flag that steers the retry policy.
 */
import type { Stage } from './types';

export const ErrorCodes = {
  // retryable
  NETWORK: 'NETWORK_ERROR',
  TIMEOUT: 'TIMEOUT',
  REQUEST_TIMEOUT: 'HTTP_408',
  CONFLICT: 'HTTP_409',
  RATE_LIMITED: 'RATE_LIMITED',
  SERVER_ERROR: 'SERVER_ERROR',
  MALFORMED_OUTPUT: 'MALFORMED_OUTPUT',
  TRUNCATED_OUTPUT: 'TRUNCATED_OUTPUT',
  SCHEMA_MISMATCH: 'SCHEMA_MISMATCH',
  // non-retryable
  FILE_MISSING: 'FILE_MISSING',
  FILE_UNREADABLE: 'FILE_UNREADABLE',
  UNSUPPORTED_TYPE: 'UNSUPPORTED_TYPE',
  /** The file's extension is supported but its bytes are not that format's text (binary data named `.txt`, …). */
  UNSUPPORTED_CONTENT: 'UNSUPPORTED_CONTENT',
  TOO_LARGE: 'TOO_LARGE',
  EMPTY_DOCUMENT: 'EMPTY_DOCUMENT',
  CORRUPT_INPUT: 'CORRUPT_INPUT',
  PDF_ENCRYPTED: 'PDF_ENCRYPTED',
  PDF_CORRUPT: 'PDF_CORRUPT',
  NEEDS_OCR: 'NEEDS_OCR',
  CONVERT_TIMEOUT: 'CONVERT_TIMEOUT',
  INVALID_SCHEMA: 'INVALID_SCHEMA',
  INVALID_CONFIG: 'INVALID_CONFIG',
  BAD_REQUEST: 'BAD_REQUEST',
  AUTH_FAILED: 'AUTH_FAILED',
  FORBIDDEN: 'FORBIDDEN',
  UNKNOWN_MODEL: 'UNKNOWN_MODEL',
  MODEL_REFUSED: 'MODEL_REFUSED',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** The provider failed for longer than the outage limit: the run stops with its progress saved. */
  PROVIDER_UNAVAILABLE: 'PROVIDER_UNAVAILABLE',
  /** The state folder or the output folder cannot be written (disk full, read-only): the run stops. */
  DISK_FULL: 'DISK_FULL',
  /** The checkpoint store could not write (an I/O error other than a full disk): the run stops. */
  STATE_WRITE_FAILED: 'STATE_WRITE_FAILED',
  CANCELLED: 'CANCELLED',
  EXPORT_FAILED: 'EXPORT_FAILED',
  /** A path from the state (store, journal, settings) or a link that leads out of the folder it belongs to. */
  PATH_OUTSIDE_ROOT: 'PATH_OUTSIDE_ROOT',
  /** The output folder cannot be written (read-only, not a folder, disk full): found before anything is paid for. */
  OUTPUT_UNWRITABLE: 'OUTPUT_UNWRITABLE',
  /** A router job's classification matched none of its jobs: the document ends rejected (not dead-lettered). */
  NO_MATCHING_JOB: 'NO_MATCHING_JOB',
  INTERNAL: 'INTERNAL_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes] | string;

const RETRYABLE = new Set<string>([
  ErrorCodes.NETWORK,
  ErrorCodes.TIMEOUT,
  ErrorCodes.REQUEST_TIMEOUT,
  ErrorCodes.CONFLICT,
  ErrorCodes.RATE_LIMITED,
  ErrorCodes.SERVER_ERROR,
  ErrorCodes.MALFORMED_OUTPUT,
  ErrorCodes.TRUNCATED_OUTPUT,
  ErrorCodes.SCHEMA_MISMATCH,
]);

/** Codes that concern the whole run (provider or configuration), not one document. */
const RUN_FATAL = new Set<string>([
  ErrorCodes.AUTH_FAILED,
  ErrorCodes.FORBIDDEN,
  ErrorCodes.UNKNOWN_MODEL,
  ErrorCodes.QUOTA_EXCEEDED,
  ErrorCodes.PROVIDER_UNAVAILABLE,
  ErrorCodes.DISK_FULL,
  ErrorCodes.STATE_WRITE_FAILED,
  ErrorCodes.INVALID_SCHEMA,
  ErrorCodes.INVALID_CONFIG,
  ErrorCodes.OUTPUT_UNWRITABLE,
]);

/** Run-stopping codes that are no document's fault: the document goes back to pending, its attempt not counted. */
export const NOT_THE_DOCUMENTS_FAULT: ReadonlySet<string> = new Set([ErrorCodes.DISK_FULL, ErrorCodes.STATE_WRITE_FAILED, ErrorCodes.PROVIDER_UNAVAILABLE]);

const FULL_DISK_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

/** Whether `err` is a failure of the checkpoint store itself (it can no longer record anything). */
export function isStorageError(err: unknown): boolean {
  return (err as { name?: unknown } | undefined)?.name === 'StoreIoError';
}

export function isRetryableCode(code: string): boolean {
  return RETRYABLE.has(code);
}

export function isRunFatalCode(code: string): boolean {
  return RUN_FATAL.has(code);
}

export interface ExtractionErrorOptions {
  retryable?: boolean;
  stage?: Stage;
  /** Delay the server asked for (Retry-After / retry-after-ms), in ms. */
  retryAfterMs?: number;
  cause?: unknown;
  /** Extra structured detail (e.g. page numbers for NEEDS_OCR). */
  details?: Record<string, unknown>;
  tokensIn?: number;
  tokensOut?: number;
}

export class ExtractionError extends Error {
  override readonly name: string = 'ExtractionError';
  readonly code: string;
  readonly retryable: boolean;
  stage?: Stage;
  readonly retryAfterMs?: number;
  readonly details?: Record<string, unknown>;
  /** Tokens spent before the failure (they still cost money). */
  readonly tokensIn: number;
  readonly tokensOut: number;

  constructor(code: string, message: string, options: ExtractionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? isRetryableCode(code);
    this.stage = options.stage;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
    this.tokensIn = options.tokensIn ?? 0;
    this.tokensOut = options.tokensOut ?? 0;
  }
}

/** Thrown when work was cancelled (stop, shutdown). Never retried, never dead-lettered. */
export class CancelledError extends ExtractionError {
  override readonly name = 'CancelledError';
  constructor(message = 'Cancelled') {
    super(ErrorCodes.CANCELLED, message, { retryable: false });
  }
}

export function isAbortError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const name = (err as { name?: string }).name;
  return name === 'AbortError' || name === 'APIUserAbortError' || name === 'CancelledError';
}

/** Turns anything thrown into an ExtractionError (file-system errors get their own codes). */
export function toExtractionError(err: unknown, stage?: Stage): ExtractionError {
  if (err instanceof ExtractionError) {
    if (stage && !err.stage) err.stage = stage;
    return err;
  }
  if (isAbortError(err)) return Object.assign(new CancelledError(), { stage });
  if (isStorageError(err)) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    if (cause?.code && FULL_DISK_ERRNOS.has(cause.code)) return toExtractionError(cause, stage);
    return new ExtractionError(ErrorCodes.STATE_WRITE_FAILED, `The checkpoint store could not be written: ${(err as Error).message}. Check the state folder, then run again: finished documents are kept.`, { stage, cause: err, retryable: false });
  }
  const e = err as NodeJS.ErrnoException | undefined;
  const message = e?.message ?? String(err);
  switch (e?.code) {
    case 'ENOENT':
      return new ExtractionError(ErrorCodes.FILE_MISSING, `File not found: ${e.path ?? message}`, { stage, cause: err });
    case 'EACCES':
    case 'EPERM':
    case 'EISDIR':
      return new ExtractionError(ErrorCodes.FILE_UNREADABLE, `Cannot read file: ${message}`, { stage, cause: err });
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EROFS':
      return new ExtractionError(
        ErrorCodes.DISK_FULL,
        `${e.code === 'EROFS' ? 'The file system is read-only' : 'The disk is full'}${e.path ? ` (writing ${e.path})` : ''}: ${message}. Free some space (or choose another output or state folder), then run again: finished documents are kept.`,
        { stage, cause: err, retryable: false },
      );
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ETIMEDOUT':
    case 'EPIPE':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ExtractionError(ErrorCodes.NETWORK, `Network error: ${message}`, { stage, cause: err });
    default:
      return new ExtractionError(ErrorCodes.INTERNAL, message, { stage, cause: err, retryable: false });
  }
}
