/**
 * Converter port: turns a file's bytes into text the extractor can read, keeping track of where
 * every character came from so later stages can ground values to the source.
 */

/** [x0, y0, x1, y1] in PDF page viewport units (origin top-left, scale 1). */
export type BBox = [number, number, number, number];

/** A run of converted text that came from one place of the source. Offsets are into `ConvertedDocument.text`. */
export interface PositionSpan {
  start: number;
  end: number;
  /** 1-based page number (PDF) */
  page?: number;
  bbox?: BBox;
  /** 1-based line in the source file (text formats). */
  line?: number;
  /** OCR word confidence 0–100 (text recognised from an image). */
  confidence?: number;
}

export interface PageInfo {
  /** 1-based page number. */
  page: number;
  /** Offsets of the page's text in `ConvertedDocument.text`. */
  start: number;
  end: number;
  width?: number;
  height?: number;
  /** True when the page has no text layer (probably scanned). */
  needsOcr?: boolean;
  /** The page's text was recognised by OCR (mean word confidence 0–100 in `ocrConfidence`). */
  ocr?: boolean;
  ocrConfidence?: number;
}

export interface ConvertedDocument {
  /** Format that produced the text, e.g. `text`, `markdown`, `pdf`, `html`. */
  format: string;
  text: string;
  pages?: PageInfo[];
  positions?: PositionSpan[];
  /** Non-fatal warnings (e.g. some pages needed OCR). */
  warnings?: string[];
  meta?: Record<string, unknown>;
}

export interface ConvertInput {
  /** Path relative to the run root (for messages). */
  path: string;
  /** Absolute path, for converters that prefer to read the file themselves. */
  absPath: string;
  bytes: Uint8Array;
  signal?: AbortSignal;
}

export interface Converter {
  /** Short id, e.g. `text`. */
  readonly id: string;
  /**
   * What the converted-text cache keys this converter's output by: the id, the converter's output
   * version and the options that change its output, built with `converterCacheKey` (cache.ts).
   * Two converters with equal keys must give equal output for equal bytes. Default: `id`.
   */
  readonly cacheKey?: string;
  /**
   * False when converting costs less than a cache lookup (plain text, JSON, CSV: the bytes are decoded, not
   * parsed at length), so the converted-text cache is skipped: a cache entry per document cost an open, a
   * write and a rename for nothing. Default true.
   */
  readonly cacheable?: boolean;
  /** Lower-case file extensions with the dot, e.g. `.txt`. */
  readonly extensions: readonly string[];
  convert(input: ConvertInput): Promise<ConvertedDocument>;
  /**
   * Converters that can read a file as a stream (CSV, TSV, JSONL): files larger than `aboveBytes`, or than
   * the run's size limit, are converted by `convert` here from the file itself, never read whole; the run's
   * size limit bounds what is read (the rest is cut with a warning) instead of rejecting the file.
   */
  readonly stream?: StreamConversion;
  /** Releases worker threads etc. */
  dispose?(): Promise<void> | void;
}

/** A file converted from a stream of its bytes (see `Converter.stream`). */
export interface FileConvertInput {
  /** Path relative to the run root (for messages). */
  path: string;
  absPath: string;
  /** Read at most this many bytes of the file (the run's size limit); the records beyond are cut with a warning. */
  maxBytes: number;
  signal?: AbortSignal;
}

export interface StreamConversion {
  /** Files larger than this are streamed (smaller ones are read whole and converted by `Converter.convert`). */
  readonly aboveBytes: number;
  convert(input: FileConvertInput): Promise<ConvertedDocument>;
}
