/** Reads a document's bytes with a size limit and hashes them. */
import { createHash } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { ErrorCodes, ExtractionError, toExtractionError } from './errors';

export interface ReadResult {
  bytes: Uint8Array;
  contentHash: string;
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Reads the file at `absPath` (at most `maxBytes`, else TOO_LARGE) and hashes it: open, fstat, read, close.
 * The open does not block on a FIFO put in the file's place (O_NONBLOCK: no effect on regular files), and
 * anything but a regular file is refused after the fstat.
 */
export async function readDocument(absPath: string, maxBytes: number): Promise<ReadResult> {
  let bytes: Buffer;
  try {
    const fh = await fsp.open(absPath, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ExtractionError(ErrorCodes.FILE_UNREADABLE, `Not a regular file: ${absPath}`, { stage: 'reading' });
      if (st.size > maxBytes) throw tooLarge(st.size, maxBytes);
      bytes = await readAll(fh, st.size, maxBytes);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw toExtractionError(err, 'reading');
  }
  return { bytes, contentHash: sha256(bytes) };
}

const tooLarge = (size: number, maxBytes: number): ExtractionError =>
  new ExtractionError(ErrorCodes.TOO_LARGE, `File is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit (setting maxFileSizeMb)`, { stage: 'reading' });

/** Reads to the end (a file may have grown since its fstat): at most `maxBytes`. */
async function readAll(fh: fsp.FileHandle, size: number, maxBytes: number): Promise<Buffer> {
  let buf = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
  let length = 0;
  for (;;) {
    if (length === buf.length) {
      if (length > maxBytes) throw tooLarge(length, maxBytes);
      const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
      buf.copy(bigger, 0, 0, length);
      buf = bigger;
    }
    const { bytesRead } = await fh.read(buf, length, buf.length - length, null);
    if (bytesRead === 0) return buf.subarray(0, length);
    length += bytesRead;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
