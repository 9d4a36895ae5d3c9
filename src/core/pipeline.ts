/**
 * The extraction pipeline: list → read → convert → extract → validate → export, one document at a time
 * per queue slot, every state change checkpointed. Pure Node: shared by the CLI and the extension.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import PQueue from 'p-queue';
import { ConvertCache } from '../convert/cache';
import { mayHoldResults } from '../export/jsonExporter';
import { groundValues } from '../extract/grounding';
import type { Extractor } from '../extract/types';
import type { CheckpointStore } from '../store/types';
import type { CircuitBreaker } from './circuitBreaker';
import { CancelledError } from './errors';
import { EventBus, type RunProgress } from './events';
import { extractionFingerprint, hashOf } from './fingerprint';
import { listFiles, type ListedFile } from './lister';
import { nullLogger, type Logger } from './logger';
import { linkProblemSync, resolveInside } from './paths';
import { DEFAULT_RETRY_POLICY, validateRetryPolicy, type RetryPolicy } from './retry';
import { emptyCounts, type ErrorInfo, type RunRecord, type RunTrigger } from './types';
import type { ActiveRun, Spent } from './activeRun';
import { admit, expectedFingerprint, type AdmitContext } from './admission';
import type { FailureContext } from './attemptFailure';
import { ModelSlots, movePriority } from './modelSlots';
import { processDocument, type AttemptContext } from './attempt';
import type { ExtractionContext } from './extraction';
import { followOutage, type OutageContext } from './outageFollower';
import { releaseDeadLetter } from './deadLetters';
import { sweepFleet } from './fleetSweep';
import { recordRunEnd, summaryOf } from './runEnd';
import { emitProgress, progressOf, type ProgressContext } from './runProgress';
import { routedFingerprint } from './routing';
import { PRIORITY_NORMAL, PRIORITY_USER, type PipelineOptions, type RunHandle, type RunSummary, type StartOptions } from './pipelineOptions';

export { isUnchanged, rejectionOf } from './admission';
export { PRIORITY_USER, type ConverterLookup, type PipelineOptions, type RunHandle, type RunSummary, type StartOptions, type Validate } from './pipelineOptions';

export class Pipeline {
  readonly events = new EventBus();
  readonly fingerprint: string;
  readonly #o: Required<Pick<PipelineOptions, 'concurrency' | 'maxFileBytes' | 'progressIntervalMs' | 'gitignore'>> & PipelineOptions;
  readonly #policy: RetryPolicy;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  /** Documents in flight (all stages). */
  readonly #queue: PQueue;
  /** Model requests in flight: exactly `concurrency`, so file I/O of one document overlaps the requests of others. */
  readonly #modelSlots: ModelSlots;
  readonly #schemaHash: string;
  readonly #cache: ConvertCache | undefined;
  /** Documents to extract again even when their result is up to date, with extra instructions. */
  readonly #forced = new Map<string, { instructions?: string }>();
  readonly #breaker: CircuitBreaker | undefined;
  readonly #failures: FailureContext;
  /** What a run lends the following of a provider outage (the failure context, and its progress). */
  readonly #outage: OutageContext;
  readonly #admission: AdmitContext;
  readonly #progress: ProgressContext;
  readonly #attempt: AttemptContext;
  #run: ActiveRun | undefined;

  constructor(options: PipelineOptions) {
    this.#o = { concurrency: 4, maxFileBytes: 50 * 1024 * 1024, progressIntervalMs: 250, gitignore: true, ...options };
    if (!Number.isInteger(this.#o.concurrency) || this.#o.concurrency < 1) throw new RangeError(`concurrency must be an integer ≥ 1, got ${this.#o.concurrency}`);
    this.#policy = validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...options.retry });
    this.#log = options.logger ?? nullLogger;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    // a few more documents than model slots: reading, converting and exporting (fsyncs) of some documents
    // overlap the model requests of others, so the model slots stay busy
    this.#queue = new PQueue({ concurrency: this.#o.concurrency + Math.max(2, Math.ceil(this.#o.concurrency / 2)) });
    this.#modelSlots = new ModelSlots(this.#o.concurrency);
    this.#schemaHash = hashOf(options.schema);
    this.#cache = options.convertedCacheDir ? new ConvertCache(options.convertedCacheDir, { maxBytes: options.convertedCacheMaxBytes }) : undefined;
    this.fingerprint = options.router
      ? routedFingerprint(options.router, options.extractor.model)
      : extractionFingerprint({ schema: options.schema, instructions: options.instructions, model: options.extractor.model, inputMode: options.extractor.inputMode });
    this.#breaker = options.circuitBreaker ?? options.extractor.circuitBreaker;
    this.#failures = {
      store: this.#o.store,
      events: this.events,
      log: this.#log,
      policy: this.#policy,
      breaker: this.#breaker,
      fingerprint: this.fingerprint,
      now: this.#now,
      random: this.#random,
      price: (i, o) => this.#price(i, o),
      addSpent: (run, spent) => this.#addSpent(run, spent),
      requeue: (run, file, delayMs) => this.#requeue(run, file, delayMs),
      stopFatal: (run, info) => this.#stopFatal(run, info),
      forget: (p) => this.#forced.delete(p),
    };
    this.#outage = { ...this.#failures, emitProgress: (run) => this.#emitProgress(run, true) };
    const extraction: ExtractionContext = {
      options: this.#o,
      unmatched: this.#failures,
      ground: options.ground ?? ((data, doc) => Promise.resolve(groundValues(data, doc))),
      schemaHash: this.#schemaHash,
      fingerprint: this.fingerprint,
      now: this.#now,
      forget: (p) => this.#forced.delete(p),
    };
    this.#attempt = {
      options: this.#o,
      maxFileBytes: this.#o.maxFileBytes,
      events: this.events,
      log: this.#log,
      breaker: this.#breaker,
      cache: this.#cache,
      forced: this.#forced,
      extraction,
      failures: this.#failures,
      now: this.#now,
      acquireModelSlot: (run, file) => this.#acquireModelSlot(run, file),
      emitProgress: (run) => this.#emitProgress(run),
      fingerprintOf: (docPath, contentHash) => this.#fingerprintOf(docPath, contentHash),
    };
    this.#progress = { events: this.events, now: this.#now, intervalMs: this.#o.progressIntervalMs, progressOf: (run) => this.#progressOf(run) };
    this.#admission = {
      store: this.#o.store,
      events: this.events,
      converters: this.#o.converters,
      maxFileBytes: this.#o.maxFileBytes,
      fingerprint: this.fingerprint,
      claims: options.claims,
      now: this.#now,
      fingerprintOf: (docPath, contentHash) => this.#fingerprintOf(docPath, contentHash),
    };
    const claims = options.claims;
    if (claims) {
      // a dead letter is final for this version of the file: no other worker picks it up
      this.events.on((e) => {
        if (e.type === 'doc/dead-lettered') void claims.finish(e.path, 'dead').catch((err: Error) => this.#log.warn(err.message));
      });
    }
  }

  get running(): boolean {
    return this.#run !== undefined;
  }

  get paused(): boolean {
    return this.#queue.isPaused && this.#run !== undefined;
  }

  get runId(): string | undefined {
    return this.#run?.record.id;
  }

  get store(): CheckpointStore {
    return this.#o.store;
  }

  /** Starts a run. Throws when one is already active: use {@link enqueue} to add documents to it. */
  start(options: StartOptions): RunHandle {
    if (this.#run) throw new Error('A run is already active');
    // one run writes into an output folder at a time (two state folders on one folder would both export)
    const releaseOutput = this.#o.lockOutput?.();
    const store = this.#o.store;
    const id = options.join?.id ?? `${new Date(this.#now()).toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
    const record: RunRecord = {
      id,
      startedAt: options.join?.startedAt ?? this.#now(),
      trigger: options.join?.trigger ?? options.trigger,
      root: this.#o.root,
      status: 'running',
      fingerprint: this.fingerprint,
      model: this.#o.extractor.model,
    };
    try {
      // with workers sharing the state, documents in an active stage may be another worker's, live
      const reset = this.#o.claims ? 0 : store.resetInFlight();
      if (reset) this.#log.info(`${reset} document(s) interrupted earlier are pending again`);
      store.putRun(record, { durable: true });
    } catch (err) {
      releaseOutput?.();
      throw err;
    }
    let resolve!: (s: RunSummary) => void;
    const done = new Promise<RunSummary>((r) => (resolve = r));
    const controller = new AbortController();
    // every in-flight document listens to the run's signal
    setMaxListeners(0, controller.signal);
    const run: ActiveRun = {
      record,
      controller,
      listingDone: false,
      active: new Set(),
      priorities: new Map(),
      processing: 0,
      awaitingSlot: new Set(),
      queued: new Set(),
      direct: 0,
      resultFolders: new Set(),
      // another worker of a fleet may have written a result and died before it marked the document done
      adoptResults: this.#o.claims !== undefined || mayHoldResults(this.#o.outDir),
      retryTimers: new Map(),
      resolve,
      stats: { done: 0, deadLettered: 0, skipped: 0, rejected: 0, rejectedTooLarge: 0, tokensIn: 0, tokensOut: 0, cost: 0 },
      lastProgressAt: 0,
      finished: false,
    };
    if (releaseOutput) run.releaseOutput = releaseOutput;
    this.#run = run;
    if (this.#breaker) run.breakerEvents = this.#breaker.onEvent((e) => followOutage(this.#outage, run, e));
    this.#modelSlots.start();
    this.#queue.start();
    this.events.emit({ type: 'run/started', runId: id, root: this.#o.root, at: record.startedAt });
    this.#log.info(options.join ? `Run ${id} of the fleet joined (${options.trigger}) in ${this.#o.root}` : `Run ${id} started (${options.trigger}) in ${this.#o.root}`);
    void this.#feed(run, options.paths).catch((err) => {
      this.#log.error(err instanceof Error ? err : String(err));
      run.stopReason = `Listing failed: ${(err as Error).message}`;
      run.listingDone = true;
      this.#maybeFinish(run);
    });
    return { runId: id, done };
  }

  /**
   * Queues documents (relative paths). With a run active they join it; otherwise a run starts.
   * `resetAttempts` gives them a fresh set of attempts (explicit retry).
   */
  enqueue(paths: readonly string[], options: { priority?: number; resetAttempts?: boolean; trigger?: RunTrigger } = {}): RunHandle {
    const priority = options.priority ?? PRIORITY_USER;
    if (options.resetAttempts) {
      for (const p of paths) {
        const doc = this.#o.store.getDocument(p);
        // a done document keeps its stage until it is processed again (a forced rerun), but not its attempts
        if (doc) this.#o.store.patchDocument(p, { attempts: 0, ...(doc.stage !== 'done' ? { stage: 'pending' as const } : {}), updatedAt: this.#now() });
      }
    }
    if (!this.#run) {
      const handle = this.start({ trigger: options.trigger ?? 'retry', paths });
      return handle;
    }
    const run = this.#run;
    for (const p of paths) {
      const timer = run.retryTimers.get(p);
      if (timer) {
        clearTimeout(timer);
        run.retryTimers.delete(p);
        run.active.delete(p);
      }
      void this.#consider(run, this.#fileFor(p), priority, true);
    }
    return { runId: run.record.id, done: this.#runDone(run) };
  }

  /**
   * Makes the next processing of `path` extract again even when its result is up to date (same content
   * and configuration), optionally with `instructions` appended for that extraction. Queue it afterwards.
   */
  forceNext(path: string, options: { instructions?: string } = {}): void {
    this.#forced.set(path, options);
  }

  /** Retries documents now, with fresh attempts, ahead of the queue. */
  retry(paths: readonly string[]): RunHandle {
    return this.enqueue(paths, { priority: PRIORITY_USER, resetAttempts: true, trigger: 'retry' });
  }

  /** Reprocesses dead letters (all when `paths` is omitted): recorded with time and note, attempts reset. */
  reprocessDeadLetters(paths?: readonly string[], note?: string): RunHandle | undefined {
    const store = this.#o.store;
    const letters = paths ? paths.map((p) => store.getDeadLetter(p)).filter((l): l is NonNullable<typeof l> => !!l) : store.listDeadLetters();
    if (!letters.length) return undefined;
    const at = this.#now();
    for (const l of letters) {
      store.markDeadLetterReprocessed(l.path, at, note);
      if (store.getDocument(l.path)) store.patchDocument(l.path, { stage: 'pending', attempts: 0, updatedAt: at });
      this.events.emit({ type: 'doc/requeued', runId: this.#run?.record.id ?? '', path: l.path });
    }
    return this.enqueue(
      letters.map((l) => l.path),
      { priority: PRIORITY_USER, trigger: 'retry' },
    );
  }

  /** Removes a dead letter without reprocessing it; the document goes back to pending. */
  removeDeadLetter(p: string): void {
    releaseDeadLetter(this.#o.store, p, this.#now());
    this.events.emit({ type: 'doc/requeued', runId: this.#run?.record.id ?? '', path: p });
  }

  /**
   * Documents holding a model slot finish, nothing new starts: no document leaves the queue and no slot is
   * handed out. A document read and converted ahead waits for its slot, shown as pending meanwhile.
   */
  pause(reason?: string): void {
    const run = this.#run;
    if (!run || this.#queue.isPaused) return;
    this.#queue.pause();
    this.#modelSlots.pause();
    const now = this.#now();
    for (const p of run.awaitingSlot) {
      this.#o.store.patchDocument(p, { stage: 'pending', updatedAt: now });
      this.events.emit({ type: 'doc/stage', runId: run.record.id, path: p, stage: 'pending' });
    }
    run.record.status = 'paused';
    this.#o.store.putRun(run.record);
    this.events.emit({ type: 'run/paused', runId: run.record.id, ...(reason ? { reason } : {}) });
    this.#emitProgress(run, true);
  }

  resume(): void {
    const run = this.#run;
    if (!run || !this.#queue.isPaused) return;
    run.record.status = 'running';
    this.#o.store.putRun(run.record);
    this.#modelSlots.start();
    this.#queue.start();
    this.events.emit({ type: 'run/resumed', runId: run.record.id });
    this.#emitProgress(run, true);
  }

  /**
   * Stops the run: model requests in flight are aborted, their documents go back to pending,
   * nothing new starts. Resolves with the run's summary once everything has settled.
   */
  async stop(reason = 'Stopped by the user'): Promise<RunSummary | undefined> {
    const run = this.#run;
    if (!run) return undefined;
    run.stopReason ??= reason;
    run.listingDone = true;
    run.controller.abort(new CancelledError(reason));
    for (const t of run.retryTimers.values()) clearTimeout(t);
    run.retryTimers.clear();
    this.#queue.clear();
    this.#queue.start();
    this.#modelSlots.start(); // waiting documents were removed by the abort signal

    // documents queued but never started are still `pending` in the store: nothing to undo
    const summary = this.#runDone(run);
    this.#maybeFinish(run);
    return summary;
  }

  /**
   * Stops and waits at most `timeoutMs` for in-flight work; the store is left consistent either way. The
   * run is recorded as `interrupted` (not `stopped`, which is a person's decision): the process is going
   * away with the run unfinished, and the next session offers to resume it.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    if (this.#run && !this.#run.stopReason) this.#run.interrupted = true; // a stop already under way stays a stop
    const stopping = this.stop('Shut down');
    await Promise.race([stopping, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  /** Progress of the active run, or undefined. */
  progress(): RunProgress | undefined {
    return this.#run ? this.#progressOf(this.#run) : undefined;
  }

  // ---------------------------------------------------------------- internals

  #runDone(run: ActiveRun): Promise<RunSummary> {
    return new Promise((resolve) => {
      const prev = run.resolve;
      run.resolve = (s) => {
        prev(s);
        resolve(s);
      };
    });
  }

  /**
   * The file of a path from a caller or the store (a retry, a dead letter, a watched change). One that
   * leads out of the root — by its path, or as a link — is never read: it carries the reason (see
   * {@link rejectionOf}) and the root folder as its `absPath`.
   */
  #fileFor(rel: string): ListedFile {
    let problem: string | undefined;
    try {
      const absPath = resolveInside(this.#o.root, rel);
      problem = linkProblemSync(this.#o.root, absPath);
      if (!problem) return { path: rel, absPath, size: -1, mtimeMs: -1 };
    } catch (err) {
      problem = (err as Error).message;
    }
    return { path: rel, absPath: this.#o.root, size: 0, mtimeMs: 0, problem };
  }

  async #feed(run: ActiveRun, paths: readonly string[] | undefined): Promise<void> {
    const highWater = Math.max(16, this.#o.concurrency * 4);
    const source: AsyncIterable<ListedFile> | Iterable<ListedFile> = paths
      ? paths.map((p) => this.#fileFor(p))
      : listFiles(this.#o.root, {
          include: this.#o.include,
          exclude: this.#o.exclude,
          gitignore: this.#o.gitignore,
          skipDirs: [this.#o.outDir, ...(this.#o.store.dir ? [this.#o.store.dir] : [])],
          signal: run.controller.signal,
          onWarning: (w) => {
            this.#log.warn(`${w.path}: [${w.code}] ${w.message}`);
            this.events.emit({ type: 'run/warning', runId: run.record.id, ...w });
          },
        });
    let listed = 0;
    for await (const file of source) {
      if (run.controller.signal.aborted) break;
      listed++;
      await this.#consider(run, file, paths ? PRIORITY_USER : PRIORITY_NORMAL, !!paths);
      // backpressure: the lister waits while the queue is full
      if (this.#queue.size >= highWater) await this.#queue.onSizeLessThan(highWater / 2);
    }
    const claims = this.#o.claims;
    if (claims && !run.controller.signal.aborted) {
      await sweepFleet({
        claims,
        signal: run.controller.signal,
        busy: () => this.#queue.size + this.#queue.pending + run.retryTimers.size + run.direct > 0,
        admit: async (taken) => {
          for (const p of taken) {
            await this.#consider(run, this.#fileFor(p), PRIORITY_NORMAL, false);
            // not processed again (done as far as this worker knows, or rejected): settled for this version
            if (!run.active.has(p)) await claims.finish(p, 'done').catch((err: Error) => this.#log.warn(err.message));
          }
        },
        ...(this.#o.store.refresh ? { refresh: () => this.#o.store.refresh!() } : {}),
        pollMs: this.#o.fleetPollMs ?? 500,
        log: this.#log,
      });
    }
    run.listingDone = true;
    this.events.emit({ type: 'run/listed', runId: run.record.id, total: listed });
    this.#maybeFinish(run);
  }

  /** Decides what to do with a listed file: reject, skip as unchanged, or queue. */
  async #consider(run: ActiveRun, file: ListedFile, priority: number, explicit: boolean): Promise<void> {
    if (run.active.has(file.path)) {
      // already queued: an explicit request moves it ahead
      if (explicit) {
        run.priorities.set(file.path, priority);
        if (priority >= PRIORITY_USER && run.queued.delete(file.path)) {
          // still waiting for a place in the document queue, behind documents read ahead: it leaves its place
          // (skipped when reached) and goes straight to the model-slot queue, as a document not listed yet would
          this.#processDirect(run, file);
          return;
        }
        movePriority(this.#queue, file.path, priority);
        this.#modelSlots.setPriority(file.path, priority);
      }
      return;
    }
    const admitted = await admit(this.#admission, run, file, explicit);
    if (admitted) this.#schedule(run, admitted, priority);
  }

  /** The fingerprint a document's result must have: the job's, with the document's examples (undefined: not known). */
  async #fingerprintOf(docPath: string, contentHash: string | undefined): Promise<string | undefined> {
    return expectedFingerprint(this.fingerprint, this.#o.examples, docPath, contentHash).catch((err: Error) => void this.#log.warn(`${docPath}: its examples are not known (${err.message})`));
  }

  #schedule(run: ActiveRun, file: ListedFile, priority: number): void {
    run.active.add(file.path);
    if (priority !== PRIORITY_NORMAL) run.priorities.set(file.path, priority);
    this.events.emit({ type: 'doc/queued', runId: run.record.id, path: file.path, priority });
    // A document a person asked for goes straight to the model-slot queue, where its priority puts it first:
    // through the document queue it would wait behind the documents already holding its places.
    if (priority >= PRIORITY_USER) this.#processDirect(run, file);
    else this.#enqueueDocument(run, file, priority);
    this.#emitProgress(run);
  }

  /** Queues an attempt at `file` in the document queue (unless a person's request takes it out first). */
  #enqueueDocument(run: ActiveRun, file: ListedFile, priority: number): void {
    run.queued.add(file.path);
    const attempt = async () => {
      if (run.queued.delete(file.path)) await processDocument(this.#attempt, run, file);
    };
    void this.#queue
      .add(attempt, { priority, id: file.path })
      .catch((err) => this.#log.error(`Unexpected failure processing ${file.path}`, err))
      .finally(() => this.#maybeFinish(run));
  }

  /** Processes `file` outside the document queue, counted so the run does not finish before it. */
  #processDirect(run: ActiveRun, file: ListedFile): void {
    run.direct++;
    void processDocument(this.#attempt, run, file)
      .catch((err) => this.#log.error(`Unexpected failure processing ${file.path}`, err))
      .finally(() => {
        run.direct--;
        this.#maybeFinish(run);
      });
  }

  /** Waits for a model slot (see modelSlots.ts): its release, or undefined when the run was stopped meanwhile. */
  #acquireModelSlot(run: ActiveRun, file: ListedFile): Promise<(() => void) | undefined> {
    return this.#modelSlots.acquire(run.controller.signal, file.path, run.priorities.get(file.path) ?? PRIORITY_NORMAL);
  }

  #addSpent(run: ActiveRun, spent: Spent): void {
    run.stats.tokensIn += spent.tokensIn;
    run.stats.tokensOut += spent.tokensOut;
    run.stats.cost += spent.cost;
    const budget = this.#o.budget;
    if (budget !== undefined && !run.budgetReached && run.stats.cost >= budget) {
      run.budgetReached = true;
      this.#log.warn(`Budget of ${budget} reached (spent ${run.stats.cost.toFixed(4)}): run paused`);
      this.events.emit({ type: 'run/budget-reached', runId: run.record.id, cost: run.stats.cost, budget });
      this.pause(`Budget of ${budget} reached`);
    }
  }

  /** Processes a document again after `delayMs` (0: as soon as a slot is free; an open circuit holds it). */
  #requeue(run: ActiveRun, file: ListedFile, delayMs: number): void {
    const timer = setTimeout(() => {
      run.retryTimers.delete(file.path);
      if (run.controller.signal.aborted || run.finished) {
        run.active.delete(file.path);
        this.#maybeFinish(run);
        return;
      }
      this.#enqueueDocument(run, file, PRIORITY_NORMAL + 1);
    }, delayMs);
    run.retryTimers.set(file.path, timer);
  }

  /** Stops the run for an error that concerns every document (once; the first error is the one reported). */
  #stopFatal(run: ActiveRun, info: ErrorInfo): void {
    if (run.fatalError) return;
    run.fatalError = info;
    void this.stop(info.message);
  }

  #price(tokensIn: number, tokensOut: number): number {
    const ex = this.#o.extractor as Extractor & { costOf?: (i: number, o: number) => number };
    return typeof ex.costOf === 'function' ? ex.costOf(tokensIn, tokensOut) : 0;
  }

  #progressOf(run: ActiveRun): RunProgress {
    return progressOf(this.#o.store, run, this.#now(), this.#queue.isPaused);
  }

  #emitProgress(run: ActiveRun, force = false): void {
    emitProgress(this.#progress, run, force);
  }

  #maybeFinish(run: ActiveRun): void {
    if (run.finished || this.#run !== run) return;
    if (!run.listingDone) return;
    if (this.#queue.size > 0 || this.#queue.pending > 0 || run.retryTimers.size > 0 || run.direct > 0) return;
    if (run.active.size > 0 && !run.controller.signal.aborted) return;
    run.finished = true;
    if (run.progressTimer) clearTimeout(run.progressTimer);
    const end = recordRunEnd(this.#o.store, this.#log, run, this.#now());
    run.breakerEvents?.dispose();
    this.#breaker?.reset();
    run.releaseOutput?.();
    this.#run = undefined;
    const summary = summaryOf(run, end);
    const { status, counts } = end;
    let progress: RunProgress;
    try {
      progress = { ...this.#progressOf(run), ...counts };
    } catch {
      progress = { runId: run.record.id, ...counts, inFlight: 0, docsPerMinute: 0, paused: false }; // the store is closed
    }
    this.events.emit({ type: 'run/finished', runId: run.record.id, status, progress, ...(run.stopReason ? { reason: run.stopReason } : {}) });
    this.#log.info(`Run ${run.record.id} ${status}: ${counts.done} done, ${counts.failed} failed, ${counts.deadLettered} dead-lettered, ${counts.pending} pending`);
    run.resolve(summary);
  }
}

export { emptyCounts };
