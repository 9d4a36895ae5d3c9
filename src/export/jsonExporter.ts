/**
 * Writes one JSON result file per document at `<out>/<relative path>.json`, atomically
 * (temp file + fsync + rename) and idempotently (an identical file is left untouched), never outside the
 * output folder: document paths are confined to it and a link in it is not written through.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { tempId } from '../core/tempNames';
import { ErrorCodes, ExtractionError, toExtractionError } from '../core/errors';
import { isWithin, resolveInside } from '../core/paths';
import { OUTPUT_LOCK_FILE } from '../store/lock';
import { syncDirectory } from './dirSync';

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
  /** Mixed folders (a router job): the job whose schema the data follows, and how it was chosen. */
  job?: string;
  jobChosenBy?: 'globs' | 'classification' | 'earlier classification';
  /** The classification request of this attempt, when one was made (its cost is not in `cost`, the extraction's). */
  classification?: { model: string; requests: number; tokensIn: number; tokensOut: number; cost: number };
  /** What the converter warned about (e.g. a large CSV cut at the file size limit). */
  convertWarnings?: string[];
  /** Few-shot examples (their documents' paths) the prompt carried, most similar first. */
  examples?: string[];
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

/** Where the result of `docPath` goes; PATH_OUTSIDE_ROOT when the path (from the state, say) leads out of `outDir`. */
export function resultAbsPath(outDir: string, docPath: string): string {
  return resolveInside(outDir, resultRelPath(docPath));
}

/** Longest file name the usual file systems accept, in bytes (ext4, XFS, APFS, tmpfs). */
export const MAX_NAME_BYTES = 255;

/**
 * Why the result file of `docPath` cannot be written — `<name>.json` is longer than a file name can be —
 * or undefined. Checked when a document is listed, before the model is paid.
 */
export function resultNameProblem(docPath: string): string | undefined {
  const name = `${docPath.slice(docPath.lastIndexOf('/') + 1)}.json`;
  const bytes = Buffer.byteLength(name, 'utf8');
  return bytes > MAX_NAME_BYTES ? `Name too long: its result file name would be ${bytes} bytes, over the ${MAX_NAME_BYTES}-byte limit of file names` : undefined;
}

/** A temp file next to the target: short, so any name the file system accepts for the result can be written. */
function tempFileIn(dir: string): string {
  return path.join(dir, `.${tempId()}.tmp`);
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
  const tmp = tempFileIn(dir);
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

export interface AtomicWriteOptions {
  /** fsync the file and its directory (default true). */
  fsync?: boolean;
  /** The caller knows the file's folder exists: it is not created. */
  dirExists?: boolean;
  /** The caller knows the file is absent or different: it is written without reading it first. */
  changed?: boolean;
}

/**
 * Async twin of {@link writeFileAtomic}: the fsyncs run on libuv's thread pool, so many documents can be
 * written at once without blocking the event loop (a synchronous fsync costs milliseconds). Writers into
 * the same folder share its directory fsync ({@link syncDirectory}).
 */
export async function writeFileAtomicAsync(file: string, content: string, options: AtomicWriteOptions = {}): Promise<boolean> {
  const fsync = options.fsync ?? true;
  if (!options.changed) {
    try {
      if ((await fsp.readFile(file, 'utf8')) === content) return false;
    } catch {
      /* absent or unreadable: write it */
    }
  }
  const dir = path.dirname(file);
  if (!options.dirExists) await fsp.mkdir(dir, { recursive: true });
  const tmp = tempFileIn(dir);
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
  if (fsync) await syncDirectory(dir);
  return true;
}

/**
 * Creates the folder `dir` (inside `outDir`) one level at a time, and checks that each level is, for real,
 * inside the real output folder: a link in the output folder is not written (nor created) through.
 * Returns the first level that leads out, with its real path, or undefined.
 */
async function ensureFolderInside(outDir: string, dir: string, verified?: Set<string>): Promise<{ link: string; real: string } | undefined> {
  if (verified?.has(dir)) return undefined;
  const outside = await checkFolderInside(outDir, dir);
  if (!outside) verified?.add(dir);
  return outside;
}

async function checkFolderInside(outDir: string, dir: string): Promise<{ link: string; real: string } | undefined> {
  await fsp.mkdir(outDir, { recursive: true });
  const outReal = await fsp.realpath(outDir);
  try {
    const real = await fsp.realpath(dir);
    if (isWithin(outReal, real)) return undefined; // the usual case: the folder exists and is inside
  } catch {
    /* missing: created below, level by level */
  }
  let cur = path.resolve(outDir);
  for (const name of path.relative(cur, dir).split(path.sep).filter(Boolean)) {
    cur = path.join(cur, name);
    try {
      await fsp.mkdir(cur);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const real = await fsp.realpath(cur);
    if (!isWithin(outReal, real)) return { link: cur, real };
  }
  return undefined;
}

export interface WriteResultOptions {
  /** fsync the file and its folder (default true). */
  fsync?: boolean;
  /**
   * Folders already created and checked to lie inside `outDir` by earlier writes of the same run: not
   * checked again (a run writes thousands of results into a few folders). Checked ones are added.
   */
  verifiedFolders?: Set<string>;
  /** The caller has read the result file and it is absent or different: it is not compared again. */
  changed?: boolean;
}

/**
 * Writes the result file of `result.source` inside `outDir`. A path that leads out of it (PATH_OUTSIDE_ROOT)
 * or a link in the output folder that leads out of it (EXPORT_FAILED naming the link) is never written
 * through.
 */
export async function writeResult(outDir: string, result: ResultFile, options: WriteResultOptions = {}): Promise<string> {
  const file = resultAbsPath(outDir, result.source);
  const dir = path.dirname(file);
  const write = async (): Promise<void> => {
    const outside = await ensureFolderInside(outDir, dir, options.verifiedFolders);
    if (outside) {
      throw new ExtractionError(ErrorCodes.EXPORT_FAILED, `Cannot write result ${file}: ${outside.link} is a link out of the output folder (to ${outside.real}); results are not written through it`, {
        stage: 'exporting',
        retryable: false,
      });
    }
    await writeFileAtomicAsync(file, JSON.stringify(result, null, 2) + '\n', { fsync: options.fsync, dirExists: true, changed: options.changed });
  };
  try {
    try {
      await write();
    } catch (err) {
      // a folder checked earlier in the run and removed since (someone cleared the output folder): check and
      // create it again, once
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !options.verifiedFolders?.delete(dir)) throw err;
      await write();
    }
  } catch (err) {
    if (err instanceof ExtractionError) throw err;
    // a full disk is no document's fault: DISK_FULL stops the run (a rerun writes the result)
    const disk = toExtractionError(err, 'exporting');
    if (disk.code === ErrorCodes.DISK_FULL) throw disk;
    throw new ExtractionError(ErrorCodes.EXPORT_FAILED, `Cannot write result ${file}: ${(err as Error).message}`, { stage: 'exporting', cause: err, retryable: false });
  }
  return file;
}

/**
 * Checks before a run that result files can be written to `outDir`: creates it (and missing parents),
 * then creates and removes a probe file. OUTPUT_UNWRITABLE (run-fatal) with the reason otherwise, so a
 * read-only output folder is found before any document is paid for.
 */
export async function checkOutputWritable(outDir: string): Promise<void> {
  try {
    await fsp.mkdir(outDir, { recursive: true });
    const probe = tempFileIn(outDir);
    const fh = await fsp.open(probe, 'wx');
    await fh.close();
    await fsp.rm(probe, { force: true });
  } catch (err) {
    throw new ExtractionError(ErrorCodes.OUTPUT_UNWRITABLE, `Cannot write to the output folder ${outDir}: ${(err as Error).message}`, { cause: err, retryable: false });
  }
}

/**
 * Whether `outDir` holds anything besides its run lock. When it does not, no document of a run starting now
 * has a result written before the run to adopt, and the run does not look for one (a failed open per document
 * saved). Reads one directory entry, whatever the folder's size.
 */
export function mayHoldResults(outDir: string): boolean {
  let dir: fs.Dir;
  try {
    dir = fs.opendirSync(outDir);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
  try {
    for (let entry = dir.readSync(); entry; entry = dir.readSync()) if (entry.name !== OUTPUT_LOCK_FILE) return true;
    return false;
  } finally {
    dir.closeSync();
  }
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
