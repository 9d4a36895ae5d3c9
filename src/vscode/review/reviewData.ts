/**
 * Everything the review of one document needs, read from disk: the result file (in a state shared by
 * machines, from the database when this machine has no result file: another machine's worker wrote it),
 * the converted text (from the converted-text cache the pipeline fills, converting again only on a miss), the schema and its
 * validator, the corrections, a pending rerun, and the grounding of what the reviewer sees. Also the
 * next/previous document for navigation. No `vscode` import.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { convertedCacheDirOf } from '../../app/session';
import { ConvertCache, sha256Hex } from '../../convert/cache';
import type { ConverterRegistry } from '../../convert/index';
import { IMAGE_EXTENSIONS } from '../../convert/ocr/imageConverter';
import { readImageInfo } from '../../convert/ocr/imageInfo';
import { DEFAULT_OCR_MAX_PIXELS } from '../../convert/ocr/ocr';
import type { ConvertedDocument } from '../../convert/types';
import { resolveInside } from '../../core/paths';
import { isActiveStage, type DocumentState } from '../../core/types';
import { readResult, resultAbsPath, type ResultFile } from '../../export/jsonExporter';
import { Grounder, type Grounding } from '../../extract/grounding';
import { createValidator, type Validator } from '../../extract/schema';
import { diffValues, groundingSchema, type GroundingView, type JsonValue, type NavFilter, type RerunView } from '../../shared/reviewProtocol';
import type { CheckpointStore } from '../../store/types';
import { CorrectionsStore, type ReviewStatus } from '../../app/corrections';

/** Converted document of a file: from the cache when the pipeline saved it, else converted (and saved). */
export async function loadConverted(
  registry: ConverterRegistry,
  cacheDir: string,
  docPath: string,
  absPath: string,
): Promise<ConvertedDocument> {
  const converter = registry.get(path.extname(docPath));
  if (!converter) throw new Error(`No converter for "${path.extname(docPath) || docPath}" files`);
  const bytes = new Uint8Array(await fsp.readFile(absPath));
  const cache = new ConvertCache(cacheDir);
  return cache.getOrConvert(converter, { path: docPath, absPath, bytes }, sha256Hex(bytes));
}

/** Whether a document is an image file (shown as the image, with its OCR boxes, in review). */
export function isImageDocument(docPath: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(docPath).toLowerCase());
}

/**
 * Format and pages (pixel sizes: the unit of the OCR word boxes) of an image document: the converter's
 * when it converted it, else read from the file's header (a document OCR failed on is still shown).
 * Throws what reading the header throws (CORRUPT_INPUT, TOO_LARGE, …).
 */
export function imagePages(converted: ConvertedDocument | undefined, absPath: string, docPath: string): { format: string; pages: { page: number; width: number; height: number }[] } {
  const pages = (converted?.pages ?? []).filter((p) => p.width && p.height).map((p) => ({ page: p.page, width: p.width!, height: p.height! }));
  const type = converted?.meta?.imageType;
  if (converted?.format === 'image' && pages.length && typeof type === 'string') return { format: type, pages };
  const info = readImageInfo(new Uint8Array(fs.readFileSync(absPath)), docPath, DEFAULT_OCR_MAX_PIXELS);
  return { format: info.type, pages: info.pages.map((p, i) => ({ page: i + 1, width: p.width, height: p.height })) };
}

// ---------------------------------------------------------------------------------------------
// rerun backups: the previous result, kept until the reviewer accepts or rejects the new one

export const RERUN_DIR = 'review-reruns';

export interface RerunBackup {
  formatVersion: 1;
  source: string;
  startedAt: string;
  instruction?: string;
  /** The previous result file's text, or null when there was none. */
  previous: string | null;
}

export function rerunBackupFile(stateDir: string, docPath: string): string {
  return resolveInside(path.join(stateDir, RERUN_DIR), `${docPath}.json`);
}

export function loadRerunBackup(stateDir: string, docPath: string): RerunBackup | undefined {
  try {
    const b = JSON.parse(fs.readFileSync(rerunBackupFile(stateDir, docPath), 'utf8')) as RerunBackup;
    return b.formatVersion === 1 && b.source === docPath ? b : undefined;
  } catch {
    return undefined;
  }
}

export function saveRerunBackup(stateDir: string, backup: RerunBackup): void {
  const file = rerunBackupFile(stateDir, backup.source);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(backup, null, 2) + '\n');
}

export function deleteRerunBackup(stateDir: string, docPath: string): void {
  fs.rmSync(rerunBackupFile(stateDir, docPath), { force: true });
}

/**
 * The rerun state shown for a document, derived from its backup, its stage and its result: `diff` once a
 * new result (another run) is on disk, `running` while the folder's run may still produce one, `failed`
 * otherwise.
 */
export function rerunState(backup: RerunBackup | undefined, doc: DocumentState | undefined, result: ResultFile | undefined, running: boolean): RerunView | undefined {
  if (!backup) return undefined;
  const instruction = backup.instruction ? { instruction: backup.instruction } : {};
  let previous: ResultFile | undefined;
  try {
    previous = backup.previous ? (JSON.parse(backup.previous) as ResultFile) : undefined;
  } catch {
    previous = undefined;
  }
  const fresh = !!result && (!previous || result.metadata.runId !== previous.metadata?.runId || result.metadata.finishedAt !== previous.metadata?.finishedAt);
  const stage = doc?.stage;
  if ((stage && isActiveStage(stage)) || (running && !(fresh && stage === 'done'))) return { state: 'running', ...instruction };
  if (fresh && result && stage === 'done') {
    const before = (previous?.data ?? null) as JsonValue;
    const after = result.data as JsonValue;
    // no previous result: every field is new
    const changes = before === null && after !== null && typeof after === 'object' ? diffValues(Array.isArray(after) ? [] : {}, after) : diffValues(before, after);
    return { state: 'diff', ...instruction, changes, before, after };
  }
  const why = doc?.lastError && stage !== 'done' ? `[${doc.lastError.code}] ${doc.lastError.message}` : 'it ended without a new result';
  return { state: 'failed', message: `The rerun failed: ${why}. The previous result is unchanged.` };
}

// ---------------------------------------------------------------------------------------------
// one document

/** The result file of a document, else (a state shared by machines) its result in the state database. */
export async function readStoredResult(store: CheckpointStore | undefined, outDir: string, docPath: string): Promise<ResultFile | undefined> {
  return (await readResult(outDir, docPath)) ?? (await store?.results?.get(docPath));
}

export interface ReviewDataOptions {
  root: string;
  outDir: string;
  stateDir: string;
  docPath: string;
  schemaPath: string | undefined;
  /** The folder's store now (it is opened again when the window takes or gives back its lock). */
  store: () => CheckpointStore | undefined;
  registry: ConverterRegistry;
  corrections: CorrectionsStore;
  /** Whether a run is active in the folder (a pending rerun is then still "running"). */
  running: () => boolean;
}

/** The loaded review of one document. */
export class ReviewData {
  readonly absPath: string;
  result: ResultFile | undefined;
  converted: ConvertedDocument | undefined;
  convertError: string | undefined;
  schema: Record<string, unknown> = {};
  schemaError: string | undefined;
  validator: Validator | undefined;
  doc: DocumentState | undefined;
  #grounder: Grounder | undefined;
  /** Content hash of the result the converted text was loaded for. */
  #convertedHash: string | undefined;

  private constructor(readonly o: ReviewDataOptions) {
    this.absPath = resolveInside(o.root, o.docPath);
  }

  static async load(o: ReviewDataOptions): Promise<ReviewData> {
    const d = new ReviewData(o);
    await d.reload();
    return d;
  }

  get docPath(): string {
    return this.o.docPath;
  }

  get resultFile(): string {
    return resultAbsPath(this.o.outDir, this.o.docPath);
  }

  /** Reads result, store state, schema and converted text again. */
  async reload(): Promise<void> {
    const o = this.o;
    const store = o.store();
    this.result = await readStoredResult(store, o.outDir, o.docPath);
    this.doc = store?.getDocument(o.docPath);
    this.schemaError = undefined;
    this.validator = undefined;
    this.schema = {};
    if (o.schemaPath) {
      try {
        this.schema = JSON.parse(await fsp.readFile(o.schemaPath, 'utf8')) as Record<string, unknown>;
        this.validator = createValidator(this.schema);
      } catch (err) {
        this.schemaError = `The schema ${o.schemaPath} cannot be used: ${(err as Error).message}`;
      }
    }
    if (!this.converted || this.result?.metadata.contentHash !== this.#convertedHash) {
      try {
        this.converted = await loadConverted(o.registry, convertedCacheDirOf(o.stateDir), o.docPath, this.absPath);
        this.#convertedHash = this.result?.metadata.contentHash;
        this.convertError = undefined;
        this.#grounder = undefined;
      } catch (err) {
        this.converted = undefined;
        this.convertError = (err as Error).message;
      }
    }
  }

  /** Grounding of `data` (the corrected data when there are corrections, else the model's). */
  grounding(data: unknown, corrected: boolean): GroundingView | null {
    if (!corrected && this.result?.grounding !== undefined) {
      const stored = groundingSchema.safeParse(this.result.grounding);
      if (stored.success) return stored.data;
    }
    if (!this.converted || data === null || data === undefined) return null;
    this.#grounder ??= new Grounder(this.converted);
    return this.#grounder.ground(data) satisfies Grounding;
  }

  review(): ReturnType<CorrectionsStore['info']> {
    return this.o.corrections.info(this.o.docPath, this.result);
  }

  rerun(): RerunView | undefined {
    return rerunState(loadRerunBackup(this.o.stateDir, this.o.docPath), this.doc, this.result, this.o.running());
  }

  /** Validator messages for `data`, or [] when it is valid or there is no schema. */
  validate(data: unknown): string[] {
    if (!this.validator) return [];
    const r = this.validator(data);
    return r.ok ? [] : r.errors;
  }
}

// ---------------------------------------------------------------------------------------------
// navigation

/** Documents that can be reviewed: extracted, or given up on. */
export const REVIEWABLE_STAGES = ['done', 'dead-lettered', 'failed'] as const;

function reviewable(store: CheckpointStore): DocumentState[] {
  const out: DocumentState[] = [];
  const page = 1000;
  for (let offset = 0; ; offset += page) {
    const rows = store.listDocuments({ stages: REVIEWABLE_STAGES, offset, limit: page });
    for (const r of rows) if (r.readiness !== 'rejected') out.push(r);
    if (rows.length < page) break;
  }
  return out;
}

export interface NavContext {
  store: CheckpointStore;
  outDir: string;
  status: (docPath: string) => ReviewStatus | undefined;
}

function ungrounded(outDir: string, docPath: string): boolean {
  try {
    const r = JSON.parse(fs.readFileSync(resultAbsPath(outDir, docPath), 'utf8')) as ResultFile;
    const g = groundingSchema.safeParse(r.grounding);
    return g.success && g.data.summary.ungrounded > 0;
  } catch {
    return false;
  }
}

export function matchesFilter(ctx: NavContext, doc: DocumentState, filter: NavFilter): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'failed':
      return doc.stage !== 'done';
    case 'unreviewed':
      return !ctx.status(doc.path)?.reviewed;
    case 'ungrounded':
      return doc.stage === 'done' && ungrounded(ctx.outDir, doc.path);
  }
}

/** The next / previous reviewable document after `current` (wrapping around) that passes `filter`. */
export function neighbour(ctx: NavContext, current: string, direction: 'next' | 'previous', filter: NavFilter): string | undefined {
  const docs = reviewable(ctx.store);
  if (!docs.length) return undefined;
  let i = docs.findIndex((d) => d.path === current);
  if (i < 0) {
    // not reviewable itself: start from where it would sort
    i = docs.findIndex((d) => d.path > current);
    if (i < 0) i = docs.length;
    if (direction === 'next') i--;
  }
  for (let step = 1; step <= docs.length; step++) {
    const j = (((direction === 'next' ? i + step : i - step) % docs.length) + docs.length) % docs.length;
    const d = docs[j];
    if (d.path !== current && matchesFilter(ctx, d, filter)) return d.path;
  }
  return undefined;
}

/** Position of a document among the reviewable ones (0-based index; total). */
export function position(store: CheckpointStore | undefined, docPath: string): { index: number; total: number } {
  if (!store) return { index: 0, total: 0 };
  const docs = reviewable(store);
  return { index: Math.max(0, docs.findIndex((d) => d.path === docPath)), total: docs.length };
}
