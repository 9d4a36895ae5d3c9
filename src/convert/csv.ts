/**
 * CSV / TSV converter (RFC 4180: quoted fields, `""` escapes, line breaks inside quotes; CRLF or LF).
 * Binary data fails with UNSUPPORTED_CONTENT (binary.ts).
 *
 * The converter returns the whole file as one document whose text is the (decoded, `\n`-normalised)
 * file, with one position span per record (`line` = source line the record starts on). For large
 * tables, {@link splitCsv} cuts the text into chunks of N records that each repeat the header row.
 * Files above {@link STREAM_ABOVE_BYTES} (or the run's size limit) are converted from a stream with csv-parse
 * instead (csvStream.ts): same text, positions and verdict on bad input (csvIssues.ts), bounded by the size limit.
 */
import { assertTextContent } from './binary';
import { converterCacheKey } from './cache';
import { sniffDelimiter } from './csvDelimiter';
import { RaggedRows, unterminatedQuote } from './csvIssues';
import { convertCsvStream, countNewlines } from './csvStream';
import { emptyDocumentError, decodeText, normalizeNewlines, throwIfAborted } from './text';
import { STREAM_ABOVE_BYTES, type StreamingConverterOptions } from './textStream';
import type { ConvertedDocument, ConvertInput, Converter, PositionSpan } from './types';

export { sniffDelimiter };

export interface CsvRecord {
  fields: string[];
  /** Offsets of the record in the text (without its terminating newline). */
  start: number;
  end: number;
  /** 1-based line the record starts on. */
  line: number;
}

/** What parsing found wrong (see csvIssues.ts). */
export interface CsvParseIssues {
  /** Line of the record whose quoted field is never closed (the parse took the rest of the text into it). */
  unterminatedQuoteLine?: number;
}

/**
 * Parses CSV text into records. Tolerant: a stray quote inside an unquoted field is kept literally; a quoted
 * field never closed takes the rest of the text (and is told in `issues`).
 */
export function parseCsv(text: string, delimiter = ',', issues?: CsvParseIssues): CsvRecord[] {
  const records: CsvRecord[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = i;
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let endOfRecord = false;
    while (!endOfRecord) {
      if (i < n && text[i] === '"') {
        // quoted field
        i++;
        for (;;) {
          if (i >= n) {
            // unterminated quote: take the rest
            if (issues) issues.unterminatedQuoteLine ??= startLine;
            break;
          }
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        // anything between closing quote and delimiter is appended literally (lenient)
        while (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
      } else {
        while (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
      }
      fields.push(field);
      field = '';
      if (i >= n) {
        endOfRecord = true;
      } else if (text[i] === delimiter) {
        i++;
      } else {
        endOfRecord = true;
      }
    }
    const end = i;
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    if (i > end) line++;
    const blank = fields.length === 1 && fields[0] === '' && end === start;
    if (!blank) records.push({ fields, start, end, line: startLine });
  }
  return records;
}

export interface CsvChunk {
  /** Header line + the chunk's records, `\n`-separated. */
  text: string;
  /** 1-based index of the first and last data record (the header is record 0). */
  firstRow: number;
  lastRow: number;
  /** Offsets of the chunk's data records in the original text. */
  start: number;
  end: number;
}

/**
 * Splits CSV text into chunks of `rowsPerChunk` data records, each starting with the header record.
 * `rowsPerChunk <= 0` or `Infinity` → one chunk with everything.
 */
export function splitCsv(text: string, rowsPerChunk: number, delimiter?: string): CsvChunk[] {
  const norm = normalizeNewlines(text);
  const delim = delimiter ?? sniffDelimiter(norm);
  const records = parseCsv(norm, delim);
  if (records.length === 0) return [];
  const header = records[0];
  const headerText = norm.slice(header.start, header.end);
  const data = records.slice(1);
  if (data.length === 0) return [{ text: headerText, firstRow: 0, lastRow: 0, start: header.start, end: header.end }];
  const size = !Number.isFinite(rowsPerChunk) || rowsPerChunk <= 0 ? data.length : Math.floor(rowsPerChunk);
  const chunks: CsvChunk[] = [];
  for (let k = 0; k < data.length; k += size) {
    const part = data.slice(k, k + size);
    const start = part[0].start;
    const end = part[part.length - 1].end;
    chunks.push({ text: headerText + '\n' + norm.slice(start, end), firstRow: k + 1, lastRow: k + part.length, start, end });
  }
  return chunks;
}

export function convertCsvBytes(bytes: Uint8Array, delimiter: string | undefined, path = '(input)'): ConvertedDocument {
  assertTextContent(bytes, path, delimiter === '\t' ? 'TSV' : 'CSV');
  const { text: raw, encoding } = decodeText(bytes);
  const text = normalizeNewlines(raw);
  if (text.trim() === '') throw emptyDocumentError(path);
  const delim = delimiter ?? sniffDelimiter(text);
  const issues: CsvParseIssues = {};
  const records = parseCsv(text, delim, issues);
  if (issues.unterminatedQuoteLine !== undefined) throw unterminatedQuote(path, issues.unterminatedQuoteLine, countNewlines(text) + (text.endsWith('\n') ? 0 : 1));
  const ragged = new RaggedRows();
  for (const r of records) ragged.add(r.fields.length, r.line);
  const positions: PositionSpan[] = records.map((r) => ({ start: r.start, end: r.end, line: r.line }));
  const warning = ragged.warning();
  return {
    format: delim === '\t' ? 'tsv' : 'csv',
    text,
    positions,
    meta: { encoding, delimiter: delim, rows: Math.max(0, records.length - 1), columns: records[0]?.fields ?? [] },
    ...(warning ? { warnings: [warning] } : {}),
  };
}

/** Output version of this converter: bump when its text or positions change, so cached conversions are redone. */
export const CSV_CONVERTER_VERSION = 3;

export function createCsvConverter(options: StreamingConverterOptions = {}): Converter {
  return {
    id: 'csv',
    cacheKey: converterCacheKey('csv', CSV_CONVERTER_VERSION),
    extensions: ['.csv', '.tsv'],
    cacheable: false,
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      const delimiter = input.path.toLowerCase().endsWith('.tsv') ? '\t' : undefined;
      return convertCsvBytes(input.bytes, delimiter, input.path);
    },
    stream: {
      aboveBytes: options.streamAboveBytes ?? STREAM_ABOVE_BYTES,
      convert: (input) => convertCsvStream(input, input.path.toLowerCase().endsWith('.tsv') ? '\t' : undefined),
    },
  };
}
