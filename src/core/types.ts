/**
 * Domain types shared by the pipeline, the checkpoint store, the CLI and the VS Code layer.
 * No `vscode` import, no I/O.
 */

/** Whether a document may enter the pipeline at all. */
export type Readiness = 'not-ready' | 'ready' | 'rejected';

/** Processing stage of a document. `done`, `failed` and `dead-lettered` are terminal for a run. */
export type Stage =
  | 'pending'
  | 'reading'
  | 'converting'
  | 'extracting'
  | 'validating'
  | 'exporting'
  | 'done'
  | 'failed'
  | 'dead-lettered';

/** Stages during which a document is "in flight". */
export const ACTIVE_STAGES: readonly Stage[] = ['reading', 'converting', 'extracting', 'validating', 'exporting'];

export function isActiveStage(stage: Stage): boolean {
  return ACTIVE_STAGES.includes(stage);
}

export interface ErrorInfo {
  /** Stable machine-readable code, e.g. `RATE_LIMITED`, `FILE_MISSING`. See `errors.ts`. */
  code: string;
  message: string;
  /** Stage in which the error happened. */
  stage: Stage;
  retryable: boolean;
}

/** The persisted state of one document. `path` is relative to the run's root folder, with `/` separators. */
export interface DocumentState {
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 of the file content, once read. */
  contentHash?: string;
  /** Hash of schema + instructions + model that produced the current result. */
  fingerprint?: string;
  readiness: Readiness;
  rejectReason?: string;
  stage: Stage;
  /** Attempts made since the document was last (re)queued. */
  attempts: number;
  lastError?: ErrorInfo;
  /** Result file, relative to the output folder. */
  resultPath?: string;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  /** Wall time of the last successful attempt. */
  durationMs?: number;
  updatedAt: number;
  /**
   * The job chosen for the document in a mixed folder (a router job, see src/core/routing.ts): a job name, or
   * `none` when the classification matched no job. Absent in a single-job run.
   */
  job?: string;
  /**
   * What a classification chose {@link job} for (its content and the router's configuration, hashed): the
   * same key next time means the choice stands, without a request. Absent when the globs chose the job.
   */
  jobKey?: string;
}

/** One attempt at one document. */
export interface AttemptRecord {
  runId: string;
  path: string;
  attempt: number;
  stageReached: Stage;
  startedAt: number;
  endedAt: number;
  durationMs: number;
  /** Time spent per stage in ms. */
  stageMs?: Partial<Record<Stage, number>>;
  /** `outage`: failed while the provider was down; the attempt did not count against the document. */
  outcome: 'done' | 'retry' | 'failed' | 'dead-lettered' | 'cancelled' | 'outage';
  errorCode?: string;
  errorMessage?: string;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  /** Model requests made in this attempt (re-asks and chunks of a long document included). */
  requests?: number;
  /** The model that was asked. */
  model?: string;
  /**
   * The model's raw reply, kept when the attempt failed on it (`MALFORMED_OUTPUT`, `SCHEMA_MISMATCH`,
   * `TRUNCATED_OUTPUT`). The checkpoint store keeps at most 64 KB of it (UTF-8) and sets
   * {@link rawReplyTruncated} when it cut a longer one. Attempt listings leave it out unless asked for.
   */
  rawReply?: string;
  /** Set by the store when {@link rawReply} was cut to its limit. */
  rawReplyTruncated?: boolean;
}

export interface DeadLetter {
  path: string;
  runId: string;
  stage: Stage;
  code: string;
  message: string;
  attempts: number;
  at: number;
  /** Set when the dead letter was reprocessed (it then leaves the queue). */
  reprocessedAt?: number;
  note?: string;
}

export type RunTrigger = 'palette' | 'watch' | 'cli' | 'retry' | 'test';
export type RunStatus = 'running' | 'paused' | 'stopped' | 'completed' | 'interrupted';

export interface RunRecord {
  id: string;
  startedAt: number;
  endedAt?: number;
  trigger: RunTrigger;
  root: string;
  status: RunStatus;
  fingerprint: string;
  model?: string;
  totals?: RunCounts & { tokensIn: number; tokensOut: number; cost: number };
}

export interface RunCounts {
  total: number;
  pending: number;
  running: number;
  done: number;
  failed: number;
  deadLettered: number;
  rejected: number;
}

export function emptyCounts(): RunCounts {
  return { total: 0, pending: 0, running: 0, done: 0, failed: 0, deadLettered: 0, rejected: 0 };
}
