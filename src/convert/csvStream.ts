/**
 * Large CSV / TSV files, converted from a stream with csv-parse (a full RFC 4180 parser) instead of being
 * read whole: the text and the per-record positions are those `convertCsvBytes` gives for the same file.
 *
 * Bounded: at most the run's size limit (`maxBytes`) is read; the records after it are cut with a warning
 * naming the limit (the last record, possibly cut, is dropped). Bad input, each CORRUPT_INPUT naming the
 * line: a quoted field that is never closed (or a record over {@link MAX_CSV_RECORD_CHARS}); invalid UTF-8
 * after a UTF-8 head (textStream.ts). Rows with another number of fields than the header are kept, with a
 * warning, and a quote inside an unquoted field (`5" screen`) is kept literally: as the whole-file parser does.
 */
import { once } from 'node:events';
import { parse, CsvError } from 'csv-parse';
import { sniffDelimiter } from './csvDelimiter';
import { corruptCsv, RaggedRows, unterminatedQuote } from './csvIssues';
import { emptyDocumentError, throwIfAborted } from './text';
import { streamText, truncationWarning } from './textStream';
import type { ConvertedDocument, FileConvertInput, PositionSpan } from './types';

/**
 * Longest record accepted, in characters: past it, a quoted field that is never closed would otherwise take
 * the rest of the read part of a file cut at the size limit (where an open quote at the cut is expected).
 */
export const MAX_CSV_RECORD_CHARS = 1024 * 1024;

interface ParsedRecord {
  record: string[];
  raw: string;
}

/** Line breaks in `s` (between `from` and `to`). */
export function countNewlines(s: string, from = 0, to = s.length): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i >= 0 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

export async function convertCsvStream(input: FileConvertInput, delimiter?: string): Promise<ConvertedDocument> {
  const { path, signal } = input;
  const format = delimiter === '\t' ? 'TSV' : 'CSV';
  const parts: string[] = [];
  const positions: PositionSpan[] = [];
  let length = 0;
  /** Lines before the next record (1-based line of the next text = lines + 1). */
  let lines = 0;
  let columns: string[] | undefined;
  let delim = delimiter;
  let parser: ReturnType<typeof parse> | undefined;
  let failure: unknown;
  /** Text after the last line break, held back when the file is cut (its record may be incomplete). */
  let tail = '';
  const ragged = new RaggedRows();
  /** Characters given to the parser. */
  let fed = 0;

  const onRecord = ({ record, raw }: ParsedRecord) => {
    // raw: the blank lines before the record, the record, its line break (none at the end of the file)
    let lead = 0;
    while (raw.charCodeAt(lead) === 10) lead++;
    const body = raw.endsWith('\n') && raw.length > lead ? raw.length - 1 : raw.length;
    positions.push({ start: length + lead, end: length + body, line: lines + lead + 1 });
    ragged.add(record.length, lines + lead + 1);
    columns ??= record;
    parts.push(raw);
    length += raw.length;
    lines += countNewlines(raw);
  };
  const open = (first: string) => {
    delim ??= sniffDelimiter(first);
    parser = parse({ delimiter: delim, record_delimiter: '\n', raw: true, skip_empty_lines: true, relax_quotes: true, relax_column_count: true, bom: false, max_record_size: MAX_CSV_RECORD_CHARS });
    parser.on('data', onRecord);
    parser.on('error', (err) => (failure ??= err));
  };
  const feed = async (text: string) => {
    if (failure) throw failure;
    if (!parser) open(text);
    fed += text.length;
    if (!parser!.write(text)) await once(parser!, 'drain');
  };

  const info = await streamText(input, format, async (text) => {
    throwIfAborted(signal);
    if (!text) return;
    const joined = tail + text;
    const nl = joined.lastIndexOf('\n');
    tail = joined.slice(nl + 1);
    if (nl >= 0) await feed(joined.slice(0, nl + 1));
  }).catch((err) => {
    parser?.destroy();
    throw failure ? mapCsvError(path, failure, lines) : err;
  });
  const cut = info.truncated;
  if (!cut && tail) await feed(tail).catch((err) => mapAndThrow(path, err, lines, parser));
  if (parser) {
    const p = parser;
    // 'close' follows both the end and an error (the error is kept in `failure`)
    if (!p.destroyed) {
      await new Promise<void>((resolve) => {
        p.once('close', resolve);
        p.once('end', resolve);
        p.end();
      });
    }
    // the record the size limit cut in a quoted field is dropped with the rest
    if (failure && !(cut && failure instanceof CsvError && failure.code === 'CSV_QUOTE_NOT_CLOSED')) throw mapCsvError(path, failure, lines);
  }
  if (positions.length === 0) throw emptyDocumentError(path);
  // blank lines at the end belong to no record: kept, as in the whole-file text
  if (!cut && fed > length) parts.push('\n'.repeat(fed - length));
  const text = parts.join('');
  const rows = positions.length - 1;
  const doc: ConvertedDocument = {
    format: delim === '\t' ? 'tsv' : 'csv',
    text,
    positions,
    meta: {
      encoding: info.encoding,
      delimiter: delim,
      rows,
      columns: columns ?? [],
      streamed: true,
      ...(cut ? { readBytes: info.readBytes, fileBytes: info.fileBytes } : {}),
    },
  };
  const warnings = [...(cut ? [truncationWarning(info, `${rows} rows, up to line ${lines}`)] : []), ragged.warning()].filter((w): w is string => w !== undefined);
  if (warnings.length) doc.warnings = warnings;
  return doc;
}

function mapAndThrow(path: string, err: unknown, lines: number, parser: { destroy(): void } | undefined): never {
  parser?.destroy();
  throw mapCsvError(path, err, lines);
}

/** A csv-parse error as CORRUPT_INPUT saying what is wrong where; other errors unchanged. */
export function mapCsvError(path: string, err: unknown, lines: number): unknown {
  if (!(err instanceof CsvError)) return err;
  const at = (err as CsvError & { lines?: number }).lines;
  switch (err.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return unterminatedQuote(path, lines + 1, at, err);
    case 'CSV_MAX_RECORD_SIZE':
      return corruptCsv(path, `unterminated quote? The record starting on line ${lines + 1} is longer than ${MAX_CSV_RECORD_CHARS / 1024 / 1024} MB`, err);
    default:
      return corruptCsv(path, `not valid CSV: ${err.message}`, err);
  }
}
