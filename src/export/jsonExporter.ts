/**
 * Writes one JSON result file per document at `<out>/<relative path>.json`, atomically
 * (temp file + fsync + rename) and idempotently (an identical file is left untouched).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, ExtractionError, toExtractionError } from '../core/errors';

export const RESULT_FORMAT_VERSION = 1;

export interface ResultMetadata {
  runId: string;
  model: string;
  schemaHash: string;
  fingerprint: string;
  contentHash: string;
  converter: string;
  attempts: number;
  requests: number;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  startedAt: string;
  finishedAt: string;
  /** Structured-output mode that produced the answer (json_schema, json_object, text, tools). */
  mode?: string;
  /** Long documents: number of chunks extracted separately and merged. */
  chunks?: number;
  /** Long documents: fields for which chunks gave different values (the first non-null one was kept). */
  conflicts?: Array<{ path: string; values: unknown[]; chunks: number[] }>;
}

/** The documented, stable format of a result file. */
export interface ResultFile {
  formatVersion: typeof RESULT_FORMAT_VERSION;
  /** Source document, relative to the run root. */
  source: string;
  data: unknown;
  grounding?: unknown;
  metadata: ResultMetadata;
}

export function resultRelPath(docPath: string): string {
  return `${docPath}.json`;
}

export function resultAbsPath(outDir: string, docPath: string): string {
  return path.join(outDir, ...resultRelPath(docPath).split('/'));
}

/** Writes `content` to `file` atomically; returns false when an identical file already existed. */
export function writeFileAtomic(file: string, content: string, options: { fsync?: boolean } = {}): boolean {
  const fsync = options.fsync ?? true;
  try {
    if (fs.readFileSync(file, 'utf8') === content) return false;
  } catch {
    /* absent or unreadable: write it */
  }
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, content);
    if (fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  if (fsync) {
    try {
      const dfd = fs.openSync(dir, 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch {
      /* directories cannot be fsynced on every platform */
    }
  }
  return true;
}

/**
 * Async twin of {@link writeFileAtomic}: the fsyncs run on libuv's thread pool, so many documents can be
 * written at once without blocking the event loop (a synchronous fsync costs milliseconds).
 */
export async function writeFileAtomicAsync(file: string, content: string, options: { fsync?: boolean } = {}): Promise<boolean> {
  const fsync = options.fsync ?? true;
  try {
    if ((await fsp.readFile(file, 'utf8')) === content) return false;
  } catch {
    /* absent or unreadable: write it */
  }
  const dir = path.dirname(file);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(content);
    if (fsync) await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  if (fsync) {
    try {
      const dh = await fsp.open(dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      /* directories cannot be fsynced on every platform */
    }
  }
  return true;
}

export async function writeResult(outDir: string, result: ResultFile, options: { fsync?: boolean } = {}): Promise<string> {
  const file = resultAbsPath(outDir, result.source);
  try {
    await writeFileAtomicAsync(file, JSON.stringify(result, null, 2) + '\n', options);
  } catch (err) {
    // a full disk is no document's fault: DISK_FULL stops the run (a rerun writes the result)
    const disk = toExtractionError(err, 'exporting');
    if (disk.code === ErrorCodes.DISK_FULL) throw disk;
    throw new ExtractionError(ErrorCodes.EXPORT_FAILED, `Cannot write result ${file}: ${(err as Error).message}`, { stage: 'exporting', cause: err, retryable: false });
  }
  return file;
}

/** Reads a result file, or undefined when it is absent or not a valid result. */
export async function readResult(outDir: string, docPath: string): Promise<ResultFile | undefined> {
  try {
    const r = JSON.parse(await fsp.readFile(resultAbsPath(outDir, docPath), 'utf8')) as ResultFile;
    return r && r.formatVersion === RESULT_FORMAT_VERSION && r.source === docPath ? r : undefined;
  } catch {
    return undefined;
  }
}
