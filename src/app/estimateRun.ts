/**
 * The pre-run estimate of a folder (or of some of its documents): what a run would send to the model and
 * what that would cost, computed without sending anything. The CLI (`extraction-workbench estimate`) and
 * the editor (the confirmation before a run, "Estimate Cost") both go through here.
 *
 * - Documents are listed as a run lists them (the job's globs, `.gitignore`, outside the output and state
 *   folders), or taken from `paths` as `Pipeline.enqueue` takes them.
 * - With the folder's checkpoint store, documents a run would not send are left out: done (and, when the
 *   folder is listed, dead-lettered) and unchanged since, under the same schema, instructions and model.
 * - Documents are converted through the run's converted-text cache, so the run that follows reads them
 *   from the cache instead of parsing them again.
 * - Tokens are counted with the tokenizer, as the extractor would send them ({@link estimateRunCost}).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ConvertCache } from '../convert/cache';
import { convertSource } from '../convert/source';
import type { ConvertedDocument } from '../convert/types';
import { CancelledError, ExtractionError, toExtractionError } from '../core/errors';
import { extractionFingerprint } from '../core/fingerprint';
import { listFiles, type ListedFile } from '../core/lister';
import { resolveInside } from '../core/paths';
import { expectedFingerprint } from '../core/admission';
import { isUnchanged, rejectionOf, type ConverterLookup } from '../core/pipeline';
import { readSource } from '../core/reader';
import type { CheckpointStore } from '../store/types';
import { estimateRunCost, type CostDocument, type RunCostEstimate } from '../extract/estimate';
import { renderExamples } from '../extract/examples';
import { defaultPriceTable, type ModelPrice } from '../extract/pricing';
import { validateUserSchema } from '../extract/schema';
import { readSchemaFile } from './config';
import { checkRunSettings, convertedCacheDirOf, createConverters, examplesOf, listOptionsOf, type RunSettings } from './session';
import { RoutedEstimate, type ClassificationEstimate } from './estimateRouting';
import { NO_JOB } from '../core/routing';
import type { JsonSchema } from '../extract/types';

/** Documents counted per call of {@link estimateRunCost}: bounds the converted texts held in memory. */
const BATCH = 50;

export interface EstimateRunOptions {
  settings: RunSettings;
  /** Only these documents (relative `/` paths), as a run started for them; default: list the folder. */
  paths?: readonly string[];
  /** The folder's checkpoint store (only read): documents a run would not send are left out. */
  store?: Pick<CheckpointStore, 'getDocument'>;
  /** Converters to use (default: created from `assetsDir` and released at the end). */
  converters?: ConverterLookup;
  /** Folder holding pdfWorker.js and pdfjs/ (default: the bundle's folder). */
  assetsDir?: string;
  /** Aborting rejects with CancelledError as soon as the current document is converted. */
  signal?: AbortSignal;
  onProgress?: (progress: EstimateProgress) => void;
}

export interface EstimateProgress {
  /** Documents looked at so far. */
  listed: number;
  /** Documents counted (they would be sent). */
  counted: number;
  unchanged: number;
  skipped: number;
  /** The document just looked at. */
  path: string;
}

export interface RunEstimate extends RunCostEstimate {
  model: string;
  /** Documents looked at (listed, or given as `paths`). */
  listed: number;
  /** Done (or dead-lettered) and unchanged since: a run does not send them, so they are not counted. */
  unchanged: number;
  /** Not counted: unsupported type, too large, unreadable, or conversion failed (with the reason). */
  skipped: Array<{ path: string; reason: string }>;
  /** False when no checkpoint store was given: documents already done were counted too. */
  storeChecked: boolean;
  /** A router job (mixed folder): the classification requests a run would make (their cost is in `cost`). */
  classification?: ClassificationEstimate;
}

/** The price a run's cost figures use: the job's, else the list price of the model, else none (free). */
export function priceFor(settings: Pick<RunSettings, 'model' | 'price'>): ModelPrice | undefined {
  return settings.price ?? defaultPriceTable.priceOf(settings.model);
}

export async function estimateRun(options: EstimateRunOptions): Promise<RunEstimate> {
  const s = options.settings;
  checkRunSettings(s);
  const { signal } = options;
  const schema = readSchemaFile(s.schemaPath);
  validateUserSchema(schema);
  // a router job: each document is counted with the job it would run with, and its classification
  const routing = s.route ? new RoutedEstimate({ ...s, route: s.route }) : undefined;
  // the fingerprint the run's pipeline computes: same schema, instructions and model
  const fingerprint = routing?.fingerprint ?? extractionFingerprint({ schema, instructions: s.instructions, model: s.model, inputMode: s.input });
  const price = priceFor(s);
  const owned = options.converters ? undefined : createConverters(options.assetsDir, s.pdf);
  const converters: ConverterLookup = options.converters ?? owned!;
  const cache = new ConvertCache(convertedCacheDirOf(s.stateDir));
  // few-shot examples: part of a document's fingerprint, and of its prompt
  const examples = examplesOf(s, converters);
  const total: RunEstimate = {
    model: s.model,
    documents: 0,
    requests: 0,
    chunkedDocuments: 0,
    tokensIn: 0,
    tokensOutEstimate: 0,
    ...(price ? { price } : {}),
    inputCost: 0,
    outputCost: 0,
    cost: 0,
    listed: 0,
    unchanged: 0,
    skipped: [],
    storeChecked: options.store !== undefined,
  };
  /** Documents to count, by the job they run with ('' for the run's own schema). */
  const batches = new Map<string, CostDocument[]>();
  const pending = (): number => [...batches.values()].reduce((n, b) => n + b.length, 0);
  const count = (): void => {
    for (const [job, batch] of batches) countBatch(batch, job ? routing!.jobs.get(job)! : { schema, instructions: s.instructions });
    batches.clear();
  };
  const countBatch = (batch: CostDocument[], job: { schema: JsonSchema; instructions?: string }): void => {
    if (!batch.length) return;
    const e = estimateRunCost({
      documents: batch,
      model: s.model,
      schema: job.schema,
      ...(job.instructions !== undefined ? { instructions: job.instructions } : {}),
      ...(price ? { price } : {}),
      // the prompt overhead of `auto` is the one of its first mode
      ...(s.mode && s.mode !== 'auto' ? { mode: s.mode } : {}),
      ...(s.contextTokens !== undefined ? { contextTokens: s.contextTokens } : {}),
      ...(s.maxOutputTokens !== undefined ? { maxOutputTokens: s.maxOutputTokens } : {}),
      ...(s.maxReasks !== undefined ? { maxReasks: s.maxReasks } : {}),
      ...(s.input !== undefined ? { input: s.input } : {}),
    });
    for (const k of ['documents', 'requests', 'chunkedDocuments', 'tokensIn', 'tokensOutEstimate', 'inputCost', 'outputCost', 'cost'] as const) total[k] += e[k];
    if (e.images) {
      total.images = (total.images ?? 0) + e.images;
      total.imageTokens = (total.imageTokens ?? 0) + (e.imageTokens ?? 0);
    }
  };
  const progress = (file: string): void =>
    options.onProgress?.({ listed: total.listed, counted: total.documents + pending(), unchanged: total.unchanged, skipped: total.skipped.length, path: file });

  try {
    for await (const file of filesOf(s, options.paths, signal)) {
      if (signal?.aborted) throw new CancelledError();
      total.listed++;
      const rejected = file.size < 0 ? 'File not found' : rejectionOf(file, converters, s.maxFileBytes);
      if (rejected) {
        total.skipped.push({ path: file.path, reason: rejected });
        progress(file.path);
        continue;
      }
      const existing = options.store?.getDocument(file.path);
      // as the pipeline decides: a listed done document is skipped, a dead letter stays where it is; a
      // document asked for by path is taken again, but its result is adopted when nothing changed
      const expected =
        existing?.stage === 'done' && existing.size === file.size && existing.mtimeMs === file.mtimeMs
          ? await expectedFingerprint(fingerprint, examples, file.path, existing.contentHash).catch(() => undefined)
          : fingerprint;
      if (
        (existing && expected !== undefined && isUnchanged(existing, file, expected) && (existing.stage === 'done' || (!options.paths && existing.stage === 'dead-lettered'))) ||
        (!options.paths && routing?.settled(existing, file))
      ) {
        total.unchanged++;
        progress(file.path);
        continue;
      }
      let doc: ConvertedDocument;
      let hash: string;
      try {
        const converter = converters.get(path.extname(file.path).toLowerCase())!;
        const source = await readSource(file.absPath, s.maxFileBytes, converter.stream?.aboveBytes);
        hash = source.contentHash;
        doc = await convertSource(converter, source, { path: file.path, absPath: file.absPath, ...(signal ? { signal } : {}) }, s.maxFileBytes, cache);
      } catch (err) {
        if (signal?.aborted) throw new CancelledError();
        const e = toExtractionError(err);
        if (e instanceof CancelledError) throw e;
        total.skipped.push({ path: file.path, reason: e instanceof ExtractionError ? `[${e.code}] ${e.message}` : String(err) });
        progress(file.path);
        continue;
      }
      const job = routing ? routing.place(file.path, doc, hash, existing) : '';
      if (job === NO_JOB) {
        total.unchanged++; // classified as no job's document for this content: a run rejects it without a request
        progress(file.path);
        continue;
      }
      const batch = batches.get(job) ?? [];
      batches.set(job, batch);
      // the examples are counted as part of the text (whole documents carry them all when they fit); a router
      // job's documents have none (see examplesOf)
      const chosen = job === '' ? await examples?.choose(file.path, doc.text) : undefined;
      const text = chosen?.examples.length ? `${doc.text}\n\n${renderExamples(chosen.examples)}` : doc.text;
      batch.push({ text, path: file.path, format: doc.format, ...(doc.pages ? { pages: doc.pages } : {}) });
      if (pending() >= BATCH) count();
      progress(file.path);
    }
    if (signal?.aborted) throw new CancelledError();
    count();
  } finally {
    await owned?.dispose();
  }
  if (routing) {
    const c = routing.totals;
    total.classification = c;
    total.requests += c.requests;
    total.cost += c.cost;
  }
  return total;
}

/** The documents a run would look at: the listing of the folder, or the given paths (stat'ed; missing ones with size -1). */
async function* filesOf(s: RunSettings, paths: readonly string[] | undefined, signal: AbortSignal | undefined): AsyncGenerator<ListedFile> {
  if (!paths) {
    yield* listFiles(s.root, { ...listOptionsOf(s), ...(signal ? { signal } : {}) });
    return;
  }
  for (const rel of paths) {
    let absPath: string;
    try {
      absPath = resolveInside(s.root, rel);
    } catch (err) {
      yield { path: rel, absPath: s.root, size: 0, mtimeMs: 0, problem: (err as Error).message }; // rejected, never read
      continue;
    }
    try {
      const st = await fsp.stat(absPath);
      yield { path: rel, absPath, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
    } catch {
      yield { path: rel, absPath, size: -1, mtimeMs: -1 };
    }
  }
}

function thousands(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A price as people read it: `0.15 / 0.60 per 1M input / output tokens`. */
export function formatPrice(p: ModelPrice): string {
  const f = (v: number): string => (v >= 1 || v === 0 ? v.toFixed(2) : String(Number(v.toPrecision(3))));
  return `${f(p.inputPer1M)} / ${f(p.outputPer1M)} per 1M input / output tokens`;
}

/** The lines that describe an estimate (the CLI prints them, the editor shows them in its dialog). */
export function describeEstimate(e: RunEstimate): string[] {
  const notCounted: string[] = [];
  if (e.unchanged) notCounted.push(`${e.unchanged} already done and unchanged`);
  if (e.skipped.length) notCounted.push(`${e.skipped.length} unsupported, too large or unreadable`);
  return [
    `Documents: ${e.documents}${notCounted.length ? ` (not counted: ${notCounted.join(', ')})` : ''}`,
    `Requests: ${e.requests}${e.chunkedDocuments ? ` (${e.chunkedDocuments} long document${e.chunkedDocuments === 1 ? '' : 's'} split into chunks)` : ''}`,
    ...(e.classification
      ? [
          `Classification: ${e.classification.requests} request${e.classification.requests === 1 ? '' : 's'} to ${e.classification.model}, ${thousands(e.classification.tokensIn)} input tokens, cost ~${e.classification.cost.toFixed(4)} (included); documents still to classify are counted with the costliest job`,
        ]
      : []),
    `Input tokens: ${thousands(e.tokensIn)}${e.images ? ` (${thousands(e.imageTokens ?? 0)} of them for ${e.images} page image${e.images === 1 ? '' : 's'}: 85 + 170 per 512-px tile, OpenAI's rule for detail "high")` : ''}`,
    `Output tokens: ~${thousands(e.tokensOutEstimate)} (estimated)`,
    e.price
      ? `Cost: ~${e.cost.toFixed(4)} (input ${e.inputCost.toFixed(4)}, output ${e.outputCost.toFixed(4)}) at ${formatPrice(e.price)}`
      : `Cost: unknown, no price known for model ${e.model} (set "price" in the job to get one)`,
    'Re-asks and retries are not included.',
    ...(e.storeChecked ? [] : ['Documents already done were counted too (the checkpoint store was not read): a run skips them, so it may cost less.']),
  ];
}
