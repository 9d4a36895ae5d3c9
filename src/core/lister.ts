/**
 * Lists the documents of a folder as a stream: include/exclude globs, `.gitignore` files (nested ones too),
 * never more than one directory's entries in memory at once.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import picomatch from 'picomatch';

export interface ListedFile {
  /** Path relative to the root, `/`-separated. */
  path: string;
  absPath: string;
  size: number;
  mtimeMs: number;
}

export interface ListOptions {
  /** Globs relative to the root; default: everything. */
  include?: readonly string[];
  exclude?: readonly string[];
  /** Honour `.gitignore` files (default true). */
  gitignore?: boolean;
  /** Folders (absolute) never listed, e.g. the output and state folders. */
  skipDirs?: readonly string[];
  signal?: AbortSignal;
  /**
   * List only this folder (relative to the root, `/`-separated): the same files a listing of the whole
   * root yields there, under the same rules — the `.gitignore` files of the root and of every folder on the
   * way down apply, and nothing is listed when the folder itself is ignored or skipped. Paths stay relative
   * to the root.
   */
  within?: string;
}

/** Folders nobody wants to extract from. */
const ALWAYS_SKIPPED = new Set(['.git', 'node_modules', '.extraction', '.hg', '.svn']);

/** Whether a root-relative `/` path lies in (or is) one of the folders that are never listed (`.git`, …). */
export function inAlwaysSkippedFolder(rel: string): boolean {
  return rel.split('/').some((name) => ALWAYS_SKIPPED.has(name));
}

export function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

export function createMatcher(include: readonly string[] | undefined, exclude: readonly string[] | undefined): (rel: string) => boolean {
  const opts = { dot: true, nocase: process.platform === 'win32' };
  const inc = include && include.length ? picomatch(include as string[], opts) : () => true;
  const exc = exclude && exclude.length ? picomatch(exclude as string[], opts) : () => false;
  return (rel) => inc(rel) && !exc(rel);
}

interface IgnoreFrame {
  /** Directory of the .gitignore, relative to root ('' for root). */
  base: string;
  ig: Ignore;
}

async function readGitignore(dirAbs: string): Promise<Ignore | undefined> {
  try {
    const text = await fsp.readFile(path.join(dirAbs, '.gitignore'), 'utf8');
    return ignore().add(text);
  } catch {
    return undefined;
  }
}

function ignoredBy(frames: readonly IgnoreFrame[], rel: string, isDir: boolean): boolean {
  for (const f of frames) {
    const sub = f.base ? rel.slice(f.base.length + 1) : rel;
    if (!sub) continue;
    if (f.ig.ignores(isDir ? sub + '/' : sub)) return true;
  }
  return false;
}

interface Rules {
  rootAbs: string;
  match: (rel: string) => boolean;
  useGitignore: boolean;
  skip: ReadonlySet<string>;
}

function rulesOf(root: string, options: ListOptions): Rules {
  return {
    rootAbs: path.resolve(root),
    match: createMatcher(options.include, options.exclude),
    useGitignore: options.gitignore !== false,
    skip: new Set((options.skipDirs ?? []).map((d) => path.resolve(d))),
  };
}

/** `frames` plus the `.gitignore` of the folder `rel` (when there is one and .gitignore files are honoured). */
async function withOwnGitignore(r: Rules, rel: string, frames: IgnoreFrame[]): Promise<IgnoreFrame[]> {
  if (!r.useGitignore) return frames;
  const ig = await readGitignore(rel ? path.join(r.rootAbs, ...rel.split('/')) : r.rootAbs);
  return ig ? [...frames, { base: rel, ig }] : frames;
}

/** Whether a listing leaves out the folder `rel` (whose parent's rules are `frames`) with everything in it. */
function skipsDir(r: Rules, rel: string, frames: readonly IgnoreFrame[]): boolean {
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  return ALWAYS_SKIPPED.has(name) || r.skip.has(path.join(r.rootAbs, ...rel.split('/'))) || ignoredBy(frames, rel, true);
}

/** Whether a listing leaves out the file `rel` (whose folder's rules are `frames`). */
function skipsFile(r: Rules, rel: string, frames: readonly IgnoreFrame[]): boolean {
  return rel.slice(rel.lastIndexOf('/') + 1) === '.gitignore' || ignoredBy(frames, rel, false) || !r.match(rel);
}

/**
 * The ignore rules that apply to the entries of folder `dirRel` — the `.gitignore` files of the root and of
 * every folder down to `dirRel`, its own included — or undefined when a listing never enters that folder.
 * The one walk from the root that the full listing takes, so both agree.
 */
async function rulesDownTo(r: Rules, dirRel: string): Promise<IgnoreFrame[] | undefined> {
  let frames = await withOwnGitignore(r, '', []);
  let rel = '';
  for (const name of dirRel ? dirRel.split('/') : []) {
    rel = rel ? `${rel}/${name}` : name;
    if (skipsDir(r, rel, frames)) return undefined;
    frames = await withOwnGitignore(r, rel, frames);
  }
  return frames;
}

/**
 * Whether a listing of `root` with these options yields the file `rel` (a root-relative `/` path): the same
 * folders skipped, the same `.gitignore` files (nested ones too) and globs. For single changed files (watch
 * mode), where listing the whole root again is too much. Does not look at the file itself.
 */
export async function isListed(root: string, rel: string, options: Omit<ListOptions, 'signal' | 'within'> = {}): Promise<boolean> {
  const r = rulesOf(root, options);
  const slash = rel.lastIndexOf('/');
  const frames = await rulesDownTo(r, slash < 0 ? '' : rel.slice(0, slash));
  return frames !== undefined && !skipsFile(r, rel, frames);
}

/** Streams the files under `root` that match the options, in a stable (sorted per directory) order. */
export async function* listFiles(root: string, options: ListOptions = {}): AsyncGenerator<ListedFile> {
  const r = rulesOf(root, options);
  const start = (options.within ?? '').split('/').filter(Boolean).join('/');

  async function* walk(dirAbs: string, rel: string, own: IgnoreFrame[]): AsyncGenerator<ListedFile> {
    if (options.signal?.aborted) return;
    let names: string[];
    try {
      names = (await fsp.readdir(dirAbs)).sort();
    } catch {
      return; // unreadable directory: nothing to list
    }
    for (const name of names) {
      if (options.signal?.aborted) return;
      const abs = path.join(dirAbs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      let st;
      try {
        st = await fsp.stat(abs);
      } catch {
        continue; // vanished or broken symlink
      }
      if (st.isDirectory()) {
        if (skipsDir(r, childRel, own)) continue;
        yield* walk(abs, childRel, await withOwnGitignore(r, childRel, own));
      } else if (st.isFile()) {
        if (skipsFile(r, childRel, own)) continue;
        yield { path: childRel, absPath: abs, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
      }
    }
  }

  const frames = await rulesDownTo(r, start);
  if (frames) yield* walk(start ? path.join(r.rootAbs, ...start.split('/')) : r.rootAbs, start, frames);
}
