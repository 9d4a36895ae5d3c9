/**
 * JSON converter: re-serialises the value pretty-printed (2-space indent). Invalid JSON → CORRUPT_INPUT,
 * binary data → UNSUPPORTED_CONTENT (binary.ts).
 *
 * Nesting is limited to {@link MAX_JSON_DEPTH} levels, checked on the text before parsing: `JSON.stringify`
 * recurses once per level and overflowed the stack (an INTERNAL_ERROR) at a few thousand levels.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';
import { assertTextContent } from './binary';
import { converterCacheKey } from './cache';
import { decodeText, emptyDocumentError, linePositions, throwIfAborted } from './text';
import type { ConvertedDocument, ConvertInput, Converter } from './types';

/** Deepest nesting of arrays and objects accepted (real documents stay far below; the stack does not). */
export const MAX_JSON_DEPTH = 1000;

/**
 * Offset of the first `[` or `{` that opens level `maxDepth + 1` of a JSON text (outside strings), or -1
 * when the nesting stays within `maxDepth`. One pass, no recursion; does not validate the JSON.
 */
export function findTooDeep(text: string, maxDepth = MAX_JSON_DEPTH): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}

function corrupt(message: string, cause?: unknown): ExtractionError {
  return new ExtractionError(ErrorCodes.CORRUPT_INPUT, message, { retryable: false, stage: 'converting', ...(cause !== undefined ? { cause } : {}) });
}

export function convertJsonBytes(bytes: Uint8Array, path = '(input)'): ConvertedDocument {
  assertTextContent(bytes, path, 'JSON');
  const { text: raw, encoding } = decodeText(bytes);
  if (raw.trim() === '') throw emptyDocumentError(path);
  const deep = findTooDeep(raw);
  if (deep >= 0) throw corrupt(`JSON in ${path} is nested deeper than ${MAX_JSON_DEPTH} levels (at character ${deep})`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw corrupt(`Invalid JSON in ${path}: ${(err as Error).message}`, err);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, 2);
  } catch (err) {
    // the depth check keeps the stack safe; what is left is a pretty-printed text over V8's string limit
    throw new ExtractionError(ErrorCodes.TOO_LARGE, `JSON in ${path} is too large to pretty-print: ${(err as Error).message}`, { retryable: false, stage: 'converting', cause: err });
  }
  if (text === undefined || text.trim() === '' || text === '""' || text === '{}' || text === '[]' || text === 'null') {
    throw emptyDocumentError(path);
  }
  // Line spans refer to the pretty-printed text, not to the source file's lines.
  return { format: 'json', text, positions: linePositions(text), meta: { encoding } };
}

/** Output version of this converter: bump when its text or positions change, so cached conversions are redone. */
export const JSON_CONVERTER_VERSION = 2;

export function createJsonConverter(): Converter {
  return {
    id: 'json',
    cacheKey: converterCacheKey('json', JSON_CONVERTER_VERSION),
    extensions: ['.json'],
    cacheable: false,
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      return convertJsonBytes(input.bytes, input.path);
    },
  };
}
