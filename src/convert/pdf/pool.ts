/**
 * Pool of PDF worker threads (`dist/pdfWorker.js`).
 *
 *  - size `min(2, cores)` by default, workers started lazily and stopped after `idleMs` without work;
 *  - `resourceLimits.maxOldGenerationSizeMb` caps each worker's heap (out of memory → TOO_LARGE), and the
 *    same number of MB caps the decoded stream data pdf.js holds outside that heap (decodeBudget.ts: a
 *    flate bomb fails with TOO_LARGE instead of taking gigabytes); a worker that failed a document with
 *    TOO_LARGE is replaced, so the memory it grew to is given back;
 *  - per-document timeout: the workers on it are terminated and replaced, the document fails with CONVERT_TIMEOUT;
 *  - a crashed worker fails only its own document and is replaced;
 *  - AbortSignal: a queued job is dropped, a running one terminates its workers; both reject with CancelledError.
 *
 * Work stealing: a document starts as one part (all its pages) on one worker. When a worker has nothing
 * to do while another one converts a long document, the pool asks that worker to give away part of the
 * pages it has not started (`split`; how many: splitPolicy.ts), and the idle worker converts them as a new part. So a
 * single large PDF, or the last large PDF of a batch, uses every worker instead of pinning one while the
 * others idle. The parts are joined in page order (assemble.ts): the text is the same as from one worker.
 *
 * Main-thread cost per document: one copy of the bytes per part (transferred), the structured clone of
 * each part's result and, for split documents only, shifting the offsets of the later parts.
 */
import * as os from 'os';
import { Worker } from 'worker_threads';
import { CancelledError, ErrorCodes, ExtractionError } from '../../core/errors';
import type { ConvertedDocument } from '../types';
import { assembleParts, type PartResult } from './assemble';
import type { WorkerConvertRequest, WorkerInit, WorkerRequest, WorkerResponse } from './protocol';
import { MIN_SPLIT_PAGES } from './splitPolicy';

export interface PdfPoolOptions {
  workerPath: string;
  /** Directory with `standard_fonts/` and `cmaps/`. */
  assetsDir: string;
  size?: number;
  timeoutMs?: number;
  maxWorkerMemoryMb?: number;
  /** Terminate workers idle for this long (default 30 s; 0 = never). */
  idleMs?: number;
  /** Let idle workers take over pages of a document another worker is converting (default true). */
  splitDocuments?: boolean;
}

export interface PdfJobOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** For messages. */
  path?: string;
  maxPages?: number;
  /** OCR on: which pages the workers send as images (protocol.ts). */
  ocr?: WorkerConvertRequest['ocr'];
  /** Called with each page image the workers send (OCR on), before the document settles. */
  onPageImage?(msg: Extract<WorkerResponse, { type: 'page-image' }>): void;
}

/** One document. */
interface Job {
  bytes: Uint8Array;
  opts: PdfJobOptions;
  resolve(doc: ConvertedDocument): void;
  reject(err: unknown): void;
  onAbort?: () => void;
  settled: boolean;
  /** Its page ranges, in the order they were created. */
  parts: Part[];
  /** Per-document time limit, started when its first part is dispatched. */
  timer?: NodeJS.Timeout;
}

/** A page range of a document, converted by one worker. */
interface Part {
  id: number;
  job: Job;
  firstPage: number;
  /** Explicit last page (helper parts); undefined: up to the end of the document. */
  lastPage?: number;
  /** Last page as the worker reported it after opening the document (and after splits); undefined before. */
  knownLastPage?: number;
  result?: PartResult;
  /** A `split` request was sent and not answered yet. */
  splitPending?: boolean;
  /** The worker refused to split (too few pages left): not asked again. */
  splitRefused?: boolean;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  part?: Part;
  /** Startup timer. */
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
  private readonly splitDocuments: boolean;
  private readonly slots = new Set<Slot>();
  /** Parts waiting for a worker: new documents at the back, pages given away by a split at the front. */
  private readonly queue: Part[] = [];
  private nextId = 1;
  private disposed = false;
  private startFailures = 0;
  /** Counters for tests and diagnostics (`completed` / `failed` count documents, `splits` the page ranges given away). */
  readonly stats = { started: 0, replaced: 0, timeouts: 0, crashes: 0, completed: 0, failed: 0, splits: 0 };

  constructor(private readonly options: PdfPoolOptions) {
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    this.size = Math.max(1, Math.floor(options.size ?? Math.min(2, cores)));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_PDF_TIMEOUT_MS;
    this.memoryMb = options.maxWorkerMemoryMb ?? DEFAULT_WORKER_MEMORY_MB;
    this.idleMs = options.idleMs ?? 30_000;
    this.splitDocuments = options.splitDocuments ?? true;
  }

  get workerCount(): number {
    return this.slots.size;
  }

  /** Page ranges waiting for a worker. */
  get pending(): number {
    return this.queue.length;
  }

  convert(bytes: Uint8Array, opts: PdfJobOptions = {}): Promise<ConvertedDocument> {
    if (this.disposed) return Promise.reject(new ExtractionError(ErrorCodes.CANCELLED, 'PDF pool disposed', { retryable: false }));
    if (opts.signal?.aborted) return Promise.reject(new CancelledError('Conversion cancelled'));
    return new Promise<ConvertedDocument>((resolve, reject) => {
      const job: Job = { bytes, opts, resolve, reject, settled: false, parts: [] };
      if (opts.signal) {
        job.onAbort = () => this.failJob(job, new CancelledError('Conversion cancelled'));
        opts.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(this.newPart(job, 1));
      this.pump();
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const disposedError = () => new ExtractionError(ErrorCodes.CANCELLED, 'PDF pool disposed', { retryable: false });
    for (const part of this.queue.splice(0)) this.settle(part.job, disposedError());
    const all = [...this.slots];
    this.slots.clear();
    await Promise.all(
      all.map(async (s) => {
        s.dead = true;
        this.clearTimers(s);
        if (s.part) this.settle(s.part.job, disposedError());
        await s.worker.terminate().catch(() => undefined);
      }),
    );
  }

  // -------------------------------------------------------------------------------------------

  private newPart(job: Job, firstPage: number, lastPage?: number): Part {
    const part: Part = { id: this.nextId++, job, firstPage, ...(lastPage !== undefined ? { lastPage } : {}) };
    job.parts.push(part);
    return part;
  }

  private settle(job: Job, result: ConvertedDocument | Error): void {
    if (job.settled) return;
    job.settled = true;
    if (job.timer) clearTimeout(job.timer);
    job.timer = undefined;
    if (job.onAbort) job.opts.signal?.removeEventListener('abort', job.onAbort);
    if (result instanceof Error) {
      this.stats.failed++;
      job.reject(result);
    } else {
      this.stats.completed++;
      job.resolve(result);
    }
  }

  /**
   * Fails a document (timeout, abort): its queued parts are dropped, the workers on its other parts are
   * terminated and replaced (a worker cannot be interrupted in the middle of a page).
   */
  private failJob(job: Job, err: Error): void {
    if (job.settled) return;
    this.settle(job, err);
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].job === job) this.queue.splice(i, 1);
    for (const slot of [...this.slots]) {
      if (slot.part?.job === job) {
        slot.part = undefined;
        this.replace(slot);
      }
    }
    this.pump();
  }

  private clearTimers(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.timer = slot.idleTimer = undefined;
  }

  private spawn(): Slot {
    const worker = new Worker(this.options.workerPath, {
      workerData: { assetsDir: this.options.assetsDir, maxDecodedBytes: this.memoryMb * 1024 * 1024 } satisfies WorkerInit,
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
    const part = slot.part;
    if (!part || msg.id !== part.id) return;
    const job = part.job;
    switch (msg.type) {
      case 'opened':
        part.knownLastPage = msg.lastPage;
        // a long document and a worker that could help: let it (or start one) — see pump()
        this.pump();
        return;
      case 'split-ack':
        part.splitPending = false;
        if (msg.from !== undefined && msg.to !== undefined && msg.from <= msg.to && !job.settled) {
          part.knownLastPage = msg.from - 1;
          this.stats.splits++;
          this.queue.unshift(this.newPart(job, msg.from, msg.to));
        } else {
          part.splitRefused = true;
        }
        this.pump();
        return;
      case 'page-image':
        if (!job.settled) job.opts.onPageImage?.(msg);
        return;
      case 'result':
        slot.part = undefined;
        part.result = msg.part;
        if (!job.settled && job.parts.every((p) => p.result)) {
          let doc: ConvertedDocument | Error;
          try {
            doc = assembleParts(job.parts.map((p) => p.result!), { ocr: !!job.opts.ocr });
          } catch (err) {
            doc = err instanceof Error ? err : new Error(String(err));
          }
          this.settle(job, doc);
        }
        break;
      case 'error': {
        slot.part = undefined;
        const e = msg.error;
        // one part failing fails the document; its other parts are left to finish and dropped
        this.settle(
          job,
          new ExtractionError(e.code, e.message, { retryable: e.retryable ?? false, stage: 'converting', ...(e.details ? { details: e.details } : {}) }),
        );
        this.dropQueuedParts(job);
        if (e.code === ErrorCodes.TOO_LARGE) {
          // it refused to decode more than the limit, but may have grown close to it: start afresh
          this.replace(slot);
          this.pump();
          return;
        }
        break;
      }
    }
    this.markIdle(slot);
    this.pump();
  }

  private dropQueuedParts(job: Job): void {
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].job === job) this.queue.splice(i, 1);
  }

  private onWorkerGone(slot: Slot, err?: Error, exitCode?: number): void {
    if (slot.dead) return;
    slot.dead = true;
    this.clearTimers(slot);
    this.slots.delete(slot);
    const part = slot.part;
    slot.part = undefined;
    if (!this.disposed) {
      if (part) {
        const job = part.job;
        this.stats.crashes++;
        const oom = (err as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        this.failJob(
          job,
          oom
            ? new ExtractionError(
                ErrorCodes.TOO_LARGE,
                `PDF worker ran out of memory (limit ${this.memoryMb} MB)${job.opts.path ? ` on ${job.opts.path}` : ''}: raise the PDF memory limit (setting pdf.maxMemoryMb, CLI --pdf-max-memory-mb) to convert it`,
                { retryable: false, stage: 'converting', cause: err },
              )
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
          this.settle(q.job, new ExtractionError(ErrorCodes.INTERNAL, `PDF worker failed to start: ${err?.message ?? `exit code ${exitCode}`}`, { retryable: false, stage: 'converting', cause: err }));
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
  }

  private markIdle(slot: Slot): void {
    slot.worker.unref();
    if (this.idleMs > 0 && !slot.idleTimer) {
      slot.idleTimer = setTimeout(() => {
        slot.idleTimer = undefined;
        if (!slot.part && !slot.dead && this.queue.length === 0) {
          slot.dead = true;
          this.slots.delete(slot);
          void slot.worker.terminate().catch(() => undefined);
        }
      }, this.idleMs);
      slot.idleTimer.unref();
    }
  }

  private pump(): void {
    if (this.disposed) return;
    while (this.queue.length > 0) {
      let slot: Slot | undefined;
      for (const s of this.slots) {
        if (s.ready && !s.part && !s.dead) {
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
      const part = this.queue.shift()!;
      if (part.job.settled) continue;
      this.dispatch(slot, part);
    }
    this.stealWork();
  }

  /**
   * Nothing queued: when a worker is idle (or could be started) while another converts a document with
   * enough pages left, ask that worker to give away half of them. The worker decides (it knows how far it
   * is) and answers with the range or a refusal; the range is queued at the front.
   */
  private stealWork(): void {
    if (!this.splitDocuments || this.queue.length > 0) return;
    let idle = 0;
    let starting = 0;
    for (const s of this.slots) {
      if (s.dead) continue;
      if (!s.ready) starting++;
      else if (!s.part) idle++;
    }
    const capacity = idle + starting + (this.size - this.slots.size);
    if (capacity === 0) return;
    let asked = 0;
    for (const s of this.slots) if (s.part?.splitPending) asked++;
    if (asked >= capacity) return;
    // the running part with the most pages, as far as known (the worker knows how many are left)
    let best: Slot | undefined;
    let bestPages = MIN_SPLIT_PAGES;
    for (const s of this.slots) {
      const p = s.part;
      if (!p || s.dead || p.splitPending || p.splitRefused || p.job.settled || p.knownLastPage === undefined) continue;
      const pages = p.knownLastPage - p.firstPage + 1;
      if (pages > bestPages) {
        best = s;
        bestPages = pages;
      }
    }
    if (!best) return;
    if (idle === 0 && starting === 0) {
      // the helper needs a worker: start one (this runs again when it is ready)
      this.spawn();
      return;
    }
    best.part!.splitPending = true;
    const req: WorkerRequest = { type: 'split', id: best.part!.id };
    best.worker.postMessage(req);
  }

  private dispatch(slot: Slot, part: Part): void {
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    slot.part = part;
    slot.worker.ref();
    const job = part.job;
    if (!job.timer) {
      const timeoutMs = job.opts.timeoutMs ?? this.timeoutMs;
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        job.timer = setTimeout(() => {
          job.timer = undefined;
          if (job.settled) return;
          this.stats.timeouts++;
          this.failJob(
            job,
            new ExtractionError(ErrorCodes.CONVERT_TIMEOUT, `PDF conversion timed out after ${timeoutMs} ms${job.opts.path ? `: ${job.opts.path}` : ''}`, {
              retryable: false,
              stage: 'converting',
              details: { timeoutMs },
            }),
          );
        }, timeoutMs);
      }
    }
    // copy into a fresh ArrayBuffer we can transfer (the caller's buffer may be a shared Buffer slab)
    const copy = new Uint8Array(job.bytes.byteLength);
    copy.set(job.bytes);
    const req: WorkerConvertRequest = {
      type: 'convert',
      id: part.id,
      bytes: copy,
      maxPages: job.opts.maxPages,
      ...(job.opts.ocr ? { ocr: job.opts.ocr } : {}),
      firstPage: part.firstPage,
      ...(part.lastPage !== undefined ? { lastPage: part.lastPage } : {}),
    };
    try {
      slot.worker.postMessage(req, [copy.buffer]);
    } catch (err) {
      slot.part = undefined;
      this.replace(slot);
      this.failJob(job, new ExtractionError(ErrorCodes.INTERNAL, `Cannot send PDF to worker: ${(err as Error).message}`, { retryable: false, stage: 'converting', cause: err }));
    }
  }
}
