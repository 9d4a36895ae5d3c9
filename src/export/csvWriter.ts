/**
 * CSV tables: RFC 4180 (comma, `"` quoting with quotes doubled, CRLF line ends), UTF-8, with an optional
 * byte order mark so Excel reads the encoding. Text cells that start with `=`, `+`, `-`, `@`, a tab or a
 * carriage return (and their full-width forms) get a leading `'` against formula injection (OWASP "CSV
 * Injection"); numbers are written as they are, so `-5` stays a number. Rows stream to the file.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import { finished } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { Cell } from './datasetLayout';

export interface CsvOptions {
  /** Start the file with a UTF-8 byte order mark (for Excel). */
  bom?: boolean;
}

/** Writes `header` and `rows` to `file`; returns the number of rows (header not counted). */
export async function writeCsv(file: string, header: readonly string[], rows: AsyncIterable<readonly Cell[]>, options: CsvOptions = {}): Promise<number> {
  const stringifier = stringify({
    bom: options.bom ?? false,
    record_delimiter: 'windows',
    escape_formulas: true,
    cast: { boolean: (v) => String(v) },
  });
  const out = fs.createWriteStream(file, { flags: 'wx' });
  const piped = stringifier.pipe(out);
  const done = finished(piped);
  done.catch(() => undefined); // awaited below; an early failure must not be unhandled
  const write = async (record: readonly Cell[]): Promise<void> => {
    if (!stringifier.write(record)) await Promise.race([once(stringifier, 'drain'), done]);
  };
  let n = 0;
  try {
    await write(header);
    for await (const row of rows) {
      await write(row);
      n++;
    }
    stringifier.end();
    await done;
  } catch (err) {
    stringifier.destroy();
    out.destroy();
    throw err;
  }
  return n;
}
