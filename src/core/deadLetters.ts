/** Operations on the dead-letter queue that the pipeline, the window and the CLI share. */
import type { CheckpointStore } from '../store/types';

/**
 * Takes `path` out of the dead-letter queue without reprocessing it: the letter is removed and the
 * document, if still dead-lettered, goes back to pending with its attempts reset (the next run tries it
 * afresh). "Remove from Dead-Letter Queue" in the window, `dlq remove` in the CLI.
 */
export function releaseDeadLetter(store: CheckpointStore, path: string, now: number): void {
  store.removeDeadLetter(path);
  if (store.getDocument(path)?.stage === 'dead-lettered') store.patchDocument(path, { stage: 'pending', attempts: 0, updatedAt: now });
}
