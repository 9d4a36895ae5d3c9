/**
 * Plain-text and Markdown converter.
 *
 * Binary data (NUL bytes, a flood of control characters: see binary.ts) fails with UNSUPPORTED_CONTENT.
 *
 * Decoding: a BOM decides (UTF-8, UTF-16 LE, UTF-16 BE); without one, UTF-16 is recognised by its NUL
 * bytes at every second position; otherwise the bytes are decoded as strict UTF-8, and when that fails as Latin-1 (decoded with the WHATWG `latin1` label, i.e. windows-1252, a
 * superset of ISO-8859-1's printable characters — curly quotes and € in old Windows files come out right).
 * Line endings are normalised to `\n`; one {@link PositionSpan} per line carries the 1-based source line.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';
import { assertTextContent, sniffUtf16WithoutBom } from './binary';
import { converterCacheKey } from './cache';
import type { ConvertedDocument, ConvertInput, Converter, PositionSpan } from './types';

export type TextEncodingName = 'utf-8' | 'utf-8-bom' | 'utf-16le' | 'utf-16be' | 'latin1';

export interface DecodedText {
  text: string;
  encoding: TextEncodingName;
}

// windows-1252 characters for bytes 0x80–0x9f (0 = unassigned, kept as the C1 code point)
const CP1252_HIGH = [
  0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
  0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
];

/**
 * windows-1252 decoding (what the WHATWG `latin1` label means). Done by hand: Node 20's TextDecoder
 * decodes that label as plain ISO-8859-1 (C1 controls instead of € and curly quotes).
 */
export function decodeWindows1252(bytes: Uint8Array): string {
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return /[\x80-\x9f]/.test(s) ? s.replace(/[\x80-\x9f]/g, (c) => String.fromCharCode(CP1252_HIGH[c.charCodeAt(0) - 0x80] || c.charCodeAt(0))) : s;
}

/** Decodes bytes to a string (BOM sniffing, UTF-16 without BOM, strict UTF-8, Latin-1 fallback). Never throws. */
export function decodeText(bytes: Uint8Array): DecodedText {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return { text: new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.subarray(3)), encoding: 'utf-8-bom' };
  }
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) {
    return { text: new TextDecoder('utf-16le', { ignoreBOM: true }).decode(bytes.subarray(2)), encoding: 'utf-16le' };
  }
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) {
    return { text: new TextDecoder('utf-16be', { ignoreBOM: true }).decode(bytes.subarray(2)), encoding: 'utf-16be' };
  }
  const utf16 = sniffUtf16WithoutBom(bytes);
  if (utf16) return { text: new TextDecoder(`utf-16${utf16}`, { ignoreBOM: true }).decode(bytes), encoding: `utf-16${utf16}` };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: decodeWindows1252(bytes), encoding: 'latin1' };
  }
}

/** `\r\n` and lone `\r` → `\n`. */
export function normalizeNewlines(text: string): string {
  return text.indexOf('\r') < 0 ? text : text.replace(/\r\n?/g, '\n');
}

/** One span per line (the newline itself is not part of the span); `line` is 1-based. */
export function linePositions(text: string, firstLine = 1): PositionSpan[] {
  const spans: PositionSpan[] = [];
  let start = 0;
  let line = firstLine;
  for (;;) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    spans.push({ start, end, line });
    if (nl < 0) break;
    start = nl + 1;
    line++;
  }
  return spans;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new ExtractionError(ErrorCodes.CANCELLED, 'Conversion cancelled', { retryable: false, stage: 'converting' });
  }
}

export function emptyDocumentError(path: string): ExtractionError {
  return new ExtractionError(ErrorCodes.EMPTY_DOCUMENT, `Document has no text: ${path}`, {
    retryable: false,
    stage: 'converting',
  });
}

/**
 * Converts text bytes; throws UNSUPPORTED_CONTENT for binary data (binary.ts) and EMPTY_DOCUMENT when
 * nothing but whitespace is left.
 */
export function convertTextBytes(bytes: Uint8Array, format: string, path = '(input)'): ConvertedDocument {
  assertTextContent(bytes, path, format);
  const { text: raw, encoding } = decodeText(bytes);
  const text = normalizeNewlines(raw);
  if (text.trim() === '') throw emptyDocumentError(path);
  return { format, text, positions: linePositions(text), meta: { encoding } };
}

export interface TextConverterOptions {
  id?: string;
  format?: string;
  extensions?: readonly string[];
}

/** Output version of this converter: bump when its text or positions change, so cached conversions are redone. */
export const TEXT_CONVERTER_VERSION = 2;

export function createTextConverter(options: TextConverterOptions = {}): Converter {
  const format = options.format ?? 'text';
  const id = options.id ?? format;
  return {
    id,
    // the format is part of the output (`ConvertedDocument.format`)
    cacheKey: converterCacheKey(id, TEXT_CONVERTER_VERSION, format === id ? {} : { format }),
    extensions: options.extensions ?? ['.txt', '.text'],
    cacheable: false,
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      return convertTextBytes(input.bytes, format, input.path);
    },
  };
}

export const TEXT_EXTENSIONS = ['.txt', '.text'] as const;
export const MARKDOWN_EXTENSIONS = ['.md', '.markdown'] as const;

export function createMarkdownConverter(): Converter {
  return createTextConverter({ id: 'markdown', format: 'markdown', extensions: MARKDOWN_EXTENSIONS });
}
