/**
 * The store's lock file (`store.lock`: pid, hostname, since). One writer per store folder: a second open
 * fails with {@link StoreLockedError} naming the owner; a lock left by a dead process (or by this process
 * without close()) is taken over with a warning. Read-only viewers never take it: {@link lockHolder} tells
 * them who writes and {@link stateSignature} when to look again.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StoreLockedError } from './errors';
import { listJournalFiles } from './journal';
import type { StoreLogger } from './options';
import { SNAPSHOT_FILE } from './snapshot';

export const LOCK_FILE = 'store.lock';

/** A held lock: the lock file and the folder's real path (the key of this process' own locks). */
export interface HeldLock {
  file: string;
  key: string;
}

interface LockInfo {
  pid: number;
  hostname: string;
  since: number;
}

const heldLocks = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): { info?: LockInfo; missing?: boolean; mtimeMs?: number } {
  try {
    const st = fs.statSync(file);
    const text = fs.readFileSync(file, 'utf8');
    try {
      const info = JSON.parse(text) as LockInfo;
      if (typeof info.pid === 'number') return { info, mtimeMs: st.mtimeMs };
    } catch {
      // half-written
    }
    return { mtimeMs: st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    throw e;
  }
}

/** Why a lock file's owner no longer holds it, or undefined when it does (or may: another machine, being written). */
function staleLockReason(info: LockInfo | undefined, mtimeMs: number | undefined, heldHere: boolean): string | undefined {
  // unparsable: another process may be writing it right now; only old ones are stale
  if (!info) return Date.now() - (mtimeMs ?? 0) > 5_000 ? 'unreadable lock file' : undefined;
  if (info.hostname !== os.hostname()) return undefined; // cannot check a pid on another machine
  if (info.pid === process.pid) return heldHere ? undefined : 'left by this process without close() (or copied with the folder)';
  return isAlive(info.pid) ? undefined : `process ${info.pid} is not running`;
}

function realpathOr(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return dir;
  }
}

/**
 * Who holds the store in `dir` now, without taking it: the lock's owner when it is a live process (or one
 * that cannot be checked), undefined when the store is free (no lock, or a stale one that opening would
 * take over). Cheap (one small file read): a read-only viewer polls it to know when it may write.
 */
export function lockHolder(dir: string): { pid?: number; hostname?: string } | undefined {
  const { info, missing, mtimeMs } = readLock(path.join(dir, LOCK_FILE));
  if (missing || staleLockReason(info, mtimeMs, heldLocks.has(realpathOr(dir)))) return undefined;
  return { ...(info ? { pid: info.pid, hostname: info.hostname } : {}) };
}

/** The output folder's lock file: one run writes results into a folder at a time. */
export const OUTPUT_LOCK_FILE = '.extraction-output.lock';

export interface LockOptions {
  /** Lock file name in `dir` (default the store's). */
  fileName?: string;
  /** What is locked, for messages (default "Checkpoint store"). */
  what?: string;
  /** What to do when it is in use (default: close the other window or CLI run). */
  advice?: string;
}

/** Takes the lock of `dir` (throws {@link StoreLockedError} when a live process holds it). */
export function acquireLock(dir: string, logger: Pick<StoreLogger, 'warn'>, options: LockOptions = {}): HeldLock & { staleTakenOver: boolean } {
  const fileName = options.fileName ?? LOCK_FILE;
  const what = options.what ?? 'Checkpoint store';
  const file = path.join(dir, fileName);
  const real = fs.realpathSync(dir);
  const key = fileName === LOCK_FILE ? real : path.join(real, fileName);
  if (heldLocks.has(key)) {
    throw new StoreLockedError(`${what} ${dir} is already ${fileName === LOCK_FILE ? 'open' : 'in use'} in this process.`, file, process.pid);
  }
  let staleTakenOver = false;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        const info: LockInfo = { pid: process.pid, hostname: os.hostname(), since: Date.now() };
        fs.writeSync(fd, JSON.stringify(info));
      } finally {
        fs.closeSync(fd);
      }
      heldLocks.add(key);
      return { file, key, staleTakenOver };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const { info, missing, mtimeMs } = readLock(file);
    if (missing) continue;
    const stale = staleLockReason(info, mtimeMs, false); // held here was refused above
    if (!stale) {
      const who = info ? `process ${info.pid} on ${info.hostname}${info.since ? ` since ${new Date(info.since).toISOString()}` : ''}` : 'another process';
      throw new StoreLockedError(
        `${what} ${dir} is in use by ${who}. ${options.advice ?? 'Close the other VS Code window or CLI run first'}` +
          ` (if that process no longer exists, delete ${file}).`,
        file,
        info?.pid,
      );
    }
    logger.warn(`${what.toLowerCase()}: taking over stale lock ${file} (${stale})`);
    staleTakenOver = true;
    try {
      fs.unlinkSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  throw new StoreLockedError(`Could not acquire the lock ${file} (it keeps changing).`, file);
}

/**
 * A cheap fingerprint of a store folder's files (snapshot and journals: names, sizes, mtimes): it changes
 * whenever the store's content may have, so a read-only viewer knows when to open the store again.
 */
export function stateSignature(dir: string): string {
  const parts: string[] = [];
  for (const file of [path.join(dir, SNAPSHOT_FILE), ...listJournalFiles(dir).map((j) => j.file)]) {
    try {
      const st = fs.statSync(file);
      parts.push(`${path.basename(file)}:${st.size}:${st.mtimeMs}`);
    } catch {
      // deleted meanwhile (compaction): the next listing tells
    }
  }
  return parts.join('|');
}

/** Releases a lock taken by {@link acquireLock} (the file only when it is still this process'). */
export function releaseLock(lock: HeldLock): void {
  heldLocks.delete(lock.key);
  try {
    const { info } = readLock(lock.file);
    if (info && info.pid === process.pid) fs.unlinkSync(lock.file);
  } catch {
    // best effort
  }
}
