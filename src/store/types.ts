/**
 * Checkpoint store port. All mutating calls are synchronous and journaled: their cost must not grow
 * with the number of documents. Calls marked durable are flushed to disk (fdatasync) before they return,
 * so a crash right after them loses nothing.
 */
import type { FinishedOutcome } from '../core/metrics';
import type { AttemptRecord, DeadLetter, DocumentState, Readiness, RunCounts, RunRecord, Stage } from '../core/types';
import type { ResultFile } from '../export/jsonExporter';
import type { PruneOptions, PruneReport } from './retention';

/**
 * Results kept in a state shared by machines (PostgreSQL): the object the JSON exporter writes to
 * `<out>/<doc>.json`, for export and review where the worker's result file is not. Workers write them
 * under their document's claim (see WorkClaims.fence); these calls are for readers and reviewers.
 */
export interface SharedResults {
  /** The stored result of a document, or undefined. */
  get(path: string): Promise<ResultFile | undefined>;
  /** The stored results of these documents (one request), by path; documents without one are left out. */
  getMany(paths: readonly string[]): Promise<Map<string, ResultFile>>;
  /** Paths of the documents with a stored result, sorted. */
  paths(): Promise<string[]>;
  /**
   * Replaces the stored result by `next` while the stored one is still `current` (same run and finish time;
   * default: `next` itself): the reviewer's corrections written into it (`corrected`, `review`: see
   * app/corrections.ts), or the previous result restored when a rerun is rejected. False when another result
   * took its place meanwhile (or there is none), which stays.
   */
  replace(next: ResultFile, current?: ResultFile): Promise<boolean>;
}

export interface WriteOptions {
  /** fdatasync the journal before returning (used for "done" and dead-letter transitions). */
  durable?: boolean;
}

export interface DocumentQuery {
  stages?: readonly Stage[];
  /** Only documents of these readiness values (e.g. the Rejected group, or everything but rejected). */
  readiness?: readonly Readiness[];
  /** Only documents whose path starts with this prefix (folder grouping). */
  pathPrefix?: string;
  offset?: number;
  limit?: number;
}

export interface CheckpointStore {
  /** Directory that holds the snapshot and journal, or undefined for an in-memory store. */
  readonly dir: string | undefined;

  // runs
  putRun(run: RunRecord, options?: WriteOptions): void;
  getRun(id: string): RunRecord | undefined;
  latestRun(): RunRecord | undefined;
  listRuns(limit?: number): RunRecord[];

  // documents
  getDocument(path: string): DocumentState | undefined;
  /** Insert or replace a document's state. */
  putDocument(doc: DocumentState, options?: WriteOptions): void;
  /** Merge a patch into an existing document; returns the new state. Throws when the document is unknown. */
  patchDocument(path: string, patch: Partial<DocumentState>, options?: WriteOptions): DocumentState;
  removeDocument(path: string): void;
  /** Documents ordered by path. */
  listDocuments(query?: DocumentQuery): DocumentState[];
  countDocuments(query?: Omit<DocumentQuery, 'offset' | 'limit'>): number;
  /** Counts by status over all documents, O(1). */
  counts(): RunCounts;
  /**
   * After a crash or reload: documents left in an active stage go back to `pending`.
   * Returns how many were reset.
   */
  resetInFlight(): number;

  // attempts (job rows) and metrics
  recordAttempt(attempt: AttemptRecord): void;
  /**
   * Oldest first (with `limit`: the most recent ones). Raw replies (up to 64 KB each) only with `rawReply`:
   * listings for metrics leave them out.
   */
  listAttempts(filter?: { path?: string; runId?: string; limit?: number; rawReply?: boolean }): AttemptRecord[];

  // dead-letter queue
  putDeadLetter(letter: DeadLetter, options?: WriteOptions): void;
  getDeadLetter(path: string): DeadLetter | undefined;
  /** Dead letters not yet reprocessed, oldest first. */
  listDeadLetters(): DeadLetter[];
  /** Marks a dead letter reprocessed (time and note are kept in history) and removes it from the queue. */
  markDeadLetterReprocessed(path: string, at: number, note?: string): void;
  removeDeadLetter(path: string): void;
  /**
   * Reprocessing history (each entry is the dead letter as it was, with `reprocessedAt` and `note`), oldest
   * first; of one document, or of all. Optional: stores without it have no history to show.
   */
  listDeadLetterHistory?(path?: string): DeadLetter[];

  /**
   * Prunes attempts, dead-letter history, runs and request logs outside the retention limits (see
   * retention.ts for what is always kept). Journaled; called once per run, not per document. Optional.
   */
  pruneHistory?(options: PruneOptions): PruneReport;

  /**
   * Stores shared with other processes (PostgreSQL): reads the changes the others made since the open or
   * the last refresh. Resolves with how many. Optional: a state folder has one writer.
   */
  refresh?(): Promise<number>;

  /** Stores shared by machines (PostgreSQL) keep the results too (see {@link SharedResults}). Optional. */
  readonly results?: SharedResults;

  /** Flushes the journal to disk. */
  sync(): void;
  /**
   * Flushes the journal to disk without blocking the event loop (group commit: concurrent callers share
   * one fdatasync). Everything written before the call is durable when it resolves.
   */
  flush(): Promise<void>;
  /** Writes a snapshot atomically and starts a fresh journal. */
  compact(): void;
  /** Compacts and releases the database. Further calls throw. */
  close(): void;

  // ---------------------------------------------------------------------------------------------------
  // Metrics queries (run dashboard, health). Optional: callers fall back to listAttempts without them.

  /**
   * Attempts recorded after the cursor `after` (0 = from the first), oldest first, at most `limit`; the
   * returned cursor continues where this call stopped (a live dashboard reads each row once).
   */
  readAttempts?(query?: { runId?: string; after?: number; limit?: number }): { attempts: AttemptRecord[]; cursor: number };
  /**
   * The last `limit` finished attempts (done, failed, dead-lettered), newest first (health's recent window):
   * of one run, or of all runs up to the end of `throughRun` (the window as it was when that run ended).
   */
  recentDocumentOutcomes?(limit: number, filter?: { runId?: string; throughRun?: string }): FinishedOutcome[];
  /** Aggregates over attempts (all, or one run's) in SQL: run history and run comparison. */
  attemptStats?(filter?: { runId?: string }): AttemptTotals;
}

/** What {@link CheckpointStore.attemptStats} returns (the sql.js store adds mean stage times). */
export interface AttemptTotals {
  attempts: number;
  byOutcome: Partial<Record<AttemptRecord['outcome'], number>>;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  meanDurationMs: number;
}
