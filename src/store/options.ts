/** Options of the sql.js checkpoint store and what it reports (open report, counters, logger). */
import type { AttemptTotals } from './types';
import type { Stage } from '../core/types';
import type { JournalOp } from './changes';

export interface StoreLogger {
  warn(message: string): void;
  info?(message: string): void;
  error?(message: string): void;
}

export interface SqlStoreOptions {
  /** Directory for snapshot + journal; undefined = in-memory store (no files at all). */
  dir?: string;
  /** Explicit path to `sql-wasm.wasm` (tried first). */
  wasmPath?: string;
  /** Compact after this many journaled changes (default 20,000): the minimum interval. */
  compactEvery?: number;
  /**
   * The interval also grows with the state: compaction waits for at least `compactRatio` × (number of
   * documents) changes, so that its O(N) export is amortised to O(1) per change (default 0.5; 0 = a fixed
   * interval of `compactEvery`). Replay at open stays bounded by max(compactEvery, compactRatio × N) lines
   * (twice that when a burst of changes does not yield while a snapshot is written in the background).
   */
  compactRatio?: number;
  /** Where recovery warnings go (default: console). Warnings are never silent. */
  logger?: StoreLogger;
  /**
   * Testing hook, called at each step of a compaction; throwing from it simulates a crash at that point
   * (the files are left exactly as a kill would leave them).
   */
  onCompactionStep?: (step: CompactionStep) => void;
  /**
   * Open without the lock and without writing anything: the state as of now, for showing a folder whose
   * store another process (a CLI run) has open. Writes throw {@link StoreReadOnlyError}; open again to
   * see later changes (see {@link stateSignature}). A torn last journal line is what the writer is
   * appending right now and is skipped silently.
   */
  readOnly?: boolean;
  /**
   * In-memory stores only: told every change as it is applied (the journal entry a store on disk would
   * write). A store that keeps its state elsewhere (PostgreSQL) uses an in-memory store as its read model
   * and writes these changes behind it.
   */
  onChange?: (entry: JournalOp) => void;
  /** In-memory stores only: start from this database (bytes of {@link SqlJsCheckpointStore.exportBytes}; migrated if older). */
  data?: Uint8Array;
}

export type CompactionStep = 'journal-closed' | 'exported' | 'temp-written' | 'backup-linked' | 'renamed' | 'journal-created' | 'journals-deleted';

/** What happened while opening a store (for the UI / CLI to surface). */
export interface OpenReport {
  source: 'memory' | 'snapshot' | 'backup' | 'fresh';
  /** Journal sequence number recorded in the snapshot that was loaded. */
  snapshotSeq: number;
  /** Journal lines applied on top of the snapshot. */
  replayed: number;
  /** Invalid journal lines skipped (torn tail or corrupt). */
  skippedLines: number;
  /** Schema migration applied at open, if any. */
  migrated?: { from: number; to: number };
  /** Files renamed to `*.corrupt-<timestamp>` (or copied, for journals). */
  movedAside: string[];
  warnings: string[];
  /** A stale lock of a dead process was taken over. */
  staleLockTakenOver: boolean;
  openMs: number;
}

export interface StoreStats {
  /** Last journal sequence number written or replayed. */
  seq: number;
  journalWrites: number;
  /** fdatasync calls on the journal (durable writes and sync()). */
  fdatasyncs: number;
  compactions: number;
  changesSinceCompaction: number;
  lastCompactionMs: number;
  lastSnapshotBytes: number;
}

export interface AttemptStats extends AttemptTotals {
  /** Mean ms per stage over the attempts that recorded that stage. */
  meanStageMs: Partial<Record<Stage, number>>;
}

export const DEFAULT_COMPACT_EVERY = 20_000;
/**
 * Half the documents: with the snapshot written off the event loop (compaction.ts), a compaction costs the
 * writer about half what it did, so twice as many keep the cost per change and halve the worst replay.
 */
export const DEFAULT_COMPACT_RATIO = 0.5;

export const defaultLogger: StoreLogger = {
  warn: (m) => console.warn(`[checkpoint-store] ${m}`),
  info: () => undefined,
  error: (m) => console.error(`[checkpoint-store] ${m}`),
};
