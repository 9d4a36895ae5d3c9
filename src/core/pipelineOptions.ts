/**
 * What a {@link Pipeline} is made of and what it gives back: its options, how a run is started, the
 * handle and summary of a run, and the priority of documents a person asked for.
 */
import type { Converter } from '../convert/types';
import type { ChosenExamples } from '../extract/examples';
import type { GroundFn } from '../extract/groundingThread';
import type { Extractor, JsonSchema } from '../extract/types';
import type { WorkClaims } from './workClaims';
import type { JobRouter } from './routing';
import type { CheckpointStore } from '../store/types';
import type { CircuitBreaker } from './circuitBreaker';
import type { Logger } from './logger';
import type { RetryPolicy } from './retry';
import type { ErrorInfo, RunCounts, RunRecord, RunTrigger } from './types';

/** Finds the converter for a file extension (`.pdf`). */
export interface ConverterLookup {
  get(extension: string): Converter | undefined;
}

/**
 * Few-shot examples chosen per document (src/app/examples.ts). They are part of the document's
 * fingerprint (`withExamples`): a done document whose examples changed is extracted again, and only such.
 */
export interface DocumentExamples {
  /** The examples for a document's converted text (never the document itself) and their key. */
  choose(path: string, text: string): Promise<ChosenExamples>;
  /**
   * The key of the examples of a document known by its content hash (its converted text is looked up,
   * or converted again); undefined when its text cannot be had (the document is then processed).
   */
  keyOf(path: string, contentHash: string): Promise<string | undefined>;
}

export type Validate = (data: unknown) => { ok: true } | { ok: false; errors: string[] };

export interface PipelineOptions {
  /** Folder whose documents are extracted. */
  root: string;
  /** Folder that receives `<relative path>.json` result files. */
  outDir: string;
  store: CheckpointStore;
  converters: ConverterLookup;
  extractor: Extractor;
  schema: JsonSchema;
  /** Final check of the extracted data against the user's schema (`schema`'s validator: not run again on data the extractor validated against `schema`, see `ExtractOutput.validatedAgainst`). */
  validate?: Validate;
  instructions?: string;
  include?: readonly string[];
  exclude?: readonly string[];
  /** Honour .gitignore files (default true). */
  gitignore?: boolean;
  /** Documents processed at once (default 4). */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** Files larger than this are rejected at readiness (default 50 MB). */
  maxFileBytes?: number;
  logger?: Logger;
  /** Minimum interval between `run/progress` events (default 250 ms). */
  progressIntervalMs?: number;
  now?: () => number;
  random?: () => number;
  /** Cost (in the price table's currency) at which the run pauses; resume to go on past it. */
  budget?: number;
  /** Converted-text cache folder (e.g. `<stateDir>/converted`): conversions are saved there and reused. */
  convertedCacheDir?: string;
  /**
   * Grounds a result in its converted document (default: {@link groundValues} in this thread). The
   * session passes a {@link GroundFn} that grounds long documents in a worker thread.
   */
  ground?: GroundFn;
  /** Size bound of that folder in bytes (least recently used conversions are deleted beyond it). Default 512 MiB. */
  convertedCacheMaxBytes?: number;
  /**
   * The provider's circuit breaker (default: the extractor's). While it is not closed no document starts;
   * its outage events become `run/provider-waiting` / `run/provider-recovered`; when it gives up, the run
   * stops. It is reset when a run ends.
   */
  circuitBreaker?: CircuitBreaker;
  /**
   * Takes the output folder for a run and returns its release; throws when another run (another state
   * folder, another process) writes results into the same folder. Called when a run starts.
   */
  lockOutput?: () => () => void;
  /**
   * Workers sharing one state (PostgreSQL): a document is processed only by the worker that claimed it,
   * and a run ends only when no worker holds a live claim (see workClaims.ts and fleetSweep.ts). Without
   * it, the pipeline is the only writer of its state.
   */
  claims?: WorkClaims;
  /** How often a worker that has nothing left looks for work to take over, ms (default 500). */
  fleetPollMs?: number;
  /** Few-shot examples per document (job option `examples`); none when absent. */
  examples?: DocumentExamples;
  /**
   * Mixed folders: each document runs with the job the router picks (by globs, else a classification
   * request); `schema`, `instructions` and `validate` are then those of the chosen job. See routing.ts.
   */
  router?: JobRouter;
}

export interface StartOptions {
  trigger: RunTrigger;
  /** Only these documents (relative paths); default: list the whole root. */
  paths?: readonly string[];
  /**
   * Workers sharing a state (a fleet): the run under way that this worker takes part in. Its id (and start
   * time and trigger) are kept, so the fleet reports one run; this worker records the run's end when it ends.
   */
  join?: RunRecord;
}

export interface RunSummary {
  runId: string;
  status: 'completed' | 'stopped' | 'interrupted';
  /** Why the run stopped early (run-fatal error, user stop). */
  reason?: string;
  fatalError?: ErrorInfo;
  counts: RunCounts;
  /** Documents this run finished, failed permanently or skipped as unchanged. */
  done: number;
  deadLettered: number;
  skipped: number;
  rejected: number;
  /** Of those, rejected for their size (documents the run was meant to read). */
  rejectedTooLarge: number;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  durationMs: number;
}

export interface RunHandle {
  runId: string;
  done: Promise<RunSummary>;
}

/** Priority of documents a person asked for explicitly (retry, "extract this file now"). */
export const PRIORITY_USER = 10;

/** Priority of listed documents. */
export const PRIORITY_NORMAL = 0;
