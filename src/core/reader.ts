/** Reads a document's bytes with a size limit and hashes them. */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { ErrorCodes, ExtractionError, toExtractionError } from './errors';

export interface ReadResult {
  bytes: Uint8Array;
  contentHash: string;
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function readDocument(absPath: string, maxBytes: number): Promise<ReadResult> {
  let bytes: Buffer;
  try {
    const st = await fsp.stat(absPath);
    if (!st.isFile()) throw new ExtractionError(ErrorCodes.FILE_UNREADABLE, `Not a regular file: ${absPath}`, { stage: 'reading' });
    if (st.size > maxBytes) {
      throw new ExtractionError(ErrorCodes.TOO_LARGE, `File is ${formatBytes(st.size)}, over the ${formatBytes(maxBytes)} limit (setting maxFileSizeMb)`, { stage: 'reading' });
    }
    bytes = await fsp.readFile(absPath);
  } catch (err) {
    throw toExtractionError(err, 'reading');
  }
  return { bytes, contentHash: sha256(bytes) };
}

/** What the pipeline has of a document before converting it: its bytes, or none when the converter streams it. */
export interface ReadSource {
  /** Undefined when the file is converted from a stream (`Converter.stream`). */
  bytes?: Uint8Array;
  contentHash: string;
  size: number;
}

/**
 * {@link readDocument}, for a converter that reads files above `streamAboveBytes` as a stream itself: such a
 * file, and one over `maxBytes` (the converter reads only that much of it), is hashed as a stream and not read
 * whole. Without `streamAboveBytes`, or for a smaller file, the file is read as `readDocument` reads it.
 */
export async function readSource(absPath: string, maxBytes: number, streamAboveBytes?: number): Promise<ReadSource> {
  if (streamAboveBytes !== undefined) {
    try {
      const st = await fsp.stat(absPath);
      if (!st.isFile()) throw new ExtractionError(ErrorCodes.FILE_UNREADABLE, `Not a regular file: ${absPath}`, { stage: 'reading' });
      if (st.size > streamAboveBytes || st.size > maxBytes) return { contentHash: await hashFile(absPath), size: st.size };
    } catch (err) {
      throw toExtractionError(err, 'reading');
    }
  }
  const { bytes, contentHash } = await readDocument(absPath, maxBytes);
  return { bytes, contentHash, size: bytes.byteLength };
}

/** SHA-256 of a file, read as a stream: equal to `sha256` of its bytes. */
export async function hashFile(absPath: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(absPath, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
