/**
 * CSV tables: RFC 4180 (comma, `"` quoting with quotes doubled, CRLF line ends), UTF-8, with an optional
 * byte order mark so Excel reads the encoding. Text cells that start with `=`, `+`, `-`, `@`, a tab or a
 * carriage return (and their full-width forms) get a leading `'` against formula injection (OWASP "CSV
 * Injection"); numbers are written as they are, so `-5` stays a number. Rows stream to the file, with
 * backpressure: several files can be written in one pass over the documents.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import { finished } from 'node:stream/promises';
import { stringify, type Stringifier } from 'csv-stringify';
import type { Cell } from './datasetLayout';

export interface CsvOptions {
  /** Start the file with a UTF-8 byte order mark (for Excel). */
  bom?: boolean;
}

/** One CSV file being written: `write` rows, then `close`; `destroy` on failure. */
export class CsvFile {
  readonly #stringifier: Stringifier;
  readonly #out: fs.WriteStream;
  readonly #done: Promise<void>;
  #rows = 0;

  constructor(file: string, header: readonly string[], options: CsvOptions = {}) {
    this.#stringifier = stringify({
      bom: options.bom ?? false,
      record_delimiter: 'windows',
      escape_formulas: true,
      cast: { boolean: (v) => String(v) },
    });
    this.#out = fs.createWriteStream(file, { flags: 'wx' });
    this.#done = finished(this.#stringifier.pipe(this.#out));
    this.#done.catch(() => undefined); // awaited in write/close; an early failure must not be unhandled
    this.#stringifier.write(header);
  }

  /** Rows written (the header not counted). */
  get rows(): number {
    return this.#rows;
  }

  async write(row: readonly Cell[]): Promise<void> {
    this.#rows++;
    if (!this.#stringifier.write(row)) await Promise.race([once(this.#stringifier, 'drain'), this.#done]);
  }

  async close(): Promise<number> {
    this.#stringifier.end();
    await this.#done;
    return this.#rows;
  }

  destroy(): void {
    this.#stringifier.destroy();
    this.#out.destroy();
  }
}
