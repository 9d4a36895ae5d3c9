/**
 * Composes the core for one folder: checkpoint store, converters, extractor, validator and pipeline.
 * The CLI and the extension both go through here, so a run started by one can be continued by the other.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { createConverterRegistry, type ConverterRegistry } from '../convert';
import type { PdfLimits } from '../convert/pdf/limits';
import { DEFAULT_MAX_OUTAGE_MS } from '../core/circuitBreaker';
import { ErrorCodes, ExtractionError } from '../core/errors';
import type { ListOptions } from '../core/lister';
import type { Logger } from '../core/logger';
import { Pipeline, type ConverterLookup } from '../core/pipeline';
import type { ConfidenceOption } from '../extract/confidence';
import { fileImageSource, type InputMode, type PdfScanImages } from '../extract/pageImages';
import type { PdfConverter } from '../convert/pdf/pdfConverter';
import { GroundingThread } from '../extract/groundingThread';
import type { MaxTokensParam, ModeOption } from '../extract/modes';
import { OpenAIExtractor, type OpenAIExtractorOptions } from '../extract/openaiExtractor';
import type { ModelPrice } from '../extract/pricing';
import type { Clock } from '../extract/rateLimiter';
import { createValidator, validateUserSchema } from '../extract/schema';
import { isWithin } from '../core/paths';
import { checkOutputWritable, writeFileAtomic } from '../export/jsonExporter';
import { acquireLock, OUTPUT_LOCK_FILE, releaseLock } from '../store/lock';
import { openWhenReleased } from '../store/lockWait';
import { createRequestLog } from '../store/requestLog';
import { pruneHistoryOnRunStart } from '../store/retention';
import { SqlJsCheckpointStore } from '../store/sqlStore';
import { PgWorkClaims } from '../store/pg/claims';
import { PgCheckpointStore } from '../store/pg/pgStore';
import { redactUrl } from '../store/pg/url';
import type { CheckpointStore } from '../store/types';
import { joinableRun } from './fleetRun';
import type { RunRecord } from '../core/types';
import type { RetryPolicy } from '../core/retry';
import { ConvertCache } from '../convert/cache';
import { DEFAULT_MAX_EXAMPLES } from '../extract/examples';
import { jobOptionSchemas, readSchemaFile, type ExamplesOption, type RetryBackoff } from './config';
import { createRouter, type RouteSettings } from './router';
import { CorrectionExamples } from './examples';
import { snapshotCheckedResults } from '../eval/runAccuracy';

/** Everything a run needs, fully resolved (absolute paths). Persisted (without secrets) in the state folder. */
export interface RunSettings {
  root: string;
  outDir: string;
  stateDir: string;
  schemaPath: string;
  instructions?: string;
  include?: string[];
  exclude?: string[];
  baseURL: string;
  model: string;
  concurrency: number;
  maxAttempts: number;
  /** Per model request. */
  timeoutMs: number;
  maxFileBytes: number;
  temperature?: number;
  maxOutputTokens?: number;
  /** Highest output budget when a cut-off answer is asked again (extractor default 16384). */
  maxOutputTokensCap?: number;
  maxTokensParam?: MaxTokensParam;
  /** How the answer's shape is requested (default 'auto'). */
  mode?: ModeOption;
  /** Context window of the model in tokens (extractor default 128000). */
  contextTokens?: number;
  /** Client-side rate limits of the provider (default: none). */
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  /** Follow-up requests when an answer breaks the schema (extractor default 2). */
  maxReasks?: number;
  /** Where value confidences come from (default 'grounding'). */
  confidence?: ConfidenceOption;
  /** Few-shot examples from the corrections (default: none). */
  examples?: ExamplesOption;
  /** What the model is sent of a document: its text (default), or page images too (`images`, `auto`). */
  input?: InputMode;
  price?: ModelPrice;
  jobName?: string;
  /** Cost at which the run pauses (the CLI stops). */
  budget?: number;
  /** PDF converter limits (page limit, time and memory limits, workers); converter defaults when unset. */
  pdf?: PdfLimits;
  /** How long a provider outage may last before the run stops, minutes (default 30). */
  maxOutageMinutes?: number;
  /** Backoff between attempts (seconds; defaults 1, 60, 0.5). */
  retry?: RetryBackoff;
  logRequests?: boolean;
  historyRetentionRuns?: number;
  historyRetentionDays?: number;
  /**
   * The state is in this PostgreSQL database (without its password) instead of `stateDir`, shared by every
   * worker on the folder; `stateDir` then holds only this machine's caches and settings.
   */
  stateUrl?: string;
  /** How long a worker's claim on a document lasts without renewal, s (default 60; PostgreSQL state only). */
  leaseSeconds?: number;
  /**
   * A router job (mixed folder): each document runs with one of these jobs, chosen by its globs or a
   * classification request; `schemaPath` is then the first routed job's, `instructions` go to the classification.
   */
  route?: RouteSettings;
}

/** The pipeline's and the extractor's backoff for run settings (ms). */
export function retryPolicyOf(s: Pick<RunSettings, 'retry'>): Partial<RetryPolicy> {
  const r = s.retry ?? {};
  return {
    ...(r.baseDelaySeconds !== undefined ? { baseDelayMs: r.baseDelaySeconds * 1000 } : {}),
    ...(r.maxDelaySeconds !== undefined ? { maxDelayMs: r.maxDelaySeconds * 1000 } : {}),
    ...(r.jitter !== undefined ? { jitter: r.jitter } : {}),
  };
}

/** The outage limit of run settings, ms. */
export function maxOutageMsOf(s: Pick<RunSettings, 'maxOutageMinutes'>): number {
  return s.maxOutageMinutes !== undefined ? s.maxOutageMinutes * 60_000 : DEFAULT_MAX_OUTAGE_MS;
}

export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const DEFAULT_MODEL = 'gpt-4o-mini';

export const SETTINGS_FILE = 'settings.json';

export function defaultStateDir(root: string): string {
  return path.join(root, '.extraction');
}

/**
 * Checks the provider and limit options of run settings with the rules of the job fields of the same
 * names (settings saved by an older version or edited by hand reach here unchecked); INVALID_CONFIG names
 * the field.
 */
export function checkRunSettings(settings: RunSettings): void {
  const problems: string[] = [];
  for (const [key, schema] of Object.entries(jobOptionSchemas) as Array<[keyof typeof jobOptionSchemas, z.ZodType]>) {
    const value = settings[key];
    if (value === undefined) continue;
    const r = schema.safeParse(value);
    if (!r.success) problems.push(...r.error.issues.map((i) => `${[key, ...i.path].join('.')}: ${i.message}`));
  }
  if (problems.length) throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `Invalid run settings: ${problems.join('; ')}`);
}

/** How a run with these settings lists its folder (globs, .gitignore files, output and state folders left out). */
export function listOptionsOf(s: RunSettings): ListOptions {
  return { include: s.include, exclude: s.exclude, skipDirs: [s.outDir, s.stateDir] };
}

/** Converted-text cache of a state folder: the run and the pre-run estimate share it, so nothing is parsed twice. */
export function convertedCacheDirOf(stateDir: string): string {
  return path.join(stateDir, 'converted');
}

/**
 * The converters, with the PDF worker and pdf.js assets from `assetsDir` (the bundle's folder) and the
 * run's PDF limits. Whatever reads the converted-text cache (run, estimate, review) must pass the same
 * limits: the page limit is part of the cache key. Invalid limits: INVALID_CONFIG naming the option.
 */
export function createConverters(assetsDir: string = __dirname, pdf?: PdfLimits): ConverterRegistry {
  return createConverterRegistry({
    pdfWorkerPath: path.join(assetsDir, 'pdfWorker.js'),
    pdfAssetsDir: path.join(assetsDir, 'pdfjs'),
    ...pdf,
  });
}

/** The scanned-page images of the PDF converter of `converters` (for `input: images | auto`). */
export function pdfScanImagesOf(converters: ConverterRegistry): PdfScanImages | undefined {
  const pdf = converters.get('.pdf') as PdfConverter | undefined;
  return pdf?.scannedPageImages ? (bytes, pages) => pdf.scannedPageImages(bytes, pages) : undefined;
}

/** The extractor options a run's settings ask for (provider, limits, prices); `clock` drives the rate limiter (tests). */
export function extractorOptions(settings: RunSettings, apiKey: string, clock?: Clock): OpenAIExtractorOptions {
  const s = settings;
  const maxOutageMs = maxOutageMsOf(s);
  return {
    baseURL: s.baseURL,
    apiKey,
    model: s.model,
    timeoutMs: s.timeoutMs,
    // an outage pauses the run and probes the provider; it stops the run only after the outage limit
    circuitBreaker: { maxOutageMs, ...(clock ? { clock } : {}) },
    maxRateLimitWaitMs: maxOutageMs,
    backoff: retryPolicyOf(s),
    ...(clock ? { clock } : {}),
    // chunk results of long documents survive a failed attempt: only failed chunks are asked again
    chunkCacheDir: path.join(s.stateDir, 'chunks'),
    // one document can send several chunk requests: the provider limit is the run's concurrency
    rateLimit: {
      maxConcurrency: s.concurrency,
      // the first request goes alone: a wrong key or model costs one request, not a burst
      slowStart: true,
      ...(s.requestsPerMinute !== undefined ? { rpm: s.requestsPerMinute } : {}),
      ...(s.tokensPerMinute !== undefined ? { tpm: s.tokensPerMinute } : {}),
      ...(clock ? { clock } : {}),
    },
    ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
    ...(s.maxOutputTokens !== undefined ? { maxOutputTokens: s.maxOutputTokens } : {}),
    ...(s.maxOutputTokensCap !== undefined ? { maxOutputTokensCap: s.maxOutputTokensCap } : {}),
    ...(s.maxTokensParam !== undefined ? { maxTokensParam: s.maxTokensParam } : {}),
    ...(s.mode !== undefined ? { mode: s.mode } : {}),
    ...(s.contextTokens !== undefined ? { contextTokens: s.contextTokens } : {}),
    ...(s.maxReasks !== undefined ? { maxReasks: s.maxReasks } : {}),
    ...(s.confidence !== undefined ? { confidence: s.confidence } : {}),
    ...(s.input !== undefined && s.input !== 'text' ? { input: s.input, pageImages: fileImageSource(s.root) } : {}),
    ...(s.price ? { price: s.price } : {}),
  };
}

/** The few-shot examples a run's settings ask for (`examples`, max ≥ 1), or undefined. */
export function examplesOf(settings: RunSettings, converters: ConverterLookup, logger?: Logger): CorrectionExamples | undefined {
  const max = settings.examples ? (settings.examples.max ?? DEFAULT_MAX_EXAMPLES) : 0;
  if (max < 1) return undefined;
  if (settings.route) {
    // corrections of a mixed folder follow several schemas: examples would have to be chosen per job
    logger?.warn('examples: not used by a job with classify (a mixed folder): the corrections of its documents follow several schemas');
    return undefined;
  }
  return new CorrectionExamples({
    root: settings.root,
    outDir: settings.outDir,
    stateDir: settings.stateDir,
    converters,
    cache: new ConvertCache(convertedCacheDirOf(settings.stateDir)),
    max,
    ...(logger ? { logger } : {}),
  });
}

/** Path fields of {@link RunSettings}: saved relative to the state folder, so a moved or copied folder still works. */
const PATH_FIELDS = ['root', 'outDir', 'stateDir', 'schemaPath'] as const;

/**
 * Saves the settings of a run in its state folder, with paths relative to that folder: a folder extracted
 * in CI at /builds/x and downloaded to ~/work/x (or simply renamed) opens with the right paths.
 */
export function saveSettings(settings: RunSettings): void {
  fs.mkdirSync(settings.stateDir, { recursive: true });
  const portable: Record<string, unknown> = { ...settings };
  const relative = (p: string) => path.relative(settings.stateDir, p).split(path.sep).join('/') || '.';
  for (const k of PATH_FIELDS) portable[k] = relative(settings[k]);
  if (settings.route) portable.route = { ...settings.route, jobs: settings.route.jobs.map((j) => ({ ...j, schemaPath: relative(j.schemaPath) })) };
  writeFileAtomic(path.join(settings.stateDir, SETTINGS_FILE), JSON.stringify(portable, null, 2) + '\n', { fsync: false });
}

/**
 * Settings of the last run in a state folder (paths resolved against that folder), or undefined (none, or
 * saved for another folder than `options.root`).
 *
 * The file is data that whoever wrote the state folder chose, so its folders are confined: `stateDir` is
 * the folder the file is in, whatever it says; `root` must be the folder that holds the state folder (the
 * usual `<folder>/.extraction`), unless the caller names the root (`options.root`: the workspace folder of a
 * window, or `--root`), and then it must be that one; the output folder must be inside `root` (by real path
 * too, so a link does not lead out). INVALID_CONFIG naming the file and the field otherwise.
 */
export function loadSavedSettings(stateDir: string, options: { root?: string } = {}): RunSettings | undefined {
  const file = path.join(stateDir, SETTINGS_FILE);
  let saved: RunSettings;
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as RunSettings;
  } catch {
    return undefined;
  }
  if (!saved || typeof saved !== 'object') return undefined;
  // older files hold absolute paths: resolve() keeps those as they are
  for (const k of PATH_FIELDS) {
    if (typeof saved[k] !== 'string') return undefined;
    saved[k] = path.resolve(stateDir, saved[k]);
  }
  saved.stateDir = path.resolve(stateDir);
  if (saved.route) {
    if (!Array.isArray(saved.route.jobs) || !saved.route.jobs.every((j) => j && typeof j.name === 'string' && typeof j.schemaPath === 'string')) return undefined;
    saved.route = { ...saved.route, jobs: saved.route.jobs.map((j) => ({ ...j, schemaPath: path.resolve(stateDir, j.schemaPath) })) };
  }
  const outside = (field: string, value: string, where: string) =>
    new ExtractionError(ErrorCodes.INVALID_CONFIG, `${file}: ${field} "${value}" ${where}; only a folder inside it is used`);
  if (options.root) {
    if (path.resolve(saved.root) !== path.resolve(options.root)) return undefined; // saved for another folder
  } else if (saved.root !== path.dirname(saved.stateDir)) {
    throw new ExtractionError(
      ErrorCodes.INVALID_CONFIG,
      `${file}: root "${saved.root}" is not the folder that holds this state folder; a state folder is used for another folder only when that folder is named (--root)`,
    );
  }
  if (saved.outDir === saved.root || !isWithin(saved.root, saved.outDir)) throw outside('outDir', saved.outDir, `is not inside the folder ${saved.root}`);
  const real = (p: string) => {
    try {
      return fs.realpathSync.native(p);
    } catch {
      return undefined; // not there (yet): the lexical check above holds
    }
  };
  const outReal = real(saved.outDir);
  const rootReal = real(saved.root);
  if (outReal && rootReal && (outReal === rootReal || !isWithin(rootReal, outReal))) throw outside('outDir', saved.outDir, `is a link out of the folder ${saved.root} (to ${outReal})`);
  return saved;
}

/**
 * Takes the output folder's lock for a run (`.extraction-output.lock`): two runs with different state
 * folders on one folder would both write its results. Returns the release; throws StoreLockedError naming
 * the other process.
 */
export function lockOutputFolder(outDir: string, logger?: Logger): () => void {
  fs.mkdirSync(outDir, { recursive: true });
  const lock = acquireLock(outDir, { warn: (m: string) => logger?.warn(m) }, {
    fileName: OUTPUT_LOCK_FILE,
    what: 'The output folder',
    advice: 'Another run writes its results there: wait for it to finish, or choose another output folder',
  });
  return () => releaseLock(lock);
}

export interface SessionOptions {
  apiKey: string;
  logger?: Logger;
  /** Folder holding sql-wasm.wasm, pdfWorker.js and pdfjs/ (default: the bundle's folder). */
  assetsDir?: string;
  /** An already open store (the extension keeps one per workspace folder). */
  store?: CheckpointStore;
  /** Time source of the rate limiter (tests move it by hand). */
  clock?: Clock;
  /**
   * How long to wait for a state folder that another process holds for a moment (a VS Code window keeps it
   * for 2 s after a change), ms; default 0: fail at once. `onLockWait` is told once who holds it.
   */
  lockWaitMs?: number;
  onLockWait?: (ownerPid: number) => void;
  /** The state database URL as given (it may carry a password, never saved); default `settings.stateUrl`. */
  stateUrl?: string;
}

export interface Session {
  settings: RunSettings;
  store: CheckpointStore;
  pipeline: Pipeline;
  /** The session's extractor (its rate limiter and circuit breaker report their state). */
  extractor: OpenAIExtractor;
  /**
   * A fleet (workers sharing a PostgreSQL state): the run under way to take part in — the latest run, not
   * finished, of the same configuration, while another worker holds a live claim — or undefined (start a new
   * one). Pass it to `pipeline.start({ join })`: the fleet then reports one run id. Undefined without a fleet.
   */
  joinableRun(): Promise<RunRecord | undefined>;
  /** Releases workers; closes the store when the session opened it. */
  close(): Promise<void>;
}

/**
 * Opens the state store of a folder. `readOnly`: without the lock, for looking only (status, DLQ
 * listing) — works while another process (a run) has the store open, and shows its state as of now.
 */
export async function openStore(stateDir: string, options: { logger?: Logger; assetsDir?: string; readOnly?: boolean; url?: string } = {}): Promise<CheckpointStore> {
  if (options.url) {
    return PgCheckpointStore.open({
      url: options.url,
      wasmPath: options.assetsDir ? path.join(options.assetsDir, 'sql-wasm.wasm') : undefined,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.readOnly ? { readOnly: true } : {}),
    });
  }
  return SqlJsCheckpointStore.open({
    dir: stateDir,
    wasmPath: options.assetsDir ? path.join(options.assetsDir, 'sql-wasm.wasm') : undefined,
    logger: options.logger,
    ...(options.readOnly ? { readOnly: true } : {}),
  });
}

export async function openSession(settings: RunSettings, options: SessionOptions): Promise<Session> {
  if (!fs.existsSync(settings.root) || !fs.statSync(settings.root).isDirectory()) {
    throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `Folder not found: ${settings.root}`);
  }
  const schema = readSchemaFile(settings.schemaPath);
  validateUserSchema(schema);
  const validator = createValidator(schema);
  // before the store is opened: invalid options (INVALID_CONFIG) leave nothing to close
  checkRunSettings(settings);
  // a read-only output folder is found now, not after every document was paid for (OUTPUT_UNWRITABLE)
  await checkOutputWritable(settings.outDir);
  // opt-in: every request and reply in <state>/requests/<run>.ndjson, the API key scrubbed
  const requestLog = createRequestLog(settings, { apiKey: options.apiKey, onError: (e: Error) => options.logger?.warn(`The request log is off after a write failure: ${e.message}`) });
  const assetsDir = options.assetsDir ?? __dirname;
  // also checks the PDF limits (INVALID_CONFIG) before the store is opened
  const converters = createConverters(assetsDir, settings.pdf);
  const extractor = new OpenAIExtractor({
    ...extractorOptions(settings, options.apiKey, options.clock),
    // scanned PDF pages for `input: images | auto` come from the run's own PDF workers
    ...(settings.input && settings.input !== 'text' ? { pageImages: fileImageSource(settings.root, undefined, pdfScanImagesOf(converters)) } : {}),
    requestLog,
    onNotice: (m) => options.logger?.warn(m),
  });
  // a router job: every routed job's schema is read and checked now (INVALID_SCHEMA), before the store opens
  let router: ReturnType<typeof createRouter>;
  try {
    router = createRouter(settings, extractor);
  } catch (err) {
    await converters.dispose();
    throw err;
  }
  const ownsStore = !options.store;
  let store: CheckpointStore;
  try {
    const url = options.stateUrl ?? settings.stateUrl;
    const open = () => openStore(settings.stateDir, { logger: options.logger, assetsDir, ...(url ? { url } : {}) });
    store = options.store ?? (options.lockWaitMs ? await openWhenReleased(open, { waitMs: options.lockWaitMs, ...(options.onLockWait ? { onWait: options.onLockWait } : {}) }) : await open());
  } catch (err) {
    await converters.dispose();
    throw err;
  }
  // workers sharing a database claim documents; the database keeps its history (no pruning by one worker)
  const claims = store instanceof PgCheckpointStore ? new PgWorkClaims(store.pool, store.workerId, { leaseSeconds: settings.leaseSeconds, ...(options.logger ? { logger: options.logger } : {}) }) : undefined;
  if (!claims) pruneHistoryOnRunStart(store, settings, options.logger);
  // long documents are grounded off this thread (the extension host must not freeze)
  const grounding = new GroundingThread({ workerPath: path.join(assetsDir, 'groundingWorker.js'), logger: options.logger });
  const examples = examplesOf(settings, converters, options.logger);
  const pipeline = new Pipeline({
    root: settings.root,
    outDir: settings.outDir,
    store,
    converters,
    extractor,
    schema,
    validate: (data) => {
      const r = validator(data);
      return r.ok ? { ok: true } : { ok: false, errors: r.errors };
    },
    instructions: settings.instructions,
    include: settings.include,
    exclude: settings.exclude,
    concurrency: settings.concurrency,
    retry: { maxAttempts: settings.maxAttempts, ...retryPolicyOf(settings) },
    maxFileBytes: settings.maxFileBytes,
    ...(settings.budget !== undefined ? { budget: settings.budget } : {}),
    logger: options.logger,
    convertedCacheDir: convertedCacheDirOf(settings.stateDir),
    ground: grounding.ground,
    ...(router ? { router } : {}),
    ...(examples ? { examples } : {}),
    // a fleet writes into one output folder on purpose: its claims keep workers off each other's documents
    ...(claims ? { claims } : { lockOutput: () => lockOutputFolder(settings.outDir, options.logger) }),
  });
  // the corrections are read again for each run: a correction changes the examples of the next one
  if (examples) pipeline.events.on((e) => e.type === 'run/started' && examples.refresh());
  // the results of the checked documents are kept per run (before a run overwrites them, and after it):
  // the dashboard compares runs on accuracy against the corrections
  pipeline.events.on((e) => {
    if (e.type !== 'run/started' && e.type !== 'run/finished') return;
    try {
      snapshotCheckedResults(settings.stateDir, settings.outDir);
    } catch (err) {
      options.logger?.warn(`Keeping the results of the checked documents for run comparisons failed: ${(err as Error).message}`);
    }
  });
  saveSettings({ ...settings, ...(settings.stateUrl ? { stateUrl: redactUrl(settings.stateUrl) } : {}) });
  return {
    settings,
    store,
    pipeline,
    extractor,
    joinableRun: () => (claims ? joinableRun(store, claims, pipeline.fingerprint) : Promise.resolve(undefined)),
    async close() {
      await Promise.all([converters.dispose(), grounding.dispose()]);
      requestLog.close();
      if (claims) {
        // this worker's last changes land before its documents can be taken over
        await store.flush().catch(() => undefined);
        // unfinished documents go back at once (no waiting for the lease): another worker takes them
        await claims.releaseAll().catch((e: Error) => options.logger?.warn(`Giving back this worker's claims failed (they run out with the lease): ${e.message}`));
        await claims.dispose();
      }
      if (ownsStore && store instanceof PgCheckpointStore) await store.closeAndWait();
      else if (ownsStore) store.close();
    },
  };
}
