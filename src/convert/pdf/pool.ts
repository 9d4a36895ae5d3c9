/**
 * Pool of PDF worker threads (`dist/pdfWorker.js`).
 *
 *  - size `min(2, cores)` by default, workers started lazily and stopped after `idleMs` without work;
 *  - `resourceLimits.maxOldGenerationSizeMb` caps each worker's heap (out of memory → TOO_LARGE);
 *  - per-document timeout: the worker is terminated and replaced, the document fails with CONVERT_TIMEOUT;
 *  - a crashed worker fails only its own document and is replaced;
 *  - AbortSignal: a queued job is dropped, a running one terminates its worker; both reject with CancelledError.
 *
 * Main-thread cost per document: one copy of the bytes (transferred) and the structured clone of the result.
 */
import * as os from 'os';
import { Worker } from 'worker_threads';
import { CancelledError, ErrorCodes, ExtractionError } from '../../core/errors';
import type { ConvertedDocument } from '../types';
import type { WorkerRequest, WorkerResponse } from './protocol';

export interface PdfPoolOptions {
  workerPath: string;
  /** Directory with `standard_fonts/` and `cmaps/`. */
  assetsDir: string;
  size?: number;
  timeoutMs?: number;
  maxWorkerMemoryMb?: number;
  /** Terminate workers idle for this long (default 30 s; 0 = never). */
  idleMs?: number;
}

export interface PdfJobOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** For messages. */
  path?: string;
  maxPages?: number;
}

interface Job {
  id: number;
  bytes: Uint8Array;
  opts: PdfJobOptions;
  resolve(doc: ConvertedDocument): void;
  reject(err: unknown): void;
  onAbort?: () => void;
  settled: boolean;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job;
  timer?: NodeJS.Timeout;
  idleTimer?: NodeJS.Timeout;
  dead: boolean;
  stderrTail: string;
}

export const DEFAULT_PDF_TIMEOUT_MS = 120_000;
export const DEFAULT_WORKER_MEMORY_MB = 1024;
const STARTUP_TIMEOUT_MS = 60_000;

export class PdfWorkerPool {
  readonly size: number;
  private readonly timeoutMs: number;
  private readonly memoryMb: number;
  private readonly idleMs: number;
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private disposed = false;
  private startFailures = 0;
  /** Counters for tests and diagnostics. */
  readonly stats = { started: 0, replaced: 0, timeouts: 0, crashes: 0, completed: 0, failed: 0 };

  constructor(private readonly options: PdfPoolOptions) {
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    this.size = Math.max(1, Math.floor(options.size ?? Math.min(2, cores)));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_PDF_TIMEOUT_MS;
    this.memoryMb = options.maxWorkerMemoryMb ?? DEFAULT_WORKER_MEMORY_MB;
    this.idleMs = options.idleMs ?? 30_000;
  }

  get workerCount(): number {
    return this.slots.size;
  }

  get pending(): number {
    return this.queue.length;
  }

  convert(bytes: Uint8Array, opts: PdfJobOptions = {}): Promise<ConvertedDocument> {
    if (this.disposed) return Promise.reject(new ExtractionError(ErrorCodes.CANCELLED, 'PDF pool disposed', { retryable: false }));
    if (opts.signal?.aborted) return Promise.reject(new CancelledError('Conversion cancelled'));
    return new Promise<ConvertedDocument>((resolve, reject) => {
      const job: Job = { id: this.nextId++, bytes, opts, resolve, reject, settled: false };
      if (opts.signal) {
        job.onAbort = () => this.abortJob(job);
        opts.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const job of this.queue.splice(0)) this.settle(job, new ExtractionError(ErrorCodes.CANCELLED, 'PDF pool disposed', { retryable: false }));
    const all = [...this.slots];
    this.slots.clear();
    await Promise.all(
      all.map(async (s) => {
        s.dead = true;
        this.clearTimers(s);
        if (s.job) this.settle(s.job, new ExtractionError(ErrorCodes.CANCELLED, 'PDF pool disposed', { retryable: false }));
        await s.worker.terminate().catch(() => undefined);
      }),
    );
  }

  // -------------------------------------------------------------------------------------------

  private settle(job: Job, result: ConvertedDocument | Error): void {
    if (job.settled) return;
    job.settled = true;
    if (job.onAbort) job.opts.signal?.removeEventListener('abort', job.onAbort);
    if (result instanceof Error) {
      this.stats.failed++;
      job.reject(result);
    } else {
      this.stats.completed++;
      job.resolve(result);
    }
  }

  private clearTimers(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.timer = slot.idleTimer = undefined;
  }

  private spawn(): Slot {
    const worker = new Worker(this.options.workerPath, {
      workerData: { assetsDir: this.options.assetsDir },
      resourceLimits: { maxOldGenerationSizeMb: this.memoryMb },
      // pdf.js prints warnings with console.log; keep them off the host's stdout (the CLI may write
      // JSON there) and keep the tail of stderr for crash messages
      stdout: true,
      stderr: true,
    });
    const slot: Slot = { worker, ready: false, dead: false, stderrTail: '' };
    worker.stdout.resume();
    worker.stderr.setEncoding('utf8');
    worker.stderr.on('data', (chunk: string) => {
      slot.stderrTail = (slot.stderrTail + chunk).slice(-2000);
    });
    this.stats.started++;
    this.slots.add(slot);
    // a worker that never reports `ready` (stuck loading pdf.js) must not leave documents waiting forever
    slot.timer = setTimeout(() => {
      if (slot.ready || slot.dead) return;
      this.onWorkerGone(slot, new Error(`did not start within ${STARTUP_TIMEOUT_MS} ms`));
      void worker.terminate().catch(() => undefined);
    }, STARTUP_TIMEOUT_MS);
    slot.timer.unref();
    worker.on('message', (msg: WorkerResponse) => this.onMessage(slot, msg));
    worker.on('error', (err: Error) => this.onWorkerGone(slot, err));
    worker.on('exit', (code) => this.onWorkerGone(slot, undefined, code));
    return slot;
  }

  private onMessage(slot: Slot, msg: WorkerResponse): void {
    if (slot.dead) return;
    if (msg.type === 'ready') {
      slot.ready = true;
      this.startFailures = 0;
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = undefined;
      this.pump();
      return;
    }
    const job = slot.job;
    if (!job || msg.id !== job.id) return;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.job = undefined;
    if (msg.type === 'result') {
      this.settle(job, msg.doc);
    } else {
      const e = msg.error;
      this.settle(
        job,
        new ExtractionError(e.code, e.message, { retryable: e.retryable ?? false, stage: 'converting', ...(e.details ? { details: e.details } : {}) }),
      );
    }
    this.markIdle(slot);
    this.pump();
  }

  private onWorkerGone(slot: Slot, err?: Error, exitCode?: number): void {
    if (slot.dead) return;
    slot.dead = true;
    this.clearTimers(slot);
    this.slots.delete(slot);
    const job = slot.job;
    slot.job = undefined;
    if (!this.disposed) {
      if (job) {
        this.stats.crashes++;
        const oom = (err as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        this.settle(
          job,
          oom
            ? new ExtractionError(ErrorCodes.TOO_LARGE, `PDF worker ran out of memory (limit ${this.memoryMb} MB)${job.opts.path ? ` on ${job.opts.path}` : ''}`, {
                retryable: false,
                stage: 'converting',
                cause: err,
              })
            : new ExtractionError(ErrorCodes.INTERNAL, `PDF worker crashed${job.opts.path ? ` on ${job.opts.path}` : ''}: ${err?.message ?? `exit code ${exitCode}`}`, {
                retryable: false,
                stage: 'converting',
                cause: err,
                details: { exitCode, ...(slot.stderrTail.trim() ? { stderr: slot.stderrTail.trim() } : {}) },
              }),
        );
        this.stats.replaced++;
      } else if (!slot.ready) {
        // the worker could not even start (missing bundle, bad path, memory limit too low): fail the
        // queued jobs instead of respawning in a loop — unless a healthy worker can still serve them
        this.startFailures++;
        const healthy = [...this.slots].some((x) => x.ready && !x.dead);
        if (healthy && this.startFailures < 3) return;
        for (const q of this.queue.splice(0)) {
          this.settle(q, new ExtractionError(ErrorCodes.INTERNAL, `PDF worker failed to start: ${err?.message ?? `exit code ${exitCode}`}`, { retryable: false, stage: 'converting', cause: err }));
        }
        return;
      }
      this.pump();
    }
  }

  private replace(slot: Slot): void {
    slot.dead = true;
    this.clearTimers(slot);
    this.slots.delete(slot);
    this.stats.replaced++;
    void slot.worker.terminate().catch(() => undefined);
    this.pump();
  }

  private markIdle(slot: Slot): void {
    slot.worker.unref();
    if (this.idleMs > 0 && !slot.idleTimer) {
      slot.idleTimer = setTimeout(() => {
        slot.idleTimer = undefined;
        if (!slot.job && !slot.dead && this.queue.length === 0) {
          slot.dead = true;
          this.slots.delete(slot);
          void slot.worker.terminate().catch(() => undefined);
        }
      }, this.idleMs);
      slot.idleTimer.unref();
    }
  }

  private abortJob(job: Job): void {
    const qi = this.queue.indexOf(job);
    if (qi >= 0) {
      this.queue.splice(qi, 1);
      this.settle(job, new CancelledError('Conversion cancelled'));
      return;
    }
    for (const slot of this.slots) {
      if (slot.job === job) {
        slot.job = undefined;
        this.settle(job, new CancelledError('Conversion cancelled'));
        this.replace(slot);
        return;
      }
    }
  }

  private pump(): void {
    if (this.disposed) return;
    while (this.queue.length > 0) {
      let slot: Slot | undefined;
      for (const s of this.slots) {
        if (s.ready && !s.job && !s.dead) {
          slot = s;
          break;
        }
      }
      if (!slot) {
        // start another worker if below size and no worker is still starting up idle
        const starting = [...this.slots].filter((s) => !s.ready && !s.dead).length;
        if (this.slots.size < this.size && starting < this.queue.length) {
          this.spawn();
          continue;
        }
        return;
      }
      const job = this.queue.shift()!;
      this.dispatch(slot, job);
    }
  }

  private dispatch(slot: Slot, job: Job): void {
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    slot.job = job;
    slot.worker.ref();
    const timeoutMs = job.opts.timeoutMs ?? this.timeoutMs;
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      slot.timer = setTimeout(() => {
        slot.timer = undefined;
        if (slot.job !== job) return;
        slot.job = undefined;
        this.stats.timeouts++;
        this.settle(
          job,
          new ExtractionError(ErrorCodes.CONVERT_TIMEOUT, `PDF conversion timed out after ${timeoutMs} ms${job.opts.path ? `: ${job.opts.path}` : ''}`, {
            retryable: false,
            stage: 'converting',
            details: { timeoutMs },
          }),
        );
        this.replace(slot);
      }, timeoutMs);
    }
    // copy into a fresh ArrayBuffer we can transfer (the caller's buffer may be a shared Buffer slab)
    const copy = new Uint8Array(job.bytes.byteLength);
    copy.set(job.bytes);
    const req: WorkerRequest = { type: 'convert', id: job.id, bytes: copy, maxPages: job.opts.maxPages };
    try {
      slot.worker.postMessage(req, [copy.buffer]);
    } catch (err) {
      slot.job = undefined;
      this.settle(job, new ExtractionError(ErrorCodes.INTERNAL, `Cannot send PDF to worker: ${(err as Error).message}`, { retryable: false, stage: 'converting', cause: err }));
      this.replace(slot);
    }
  }
}
