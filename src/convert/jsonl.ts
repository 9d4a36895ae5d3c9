/**
 * JSON Lines converter (`.jsonl`, `.ndjson`): one JSON value per line. The text is the file's lines as they
 * are (decoded, `\n`-normalised), one position span per non-blank line, so a value found by the model
 * points at its source line. Every non-blank line must be JSON: a line that is not → CORRUPT_INPUT naming
 * the line; binary data → UNSUPPORTED_CONTENT; no value at all → EMPTY_DOCUMENT.
 *
 * Small files are read whole; larger ones (and any over the run's size limit) are read as a stream
 * (textStream.ts) up to the size limit, the lines after it cut with a warning.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';
import { assertTextContent } from './binary';
import { converterCacheKey } from './cache';
import { decodeText, emptyDocumentError, normalizeNewlines, throwIfAborted } from './text';
import { STREAM_ABOVE_BYTES, streamText, truncationWarning, type StreamingConverterOptions } from './textStream';
import type { ConvertedDocument, ConvertInput, Converter, FileConvertInput, PositionSpan } from './types';

/** Collects JSON lines piece by piece, checking each complete line. */
class JsonLines {
  readonly #path: string;
  readonly #parts: string[] = [];
  readonly positions: PositionSpan[] = [];
  #length = 0;
  #line = 0;
  #tail = '';

  constructor(path: string) {
    this.#path = path;
  }

  push(text: string): void {
    const joined = this.#tail + text;
    let from = 0;
    for (let nl = joined.indexOf('\n'); nl >= 0; nl = joined.indexOf('\n', from)) {
      this.#add(joined.slice(from, nl), true);
      from = nl + 1;
    }
    this.#tail = joined.slice(from);
  }

  /** `complete`: false when the reading stopped at the size limit (the last line may be cut: it is dropped). */
  end(complete: boolean): void {
    if (complete && this.#tail) this.#add(this.#tail, false);
    this.#tail = '';
  }

  get lines(): number {
    return this.#line;
  }

  get text(): string {
    return this.#parts.join('');
  }

  #add(line: string, newline: boolean): void {
    this.#line++;
    if (line.trim() !== '') {
      try {
        JSON.parse(line);
      } catch (err) {
        throw new ExtractionError(ErrorCodes.CORRUPT_INPUT, `${this.#path}: line ${this.#line} is not JSON (${(err as Error).message}); JSON Lines needs one JSON value per line`, {
          retryable: false,
          stage: 'converting',
          cause: err,
        });
      }
      this.positions.push({ start: this.#length, end: this.#length + line.length, line: this.#line });
    }
    const piece = newline ? line + '\n' : line;
    this.#parts.push(piece);
    this.#length += piece.length;
  }
}

export function convertJsonlBytes(bytes: Uint8Array, path = '(input)'): ConvertedDocument {
  assertTextContent(bytes, path, 'JSON Lines');
  const { text: raw, encoding } = decodeText(bytes);
  const lines = new JsonLines(path);
  lines.push(normalizeNewlines(raw));
  lines.end(true);
  if (lines.positions.length === 0) throw emptyDocumentError(path);
  return { format: 'jsonl', text: lines.text, positions: lines.positions, meta: { encoding, records: lines.positions.length } };
}

export async function convertJsonlStream(input: FileConvertInput): Promise<ConvertedDocument> {
  const lines = new JsonLines(input.path);
  const info = await streamText(input, 'JSON Lines', (text) => {
    throwIfAborted(input.signal);
    lines.push(text);
  });
  lines.end(!info.truncated);
  if (lines.positions.length === 0) throw emptyDocumentError(input.path);
  const records = lines.positions.length;
  const doc: ConvertedDocument = {
    format: 'jsonl',
    text: lines.text,
    positions: lines.positions,
    meta: { encoding: info.encoding, records, streamed: true, ...(info.truncated ? { readBytes: info.readBytes, fileBytes: info.fileBytes } : {}) },
  };
  if (info.truncated) doc.warnings = [truncationWarning(info, `${records} records, up to line ${lines.lines}`)];
  return doc;
}

/** Output version of this converter: bump when its text or positions change, so cached conversions are redone. */
export const JSONL_CONVERTER_VERSION = 1;

export function createJsonlConverter(options: StreamingConverterOptions = {}): Converter {
  return {
    id: 'jsonl',
    cacheKey: converterCacheKey('jsonl', JSONL_CONVERTER_VERSION),
    extensions: ['.jsonl', '.ndjson'],
    cacheable: false,
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      return convertJsonlBytes(input.bytes, input.path);
    },
    stream: { aboveBytes: options.streamAboveBytes ?? STREAM_ABOVE_BYTES, convert: convertJsonlStream },
  };
}
