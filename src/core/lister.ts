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
}

/** Folders nobody wants to extract from. */
const ALWAYS_SKIPPED = new Set(['.git', 'node_modules', '.extraction', '.hg', '.svn']);

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

/** Streams the files under `root` that match the options, in a stable (sorted per directory) order. */
export async function* listFiles(root: string, options: ListOptions = {}): AsyncGenerator<ListedFile> {
  const match = createMatcher(options.include, options.exclude);
  const useGitignore = options.gitignore !== false;
  const skip = new Set((options.skipDirs ?? []).map((d) => path.resolve(d)));
  const rootAbs = path.resolve(root);

  async function* walk(dirAbs: string, rel: string, frames: IgnoreFrame[]): AsyncGenerator<ListedFile> {
    if (options.signal?.aborted) return;
    let own = frames;
    if (useGitignore) {
      const ig = await readGitignore(dirAbs);
      if (ig) own = [...frames, { base: rel, ig }];
    }
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
        if (ALWAYS_SKIPPED.has(name) || skip.has(abs)) continue;
        if (ignoredBy(own, childRel, true)) continue;
        yield* walk(abs, childRel, own);
      } else if (st.isFile()) {
        if (name === '.gitignore') continue;
        if (ignoredBy(own, childRel, false)) continue;
        if (!match(childRel)) continue;
        yield { path: childRel, absPath: abs, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
      }
    }
  }

  yield* walk(rootAbs, '', []);
}
