/**
 * DOCX converter (mammoth `extractRawText`, loaded on first use). Corrupt / non-DOCX bytes → CORRUPT_INPUT.
 * Zip bombs: the archive is unpacked within a bound first (officeZip.ts); over it → TOO_LARGE.
 */
import { converterCacheKey } from './cache';
import { corruptOffice, officeUnpackLimitBytes, unpackOffice } from './officeZip';
import { DEFAULT_WORKER_MEMORY_MB } from './pdf/pool';
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

/** Bytes of XML a DOCX may unpack to under a memory limit of `memoryMb` (at least 4 MB). */
export const docxUnpackLimitBytes = officeUnpackLimitBytes;

export interface DocxOptions {
  /** Memory limit in MB the unpack bound is derived from (default: the PDF workers' default, 1024). */
  memoryMb?: number;
}

const corrupt = (path: string, err: unknown) => corruptOffice('DOCX', path, err);

/** The DOCX's text parts as a stored ZIP, within the unpack bound (TOO_LARGE / CORRUPT_INPUT otherwise). */
export function unpackDocx(bytes: Uint8Array, path: string, memoryMb: number = DEFAULT_WORKER_MEMORY_MB): Buffer {
  return unpackOffice('DOCX', bytes, path, memoryMb);
}

/** Strips spaces and tabs at the end of every line (a loop: `/[ \t]+\n/g` backtracks quadratically on long runs of spaces). */
function trimLineEnds(text: string): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let end = line.length;
    while (end > 0 && (line.charCodeAt(end - 1) === 32 || line.charCodeAt(end - 1) === 9)) end--;
    if (end < line.length) lines[i] = line.slice(0, end);
  }
  return lines.join('\n');
}

export async function convertDocxBytes(bytes: Uint8Array, path = '(input)', signal?: AbortSignal, options: DocxOptions = {}): Promise<ConvertedDocument> {
  if (bytes.length === 0) throw emptyDocumentError(path);
  const buffer = unpackDocx(bytes, path, options.memoryMb);
  const mammoth = await loadMammoth();
  throwIfAborted(signal);
  let result: Awaited<ReturnType<MammothLike['extractRawText']>>;
  try {
    result = await mammoth.extractRawText({ buffer });
  } catch (err) {
    throw corrupt(path, err);
  }
  throwIfAborted(signal);
  const text = trimLineEnds(normalizeNewlines(result.value))
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  if (text === '') throw emptyDocumentError(path);
  const warnings = result.messages.filter((m) => m.type !== 'info').map((m) => m.message);
  return { format: 'docx', text, positions: linePositions(text), ...(warnings.length ? { warnings } : {}) };
}

/** Output version of this converter: bump when its text or positions change, so cached conversions are redone. */
export const DOCX_CONVERTER_VERSION = 1;

export function createDocxConverter(options: DocxOptions = {}): Converter {
  return {
    id: 'docx',
    cacheKey: converterCacheKey('docx', DOCX_CONVERTER_VERSION),
    extensions: ['.docx'],
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      return convertDocxBytes(input.bytes, input.path, input.signal, options);
    },
  };
}
