/**
 * DOCX converter (mammoth `extractRawText`, loaded on first use). Corrupt / non-DOCX bytes → CORRUPT_INPUT.
 *
 * Zip bombs: mammoth inflates the parts it reads with no bound, and then needs 50–130× the XML's size
 * in memory (measured: 40 MB of ordinary paragraphs 2.2 GB of RSS, 20 MB of tiny ones 2.6 GB), on the
 * calling thread. So the archive is unpacked here first (zip.ts): only the XML and relationship parts
 * (what raw text needs; images and embedded files become empty entries), together at most
 * {@link docxUnpackLimitBytes} — a 128th of the memory limit, 8 MB by default — checked on the sizes the
 * archive declares and again while inflating. Over it → TOO_LARGE naming the limit. mammoth then reads a
 * stored (uncompressed) copy of those parts.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';
import { converterCacheKey } from './cache';
import { DEFAULT_WORKER_MEMORY_MB } from './pdf/pool';
import { emptyDocumentError, linePositions, normalizeNewlines, throwIfAborted } from './text';
import type { ConvertedDocument, ConvertInput, Converter } from './types';
import { readZipDirectory, storedZip, unpackZipEntries, ZipFormatError, ZipTooLargeError } from './zip';

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

const MB = 1024 * 1024;
/** Share of the memory limit the unpacked XML may take (mammoth takes 50–130× the XML). */
const XML_SHARE = 128;
const MIN_UNPACKED_MB = 4;

/** Bytes of XML a DOCX may unpack to under a memory limit of `memoryMb` (at least 4 MB). */
export function docxUnpackLimitBytes(memoryMb: number = DEFAULT_WORKER_MEMORY_MB): number {
  return Math.max(MIN_UNPACKED_MB, Math.floor(memoryMb / XML_SHARE)) * MB;
}

/** Parts raw-text extraction reads: XML, relationships, and extension-less parts (mammoth's style map). */
function isTextPart(name: string): boolean {
  return /\.(xml|rels)$/i.test(name) || !/\.[^/]*$/.test(name);
}

export interface DocxOptions {
  /** Memory limit in MB the unpack bound is derived from (default: the PDF workers' default, 1024). */
  memoryMb?: number;
}

function corrupt(path: string, err: unknown): ExtractionError {
  return new ExtractionError(ErrorCodes.CORRUPT_INPUT, `Cannot read DOCX ${path}: ${(err as Error)?.message ?? String(err)}`, {
    retryable: false,
    stage: 'converting',
    cause: err,
  });
}

/** The DOCX's text parts as a stored ZIP, within the unpack bound (TOO_LARGE / CORRUPT_INPUT otherwise). */
export function unpackDocx(bytes: Uint8Array, path: string, memoryMb: number = DEFAULT_WORKER_MEMORY_MB): Buffer {
  const limit = docxUnpackLimitBytes(memoryMb);
  try {
    const entries = readZipDirectory(bytes);
    const parts = unpackZipEntries(bytes, entries, isTextPart, limit);
    const empty = new Uint8Array(0);
    return storedZip(entries.map((e): [string, Uint8Array] => [e.name, parts.get(e.name) ?? empty]));
  } catch (err) {
    if (err instanceof ZipTooLargeError) {
      throw new ExtractionError(
        ErrorCodes.TOO_LARGE,
        `DOCX ${path} ${err.message}: over the ${limit / MB} MB of XML allowed under the memory limit of ${memoryMb} MB (reading takes 50–130× the XML); ` +
          'raise the memory limit (setting pdf.maxMemoryMb, CLI --pdf-max-memory-mb) to convert it',
        { retryable: false, stage: 'converting', cause: err, details: { limitMb: limit / MB, memoryMb, declared: err.declared } },
      );
    }
    if (err instanceof ZipFormatError) throw corrupt(path, err);
    throw err;
  }
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
