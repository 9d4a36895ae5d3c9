/** Reads a document's bytes with a size limit and hashes them. */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
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

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
