/**
 * A trailing throttle: `schedule()` runs `fn` at most once per interval, batching every call made meanwhile
 * into one run. No `vscode` import, so the pure tree model uses it too.
 */
import type { IDisposable } from './dispose';

export class Throttle implements IDisposable {
  #timer: NodeJS.Timeout | undefined;
  #last = 0;

  constructor(
    private readonly fn: () => void,
    /** Minimum time between runs, ms (read at every schedule, so it may come from settings). */
    private readonly intervalMs: number | (() => number),
  ) {}

  /** Runs `fn` once the interval since the last run has passed; a run already pending covers this call. */
  schedule(): void {
    if (this.#timer) return;
    const interval = typeof this.intervalMs === 'function' ? this.intervalMs() : this.intervalMs;
    this.#arm(Math.max(0, this.#last + interval - Date.now()));
  }

  /** Replaces a pending run by one on the next turn of the event loop. */
  scheduleSoon(): void {
    this.#cancel();
    this.#arm(0);
  }

  /** Runs `fn` now, in place of a pending run. */
  runNow(): void {
    this.#cancel();
    this.#run();
  }

  /** Records a run of the same work done another way (so the next scheduled run waits its interval). */
  markRun(): void {
    this.#last = Date.now();
  }

  dispose(): void {
    this.#cancel();
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#run();
    }, delay);
  }

  #cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #run(): void {
    this.#last = Date.now();
    this.fn();
  }
}
