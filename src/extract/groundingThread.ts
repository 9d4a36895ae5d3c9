/**
 * Grounding off the calling thread.
 *
 * {@link groundValues} is linear in the document's length per kind of index and per fuzzy value: a few
 * milliseconds for an invoice, but close to a second for a 1,000-page PDF with dozens of fields. In the
 * VS Code extension host that second would freeze every extension, so long documents are grounded in a
 * worker thread (`dist/groundingWorker.js`) while short ones stay in-thread, where a structured clone of
 * the document to and from a worker would cost more than the grounding itself.
 *
 * One worker, started on first use, jobs in order, stopped after `idleMs` without work. The worker
 * is an optimisation, never a new way to fail: when it cannot start, crashes or exceeds `timeoutMs`,
 * the document is grounded in-thread (as before there was a worker) and a warning is logged.
 */
import { Worker } from 'worker_threads';
import type { ConvertedDocument } from '../convert/types';
import type { Logger } from '../core/logger';
import { nullLogger } from '../core/logger';
import { groundValues, type Grounding } from './grounding';

/** Message to the worker. */
export interface GroundingRequest {
  id: number;
  data: unknown;
  doc: ConvertedDocument;
}

/** Message from the worker. */
export type GroundingResponse = { id: number; grounding: Grounding } | { id: number; error: string };

/** Grounds a result in its document; resolves, never rejects. */
export type GroundFn = (data: unknown, doc: ConvertedDocument) => Promise<Grounding>;

export interface GroundingThreadOptions {
  /** Path of `groundingWorker.js`. */
  workerPath: string;
  /** Documents with less text than this (characters) are grounded in-thread. Default 200,000 (~70 pages). */
  inlineBelowChars?: number;
  /** A job running longer is grounded in-thread instead (the worker is replaced). Default 60 s. */
  timeoutMs?: number;
  /** Stop the worker after this long without work (default 30 s; 0 = never). */
  idleMs?: number;
  logger?: Logger;
}

interface Job {
  id: number;
  data: unknown;
  doc: ConvertedDocument;
  resolve(g: Grounding): void;
}

export const DEFAULT_INLINE_BELOW_CHARS = 200_000;

export class GroundingThread {
  readonly #o: Required<Omit<GroundingThreadOptions, 'logger'>>;
  readonly #log: Logger;
  readonly #queue: Job[] = [];
  #worker: Worker | undefined;
  #current: Job | undefined;
  #timer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #nextId = 1;
  #disposed = false;
  /** After a worker failed to start, everything is grounded in-thread (no respawn loop). */
  #broken = false;
  /** For tests and diagnostics. */
  readonly stats = { inline: 0, offThread: 0, fallbacks: 0, workersStarted: 0 };

  constructor(options: GroundingThreadOptions) {
    this.#o = {
      workerPath: options.workerPath,
      inlineBelowChars: options.inlineBelowChars ?? DEFAULT_INLINE_BELOW_CHARS,
      timeoutMs: options.timeoutMs ?? 60_000,
      idleMs: options.idleMs ?? 30_000,
    };
    this.#log = options.logger ?? nullLogger;
  }

  /** A {@link GroundFn} bound to this thread. */
  readonly ground: GroundFn = (data, doc) => {
    const length = typeof doc.text === 'string' ? doc.text.length : 0;
    if (this.#disposed || this.#broken || length < this.#o.inlineBelowChars) return Promise.resolve(this.#inline(data, doc));
    return new Promise<Grounding>((resolve) => {
      this.#queue.push({ id: this.#nextId++, data, doc, resolve });
      this.#pump();
    });
  };

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    // whatever is waiting still gets its grounding
    for (const job of this.#queue.splice(0)) job.resolve(this.#inline(job.data, job.doc));
    const job = this.#current;
    this.#current = undefined;
    await this.#stopWorker();
    if (job) job.resolve(this.#inline(job.data, job.doc));
  }

  #inline(data: unknown, doc: ConvertedDocument): Grounding {
    this.stats.inline++;
    return groundValues(data, doc);
  }

  #fallback(job: Job, reason: string): void {
    this.stats.fallbacks++;
    this.#log.warn(`Grounding worker ${reason}; grounding in-thread instead`);
    job.resolve(this.#inline(job.data, job.doc));
  }

  #pump(): void {
    if (this.#current || this.#disposed) return;
    const job = this.#queue.shift();
    if (!job) return;
    if (this.#broken) {
      job.resolve(this.#inline(job.data, job.doc));
      return this.#pump();
    }
    const worker = this.#ensureWorker();
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#current = job;
    worker.ref();
    this.#timer = setTimeout(() => {
      if (this.#current !== job) return;
      this.#current = undefined;
      void this.#stopWorker();
      this.#fallback(job, `took longer than ${this.#o.timeoutMs} ms`);
      this.#pump();
    }, this.#o.timeoutMs);
    try {
      const req: GroundingRequest = { id: job.id, data: job.data, doc: job.doc };
      worker.postMessage(req);
    } catch (err) {
      this.#current = undefined;
      clearTimeout(this.#timer);
      this.#fallback(job, `could not receive the document (${(err as Error).message})`);
      this.#pump();
    }
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(this.#o.workerPath, { stdout: false, stderr: false });
    this.stats.workersStarted++;
    let answered = false;
    worker.on('message', (res: GroundingResponse) => {
      answered = true;
      const job = this.#current;
      if (!job || res.id !== job.id) return;
      this.#current = undefined;
      clearTimeout(this.#timer);
      if ('grounding' in res) {
        this.stats.offThread++;
        job.resolve(res.grounding);
      } else {
        this.#fallback(job, `failed (${res.error})`);
      }
      this.#markIdle();
      this.#pump();
    });
    const gone = (why: string) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      // a worker that dies before its first answer will not do better next time (missing bundle, …)
      if (!answered) this.#broken = true;
      const job = this.#current;
      this.#current = undefined;
      clearTimeout(this.#timer);
      if (job) this.#fallback(job, why);
      this.#pump();
    };
    worker.on('error', (err) => gone(`crashed (${err.message})`));
    worker.on('exit', (code) => gone(`exited with code ${code}`));
    this.#worker = worker;
    return worker;
  }

  #markIdle(): void {
    const worker = this.#worker;
    if (!worker || this.#queue.length) return;
    worker.unref();
    if (this.#o.idleMs > 0) {
      this.#idleTimer = setTimeout(() => {
        this.#idleTimer = undefined;
        if (!this.#current && !this.#queue.length) void this.#stopWorker();
      }, this.#o.idleMs);
      this.#idleTimer.unref();
    }
  }

  async #stopWorker(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#timer = this.#idleTimer = undefined;
    if (worker) await worker.terminate().catch(() => undefined);
  }
}
