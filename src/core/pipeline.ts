/**
 * The extraction pipeline: list → read → convert → extract → validate → export, one document at a time
 * per queue slot, every state change checkpointed. Pure Node: shared by the CLI and the extension.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import * as path from 'node:path';
import PQueue from 'p-queue';
import { ConvertCache } from '../convert/cache';
import { convertSource } from '../convert/source';
import { mayHoldResults, readResult, type ResultFile } from '../export/jsonExporter';
import { groundValues } from '../extract/grounding';
import type { Extractor } from '../extract/types';
import type { CheckpointStore } from '../store/types';
import type { CircuitBreaker } from './circuitBreaker';
import { CancelledError, ErrorCodes, ExtractionError } from './errors';
import { EventBus, type RunProgress } from './events';
import { extractionFingerprint, hashOf } from './fingerprint';
import { listFiles, type ListedFile } from './lister';
import { nullLogger, type Logger } from './logger';
import { linkProblemSync, resolveInside } from './paths';
import { readSource } from './reader';
import { DEFAULT_RETRY_POLICY, validateRetryPolicy, type RetryPolicy } from './retry';
import { emptyCounts, type ErrorInfo, type RunRecord, type RunTrigger, type Stage } from './types';
import type { ActiveRun, Spent } from './activeRun';
import { admit, expectedFingerprint, type AdmitContext } from './admission';
import { handleFailedAttempt, type FailureContext } from './attemptFailure';
import { checkpointDone } from './completion';
import { ModelSlots } from './modelSlots';
import { closeStage, extractDocument, type AttemptState, type ExtractionContext } from './extraction';
import { followOutage, type OutageContext } from './outageFollower';
import { releaseDeadLetter } from './deadLetters';
import { sweepFleet } from './fleetSweep';
import { recordRunEnd, summaryOf } from './runEnd';
import { emitProgress, progressOf, type ProgressContext } from './runProgress';
import { LeaseLostError } from './workClaims';
import { routedFingerprint } from './routing';
import { PRIORITY_USER, type PipelineOptions, type RunHandle, type RunSummary, type StartOptions } from './pipelineOptions';

export { isUnchanged, rejectionOf } from './admission';
export { PRIORITY_USER, type ConverterLookup, type PipelineOptions, type RunHandle, type RunSummary, type StartOptions, type Validate } from './pipelineOptions';

const PRIORITY_NORMAL = 0;

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
  readonly #extraction: ExtractionContext;
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
    this.#extraction = {
      options: this.#o,
      unmatched: this.#failures,
      ground: options.ground ?? ((data, doc) => Promise.resolve(groundValues(data, doc))),
      schemaHash: this.#schemaHash,
      fingerprint: this.fingerprint,
      now: this.#now,
      forget: (p) => this.#forced.delete(p),
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
        try {
          this.#queue.setPriority(file.path, priority);
        } catch {
          /* not waiting in the document queue: nothing to move */
        }
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
    const processing =
      priority >= PRIORITY_USER ? this.#direct(run, () => this.#process(run, file)) : this.#queue.add(() => this.#process(run, file), { priority, id: file.path });
    void processing.catch((err) => this.#log.error(`Unexpected failure processing ${file.path}`, err)).finally(() => this.#maybeFinish(run));
    this.#emitProgress(run);
  }

  /** Runs `work` outside the document queue, counted so the run does not finish before it. */
  async #direct(run: ActiveRun, work: () => Promise<void>): Promise<void> {
    run.direct++;
    try {
      await work();
    } finally {
      run.direct--;
    }
  }

  /** Waits for a model slot (see modelSlots.ts): its release, or undefined when the run was stopped meanwhile. */
  #acquireModelSlot(run: ActiveRun, file: ListedFile): Promise<(() => void) | undefined> {
    return this.#modelSlots.acquire(run.controller.signal, file.path, run.priorities.get(file.path) ?? PRIORITY_NORMAL);
  }

  async #process(run: ActiveRun, file: ListedFile): Promise<void> {
    const store = this.#o.store;
    const signal = run.controller.signal;
    if (this.#breaker && this.#breaker.state !== 'closed' && !signal.aborted) {
      // the provider is down (or being checked): the document stays pending until it answers again
      try {
        await this.#breaker.whenClosed(signal);
      } catch {
        run.active.delete(file.path); // stopped, or the breaker gave up (which stops the run)
        return;
      }
    }
    // A document a person asked for (outside the document queue, which bounds how many are read ahead) takes
    // its model slot first, where its priority puts it ahead; the others once they are read and converted.
    const direct = (run.priorities.get(file.path) ?? PRIORITY_NORMAL) >= PRIORITY_USER;
    let release = direct && !signal.aborted && !run.finished ? await this.#acquireModelSlot(run, file) : undefined;
    if (signal.aborted || run.finished || (direct && !release)) {
      release?.();
      run.active.delete(file.path);
      return;
    }
    run.processing++;
    const startedAt = this.#now();
    const prior = store.getDocument(file.path);
    const a: AttemptState = { attempt: (prior?.attempts ?? 0) + 1, startedAt, stage: 'reading', stageStart: startedAt, stageMs: {}, spent: { tokensIn: 0, tokensOut: 0, cost: 0 } };
    const { attempt } = a;
    const enter = (next: Stage, checkpoint = next !== 'validating' && next !== 'exporting') => {
      const t = this.#now();
      closeStage(a, t);
      a.stage = next;
      a.stageStart = t;
      // Validating and exporting take milliseconds, and so does converting plain text: they are events, not
      // checkpoints (journal writes per document saved; the store shows such a document in its stage before).
      if (checkpoint) store.patchDocument(file.path, { stage: next, updatedAt: t });
      this.events.emit({ type: 'doc/stage', runId: run.record.id, path: file.path, stage: next });
    };
    try {
      store.patchDocument(file.path, { stage: 'reading', attempts: attempt, updatedAt: startedAt });
      this.events.emit({ type: 'doc/started', runId: run.record.id, path: file.path, attempt });
      this.events.emit({ type: 'doc/stage', runId: run.record.id, path: file.path, stage: 'reading' });
      this.#emitProgress(run);
      const ext = path.extname(file.path).toLowerCase();
      const converter = this.#o.converters.get(ext);
      const source = await readSource(file.absPath, this.#o.maxFileBytes, converter?.stream?.aboveBytes);
      const { contentHash } = source;
      // A result written just before a crash, for this very content and configuration, is adopted as is.
      const previous = run.adoptResults ? await readResult(this.#o.outDir, file.path) : undefined;
      const forced = this.#forced.get(file.path);
      let result: ResultFile;
      if (previous && !forced && previous.metadata.contentHash === contentHash && previous.metadata.fingerprint === (await this.#fingerprintOf(file.path, contentHash))) {
        result = previous;
        this.#log.info(`${file.path}: unchanged since its result was written, not extracted again`);
        await this.#o.claims?.fence(file.path, result); // a fleet: the shared state gets the result too
      } else {
        // converting plain text, JSON or a small CSV takes no time worth a checkpoint (a streamed one does)
        enter('converting', converter?.cacheable !== false || source.bytes === undefined);
        if (!converter) throw new ExtractionError(ErrorCodes.UNSUPPORTED_TYPE, `No converter for "${ext}" files`, { retryable: false });
        const converted = await convertSource(converter, source, { path: file.path, absPath: file.absPath, signal }, this.#o.maxFileBytes, this.#cache);
        for (const w of converted.warnings ?? []) this.#log.warn(`${file.path}: ${w}`);
        if (signal.aborted) throw new CancelledError();
        // the model slot, once the document is read and converted: reading and converting (a PDF's worker, OCR)
        // overlap the requests of other documents instead of keeping a slot idle. The wait is no stage's time.
        if (!release) {
          const waitFrom = this.#now();
          // waiting: not in flight (a pause shows it as pending meanwhile)
          run.awaitingSlot.add(file.path);
          run.processing--;
          try {
            release = await this.#acquireModelSlot(run, file);
          } finally {
            run.awaitingSlot.delete(file.path);
            run.processing++;
          }
          if (!release || signal.aborted) throw new CancelledError(run.stopReason);
          a.stageStart += this.#now() - waitFrom;
        }
        const extracted = await extractDocument(this.#extraction, run, file, a, { converted, contentHash, size: source.size, forced, changed: previous === undefined, enter, release: () => release?.() });
        if (!extracted) return; // no job matched: settled as unmatched
        result = extracted;
      }
      this.#forced.delete(file.path);
      const endedAt = this.#now();
      closeStage(a, endedAt);
      // the result file is on disk: now the completion is checkpointed, durably
      await checkpointDone(this.#failures, this.#o.claims, run, file, result, { attempt, startedAt, endedAt, stageMs: a.stageMs, contentHash, size: source.size, spent: a.spent, ...(a.made ? { made: a.made } : {}) });
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.#log.warn(err.message);
        run.active.delete(file.path);
        return;
      }
      await handleFailedAttempt(this.#failures, run, file, { attempt, startedAt, stage: a.stage, stageMs: a.stageMs, stageStart: a.stageStart, spent: a.spent }, err);
    } finally {
      release?.(); // no-op when already released
      run.processing--;
      this.#emitProgress(run);
    }
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
      void this.#queue
        .add(() => this.#process(run, file), { priority: PRIORITY_NORMAL + 1, id: file.path })
        .catch((err2) => this.#log.error(`Unexpected failure processing ${file.path}`, err2))
        .finally(() => this.#maybeFinish(run));
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
