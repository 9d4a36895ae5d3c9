/**
 * The model requests a run may have in flight: exactly `concurrency` slots, handed out by priority (a document
 * a person asked for goes first). A document takes its slot once it is read and converted and gives it back
 * when the model has answered, so the file I/O of some documents overlaps the requests of others.
 */
import PQueue from 'p-queue';

/** Moves the task `id` waiting in `queue` to `priority`; nothing when no such task waits (p-queue throws then). */
export function movePriority(queue: PQueue, id: string, priority: number): void {
  try {
    queue.setPriority(id, priority);
  } catch {
    /* not waiting in this queue: nothing to move */
  }
}

export class ModelSlots {
  readonly #queue: PQueue;

  constructor(concurrency: number) {
    this.#queue = new PQueue({ concurrency });
  }

  /** No slot is handed out until {@link start}; the slots held stay held. */
  pause(): void {
    this.#queue.pause();
  }

  start(): void {
    this.#queue.start();
  }

  /** Moves a document waiting for a slot to `priority` (nothing when it is not waiting). */
  setPriority(id: string, priority: number): void {
    movePriority(this.#queue, id, priority);
  }

  /** Waits for a slot; resolves with the function that gives it back, or undefined when `signal` aborted first. */
  async acquire(signal: AbortSignal, id: string, priority: number): Promise<(() => void) | undefined> {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    try {
      await new Promise<void>((resolve, reject) => {
        this.#queue
          .add(
            () => {
              resolve();
              return held;
            },
            { signal, id, priority },
          )
          .catch(reject);
      });
    } catch {
      return undefined; // stopped while waiting
    }
    return release;
  }
}
