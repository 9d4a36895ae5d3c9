/** DOCX converter (mammoth `extractRawText`, loaded on first use). Corrupt / non-DOCX bytes → CORRUPT_INPUT. */
import { ErrorCodes, ExtractionError } from '../core/errors';
import { converterCacheKey } from './cache';
import { emptyDocumentError, linePositions, normalizeNewlines, throwIfAborted } from './text';
import type { ConvertedDocument, ConvertInput, Converter } from './types';

interface MammothLike {
  extractRawText(input: { buffer: Buffer }): Promise<{ value: string; messages: { type: string; message: string }[] }>;
}

let mammothPromise: Promise<MammothLike> | undefined;
function loadMammoth(): Promise<MammothLike> {
  mammothPromise ??= import('mammoth').then((m) => {
    const mod = m as unknown as MammothLike & { default?: MammothLike };
    return typeof mod.extractRawText === 'function' ? mod : (mod.default as MammothLike);
  });
  return mammothPromise;
}

export async function convertDocxBytes(bytes: Uint8Array, path = '(input)', signal?: AbortSignal): Promise<ConvertedDocument> {
  if (bytes.length === 0) throw emptyDocumentError(path);
  const mammoth = await loadMammoth();
  throwIfAborted(signal);
  let result: Awaited<ReturnType<MammothLike['extractRawText']>>;
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    result = await mammoth.extractRawText({ buffer });
  } catch (err) {
    throw new ExtractionError(ErrorCodes.CORRUPT_INPUT, `Cannot read DOCX ${path}: ${(err as Error)?.message ?? String(err)}`, {
      retryable: false,
      stage: 'converting',
      cause: err,
    });
  }
  throwIfAborted(signal);
  const text = normalizeNewlines(result.value)
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  if (text === '') throw emptyDocumentError(path);
  const warnings = result.messages.filter((m) => m.type !== 'info').map((m) => m.message);
  return { format: 'docx', text, positions: linePositions(text), ...(warnings.length ? { warnings } : {}) };
}

/** Output version of this converter: bump when its text or positions change, so cached conversions are redone. */
export const DOCX_CONVERTER_VERSION = 1;

export function createDocxConverter(): Converter {
  return {
    id: 'docx',
    cacheKey: converterCacheKey('docx', DOCX_CONVERTER_VERSION),
    extensions: ['.docx'],
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      return convertDocxBytes(input.bytes, input.path, input.signal);
    },
  };
}
