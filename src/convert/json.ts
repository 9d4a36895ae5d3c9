/** JSON converter: re-serialises the value pretty-printed (2-space indent). Invalid JSON → CORRUPT_INPUT. */
import { ErrorCodes, ExtractionError } from '../core/errors';
import { converterCacheKey } from './cache';
import { decodeText, emptyDocumentError, linePositions, throwIfAborted } from './text';
import type { ConvertedDocument, ConvertInput, Converter } from './types';

export function convertJsonBytes(bytes: Uint8Array, path = '(input)'): ConvertedDocument {
  const { text: raw, encoding } = decodeText(bytes);
  if (raw.trim() === '') throw emptyDocumentError(path);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new ExtractionError(ErrorCodes.CORRUPT_INPUT, `Invalid JSON in ${path}: ${(err as Error).message}`, {
      retryable: false,
      stage: 'converting',
      cause: err,
    });
  }
  const text = JSON.stringify(value, null, 2);
  if (text === undefined || text.trim() === '' || text === '""' || text === '{}' || text === '[]' || text === 'null') {
    throw emptyDocumentError(path);
  }
  // Line spans refer to the pretty-printed text, not to the source file's lines.
  return { format: 'json', text, positions: linePositions(text), meta: { encoding } };
}

/** Output version of this converter: bump when its text or positions change, so cached conversions are redone. */
export const JSON_CONVERTER_VERSION = 1;

export function createJsonConverter(): Converter {
  return {
    id: 'json',
    cacheKey: converterCacheKey('json', JSON_CONVERTER_VERSION),
    extensions: ['.json'],
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      return convertJsonBytes(input.bytes, input.path);
    },
  };
}
