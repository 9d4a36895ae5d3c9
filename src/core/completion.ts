/**
 * A document's successful end: the result file's content ({@link buildResult}) and the checkpoint that makes
 * the document done once that file is on disk ({@link checkpointDone}).
 */
import type { ConvertedDocument } from '../convert/types';
import { resultRelPath, type ResultFile } from '../export/jsonExporter';
import type { Grounding } from '../extract/grounding';
import type { ExtractOutput } from '../extract/types';
import type { ActiveRun, Spent } from './activeRun';
import type { FailureContext } from './attemptFailure';
import type { ListedFile } from './lister';
import type { Routed } from './routing';
import type { Stage } from './types';
import type { WorkClaims } from './workClaims';

/** What a result file is made of. */
export interface ResultParts {
  runId: string;
  path: string;
  out: ExtractOutput;
  grounding: Grounding;
  converted: ConvertedDocument;
  contentHash: string;
  attempt: number;
  startedAt: number;
  finishedAt: number;
  schemaHash: string;
  /** The fingerprint the result is valid for (the job's, with this document's examples). */
  fingerprint: string;
  /** The job of a document in a mixed folder, and how it was chosen. */
  routed?: Routed;
}

export function buildResult(p: ResultParts): ResultFile {
  const { out, routed, converted } = p;
  const choice = routed?.choice;
  return {
    formatVersion: 1,
    source: p.path,
    data: out.data,
    grounding: p.grounding,
    metadata: {
      runId: p.runId,
      model: out.model,
      schemaHash: p.schemaHash,
      fingerprint: p.fingerprint,
      contentHash: p.contentHash,
      converter: converted.format,
      attempts: p.attempt,
      requests: out.requests,
      tokensIn: out.tokensIn,
      tokensOut: out.tokensOut,
      cost: out.cost,
      startedAt: new Date(p.startedAt).toISOString(),
      finishedAt: new Date(p.finishedAt).toISOString(),
      ...(out.mode ? { mode: out.mode } : {}),
      ...(out.chunks ? { chunks: out.chunks } : {}),
      ...(out.conflicts?.length ? { conflicts: out.conflicts } : {}),
      ...(routed ? { job: routed.name, jobChosenBy: routed.by } : {}),
      ...(choice ? { classification: { model: choice.model, requests: choice.requests, tokensIn: choice.tokensIn, tokensOut: choice.tokensOut, cost: choice.cost } } : {}),
      ...(converted.warnings?.length ? { convertWarnings: converted.warnings } : {}),
      ...(out.examples?.length ? { examples: out.examples } : {}),
    },
  };
}

/** The attempt that ended well. */
export interface DoneAttempt {
  attempt: number;
  startedAt: number;
  endedAt: number;
  stageMs: Partial<Record<Stage, number>>;
  contentHash: string;
  /** Size of what was read (kept when the listing had none: a retried path). */
  size: number;
  /** Tokens and cost of this attempt; its requests and model, when it asked the model. */
  spent: Spent;
  made?: { requests: number; model: string };
}

/**
 * Checkpoints a document whose result file is on disk: done, durably (group commit) before it counts as
 * done anywhere — the claim finished, the attempt recorded, the run's totals, the completion event.
 */
export async function checkpointDone(ctx: FailureContext, claims: WorkClaims | undefined, run: ActiveRun, file: ListedFile, result: ResultFile, a: DoneAttempt): Promise<void> {
  const store = ctx.store;
  const endedAt = a.endedAt;
  const doc = store.getDocument(file.path);
  store.patchDocument(file.path, {
    stage: 'done',
    contentHash: a.contentHash,
    fingerprint: result.metadata.fingerprint,
    resultPath: resultRelPath(file.path),
    lastError: undefined,
    tokensIn: (doc?.tokensIn ?? 0) + a.spent.tokensIn,
    tokensOut: (doc?.tokensOut ?? 0) + a.spent.tokensOut,
    cost: (doc?.cost ?? 0) + a.spent.cost,
    durationMs: endedAt - a.startedAt,
    size: file.size >= 0 ? file.size : (doc?.size ?? a.size),
    mtimeMs: file.mtimeMs >= 0 ? file.mtimeMs : (doc?.mtimeMs ?? 0),
    updatedAt: endedAt,
  });
  // group commit: "done" reaches the disk before the document counts as done
  await store.flush();
  await claims?.finish(file.path, 'done');
  store.recordAttempt({ runId: run.record.id, path: file.path, attempt: a.attempt, stageReached: 'done', startedAt: a.startedAt, endedAt, durationMs: endedAt - a.startedAt, stageMs: a.stageMs, outcome: 'done', ...a.spent, ...a.made });
  run.stats.done++;
  ctx.addSpent(run, a.spent);
  run.active.delete(file.path);
  ctx.events.emit({ type: 'doc/completed', runId: run.record.id, path: file.path, resultPath: resultRelPath(file.path), durationMs: endedAt - a.startedAt, ...a.spent });
}
