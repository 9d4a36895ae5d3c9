/**
 * Composes the core for one folder: checkpoint store, converters, extractor, validator and pipeline.
 * The CLI and the extension both go through here, so a run started by one can be continued by the other.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createConverterRegistry } from '../convert';
import { ErrorCodes, ExtractionError } from '../core/errors';
import type { Logger } from '../core/logger';
import { Pipeline } from '../core/pipeline';
import { GroundingThread } from '../extract/groundingThread';
import { OpenAIExtractor } from '../extract/openaiExtractor';
import { createValidator, validateUserSchema } from '../extract/schema';
import { writeFileAtomic } from '../export/jsonExporter';
import { SqlJsCheckpointStore } from '../store/sqlStore';
import type { CheckpointStore } from '../store/types';
import { readSchemaFile } from './config';

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
  price?: { inputPer1M: number; outputPer1M: number };
  jobName?: string;
  /** Cost at which the run pauses (the CLI stops). */
  budget?: number;
}

export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const DEFAULT_MODEL = 'gpt-4o-mini';

export const SETTINGS_FILE = 'settings.json';

export function defaultStateDir(root: string): string {
  return path.join(root, '.extraction');
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
  for (const k of PATH_FIELDS) portable[k] = path.relative(settings.stateDir, settings[k]).split(path.sep).join('/') || '.';
  writeFileAtomic(path.join(settings.stateDir, SETTINGS_FILE), JSON.stringify(portable, null, 2) + '\n', { fsync: false });
}

/** Settings of the last run in a state folder (paths resolved against that folder), or undefined. */
export function loadSavedSettings(stateDir: string): RunSettings | undefined {
  let saved: RunSettings;
  try {
    saved = JSON.parse(fs.readFileSync(path.join(stateDir, SETTINGS_FILE), 'utf8')) as RunSettings;
  } catch {
    return undefined;
  }
  if (!saved || typeof saved !== 'object') return undefined;
  // older files hold absolute paths: resolve() keeps those as they are
  for (const k of PATH_FIELDS) {
    if (typeof saved[k] !== 'string') return undefined;
    saved[k] = path.resolve(stateDir, saved[k]);
  }
  return saved;
}

export interface SessionOptions {
  apiKey: string;
  logger?: Logger;
  /** Folder holding sql-wasm.wasm, pdfWorker.js and pdfjs/ (default: the bundle's folder). */
  assetsDir?: string;
  /** An already open store (the extension keeps one per workspace folder). */
  store?: CheckpointStore;
}

export interface Session {
  settings: RunSettings;
  store: CheckpointStore;
  pipeline: Pipeline;
  /** Releases workers; closes the store when the session opened it. */
  close(): Promise<void>;
}

/**
 * Opens the state store of a folder. `readOnly`: without the lock, for looking only (status, DLQ
 * listing) — works while another process (a run) has the store open, and shows its state as of now.
 */
export async function openStore(stateDir: string, options: { logger?: Logger; assetsDir?: string; readOnly?: boolean } = {}): Promise<CheckpointStore> {
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
  const assetsDir = options.assetsDir ?? __dirname;
  const ownsStore = !options.store;
  const store = options.store ?? (await openStore(settings.stateDir, { logger: options.logger, assetsDir }));
  const converters = createConverterRegistry({
    pdfWorkerPath: path.join(assetsDir, 'pdfWorker.js'),
    pdfAssetsDir: path.join(assetsDir, 'pdfjs'),
  });
  const extractor = new OpenAIExtractor({
    baseURL: settings.baseURL,
    apiKey: options.apiKey,
    model: settings.model,
    timeoutMs: settings.timeoutMs,
    // chunk results of long documents survive a failed attempt: only failed chunks are asked again
    chunkCacheDir: path.join(settings.stateDir, 'chunks'),
    // one document can send several chunk requests: the provider limit is the run's concurrency
    rateLimit: { maxConcurrency: settings.concurrency },
    ...(settings.temperature !== undefined ? { temperature: settings.temperature } : {}),
    ...(settings.maxOutputTokens !== undefined ? { maxOutputTokens: settings.maxOutputTokens } : {}),
    ...(settings.price ? { price: settings.price } : {}),
  });
  // long documents are grounded off this thread (the extension host must not freeze)
  const grounding = new GroundingThread({ workerPath: path.join(assetsDir, 'groundingWorker.js'), logger: options.logger });
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
    retry: { maxAttempts: settings.maxAttempts },
    maxFileBytes: settings.maxFileBytes,
    ...(settings.budget !== undefined ? { budget: settings.budget } : {}),
    logger: options.logger,
    convertedCacheDir: path.join(settings.stateDir, 'converted'),
    ground: grounding.ground,
  });
  saveSettings(settings);
  return {
    settings,
    store,
    pipeline,
    async close() {
      await Promise.all([converters.dispose(), grounding.dispose()]);
      if (ownsStore) store.close();
    },
  };
}
