/**
 * Opening a store whose lock another live process is about to release. On "Reload Window" the new VS Code
 * extension host starts while the old one may still be shutting its run down and holding the lock; the
 * store refuses a live owner at once (see acquireLock), so the caller waits a bounded time for it instead
 * of coming up with an empty tree. A second window that keeps the folder open keeps the lock for good:
 * after `waitMs` its StoreLockedError (which names the process) stands.
 */
import { StoreLockedError } from './errors';

export interface LockWaitOptions {
  /** How long to keep trying (ms). */
  waitMs: number;
  /** Pause between tries (ms, default 250). */
  pollMs?: number;
  /** Called once, when the first try found the lock held by another live process. */
  onWait?: (ownerPid: number) => void;
  /** Stop waiting (e.g. the folder was closed meanwhile): the lock error is thrown. */
  cancelled?: () => boolean;
}

/** Runs `open` until it does not fail with a lock held by another process, or `waitMs` passed. */
export async function openWhenReleased<T>(open: () => Promise<T>, options: LockWaitOptions): Promise<T> {
  const deadline = Date.now() + options.waitMs;
  let waited = false;
  for (;;) {
    try {
      return await open();
    } catch (err) {
      // this process' own lock (a second open here) never goes away by waiting
      const heldElsewhere = err instanceof StoreLockedError && err.ownerPid !== undefined && err.ownerPid !== process.pid;
      if (!heldElsewhere || options.cancelled?.() || Date.now() >= deadline) throw err;
      if (!waited) options.onWait?.(err.ownerPid!);
      waited = true;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
  }
}
