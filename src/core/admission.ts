/**
 * Whether a listed file enters a run at all: rejected without being read (a path that leads out of the
 * folder, a name too long for its result file, an unsupported type, too large), skipped as unchanged, left
 * in the dead-letter queue, or another worker's; else its state is set pending and it is queued ({@link admit}).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { CheckpointStore } from '../store/types';
import type { ActiveRun } from './activeRun';
import type { EventBus } from './events';
import { resultNameProblem } from '../export/jsonExporter';
import { ErrorCodes } from './errors';
import { withExamples } from './fingerprint';
import type { ListedFile } from './lister';
import { relPathProblem } from './paths';
import type { ConverterLookup, DocumentExamples } from './pipelineOptions';
import { formatBytes } from './reader';
import { isSettledUnmatched } from './routing';
import type { DocumentState } from './types';
import { claimVersion, type WorkClaims } from './workClaims';

/** Why a run rejects a file without reading it (a path that leads out of the folder, a name too long for its result file, unsupported type, too large), or undefined. */
export function rejectionOf(file: Pick<ListedFile, 'path' | 'size' | 'problem'>, converters: ConverterLookup, maxFileBytes: number): string | undefined {
  if (file.problem) return `[${ErrorCodes.PATH_OUTSIDE_ROOT}] ${file.problem}`;
  const unsafe = relPathProblem(file.path);
  if (unsafe) return `Unsupported path: it ${unsafe}`;
  const tooLong = resultNameProblem(file.path);
  if (tooLong) return tooLong;
  const ext = path.extname(file.path).toLowerCase();
  if (!converters.get(ext)) return `Unsupported file type "${ext || '(none)'}"`;
  if (isTooLarge(file, converters, maxFileBytes)) return `Too large: ${formatBytes(file.size)} is over the ${formatBytes(maxFileBytes)} limit`;
  return undefined;
}

/**
 * Whether a file is rejected for its size: over the limit, and of a type that is read whole. A type converted
 * from a stream (CSV, TSV, JSONL) is read up to the limit instead, the rest cut with a warning.
 */
export function isTooLarge(file: Pick<ListedFile, 'path' | 'size'>, converters: ConverterLookup, maxFileBytes: number): boolean {
  return file.size > maxFileBytes && !converters.get(path.extname(file.path).toLowerCase())?.stream;
}

/**
 * Whether a file is as it was when its stored state was reached, under the same configuration (same size,
 * modification time and fingerprint): a listing run skips such a document when it is done, and leaves it
 * in the dead-letter queue when it is dead-lettered.
 */
export function isUnchanged(existing: DocumentState | undefined, file: Pick<ListedFile, 'size' | 'mtimeMs'>, fingerprint: string): boolean {
  return !!existing && existing.size === file.size && existing.mtimeMs === file.mtimeMs && existing.fingerprint === fingerprint;
}

/**
 * The fingerprint a document's result must have to be up to date: the job's `base`, with the key of the
 * few-shot examples its content `contentHash` gets when there are examples; undefined when that is not
 * known (no content hash, or its text cannot be had): the document is then processed.
 */
export async function expectedFingerprint(base: string, examples: DocumentExamples | undefined, docPath: string, contentHash: string | undefined): Promise<string | undefined> {
  if (!examples) return base;
  if (!contentHash) return undefined;
  const key = await examples.keyOf(docPath, contentHash);
  return key === undefined ? undefined : withExamples(base, key);
}

/** What the pipeline lends the admission of listed files. */
export interface AdmitContext {
  store: CheckpointStore;
  events: EventBus;
  converters: ConverterLookup;
  maxFileBytes: number;
  /** Fingerprint of the run's configuration. */
  fingerprint: string;
  claims: WorkClaims | undefined;
  now(): number;
  /** The fingerprint a document's result must have (see {@link expectedFingerprint}). */
  fingerprintOf(docPath: string, contentHash: string | undefined): Promise<string | undefined>;
}

export function newDocument(file: Pick<ListedFile, 'path' | 'size' | 'mtimeMs'>, now: number): DocumentState {
  return { path: file.path, size: file.size, mtimeMs: file.mtimeMs, readiness: 'ready', stage: 'pending', attempts: 0, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: now };
}

/**
 * Decides what becomes of a listed file that is not in flight: rejected (recorded, counted, told), skipped as
 * unchanged, left dead-lettered, left to the worker that claimed it — undefined — or admitted: its state is
 * pending (written when it was not) and the file, with its size and time when the caller gave none, is
 * returned to be queued. `explicit`: a person asked for it (retry, reprocess), so it runs even when unchanged.
 */
export async function admit(ctx: AdmitContext, run: ActiveRun, file: ListedFile, explicit: boolean): Promise<ListedFile | undefined> {
  const store = ctx.store;
  if (file.size < 0) {
    // explicit path: stat it now
    try {
      const st = await fsp.stat(file.absPath);
      file = { ...file, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
    } catch {
      file = { ...file, size: 0, mtimeMs: 0 };
    }
  }
  const now = ctx.now();
  const existing = store.getDocument(file.path);
  const rejectReason = rejectionOf(file, ctx.converters, ctx.maxFileBytes);
  if (rejectReason) {
    if (existing?.readiness !== 'rejected' || existing.rejectReason !== rejectReason) {
      store.putDocument({ ...(existing ?? newDocument(file, now)), size: file.size, mtimeMs: file.mtimeMs, readiness: 'rejected', rejectReason, stage: 'pending', updatedAt: now });
    }
    run.stats.rejected++;
    if (isTooLarge(file, ctx.converters, ctx.maxFileBytes)) run.stats.rejectedTooLarge++;
    ctx.events.emit({ type: 'doc/rejected', runId: run.record.id, path: file.path, reason: rejectReason });
    return undefined;
  }
  if (!explicit && isSettledUnmatched(existing, file, ctx.fingerprint)) {
    // classified as no job's document, for this very file and configuration: stays rejected, no request
    run.stats.rejected++;
    ctx.events.emit({ type: 'doc/rejected', runId: run.record.id, path: file.path, reason: existing?.rejectReason ?? '' });
    return undefined;
  }
  const fingerprint = existing?.stage === 'done' && existing.size === file.size && existing.mtimeMs === file.mtimeMs ? await ctx.fingerprintOf(file.path, existing.contentHash) : ctx.fingerprint;
  const unchanged = fingerprint !== undefined && isUnchanged(existing, file, fingerprint);
  if (existing && unchanged && existing.stage === 'done' && !explicit) {
    run.stats.skipped++;
    return undefined;
  }
  if (existing && unchanged && existing.stage === 'dead-lettered' && !explicit) {
    return undefined; // stays in the dead-letter queue until reprocessed
  }
  const claims = ctx.claims;
  if (claims) {
    // another worker's document, or finished by one: nothing is written about it here
    const verdict = await claims.claim(file.path, claimVersion(file.size, file.mtimeMs, fingerprint ?? ctx.fingerprint), { force: explicit });
    if (verdict !== 'granted') {
      if (verdict === 'done') run.stats.skipped++;
      return undefined;
    }
    if (run.active.has(file.path) || run.finished) return undefined;
  }
  if (!existing) store.putDocument(newDocument(file, now));
  else if (existing.readiness !== 'ready' || existing.stage === 'done' || existing.stage === 'dead-lettered') {
    store.patchDocument(file.path, { readiness: 'ready', rejectReason: undefined, stage: 'pending', size: file.size, mtimeMs: file.mtimeMs, updatedAt: now, ...(existing.stage === 'dead-lettered' ? { attempts: 0 } : {}) });
  }
  return file;
}
