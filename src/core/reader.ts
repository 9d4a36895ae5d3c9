/** Reads a document's bytes with a size limit (or, for a converter that streams, only hashes them). */
import { createHash } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { ErrorCodes, ExtractionError, toExtractionError } from './errors';

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

const tooLarge = (size: number, maxBytes: number): ExtractionError =>
  new ExtractionError(ErrorCodes.TOO_LARGE, `File is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit (setting maxFileSizeMb)`, { stage: 'reading' });

/**
 * Reads the `size` bytes the fstat gave, at most `maxBytes`. A file that grew since is read to its end
 * (a read filling the buffer asks for more); one that did not costs no extra read to find its end.
 */
async function readAll(fh: fsp.FileHandle, size: number, maxBytes: number): Promise<Buffer> {
  let buf = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
  let length = 0;
  for (;;) {
    if (length === size && size > 0) return buf.subarray(0, length); // a short read of a regular file: its end
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

/** What the pipeline has of a document before converting it: its bytes, or none when the converter streams it. */
export interface ReadSource {
  /** Undefined when the file is converted from a stream (`Converter.stream`). */
  bytes?: Uint8Array;
  contentHash: string;
  size: number;
}

/**
 * Reads the file at `absPath` and hashes it, on one open handle: open, fstat, read, close. The open does not
 * block on a FIFO put in the file's place (O_NONBLOCK: no effect on regular files), and anything but a regular
 * file is refused after the fstat. A file over `maxBytes` is TOO_LARGE — unless its converter reads files
 * above `streamAboveBytes` as a stream itself: such a file, and one over `maxBytes` (the converter reads only
 * that much of it), is hashed as a stream and not read whole.
 */
export async function readSource(absPath: string, maxBytes: number, streamAboveBytes?: number): Promise<ReadSource> {
  try {
    const fh = await fsp.open(absPath, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ExtractionError(ErrorCodes.FILE_UNREADABLE, `Not a regular file: ${absPath}`, { stage: 'reading' });
      if (streamAboveBytes !== undefined && (st.size > streamAboveBytes || st.size > maxBytes)) return { contentHash: await hashStream(fh), size: st.size };
      if (st.size > maxBytes) throw tooLarge(st.size, maxBytes);
      const bytes = await readAll(fh, st.size, maxBytes);
      return { bytes, contentHash: sha256(bytes), size: bytes.byteLength };
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw toExtractionError(err, 'reading');
  }
}

/** SHA-256 of an open file, read as a stream from its start: equal to `sha256` of its bytes. */
async function hashStream(fh: fsp.FileHandle): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fh.createReadStream({ start: 0, highWaterMark: 1024 * 1024, autoClose: false })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
