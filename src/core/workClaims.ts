/**
 * Work-claiming port: how workers that share one state (many `extraction-workbench run` processes on one
 * folder, on one or many machines) agree on who processes which document. Without it (a state folder: one
 * process at a time, by its lock) the pipeline works as it always did.
 *
 * A worker claims a document before it writes anything about it; the claim is a lease that the worker
 * renews while it works and that another worker may take over once it has run out (the worker was killed,
 * or lost the network). Each claim carries a fencing token: before the result is written, and when the
 * document is finished, the worker shows its token; a worker whose document was taken over meanwhile is
 * refused ({@link LeaseLostError}) and writes nothing.
 */
import type { ResultFile } from '../export/jsonExporter';

/** What a claim answers: the document is this worker's, or why not. */
export type ClaimVerdict =
  | 'granted'
  /** finished (done) by a worker, for the same file and configuration */
  | 'done'
  /** dead-lettered for the same file and configuration: stays in the dead-letter queue */
  | 'dead'
  /** another live worker holds it */
  | 'held';

export interface WorkClaims {
  /** Name of this worker (host:pid:…). */
  readonly workerId: string;
  /**
   * Claims `path` for this worker. `version` names the file and configuration (size, mtime, fingerprint):
   * a document finished for another version is claimed again. `force` (a person asked for it): claims a
   * finished or dead-lettered document too, never one a live worker holds.
   */
  claim(path: string, version: string, options?: { force?: boolean }): Promise<ClaimVerdict>;
  /**
   * Renews this worker's claim on `path`; throws {@link LeaseLostError} when another worker took it over.
   * With `result`: also stores the document's result in the shared state, in the same fenced step (nothing
   * is stored when the claim was lost). The pipeline does this before it writes the result file and marks
   * the document done, so a document is never done without its result in the shared state.
   */
  fence(path: string, result?: ResultFile): Promise<void>;
  /** Marks `path` finished (fenced: {@link LeaseLostError} when taken over). */
  finish(path: string, state: 'done' | 'dead'): Promise<void>;
  /** Gives back the claims this worker still holds (unfinished documents; another worker may take them). */
  releaseAll(): Promise<void>;
  /**
   * Claims up to `limit` documents whose worker's lease ran out or that were given back unfinished, skipping
   * rows another worker is claiming at this moment (`FOR UPDATE SKIP LOCKED`). Returns their paths.
   */
  takeOver(limit: number): Promise<string[]>;
  /** Claims other workers hold with a live lease (a worker waits for them before it exits). */
  othersLive(): Promise<number>;
  /** Stops renewing leases (claims still held run out). */
  dispose(): Promise<void>;
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(readonly path: string) {
    super(`${path}: another worker took this document over (this worker's lease ran out); its result is left to that worker`);
  }
}

/** The version a claim is made for: the file (size, modification time) and the configuration (fingerprint). */
export function claimVersion(size: number, mtimeMs: number, fingerprint: string): string {
  return `${size}:${mtimeMs}:${fingerprint}`;
}
