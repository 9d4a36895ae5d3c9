/**
 * Lists the documents of a folder as a stream: include/exclude globs, `.gitignore` files (nested ones too),
 * never more than one directory's entries in memory at once.
 */
import { promises as fsp, type Dirent, type Stats } from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import picomatch from 'picomatch';
import { isWithin } from './paths';

export interface ListedFile {
  /** Path relative to the root, `/`-separated. */
  path: string;
  absPath: string;
  size: number;
  mtimeMs: number;
  /**
   * Set for a single path (a retry, a watched change) that must not be read — it leads out of the folder —
   * with the reason: the pipeline rejects the document without reading it. Listings never yield such files.
   */
  problem?: string;
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
  /**
   * Follow links whose real path is outside the root (default false: they are left out, each with a
   * `LINK_OUTSIDE` warning — a link such as `environ.txt -> /proc/self/environ` would send what it points to).
   */
  followExternalLinks?: boolean;
  /**
   * Told of every entry left out that a person would expect to be listed: a folder that cannot be read, a
   * link out of the folder or in a loop, a special file (FIFO, device), a name that is not valid UTF-8.
   */
  onWarning?: (warning: ListWarning) => void;
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

/** Kinds of entries a listing leaves out that a person would expect to be listed, each reported once. */
export type ListWarningCode = 'FILE_UNREADABLE' | 'LINK_OUTSIDE' | 'LINK_LOOP' | 'NAME_NOT_UTF8';

export interface ListWarning {
  /** Root-relative `/` path of the entry (a name that is not UTF-8 shows U+FFFD for the bytes that are not). */
  path: string;
  code: ListWarningCode;
  message: string;
}

/** The kind of a special file, for messages. */
function specialKind(e: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (e.isFIFO()) return 'a named pipe (FIFO)';
  if (e.isSocket()) return 'a socket';
  if (e.isCharacterDevice() || e.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

async function realPathOf(p: string): Promise<string | undefined> {
  try {
    return await fsp.realpath(p);
  } catch {
    return undefined;
  }
}

/** How many stats of a folder's files are asked for ahead of the one listed. */
const STATS_AHEAD = 32;

/**
 * The stats of a folder's entries in listing order, asked for up to {@link STATS_AHEAD} entries ahead of
 * the one taken. `pathOf(i)` is the entry's path, or undefined for an entry that needs no stat here (it is
 * asked once per entry: the listing's decision for it).
 */
class StatsAhead {
  readonly #pending = new Map<number, Promise<Stats | undefined>>();
  #next = 0;

  constructor(
    readonly count: number,
    readonly pathOf: (i: number) => string | undefined,
  ) {}

  /** The stat of entry `i` (undefined when it needs none, or vanished); entries are taken in increasing order. */
  take(i: number): Promise<Stats | undefined> {
    if (this.#next <= i) this.#next = i;
    for (let asked = this.#pending.size; this.#next < this.count && this.#next <= i + STATS_AHEAD && asked < STATS_AHEAD; this.#next++) {
      const p = this.pathOf(this.#next);
      if (p === undefined) continue;
      this.#pending.set(this.#next, fsp.stat(p).catch(() => undefined));
      asked++;
    }
    const st = this.#pending.get(i) ?? Promise.resolve(undefined);
    this.#pending.delete(i);
    return st;
  }
}

/** A folder to list: where it is (as listed and for real) and the ignore rules of its entries. */
interface Dir {
  abs: string;
  real: string;
  rel: string;
  frames: IgnoreFrame[];
}

/** A link to a folder, followed once the real folders are listed (so real folders keep their own names). */
interface FolderLink extends Dir {
  /** Real path of the folder the link is in. */
  parentReal: string;
}

/**
 * Streams the files under `root` that match the options, in a stable order (sorted per directory; folders
 * reached through links after all others). Only regular files are listed. Every folder is listed once,
 * by real path: a link to a folder listed already (`ln -s . self`) is not followed. Links into the output
 * and state folders are never followed, nor (unless `followExternalLinks`) links whose real path is outside
 * the root. Entries left out that a person would expect to be listed are reported through `onWarning`.
 */
export async function* listFiles(root: string, options: ListOptions = {}): AsyncGenerator<ListedFile> {
  const r = rulesOf(root, options);
  const start = (options.within ?? '').split('/').filter(Boolean).join('/');
  const warn = (p: string, code: ListWarningCode, message: string) => options.onWarning?.({ path: p || '.', code, message });
  const frames = await rulesDownTo(r, start);
  if (!frames) return;
  const rootReal = (await realPathOf(r.rootAbs)) ?? r.rootAbs;
  const skipReal = (await Promise.all([...r.skip].map(realPathOf))).filter((p): p is string => !!p);
  /** Real folders listed so far, with the path they were listed as. */
  const listed = new Map<string, string>();
  const links: FolderLink[] = [];
  const inside = (real: string) => options.followExternalLinks || isWithin(rootReal, real);
  /** A folder never listed, found by its real path (a link to the output folder, to `.git`, …). */
  const skippedByRealPath = (real: string) =>
    skipReal.some((s) => isWithin(s, real)) || (isWithin(rootReal, real) && inAlwaysSkippedFolder(toPosix(path.relative(rootReal, real))));

  async function* walk(dir: Dir): AsyncGenerator<ListedFile> {
    if (options.signal?.aborted) return;
    listed.set(dir.real, dir.rel);
    let entries: Dirent<Buffer>[];
    try {
      entries = await fsp.readdir(dir.abs, { encoding: 'buffer', withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // vanished meanwhile: nothing to list; anything else (EACCES…) hides documents, so it is said
      if (code !== 'ENOENT' && code !== 'ENOTDIR') warn(dir.rel, 'FILE_UNREADABLE', `Folder not listed: ${(err as Error).message}`);
      return;
    }
    const named: Array<{ name: string; entry: Dirent<Buffer> }> = [];
    for (const entry of entries) {
      const name = entry.name.toString('utf8');
      if (Buffer.from(name, 'utf8').equals(entry.name)) {
        named.push({ name, entry });
        continue;
      }
      // a name that does not round-trip through UTF-8 cannot be addressed by a string path
      const rel = dir.rel ? `${dir.rel}/${name}` : name;
      if (entry.isDirectory() ? skipsDir(r, rel, dir.frames) : skipsFile(r, rel, dir.frames)) continue;
      warn(rel, 'NAME_NOT_UTF8', `Not listed: the name is not valid UTF-8 (bytes ${entry.name.toString('hex')}); rename it to extract it`);
    }
    named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // The stats of the next plain files the rules list are asked for ahead, a few at a time: one at a time,
    // each waits for its turn in the thread pool (behind a run's fsyncs) and the listing starves the run it feeds.
    const stats = new StatsAhead(named.length, (i) => {
      const { name, entry } = named[i];
      if (!entry.isFile()) return undefined;
      const rel = dir.rel ? `${dir.rel}/${name}` : name;
      return skipsFile(r, rel, dir.frames) ? undefined : path.join(dir.abs, name);
    });
    for (let i = 0; i < named.length; i++) {
      const { name, entry } = named[i];
      if (options.signal?.aborted) return;
      const abs = path.join(dir.abs, name);
      const childRel = dir.rel ? `${dir.rel}/${name}` : name;
      let real: string | undefined;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      let linkStat: Stats | undefined;
      if (entry.isSymbolicLink()) {
        try {
          real = await fsp.realpath(abs);
          linkStat = await fsp.stat(abs);
          isDir = linkStat.isDirectory();
          isFile = linkStat.isFile();
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ELOOP' && !skipsFile(r, childRel, dir.frames)) warn(childRel, 'LINK_LOOP', 'Not listed: the link points to itself through other links');
          continue; // a broken link, or one that vanished
        }
        if (!inside(real)) {
          if (!(isDir ? skipsDir(r, childRel, dir.frames) : skipsFile(r, childRel, dir.frames))) {
            warn(childRel, 'LINK_OUTSIDE', `Not listed: the link leads out of the folder (to ${real})`);
          }
          continue;
        }
      } else if (isDir) {
        real = path.join(dir.real, name);
      } else if (!isFile) {
        // FIFOs, sockets, devices: reading them blocks or never ends
        if (!skipsFile(r, childRel, dir.frames)) warn(childRel, 'FILE_UNREADABLE', `Not listed: ${specialKind(entry)}, not a regular file`);
        continue;
      }
      if (isDir) {
        if (skipsDir(r, childRel, dir.frames) || skippedByRealPath(real!)) continue;
        if (entry.isSymbolicLink()) {
          links.push({ abs, real: real!, rel: childRel, frames: dir.frames, parentReal: dir.real });
          continue;
        }
        const seen = listed.get(real!);
        if (seen !== undefined) {
          warn(childRel, 'LINK_LOOP', `Not listed again: the same folder as ${seen || 'the root folder'}`);
          continue;
        }
        yield* walk({ abs, real: real!, rel: childRel, frames: await withOwnGitignore(r, childRel, dir.frames) });
      } else if (isFile) {
        // a link to a file: the rules are checked here; a plain file: they were, when its stat was asked for
        const st = linkStat ? (skipsFile(r, childRel, dir.frames) ? undefined : linkStat) : await stats.take(i);
        if (!st?.isFile()) continue; // left out, vanished or replaced meanwhile
        yield { path: childRel, absPath: abs, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
      }
    }
  }

  /**
   * Where a full listing lists the real folder `real` under its own name (`within` listings: a folder that a
   * link leads to is listed there, not under the link), or undefined.
   */
  const listedInFull = async (real: string): Promise<string | undefined> => {
    if (!isWithin(rootReal, real)) return undefined;
    const rel = toPosix(path.relative(rootReal, real));
    return (await rulesDownTo(r, rel)) ? rel : undefined;
  };
  const startAbs = start ? path.join(r.rootAbs, ...start.split('/')) : r.rootAbs;
  const startReal = start ? await realPathOf(startAbs) : rootReal;
  if (!startReal) return; // the folder does not exist (any more)
  if (!inside(startReal)) {
    warn(start, 'LINK_OUTSIDE', `Not listed: the folder leads out of the workspace folder (to ${startReal})`);
    return;
  }
  if (start && startReal !== path.join(rootReal, ...start.split('/'))) {
    const seen = await listedInFull(startReal);
    if (seen !== undefined) {
      warn(start, 'LINK_LOOP', `Not listed: reached through a link, the same folder as ${seen ? `"${seen}"` : 'the root folder'}`);
      return;
    }
  }
  yield* walk({ abs: startAbs, real: startReal, rel: start, frames });
  // links to folders: followed when the folder they lead to was not listed (it is outside every real folder
  // listed, e.g. ignored), each once
  for (let link = links.shift(); link; link = links.shift()) {
    if (options.signal?.aborted) return;
    const seen = listed.get(link.real) ?? (start && !isWithin(startReal, link.real) ? await listedInFull(link.real) : undefined);
    if (seen !== undefined) {
      const message = isWithin(link.real, link.parentReal)
        ? `Not followed: the link leads to ${seen ? `"${seen}", ` : 'the root folder, '}a folder that contains it (a loop)`
        : `Not followed: the link leads to ${seen ? `"${seen}"` : 'the root folder'}, listed already`;
      warn(link.rel, 'LINK_LOOP', message);
      continue;
    }
    yield* walk({ ...link, frames: await withOwnGitignore(r, link.rel, link.frames) });
  }
}
