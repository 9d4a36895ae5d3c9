/**
 * Durable renames at the cost of one directory fsync per batch instead of one per file. A file written
 * atomically (temp file, fsync, rename) survives a power loss only once its directory entry is on disk,
 * which takes an fsync of the directory. Many documents finish into the same folder at once: callers that
 * ask while a sync of that folder is running share the one sync that starts after it (a sync that began
 * before a caller's rename might not cover it), as a group commit does.
 */
import { promises as fsp } from 'node:fs';

interface Pending {
  running: Promise<void>;
  /** The sync that starts when `running` ends, shared by everyone who asked meanwhile. */
  next?: Promise<void>;
}

const pending = new Map<string, Pending>();

async function fsyncDir(dir: string): Promise<void> {
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

function start(dir: string): Promise<void> {
  const entry: Pending = { running: fsyncDir(dir) };
  pending.set(dir, entry);
  void entry.running.then(() => {
    if (pending.get(dir) === entry && !entry.next) pending.delete(dir);
  });
  return entry.running;
}

/** Resolves once everything renamed into `dir` before the call is durable. Never rejects. */
export function syncDirectory(dir: string): Promise<void> {
  const cur = pending.get(dir);
  if (!cur) return start(dir);
  cur.next ??= cur.running.then(() => start(dir));
  return cur.next;
}
