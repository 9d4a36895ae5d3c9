/**
 * What is wrong with a CSV file, said the same way whether it was read whole (csv.ts) or as a stream
 * (csvStream.ts), so that one file gets one verdict whatever its size: a quoted field that is never
 * closed is CORRUPT_INPUT naming its line; rows with another number of fields than the header are kept,
 * with a warning naming the first of them.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';

export function corruptCsv(path: string, message: string, cause?: unknown): ExtractionError {
  return new ExtractionError(ErrorCodes.CORRUPT_INPUT, `${path}: ${message}`, { retryable: false, stage: 'converting', ...(cause ? { cause } : {}) });
}

export function unterminatedQuote(path: string, recordLine: number, lastLine: number | undefined, cause?: unknown): ExtractionError {
  return corruptCsv(path, `unterminated quote: a quoted field of the record starting on line ${recordLine} is never closed (the file ends on line ${lastLine ?? '?'})`, cause);
}

/** Counts the records whose number of fields differs from the header's. */
export class RaggedRows {
  count = 0;
  #first: { line: number; fields: number } | undefined;
  #header: number | undefined;

  add(fields: number, line: number): void {
    if (this.#header === undefined) {
      this.#header = fields;
      return;
    }
    if (fields === this.#header) return;
    this.count++;
    this.#first ??= { line, fields };
  }

  /** The warning, or undefined when every row has the header's number of fields. */
  warning(): string | undefined {
    const first = this.#first;
    if (!first) return undefined;
    const rows = this.count === 1 ? '1 row has' : `${this.count} rows have`;
    return `${rows} another number of fields than the header's ${this.#header} (first: line ${first.line}, ${first.fields} fields); kept as they are`;
  }
}
