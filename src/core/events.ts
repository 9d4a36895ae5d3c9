/** Typed pipeline events the VS Code UI and the CLI subscribe to. Nothing polls the database. */
import { EventEmitter } from 'node:events';
import type { ListWarningCode } from './lister';
import type { ErrorInfo, RunCounts, Stage } from './types';

export interface RunProgress extends RunCounts {
  runId: string;
  inFlight: number;
  /** Documents finished (done) per minute over the run so far. */
  docsPerMinute: number;
  /** Estimated ms until the queue drains, when it can be estimated. */
  etaMs?: number;
  paused: boolean;
  /** Set while the provider is down: dispatch waits and the provider is probed. */
  waitingForProvider?: ProviderWait;
}

/** A provider outage as the UI shows it: "waiting for the provider since 12:03, next try in 8 s". */
export interface ProviderWait {
  since: number;
  /** When the next probe goes out (absent while one is in flight). */
  nextTryAt?: number;
  /** Probes sent so far. */
  probes: number;
  /** The last error seen from the provider. */
  code: string;
  message: string;
}

function clockTime(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * "waiting for the provider since 12:03:05, next try in 8 s" (`now` for the countdown), or with `at`
 * "…, next try at 12:03:13" (for displays that are not redrawn every second).
 */
export function describeWait(w: ProviderWait, now = Date.now(), next: 'in' | 'at' = 'in'): string {
  const when = w.nextTryAt === undefined ? 'trying now' : next === 'at' ? `next try at ${clockTime(w.nextTryAt)}` : `next try in ${Math.max(0, Math.ceil((w.nextTryAt - now) / 1000))} s`;
  return `waiting for the provider since ${clockTime(w.since)}, ${when}`;
}

export type PipelineEvent =
  | { type: 'run/started'; runId: string; root: string; at: number }
  | { type: 'run/listed'; runId: string; total: number }
  /** An entry the listing left out that a person would expect to be listed (see `ListWarning`). */
  | { type: 'run/warning'; runId: string; path: string; code: ListWarningCode; message: string }
  | { type: 'run/paused'; runId: string; reason?: string }
  | { type: 'run/budget-reached'; runId: string; cost: number; budget: number }
  | { type: 'run/resumed'; runId: string }
  | { type: 'run/finished'; runId: string; status: 'completed' | 'stopped' | 'interrupted'; progress: RunProgress; reason?: string }
  | { type: 'run/progress'; progress: RunProgress }
  | ({ type: 'run/provider-waiting'; runId: string } & ProviderWait)
  | { type: 'run/provider-recovered'; runId: string; since: number; at: number }
  | { type: 'doc/queued'; runId: string; path: string; priority: number }
  | { type: 'doc/rejected'; runId: string; path: string; reason: string }
  | { type: 'doc/skipped'; runId: string; path: string; reason: 'unchanged' }
  | { type: 'doc/started'; runId: string; path: string; attempt: number }
  | { type: 'doc/stage'; runId: string; path: string; stage: Stage }
  | { type: 'doc/retry'; runId: string; path: string; attempt: number; delayMs: number; error: ErrorInfo }
  | { type: 'doc/completed'; runId: string; path: string; resultPath: string; durationMs: number; tokensIn: number; tokensOut: number; cost: number }
  | { type: 'doc/failed'; runId: string; path: string; error: ErrorInfo }
  | { type: 'doc/dead-lettered'; runId: string; path: string; error: ErrorInfo }
  | { type: 'doc/requeued'; runId: string; path: string };

export type PipelineEventType = PipelineEvent['type'];
export type EventOf<T extends PipelineEventType> = Extract<PipelineEvent, { type: T }>;

export type Listener = (event: PipelineEvent) => void;

export interface Disposable {
  dispose(): void;
}

/** A tiny typed event bus. Listener errors are isolated so one bad subscriber cannot stop a run. */
export class EventBus {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(100);
  }

  on(listener: Listener): Disposable {
    const wrapped = (e: PipelineEvent) => {
      try {
        listener(e);
      } catch (err) {
        console.error('pipeline event listener failed', err);
      }
    };
    this.#emitter.on('event', wrapped);
    return { dispose: () => this.#emitter.off('event', wrapped) };
  }

  emit(event: PipelineEvent): void {
    this.#emitter.emit('event', event);
  }
}
