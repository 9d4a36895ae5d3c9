/**
 * Keeps paths inside the folder they belong to. Document paths in the checkpoint store, the journal and
 * the dead-letter queue, and paths in a state folder's settings, are data that anyone who can write the
 * state folder controls: they are joined to a folder only through {@link resolveInside}, and a link is only
 * followed when its real path stays inside ({@link linkProblemSync}).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, ExtractionError } from './errors';

/** A path that would leave the folder it belongs to (`PATH_OUTSIDE_ROOT`, never retried). */
export class PathOutsideRootError extends ExtractionError {
  override readonly name = 'PathOutsideRootError';
  constructor(message: string) {
    super(ErrorCodes.PATH_OUTSIDE_ROOT, message, { retryable: false });
  }
}

const WINDOWS = process.platform === 'win32';

/**
 * Why `rel` is not a safe root-relative `/` path (absolute, a `..`, `.` or empty segment, a NUL byte, a
 * backslash — on POSIX a backslash is part of a name, but a state folder opened on Windows would read it as
 * a separator), or undefined when it is one.
 */
export function relPathProblem(rel: string): string | undefined {
  if (typeof rel !== 'string' || rel === '') return 'is empty';
  if (rel.includes('\0')) return 'contains a NUL byte';
  if (path.posix.isAbsolute(rel) || (WINDOWS && (path.win32.isAbsolute(rel) || /^[a-zA-Z]:/.test(rel)))) return 'is absolute';
  if (!WINDOWS && rel.includes('\\')) return 'contains a backslash';
  const segments = rel.split(WINDOWS ? /[\\/]/ : '/');
  if (segments.includes('..')) return 'has a ".." segment';
  if (segments.some((s) => s === '' || s === '.')) return 'has an empty or "." segment';
  return undefined;
}

/** Whether the absolute path `child` is `parent` or lies under it (no file-system access: compare real paths for links). */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}

/**
 * `root` joined with the root-relative `/` path `rel` (a document path from the store, a dead letter, a
 * result path). Throws {@link PathOutsideRootError} when `rel` could lead anywhere but strictly inside `root`.
 * Lexical: links are the business of the caller ({@link linkProblemSync}, the lister).
 */
export function resolveInside(root: string, rel: string): string {
  const problem = relPathProblem(rel);
  if (problem) throw new PathOutsideRootError(`Path ${JSON.stringify(rel)} ${problem}: only paths inside ${root} are used`);
  const base = path.resolve(root);
  const abs = path.resolve(base, ...rel.split('/'));
  if (abs === base || !isWithin(base, abs)) throw new PathOutsideRootError(`Path ${JSON.stringify(rel)} leads out of ${root}`);
  return abs;
}

/**
 * Why the existing file or folder `abs` must not be read as part of `root` — its real path (links
 * followed) lies outside the real path of `root` — or undefined (inside, or absent: reading it then says
 * so). Synchronous: for single paths (retries, watch mode), not for listings.
 */
export function linkProblemSync(root: string, abs: string): string | undefined {
  let real: string;
  try {
    real = fs.realpathSync.native(abs);
  } catch {
    return undefined;
  }
  let rootReal: string;
  try {
    rootReal = fs.realpathSync.native(root);
  } catch {
    rootReal = path.resolve(root);
  }
  return isWithin(rootReal, real) ? undefined : `Link leads out of the folder: ${abs} -> ${real}`;
}
