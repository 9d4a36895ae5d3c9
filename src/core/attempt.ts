/**
 * One attempt at one document: wait out a provider outage, read, convert, take a model slot, extract
 * (extraction.ts), and checkpoint the result as done (completion.ts) — or hand the failure to the retry
 * policy (attemptFailure.ts). The pipeline schedules attempts; this is what each one does.
 */
import * as path from 'node:path';
import type { ConvertCache } from '../convert/cache';
import { convertSource } from '../convert/source';
import { readResult, type ResultFile } from '../export/jsonExporter';
import type { ActiveRun } from './activeRun';
import { handleFailedAttempt, type FailureContext } from './attemptFailure';
import type { CircuitBreaker } from './circuitBreaker';
import { checkpointDone } from './completion';
import { CancelledError, ErrorCodes, ExtractionError } from './errors';
import type { EventBus } from './events';
import { closeStage, extractDocument, type AttemptState, type ExtractionContext } from './extraction';
import type { ListedFile } from './lister';
import type { Logger } from './logger';
import { PRIORITY_NORMAL, PRIORITY_USER, type PipelineOptions } from './pipelineOptions';
import { readSource } from './reader';
import type { Stage } from './types';
import { LeaseLostError } from './workClaims';

/** What the pipeline lends an attempt. */
export interface AttemptContext {
  options: PipelineOptions;
  maxFileBytes: number;
  events: EventBus;
  log: Logger;
  breaker: CircuitBreaker | undefined;
  cache: ConvertCache | undefined;
  /** Documents to extract again even when their result is up to date, with extra instructions. */
  forced: Map<string, { instructions?: string }>;
  extraction: ExtractionContext;
  failures: FailureContext;
  now(): number;
  /** A model slot's release, or undefined when the run was stopped while waiting. */
  acquireModelSlot(run: ActiveRun, file: ListedFile): Promise<(() => void) | undefined>;
  emitProgress(run: ActiveRun): void;
  /** The fingerprint a document's result must have (undefined: not known). */
  fingerprintOf(docPath: string, contentHash: string | undefined): Promise<string | undefined>;
}

/** Processes one attempt at `file`; never rejects for the document's own failures (they are handled). */
export async function processDocument(ctx: AttemptContext, run: ActiveRun, file: ListedFile): Promise<void> {
  const o = ctx.options;
  const store = o.store;
  const signal = run.controller.signal;
  if (ctx.breaker && ctx.breaker.state !== 'closed' && !signal.aborted) {
    // the provider is down (or being checked): the document stays pending until it answers again
    try {
      await ctx.breaker.whenClosed(signal);
    } catch {
      run.active.delete(file.path); // stopped, or the breaker gave up (which stops the run)
      return;
    }
  }
  // A document a person asked for (outside the document queue, which bounds how many are read ahead) takes
  // its model slot first, where its priority puts it ahead; the others once they are read and converted.
  const direct = (run.priorities.get(file.path) ?? PRIORITY_NORMAL) >= PRIORITY_USER;
  let release = direct && !signal.aborted && !run.finished ? await ctx.acquireModelSlot(run, file) : undefined;
  if (signal.aborted || run.finished || (direct && !release)) {
    release?.();
    run.active.delete(file.path);
    return;
  }
  run.processing++;
  const startedAt = ctx.now();
  const prior = store.getDocument(file.path);
  const a: AttemptState = { attempt: (prior?.attempts ?? 0) + 1, startedAt, stage: 'reading', stageStart: startedAt, stageMs: {}, spent: { tokensIn: 0, tokensOut: 0, cost: 0 } };
  const { attempt } = a;
  const enter = (next: Stage, checkpoint = next !== 'validating' && next !== 'exporting') => {
    const t = ctx.now();
    closeStage(a, t);
    a.stage = next;
    a.stageStart = t;
    // Validating and exporting take milliseconds, and so does converting plain text: they are events, not
    // checkpoints (journal writes per document saved; the store shows such a document in its stage before).
    if (checkpoint) store.patchDocument(file.path, { stage: next, updatedAt: t });
    ctx.events.emit({ type: 'doc/stage', runId: run.record.id, path: file.path, stage: next });
  };
  try {
    store.patchDocument(file.path, { stage: 'reading', attempts: attempt, updatedAt: startedAt });
    ctx.events.emit({ type: 'doc/started', runId: run.record.id, path: file.path, attempt });
    ctx.events.emit({ type: 'doc/stage', runId: run.record.id, path: file.path, stage: 'reading' });
    ctx.emitProgress(run);
    const ext = path.extname(file.path).toLowerCase();
    const converter = o.converters.get(ext);
    const source = await readSource(file.absPath, ctx.maxFileBytes, converter?.stream?.aboveBytes);
    const { contentHash } = source;
    // A result written just before a crash, for this very content and configuration, is adopted as is.
    const previous = run.adoptResults ? await readResult(o.outDir, file.path) : undefined;
    const forced = ctx.forced.get(file.path);
    let result: ResultFile;
    if (previous && !forced && previous.metadata.contentHash === contentHash && previous.metadata.fingerprint === (await ctx.fingerprintOf(file.path, contentHash))) {
      result = previous;
      ctx.log.info(`${file.path}: unchanged since its result was written, not extracted again`);
      await o.claims?.fence(file.path, result); // a fleet: the shared state gets the result too
    } else {
      // converting plain text, JSON or a small CSV takes no time worth a checkpoint (a streamed one does)
      enter('converting', converter?.cacheable !== false || source.bytes === undefined);
      if (!converter) throw new ExtractionError(ErrorCodes.UNSUPPORTED_TYPE, `No converter for "${ext}" files`, { retryable: false });
      const converted = await convertSource(converter, source, { path: file.path, absPath: file.absPath, signal }, ctx.maxFileBytes, ctx.cache);
      for (const w of converted.warnings ?? []) ctx.log.warn(`${file.path}: ${w}`);
      if (signal.aborted) throw new CancelledError();
      // the model slot, once the document is read and converted: reading and converting (a PDF's worker, OCR)
      // overlap the requests of other documents instead of keeping a slot idle. The wait is no stage's time.
      if (!release) {
        const waitFrom = ctx.now();
        // waiting: not in flight (a pause shows it as pending meanwhile)
        run.awaitingSlot.add(file.path);
        run.processing--;
        try {
          release = await ctx.acquireModelSlot(run, file);
        } finally {
          run.awaitingSlot.delete(file.path);
          run.processing++;
        }
        if (!release || signal.aborted) throw new CancelledError(run.stopReason);
        a.stageStart += ctx.now() - waitFrom;
      }
      const extracted = await extractDocument(ctx.extraction, run, file, a, { converted, contentHash, size: source.size, forced, changed: previous === undefined, enter, release: () => release?.() });
      if (!extracted) return; // no job matched: settled as unmatched
      result = extracted;
    }
    ctx.forced.delete(file.path);
    const endedAt = ctx.now();
    closeStage(a, endedAt);
    // the result file is on disk: now the completion is checkpointed, durably
    await checkpointDone(ctx.failures, o.claims, run, file, result, { attempt, startedAt, endedAt, stageMs: a.stageMs, contentHash, size: source.size, spent: a.spent, ...(a.made ? { made: a.made } : {}) });
  } catch (err) {
    if (err instanceof LeaseLostError) {
      ctx.log.warn(err.message);
      run.active.delete(file.path);
      return;
    }
    await handleFailedAttempt(ctx.failures, run, file, { attempt, startedAt, stage: a.stage, stageMs: a.stageMs, stageStart: a.stageStart, spent: a.spent }, err);
  } finally {
    release?.(); // no-op when already released
    run.processing--;
    ctx.emitProgress(run);
  }
}
