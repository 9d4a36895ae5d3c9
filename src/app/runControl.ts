/**
 * Controlling a run from another process: `extraction-workbench pause|resume|stop` and the window's Pause,
 * Resume and Stop on a run that a CLI (or another window) holds, and `retry --priority high` (documents
 * retried by the process that holds the folder, ahead of its queue: `retryHeld`). The controller writes a command into the
 * state folder (`control.json`, atomically, with a sequence number); the process that runs the folder reads
 * it a few times a second and carries out each command newer than the ones it has seen. The run's
 * status in the checkpoint store is the acknowledgement the controller waits for.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Disposable } from '../core/events';
import type { RunHandle } from '../core/pipelineOptions';
import type { CheckpointStore } from '../store/types';
import { writeFileAtomic } from '../export/jsonExporter';

export const CONTROL_FILE = 'control.json';

export type ControlCommand = 'pause' | 'resume' | 'stop';
/** What a control record may ask: a run command, or `retry` with its paths. */
export type ControlRequest = ControlCommand | 'retry';

export interface ControlRecord {
  /** Grows with every command written to this state folder. */
  seq: number;
  command: ControlRequest;
  /** Epoch ms. */
  at: number;
  /** `pid@host` of the sender. */
  by: string;
  /** `retry`: the documents (root-relative paths) to retry ahead of the queue (`retry --priority high`). */
  paths?: string[];
}

const COMMANDS: readonly ControlRequest[] = ['pause', 'resume', 'stop', 'retry'];

/** The last command written to `stateDir`, or undefined (none, or an unreadable file). */
export function readControl(stateDir: string): ControlRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(stateDir, CONTROL_FILE), 'utf8')) as ControlRecord;
    if (!r || typeof r.seq !== 'number' || !COMMANDS.includes(r.command)) return undefined;
    if (r.command === 'retry' && !(Array.isArray(r.paths) && r.paths.every((p) => typeof p === 'string'))) return undefined;
    return r;
  } catch {
    return undefined;
  }
}

/** Writes a command for the process that runs `stateDir`; returns what was written. */
export function sendControl(stateDir: string, command: ControlRequest, now = Date.now(), paths?: readonly string[]): ControlRecord {
  const record: ControlRecord = { seq: (readControl(stateDir)?.seq ?? 0) + 1, command, at: now, by: `${process.pid}@${os.hostname()}`, ...(paths ? { paths: [...paths] } : {}) };
  writeFileAtomic(path.join(stateDir, CONTROL_FILE), JSON.stringify(record) + '\n', { fsync: false });
  return record;
}

/**
 * Calls `onCommand` for every command written to `stateDir` after this call (older ones are history),
 * checking every `intervalMs` (default 250 ms: a command is carried out within a second). With `keepAlive`
 * the watch keeps the process alive (a headless run that is paused waits for its resume).
 */
export function watchControl(stateDir: string, onCommand: (record: ControlRecord) => void, options: { intervalMs?: number; keepAlive?: boolean } = {}): Disposable {
  let seen = readControl(stateDir)?.seq ?? 0;
  const timer = setInterval(() => {
    const r = readControl(stateDir); // ~100 bytes: cheaper than being clever about modification times
    if (!r || r.seq <= seen) return;
    seen = r.seq;
    onCommand(r);
  }, options.intervalMs ?? 250);
  if (!options.keepAlive) timer.unref();
  return { dispose: () => clearInterval(timer) };
}

/**
 * Carries out a `retry` command in the process that holds the folder: dead letters among the paths are marked
 * reprocessed, and the documents are retried with fresh attempts at the user's priority — the pipeline's
 * bypass for a person's request (straight to the model-slot queue, ahead of every waiting document).
 * Paths the store does not know are left out. Returns the run handle, or undefined when nothing was queued.
 */
export function retryHeld(
  pipeline: { retry(paths: readonly string[]): RunHandle },
  store: Pick<CheckpointStore, 'getDocument' | 'getDeadLetter' | 'markDeadLetterReprocessed'>,
  paths: readonly string[],
  note = 'retry --priority high',
): RunHandle | undefined {
  const known = paths.filter((p) => store.getDocument(p));
  if (!known.length) return undefined;
  for (const p of known) if (store.getDeadLetter(p)) store.markDeadLetterReprocessed(p, Date.now(), note);
  return pipeline.retry(known);
}
