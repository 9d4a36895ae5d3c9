/**
 * Office Open XML files (DOCX, XLSX) are ZIP archives whose XML the libraries that read them inflate with no
 * bound, and then need 50–130× the XML's size in memory (measured with mammoth: 40 MB of ordinary paragraphs
 * 2.2 GB of RSS), on the calling thread. So the archive is unpacked here first (zip.ts): only the XML and
 * relationship parts (what text needs; images and embedded files become empty entries), together at most
 * {@link officeUnpackLimitBytes} — a 128th of the memory limit, 8 MB by default — checked on the sizes the
 * archive declares and again while inflating. Over it → TOO_LARGE naming the limit. The library then reads a
 * stored (uncompressed) copy of those parts.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';
import { DEFAULT_WORKER_MEMORY_MB } from './pdf/pool';
import { readZipDirectory, storedZip, unpackZipEntries, ZipFormatError, ZipTooLargeError } from './zip';

const MB = 1024 * 1024;
/** Share of the memory limit the unpacked XML may take (readers take 50–130× the XML). */
const XML_SHARE = 128;
const MIN_UNPACKED_MB = 4;

/** Bytes of XML an Office file may unpack to under a memory limit of `memoryMb` (at least 4 MB). */
export function officeUnpackLimitBytes(memoryMb: number = DEFAULT_WORKER_MEMORY_MB): number {
  return Math.max(MIN_UNPACKED_MB, Math.floor(memoryMb / XML_SHARE)) * MB;
}

/** Parts text extraction reads: XML, relationships, and extension-less parts (mammoth's style map). */
function isTextPart(name: string): boolean {
  return /\.(xml|rels)$/i.test(name) || !/\.[^/]*$/.test(name);
}

/** CORRUPT_INPUT for a `kind` file (e.g. "DOCX") that cannot be read. */
export function corruptOffice(kind: string, path: string, err: unknown): ExtractionError {
  return new ExtractionError(ErrorCodes.CORRUPT_INPUT, `Cannot read ${kind} ${path}: ${(err as Error)?.message ?? String(err)}`, {
    retryable: false,
    stage: 'converting',
    cause: err,
  });
}

/** An OLE compound file (D0 CF 11 E0): an encrypted Office file, or the old binary .doc/.xls format. */
function isCompoundFile(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0xd0 && bytes[1] === 0xcf && bytes[2] === 0x11 && bytes[3] === 0xe0;
}

/** The file's text parts as a stored ZIP, within the unpack bound (TOO_LARGE / CORRUPT_INPUT otherwise). */
export function unpackOffice(kind: string, bytes: Uint8Array, path: string, memoryMb: number = DEFAULT_WORKER_MEMORY_MB): Buffer {
  if (isCompoundFile(bytes)) {
    throw corruptOffice(kind, path, new Error(`it is password-protected or in the old binary format; save it as an unprotected .${kind.toLowerCase()} file`));
  }
  const limit = officeUnpackLimitBytes(memoryMb);
  try {
    const entries = readZipDirectory(bytes);
    const parts = unpackZipEntries(bytes, entries, isTextPart, limit);
    const empty = new Uint8Array(0);
    return storedZip(entries.map((e): [string, Uint8Array] => [e.name, parts.get(e.name) ?? empty]));
  } catch (err) {
    if (err instanceof ZipTooLargeError) {
      throw new ExtractionError(
        ErrorCodes.TOO_LARGE,
        `${kind} ${path} ${err.message}: over the ${limit / MB} MB of XML allowed under the memory limit of ${memoryMb} MB (reading takes 50–130× the XML); ` +
          'raise the memory limit (setting pdf.maxMemoryMb, CLI --pdf-max-memory-mb) to convert it',
        { retryable: false, stage: 'converting', cause: err, details: { limitMb: limit / MB, memoryMb, declared: err.declared } },
      );
    }
    if (err instanceof ZipFormatError) throw corruptOffice(kind, path, err);
    throw err;
  }
}
