/**
 * A run follows its provider's outage ({@link CircuitEvent}s of the circuit breaker): the attempts that revealed
 * it are given back, the run shows "waiting for the provider" (`run/provider-waiting`, and in its progress)
 * until it answers again (`run/provider-recovered`), and it stops when the breaker gives up.
 */
import type { CheckpointStore } from '../store/types';
import type { ActiveRun } from './activeRun';
import type { CircuitEvent } from './circuitBreaker';
import type { EventBus } from './events';
import type { Logger } from './logger';
import type { ErrorInfo } from './types';

export interface OutageContext {
  store: CheckpointStore;
  events: EventBus;
  log: Logger;
  now(): number;
  /** Sends the run's progress now (it carries the wait). */
  emitProgress(run: ActiveRun): void;
  stopFatal(run: ActiveRun, info: ErrorInfo): void;
}

/** What the run does with one event of the breaker. */
export function followOutage(ctx: OutageContext, run: ActiveRun, e: CircuitEvent): void {
  if (run.finished) return;
  switch (e.type) {
    case 'opened': {
      // the failures that revealed the outage do not count against their documents
      for (const [p, n] of e.refunds) {
        const doc = run.active.has(p) ? ctx.store.getDocument(p) : undefined;
        // a document waiting for its retry is pending again: its failure was the provider's
        if (doc) ctx.store.patchDocument(p, { attempts: Math.max(0, doc.attempts - n), ...(doc.stage === 'failed' ? { stage: 'pending' as const } : {}), updatedAt: ctx.now() });
      }
      ctx.log.warn(`The provider is failing ([${e.outage.lastCode}] ${e.outage.lastError}): documents wait while it is probed`);
      setWaiting(ctx, run, e.outage);
      break;
    }
    case 'waiting':
      setWaiting(ctx, run, e.outage);
      break;
    case 'closed':
      if (run.waiting) {
        ctx.log.info(`The provider answers again after ${Math.round((e.at - run.waiting.since) / 1000)} s: the run goes on`);
        ctx.events.emit({ type: 'run/provider-recovered', runId: run.record.id, since: run.waiting.since, at: e.at });
        run.waiting = undefined;
        ctx.emitProgress(run);
      }
      break;
    case 'gave-up':
      run.waiting = undefined;
      ctx.stopFatal(run, { code: e.error.code, message: e.error.message, stage: 'extracting', retryable: false });
      break;
    default:
      break;
  }
}

function setWaiting(ctx: OutageContext, run: ActiveRun, o: { since: number; nextProbeAt?: number; probes: number; lastCode: string; lastError: string }): void {
  run.waiting = { since: o.since, probes: o.probes, code: o.lastCode, message: o.lastError, ...(o.nextProbeAt !== undefined ? { nextTryAt: o.nextProbeAt } : {}) };
  ctx.events.emit({ type: 'run/provider-waiting', runId: run.record.id, ...run.waiting });
  ctx.emitProgress(run);
}
