/**
 * Mixed folders: a run whose documents are not all of one kind runs each with the job that fits it. A
 * {@link JobRouter} (built by src/app/router.ts from a router job of extraction.config.json) decides:
 *
 * 1. by its path: a document whose globs exactly one job claims goes to that job — no request;
 * 2. else by a classification request (a cheap structured-output call: the job names and `none`).
 *
 * The choice is recorded with the document (`job`, and for a classification `jobKey`: its content and the
 * router's configuration, hashed), so a resumed or repeated run does not classify it again; a changed
 * document or router configuration is classified anew. A document classified `none` ends rejected with
 * NO_MATCHING_JOB: settled, not a failure to retry and not a dead letter.
 */
import type { ConvertedDocument } from '../convert/types';
import type { JsonSchema } from '../extract/types';
import type { CheckpointStore } from '../store/types';
import type { ActiveRun, Spent } from './activeRun';
import { ErrorCodes } from './errors';
import type { EventBus } from './events';
import { extractionFingerprint, hashOf } from './fingerprint';
import type { ListedFile } from './lister';
import type { Validate } from './pipelineOptions';
import type { Stage } from './types';

/** The answer of a classification when no job fits the document. */
export const NO_JOB = 'none';

/** A job a router can send documents to. */
export interface RoutedJob {
  name: string;
  schema: JsonSchema;
  schemaHash: string;
  instructions?: string;
  /** Final check of the extracted data against the job's schema. */
  validate?: Validate;
}

/** A classification's answer and what it cost. */
export interface JobChoice {
  /** A job name, or {@link NO_JOB}. */
  job: string;
  model: string;
  requests: number;
  tokensIn: number;
  tokensOut: number;
  cost: number;
}

export interface JobRouter {
  /** The jobs, by name. */
  readonly jobs: ReadonlyMap<string, RoutedJob>;
  /** Everything a choice depends on besides the document (globs, classification model, descriptions…). */
  readonly fingerprint: string;
  /** The job a document's path alone decides (exactly one job's globs claim it), or undefined. */
  byPath(relPath: string): string | undefined;
  classify(input: { path: string; document: ConvertedDocument; signal?: AbortSignal; runId?: string; attempt?: number }): Promise<JobChoice>;
}

/** Fingerprint of a routed run: the router and every job's extraction (a change re-extracts; see isUnchanged). */
export function routedFingerprint(router: JobRouter, model: string): string {
  const jobs = [...router.jobs.values()].map((j) => [j.name, extractionFingerprint({ schema: j.schema, instructions: j.instructions, model })]);
  return hashOf({ router: router.fingerprint, jobs });
}

/** How a document's job was decided. */
export type RouteBy = 'globs' | 'classification' | 'earlier classification';

export interface Routed {
  /** A job name, or {@link NO_JOB}. */
  name: string;
  by: RouteBy;
  /** The request made for it in this attempt (none when the globs or an earlier classification decided). */
  choice?: JobChoice;
}

/**
 * The job of a document: by its path, else the choice recorded for this content and router configuration,
 * else a classification request — recorded with the document before anything else happens, so a crash in
 * the extraction that follows does not pay for it again. `reclassify` (a forced rerun) asks again anyway.
 */
export async function routeDocument(
  router: JobRouter,
  store: CheckpointStore,
  input: { path: string; contentHash: string; document: ConvertedDocument; signal?: AbortSignal; runId?: string; attempt?: number; reclassify?: boolean },
): Promise<Routed> {
  const byPath = router.byPath(input.path);
  const prior = store.getDocument(input.path);
  if (byPath !== undefined) {
    if (prior && (prior.job !== byPath || prior.jobKey !== undefined)) store.patchDocument(input.path, { job: byPath, jobKey: undefined });
    return { name: byPath, by: 'globs' };
  }
  const key = hashOf({ content: input.contentHash, router: router.fingerprint });
  if (!input.reclassify && prior?.job !== undefined && prior.jobKey === key && (prior.job === NO_JOB || router.jobs.has(prior.job))) {
    return { name: prior.job, by: 'earlier classification' };
  }
  const choice = await router.classify({ path: input.path, document: input.document, ...(input.signal ? { signal: input.signal } : {}), runId: input.runId, attempt: input.attempt });
  if (prior) store.patchDocument(input.path, { job: choice.job, jobKey: key });
  return { name: choice.job, by: 'classification', choice };
}

/** The reason a document classified {@link NO_JOB} is rejected with. */
export function noMatchingJobReason(jobs: Iterable<string>): string {
  return `[${ErrorCodes.NO_MATCHING_JOB}] The classification found that none of the jobs fits this document (${[...jobs].join(', ')}). Add a job for it (with a description), or leave it out with the router job's exclude globs.`;
}

/** What the pipeline lends {@link rejectUnmatched}. */
export interface UnmatchedContext {
  store: CheckpointStore;
  events: EventBus;
  fingerprint: string;
  now(): number;
  addSpent(run: ActiveRun, spent: Spent): void;
}

/**
 * Settles a document classified {@link NO_JOB}: rejected with NO_MATCHING_JOB (for this content and
 * configuration: a later run skips it without a request), its attempt recorded with what the
 * classification cost.
 */
export function rejectUnmatched(
  ctx: UnmatchedContext,
  run: ActiveRun,
  file: ListedFile,
  a: { attempt: number; startedAt: number; stage: Stage; stageMs: Partial<Record<Stage, number>>; contentHash: string; size: number; spent: Spent; requests?: number; model?: string; reason: string },
): void {
  const { store } = ctx;
  const endedAt = ctx.now();
  const doc = store.getDocument(file.path);
  store.patchDocument(file.path, {
    readiness: 'rejected',
    rejectReason: a.reason,
    stage: 'pending',
    contentHash: a.contentHash,
    fingerprint: ctx.fingerprint,
    lastError: undefined,
    tokensIn: (doc?.tokensIn ?? 0) + a.spent.tokensIn,
    tokensOut: (doc?.tokensOut ?? 0) + a.spent.tokensOut,
    cost: (doc?.cost ?? 0) + a.spent.cost,
    size: file.size >= 0 ? file.size : (doc?.size ?? a.size),
    mtimeMs: file.mtimeMs >= 0 ? file.mtimeMs : (doc?.mtimeMs ?? 0),
    updatedAt: endedAt,
  });
  store.recordAttempt({
    runId: run.record.id,
    path: file.path,
    attempt: a.attempt,
    stageReached: a.stage,
    startedAt: a.startedAt,
    endedAt,
    durationMs: endedAt - a.startedAt,
    stageMs: a.stageMs,
    outcome: 'failed',
    errorCode: ErrorCodes.NO_MATCHING_JOB,
    errorMessage: a.reason,
    ...a.spent,
    ...(a.requests !== undefined ? { requests: a.requests } : {}),
    ...(a.model !== undefined ? { model: a.model } : {}),
  });
  run.stats.rejected++;
  ctx.addSpent(run, a.spent);
  run.active.delete(file.path);
  ctx.events.emit({ type: 'doc/rejected', runId: run.record.id, path: file.path, reason: a.reason });
}

/** Whether a listed document was classified {@link NO_JOB} for its present state (same size, time and configuration): a run leaves it rejected. */
export function isSettledUnmatched(existing: { job?: string; readiness: string; size: number; mtimeMs: number; fingerprint?: string } | undefined, file: Pick<ListedFile, 'size' | 'mtimeMs'>, fingerprint: string): boolean {
  return !!existing && existing.job === NO_JOB && existing.readiness === 'rejected' && existing.size === file.size && existing.mtimeMs === file.mtimeMs && existing.fingerprint === fingerprint;
}
