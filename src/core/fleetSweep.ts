/**
 * The end of a worker's listing when workers share one state: before its run may finish, a worker sweeps
 * up. Once its own documents are settled it takes over the documents whose worker's lease ran out (a
 * killed worker) or that a stopped worker gave back, processes them, and looks again; it ends when nothing
 * is left to take over and no other worker holds a live claim (one of those could still die and leave its
 * documents behind). So the last worker standing finishes the folder.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './logger';
import type { WorkClaims } from './workClaims';

export interface SweepOptions {
  claims: WorkClaims;
  signal: AbortSignal;
  /** Whether this worker still has documents queued, in flight or waiting for a retry. */
  busy: () => boolean;
  /** Processes documents this worker took over (resolves when they are queued). */
  admit: (paths: string[]) => Promise<void>;
  /** Reads the other workers' changes into this worker's view (shared stores). */
  refresh?: () => Promise<unknown>;
  pollMs: number;
  log: Logger;
}

/** How many documents one sweep takes over at most (a few more follow in the next round). */
const TAKE = 32;

export async function sweepFleet(o: SweepOptions): Promise<void> {
  try {
    for (;;) {
      while (o.busy()) await sleep(o.pollMs, undefined, { signal: o.signal });
      await o.refresh?.();
      const taken = await o.claims.takeOver(TAKE);
      if (o.signal.aborted) return;
      if (taken.length) {
        o.log.info(`Taking over ${taken.length} document(s) another worker left unfinished (its lease ran out, or it stopped)`);
        await o.admit(taken);
        continue;
      }
      if ((await o.claims.othersLive()) === 0) return;
      await sleep(o.pollMs, undefined, { signal: o.signal });
    }
  } catch (err) {
    if (o.signal.aborted) return; // stopped while waiting
    throw err;
  } finally {
    if (!o.signal.aborted) await o.refresh?.().catch(() => undefined);
  }
}
