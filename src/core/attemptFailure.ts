/**
 * The pipeline's decision after a failed attempt, and its checkpoint. See {@link handleFailedAttempt}.
 */
import type { CheckpointStore } from '../store/types';
import type { ActiveRun, Spent } from './activeRun';
import { errorInfoOf } from './activeRun';
import { isProviderFailure, type CircuitBreaker } from './circuitBreaker';
import { CancelledError, ErrorCodes, isRunFatalCode, isStorageError, NOT_THE_DOCUMENTS_FAULT, toExtractionError } from './errors';
import type { EventBus } from './events';
import type { ListedFile } from './lister';
import type { Logger } from './logger';
import { backoffDelay, shouldRetry, type RetryPolicy } from './retry';
import type { ErrorInfo, Stage } from './types';

/** What the pipeline lends the failure handling. */
export interface FailureContext {
  store: CheckpointStore;
  events: EventBus;
  log: Logger;
  policy: RetryPolicy;
  breaker: CircuitBreaker | undefined;
  /** Fingerprint of the run's configuration (kept with a dead letter). */
  fingerprint: string;
  now(): number;
  random(): number;
  /** Cost of tokens spent before the failure. */
  price(tokensIn: number, tokensOut: number): number;
  addSpent(run: ActiveRun, spent: Spent): void;
  /** Processes the document again after `delayMs` (an open circuit holds it). */
  requeue(run: ActiveRun, file: ListedFile, delayMs: number): void;
  /** Stops the run for an error that concerns every document. */
  stopFatal(run: ActiveRun, info: ErrorInfo): void;
  /** Forgets a forced rerun of the document. */
  forget(path: string): void;
}

/** The attempt that failed. */
export interface FailedAttempt {
  attempt: number;
  startedAt: number;
  /** The stage it failed in, and the time spent per stage so far. */
  stage: Stage;
  stageMs: Partial<Record<Stage, number>>;
  stageStart: number;
  /** Spent before the failure (a successful extraction whose export failed). */
  spent: Spent;
}

/**
 * What a failed attempt leads to: back to pending (a stop, a provider outage, a full disk: the attempt does
 * not count), a stopped run (errors that every document would hit), a retry after a backoff, or the
 * dead-letter queue. A document that used up its attempts on provider failures is dead-lettered only once
 * the provider is known to be up (others succeeded since, or a probe answers): otherwise the provider is
 * down, and the document waits for it like every other.
 */
export async function handleFailedAttempt(ctx: FailureContext, run: ActiveRun, file: ListedFile, a: FailedAttempt, err: unknown): Promise<void> {
  const { attempt, startedAt, stage, stageMs, stageStart, spent: spentOk } = a;
  const store = ctx.store;
  const e = run.controller.signal.aborted ? new CancelledError(run.stopReason) : toExtractionError(err, stage);
  e.stage ??= stage;
  const endedAt = ctx.now();
  stageMs[stage] = (stageMs[stage] ?? 0) + (endedAt - stageStart);
  const price = ctx.price(e.tokensIn, e.tokensOut);
  const spent = { tokensIn: spentOk.tokensIn + e.tokensIn, tokensOut: spentOk.tokensOut + e.tokensOut, cost: spentOk.cost + price };
  const info: ErrorInfo = { code: e.code, message: e.message, stage, retryable: e.retryable };
  ctx.addSpent(run, spent);
  const attemptRow = { runId: run.record.id, path: file.path, attempt, stageReached: stage, startedAt, endedAt, durationMs: endedAt - startedAt, stageMs, errorCode: e.code, errorMessage: e.message, ...spent, ...(typeof e.details?.requests === 'number' ? { requests: e.details.requests } : {}), ...(typeof e.details?.rawReply === 'string' ? { rawReply: e.details.rawReply } : {}) };
  const totalsOf = (doc = store.getDocument(file.path)): Spent => {
    return { tokensIn: (doc?.tokensIn ?? 0) + spent.tokensIn, tokensOut: (doc?.tokensOut ?? 0) + spent.tokensOut, cost: (doc?.cost ?? 0) + spent.cost };
  };
  /**
   * Back to pending with the attempt not counted: one less than the store holds now, not `attempt - 1` — an
   * outage that opened while this attempt was out gave back earlier attempts of the document meanwhile.
   */
  const uncount = (outcome: 'cancelled' | 'outage'): void => {
    const doc = store.getDocument(file.path);
    store.patchDocument(file.path, { stage: 'pending', attempts: Math.max(0, (doc?.attempts ?? attempt) - 1), updatedAt: endedAt, ...totalsOf(doc), ...(outcome === 'outage' ? { lastError: info } : {}) });
    store.recordAttempt({ ...attemptRow, outcome });
  };
  try {
    if (e.code === ErrorCodes.CANCELLED) {
      // stop or shutdown: the attempt does not count
      uncount('cancelled');
      run.active.delete(file.path);
      return;
    }
    if (isStorageError(err) || NOT_THE_DOCUMENTS_FAULT.has(e.code)) {
      // a full disk, an unwritable state folder: nothing can be finished; the document is not to blame
      if (!isStorageError(err)) uncount('cancelled');
      run.active.delete(file.path);
      ctx.stopFatal(run, info);
      return;
    }
    ctx.log.warn(`${file.path}: attempt ${attempt} failed in ${stage}: [${e.code}] ${e.message}`);

    if (isRunFatalCode(e.code)) {
      // the provider or the configuration is wrong: every document would fail the same way
      store.patchDocument(file.path, { stage: 'failed', lastError: info, updatedAt: endedAt, ...totalsOf() }, { durable: true });
      store.recordAttempt({ ...attemptRow, outcome: 'failed' });
      run.active.delete(file.path);
      ctx.events.emit({ type: 'doc/failed', runId: run.record.id, path: file.path, error: info });
      ctx.stopFatal(run, info);
      return;
    }

    if (e.details?.outage === true) {
      // the request failed while the provider was down: wait for it, the attempt does not count
      uncount('outage');
      ctx.requeue(run, file, 0);
      return;
    }

    if (shouldRetry(ctx.policy, attempt, e.retryable)) {
      const delayMs = backoffDelay(ctx.policy, attempt, e.retryAfterMs, ctx.random);
      store.patchDocument(file.path, { stage: 'failed', lastError: info, updatedAt: endedAt, ...totalsOf() });
      store.recordAttempt({ ...attemptRow, outcome: 'retry' });
      ctx.events.emit({ type: 'doc/retry', runId: run.record.id, path: file.path, attempt, delayMs, error: info });
      ctx.requeue(run, file, delayMs);
      return;
    }

    if (isProviderFailure(e.code) && ctx.breaker && (await ctx.breaker.verifyDocument(file.path)) === 'down' && !run.controller.signal.aborted) {
      // out of attempts, but the provider itself is down: the breaker opened (and gave back the
      // attempts its outage cost); the document waits for the provider like every other
      store.patchDocument(file.path, { stage: 'pending', lastError: info, updatedAt: endedAt, ...totalsOf() });
      store.recordAttempt({ ...attemptRow, outcome: 'outage' });
      ctx.requeue(run, file, 0);
      return;
    }
    if (run.controller.signal.aborted) {
      uncount('cancelled');
      run.active.delete(file.path);
      return;
    }

    // non-retryable, or out of attempts while the provider answers others: dead-letter queue
    ctx.forget(file.path);
    store.putDeadLetter({ path: file.path, runId: run.record.id, stage, code: e.code, message: e.message, attempts: attempt, at: endedAt });
    store.patchDocument(file.path, { stage: 'dead-lettered', fingerprint: ctx.fingerprint, lastError: info, updatedAt: endedAt, ...totalsOf() }, { durable: true });
    store.recordAttempt({ ...attemptRow, outcome: 'dead-lettered' });
    run.stats.deadLettered++;
    run.active.delete(file.path);
    ctx.events.emit({ type: 'doc/dead-lettered', runId: run.record.id, path: file.path, error: info });
  } catch (storeErr) {
    // the checkpoint store could not record the failure: the run cannot go on (said once)
    if (!run.fatalError) ctx.log.error(storeErr instanceof Error ? storeErr : String(storeErr));
    run.retryTimers.delete(file.path);
    run.active.delete(file.path);
    ctx.stopFatal(run, errorInfoOf(storeErr, stage));
  }
}
