/**
 * The in-memory state of the run a {@link Pipeline} is working on: what is queued, in flight or waiting for a
 * retry, what it has spent, why it stops, and the outage it waits through.
 */
import type { Disposable, ProviderWait } from './events';
import { toExtractionError } from './errors';
import type { RunSummary } from './pipelineOptions';
import type { ErrorInfo, RunRecord, Stage } from './types';

/** Tokens and cost spent by an attempt. */
export interface Spent {
  tokensIn: number;
  tokensOut: number;
  cost: number;
}

export function errorInfoOf(err: unknown, stage: Stage): ErrorInfo {
  const e = toExtractionError(err, stage);
  return { code: e.code, message: e.message, stage, retryable: e.retryable };
}

export interface ActiveRun {
  record: RunRecord;
  controller: AbortController;
  listingDone: boolean;
  /** Paths queued, in flight or waiting for a retry in this run. */
  active: Set<string>;
  /** Priorities other than normal, by path (kept for the model-slot queue). */
  priorities: Map<string, number>;
  retryTimers: Map<string, NodeJS.Timeout>;
  resolve: (s: RunSummary) => void;
  stopReason?: string;
  /** Ended by shutdown() (window closed or reloaded, CLI interrupted), not by the user: to be resumed. */
  interrupted?: boolean;
  fatalError?: ErrorInfo;
  stats: { done: number; deadLettered: number; skipped: number; rejected: number; rejectedTooLarge: number; tokensIn: number; tokensOut: number; cost: number };
  lastProgressAt: number;
  budgetReached?: boolean;
  /** Documents being processed (reading to exporting), not those waiting for a model slot. */
  processing: number;
  /** Documents read and converted that wait for a model slot (a pause shows them as pending). */
  awaitingSlot: Set<string>;
  /** Documents a person asked for, processed outside the document queue (see #schedule). */
  direct: number;
  /** Documents waiting for a place in the document queue (not started yet). */
  queued: Set<string>;
  progressTimer?: NodeJS.Timeout;
  finished: boolean;
  /** Subscription to the circuit breaker's events. */
  breakerEvents?: Disposable;
  /** Gives the output folder back (see PipelineOptions.lockOutput). */
  releaseOutput?: () => void;
  /** The provider outage the run waits through, if any. */
  waiting?: ProviderWait;
  /** Result folders this run created or checked to lie inside the output folder (see writeResult). */
  resultFolders: Set<string>;
  /**
   * The output folder held something when the run started (or workers share the run): a result written before
   * a crash may wait there to be adopted. False: no result is looked for before a document is extracted.
   */
  adoptResults: boolean;
}
