/**
 * The model's part of a document's attempt (pipeline.ts `#process`), once the document is read, converted and
 * holds its model slot: the job it belongs to (a routed folder asks a classification first), the request
 * with that job's schema, instructions and examples, the validation of the answer, and the result file —
 * grounded, fenced on a fleet, written atomically. The slot is given back as soon as the model has answered.
 */
import type { ConvertedDocument } from '../convert/types';
import { writeResult, type ResultFile } from '../export/jsonExporter';
import { withConfidence } from '../extract/confidence';
import type { GroundFn } from '../extract/groundingThread';
import type { ActiveRun, Spent } from './activeRun';
import { buildResult } from './completion';
import { CancelledError, ErrorCodes, ExtractionError } from './errors';
import { withExamples } from './fingerprint';
import type { ListedFile } from './lister';
import type { PipelineOptions } from './pipelineOptions';
import { NO_JOB, noMatchingJobReason, rejectUnmatched, routeDocument, type UnmatchedContext } from './routing';
import type { Stage } from './types';

/** One attempt's bookkeeping, shared by the pipeline and this module. */
export interface AttemptState {
  readonly attempt: number;
  readonly startedAt: number;
  stage: Stage;
  stageStart: number;
  readonly stageMs: Partial<Record<Stage, number>>;
  spent: Spent;
  /** Requests and model of this attempt's extraction (none when an existing result was adopted). */
  made?: { requests: number; model: string };
}

/** Adds the time since the current stage began, up to `t`, to that stage. */
export function closeStage(a: AttemptState, t: number): void {
  a.stageMs[a.stage] = (a.stageMs[a.stage] ?? 0) + (t - a.stageStart);
}

export interface ExtractionContext {
  options: PipelineOptions;
  unmatched: UnmatchedContext;
  ground: GroundFn;
  schemaHash: string;
  fingerprint: string;
  now(): number;
  /** The document no longer needs extracting again (its forced rerun is done). */
  forget(path: string): void;
}

export interface ExtractionInput {
  converted: ConvertedDocument;
  contentHash: string;
  size: number;
  /** A rerun a person asked for: reclassify, and these extra instructions. */
  forced: { instructions?: string } | undefined;
  /** No result file was there before (the exporter need not compare). */
  changed: boolean;
  /** Moves the attempt to its next stage (checkpointed or not, as the pipeline decides). */
  enter(next: Stage): void;
  /** Gives the model slot back. */
  release(): void;
}

/** Extracts, validates and writes the result; undefined when no job matched (settled as unmatched). */
export async function extractDocument(ctx: ExtractionContext, run: ActiveRun, file: ListedFile, a: AttemptState, io: ExtractionInput): Promise<ResultFile | undefined> {
  const o = ctx.options;
  const signal = run.controller.signal;
  const { converted, contentHash, forced } = io;
  io.enter('extracting');
  // mixed folder: the job of this document (globs, its recorded choice, or a classification request)
  const router = o.router;
  const routed = router ? await routeDocument(router, o.store, { path: file.path, contentHash, document: converted, signal, runId: run.record.id, attempt: a.attempt, reclassify: !!forced }) : undefined;
  const choice = routed?.choice;
  if (choice) a.spent = { tokensIn: choice.tokensIn, tokensOut: choice.tokensOut, cost: choice.cost };
  if (routed?.name === NO_JOB) {
    io.release();
    closeStage(a, ctx.now());
    const reason = noMatchingJobReason(router!.jobs.keys());
    rejectUnmatched(ctx.unmatched, run, file, { attempt: a.attempt, startedAt: a.startedAt, stage: a.stage, stageMs: a.stageMs, contentHash, size: io.size, spent: a.spent, ...(choice ? { requests: choice.requests, model: choice.model } : {}), reason });
    ctx.forget(file.path);
    await o.claims?.finish(file.path, 'done'); // settled for this version: no other worker takes it
    return undefined;
  }
  const job = routed ? router!.jobs.get(routed.name) : undefined;
  const jobInstructions = job ? job.instructions : o.instructions;
  const instructions = forced?.instructions ? [jobInstructions, forced.instructions].filter(Boolean).join('\n\n') : jobInstructions;
  // few-shot examples are the run's job's (a session with a router has none: see examplesOf)
  const chosen = routed ? undefined : await o.examples?.choose(file.path, converted.text);
  const schema = job?.schema ?? o.schema;
  const out = await o.extractor.extract({ path: file.path, document: converted, schema, instructions, ...(chosen?.examples.length ? { examples: chosen.examples } : {}), signal, runId: run.record.id, attempt: a.attempt });
  io.release();
  a.spent = { tokensIn: a.spent.tokensIn + out.tokensIn, tokensOut: a.spent.tokensOut + out.tokensOut, cost: a.spent.cost + out.cost };
  a.made = { requests: out.requests + (choice?.requests ?? 0), model: out.model };
  io.enter('validating');
  // the extractor's own check against this schema is the same check
  const verdict = out.validatedAgainst === schema ? undefined : (job ? job.validate : o.validate)?.(out.data);
  if (verdict && !verdict.ok) {
    throw new ExtractionError(ErrorCodes.SCHEMA_MISMATCH, `The model's answer does not match the schema: ${verdict.errors.slice(0, 5).join('; ')}`);
  }
  io.enter('exporting');
  if (signal.aborted) throw new CancelledError();
  const result = buildResult({
    runId: run.record.id,
    path: file.path,
    out,
    grounding: withConfidence(await ctx.ground(out.data, converted), out.confidence),
    converted,
    contentHash,
    attempt: a.attempt,
    startedAt: a.startedAt,
    finishedAt: ctx.now(),
    schemaHash: job?.schemaHash ?? ctx.schemaHash,
    fingerprint: withExamples(ctx.fingerprint, chosen?.key),
    ...(routed ? { routed } : {}),
  });
  // fencing: a worker whose lease ran out (and whose document another took over) writes nothing
  await o.claims?.fence(file.path, result);
  await writeResult(o.outDir, result, { verifiedFolders: run.resultFolders, changed: io.changed });
  return result;
}
