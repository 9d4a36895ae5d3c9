/**
 * Pool of OCR worker threads (`dist/ocrWorker.js`, one tesseract.js engine each), shared by the PDF and
 * image converters. Sized to the cores by default (OCR is CPU-bound, one page per worker at a time);
 * workers start on the first page and stop after `idleMs` without work.
 *
 *  - per-page time limit: the page fails with CONVERT_TIMEOUT, its worker is terminated and replaced
 *    (a Tesseract call cannot be interrupted);
 *  - a crashed worker fails only its page and is replaced;
 *  - an engine that cannot start (unreadable language data) fails what waits with its error, and the
 *    pool reports it to every later page instead of respawning in a loop;
 *  - AbortSignal: a queued page is dropped, a running one terminates its worker.
 */
import * as os from 'os';
import { Worker } from 'worker_threads';
import { CancelledError, ErrorCodes, ExtractionError } from '../../core/errors';
import type { LanguageData } from './languages';
import type { OcrImage, OcrPageResult, OcrRequest, OcrResponse, OcrWorkerInit } from './protocol';

export interface OcrPoolOptions {
  workerPath: string;
  languages: LanguageData[];
  /** Worker threads; default: the number of cores. */
  size?: number;
  /** Time limit per page in ms (0: none). Default {@link DEFAULT_OCR_PAGE_TIMEOUT_MS}. */
  pageTimeoutMs?: number;
  /** Terminate workers idle this long (default 30 s; 0 = never). */
  idleMs?: number;
}

export interface OcrJobOptions {
  signal?: AbortSignal;
  /** For messages, e.g. `scan.pdf page 3`. */
  label?: string;
}

export const DEFAULT_OCR_PAGE_TIMEOUT_MS = 120_000;
const STARTUP_TIMEOUT_MS = 60_000;

interface Job {
  id: number;
  image: OcrImage;
  opts: OcrJobOptions;
  resolve(r: OcrPageResult): void;
  reject(e: Error): void;
  settled: boolean;
  onAbort?: () => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  dead: boolean;
  job?: Job;
  timer?: NodeJS.Timeout;
}

export function coreCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export class OcrPool {
  readonly size: number;
  private readonly pageTimeoutMs: number;
  private readonly idleMs: number;
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private disposed = false;
  private fatal?: ExtractionError;
  /** Counters for tests and diagnostics. */
  readonly stats = { started: 0, pages: 0, timeouts: 0, crashes: 0, replaced: 0 };

  constructor(private readonly options: OcrPoolOptions) {
    this.size = Math.max(1, Math.floor(options.size ?? coreCount()));
    this.pageTimeoutMs = options.pageTimeoutMs ?? DEFAULT_OCR_PAGE_TIMEOUT_MS;
    this.idleMs = options.idleMs ?? 30_000;
  }

  get workerCount(): number {
    return this.slots.size;
  }

  /** Recognises one page image. */
  recognize(image: OcrImage, opts: OcrJobOptions = {}): Promise<OcrPageResult> {
    if (this.disposed) return Promise.reject(new ExtractionError(ErrorCodes.CANCELLED, 'OCR pool disposed', { retryable: false }));
    if (this.fatal) return Promise.reject(this.fatal);
    if (opts.signal?.aborted) return Promise.reject(new CancelledError('OCR cancelled'));
    return new Promise<OcrPageResult>((resolve, reject) => {
      const job: Job = { id: this.nextId++, image, opts, resolve, reject, settled: false };
      if (opts.signal) {
        job.onAbort = () => this.cancel(job);
        opts.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const err = () => new ExtractionError(ErrorCodes.CANCELLED, 'OCR pool disposed', { retryable: false });
    for (const j of this.queue.splice(0)) this.settle(j, err());
    const all = [...this.slots];
    this.slots.clear();
    await Promise.all(
      all.map(async (s) => {
        s.dead = true;
        if (s.timer) clearTimeout(s.timer);
        if (s.job) this.settle(s.job, err());
        await s.worker.terminate().catch(() => undefined);
      }),
    );
  }

  // -------------------------------------------------------------------------------------------

  private settle(job: Job, result: OcrPageResult | Error): void {
    if (job.settled) return;
    job.settled = true;
    if (job.timer) clearTimeout(job.timer);
    if (job.onAbort) job.opts.signal?.removeEventListener('abort', job.onAbort);
    if (result instanceof Error) job.reject(result);
    else {
      this.stats.pages++;
      job.resolve(result);
    }
  }

  private cancel(job: Job): void {
    const i = this.queue.indexOf(job);
    if (i >= 0) this.queue.splice(i, 1);
    this.settle(job, new CancelledError('OCR cancelled'));
    for (const s of this.slots) if (s.job === job) this.replace(s);
    this.pump();
  }

  private spawn(): void {
    const worker = new Worker(this.options.workerPath, {
      workerData: { languages: this.options.languages.map(({ code, file }) => ({ code, file })) } satisfies OcrWorkerInit,
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    const slot: Slot = { worker, ready: false, dead: false };
    this.slots.add(slot);
    this.stats.started++;
    slot.timer = setTimeout(() => this.gone(slot, new Error(`OCR worker did not start within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
    slot.timer.unref();
    worker.on('message', (msg: OcrResponse) => this.onMessage(slot, msg));
    worker.on('error', (err) => this.gone(slot, err));
    worker.on('exit', (code) => this.gone(slot, new Error(`OCR worker exited with code ${code}`)));
  }

  private onMessage(slot: Slot, msg: OcrResponse): void {
    if (slot.dead) return;
    switch (msg.type) {
      case 'ready':
        slot.ready = true;
        if (slot.timer) clearTimeout(slot.timer);
        slot.timer = undefined;
        break;
      case 'fatal':
        this.fatal = new ExtractionError(msg.error.code, msg.error.message, { retryable: false, stage: 'converting' });
        for (const j of this.queue.splice(0)) this.settle(j, this.fatal);
        this.replace(slot);
        return;
      case 'result':
      case 'error': {
        const job = slot.job;
        if (!job || job.id !== msg.id) return;
        slot.job = undefined;
        if (msg.type === 'result') this.settle(job, msg.result);
        else this.settle(job, new ExtractionError(msg.error.code, `${msg.error.message}${job.opts.label ? ` (${job.opts.label})` : ''}`, { retryable: false, stage: 'converting' }));
        break;
      }
    }
    this.markIdle(slot);
    this.pump();
  }

  private gone(slot: Slot, err: Error): void {
    if (slot.dead) return;
    slot.dead = true;
    if (slot.timer) clearTimeout(slot.timer);
    this.slots.delete(slot);
    void slot.worker.terminate().catch(() => undefined);
    if (this.disposed) return;
    const job = slot.job;
    slot.job = undefined;
    if (job) {
      this.stats.crashes++;
      this.settle(job, new ExtractionError(ErrorCodes.INTERNAL, `OCR worker crashed${job.opts.label ? ` on ${job.opts.label}` : ''}: ${err.message}`, { retryable: false, stage: 'converting', cause: err }));
    } else if (!slot.ready) {
      this.fatal = new ExtractionError(ErrorCodes.INTERNAL, `OCR worker failed to start: ${err.message}`, { retryable: false, stage: 'converting', cause: err });
      for (const j of this.queue.splice(0)) this.settle(j, this.fatal);
      return;
    }
    this.pump();
  }

  private replace(slot: Slot): void {
    if (slot.dead) return;
    slot.dead = true;
    if (slot.timer) clearTimeout(slot.timer);
    this.slots.delete(slot);
    this.stats.replaced++;
    void slot.worker.terminate().catch(() => undefined);
  }

  private markIdle(slot: Slot): void {
    if (slot.job || slot.dead) return;
    slot.worker.unref();
    if (this.idleMs > 0) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = setTimeout(() => {
        slot.timer = undefined;
        if (!slot.job && !slot.dead && this.queue.length === 0) this.replace(slot);
      }, this.idleMs);
      slot.timer.unref();
    }
  }

  private pump(): void {
    if (this.disposed || this.fatal) return;
    while (this.queue.length > 0) {
      let slot: Slot | undefined;
      for (const s of this.slots) if (s.ready && !s.dead && !s.job) slot = s;
      if (!slot) {
        const starting = [...this.slots].filter((s) => !s.ready && !s.dead).length;
        if (this.slots.size < this.size && starting < this.queue.length) {
          this.spawn();
          continue;
        }
        return;
      }
      const job = this.queue.shift()!;
      if (job.settled) continue;
      this.dispatch(slot, job);
    }
  }

  private dispatch(slot: Slot, job: Job): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.job = job;
    slot.worker.ref();
    if (this.pageTimeoutMs > 0) {
      job.timer = setTimeout(() => {
        if (job.settled) return;
        this.stats.timeouts++;
        this.settle(
          job,
          new ExtractionError(ErrorCodes.CONVERT_TIMEOUT, `OCR of ${job.opts.label ?? 'a page'} timed out after ${this.pageTimeoutMs} ms`, {
            retryable: false,
            stage: 'converting',
            details: { timeoutMs: this.pageTimeoutMs },
          }),
        );
        if (slot.job === job) {
          slot.job = undefined;
          this.replace(slot);
        }
        this.pump();
      }, this.pageTimeoutMs);
    }
    const req: OcrRequest = { type: 'ocr', id: job.id, image: job.image };
    try {
      slot.worker.postMessage(req);
    } catch (err) {
      slot.job = undefined;
      this.replace(slot);
      this.settle(job, new ExtractionError(ErrorCodes.INTERNAL, `Cannot send an image to the OCR worker: ${(err as Error).message}`, { retryable: false, stage: 'converting', cause: err }));
    }
  }
}
