/**
 * Reviewer corrections, stored apart from the model's output and reflected in the result file.
 *
 * Storage: one file per document, `<stateDir>/corrections/<document path>.json`:
 *
 *   {
 *     "formatVersion": 1,
 *     "source": "invoices/a.pdf",
 *     "base": { "runId", "contentHash", "fingerprint" },   // the result the last correction was made on
 *     "reviewed": { "at": ISO time, "by": user } | absent,
 *     "corrections": [ { "version": 1, "at", "by", "op": "set"|"add"|"remove", "pointer": "/total",
 *                        "value"?: new value, "previous"?: value before } … ],   // in effect, oldest first
 *     "undone": [ … ],                                      // undone corrections, kept for the record
 *     "nextVersion": 4
 *   }
 *
 * Corrections are operations on JSON Pointers, replayed on the model's `data` every time: after a rerun
 * the reviewer's corrections still apply to the new output (operations whose target is gone are skipped
 * and reported). A small index, `<stateDir>/corrections/index.json` (`{ path: { reviewed, corrections } }`),
 * lets the Documents tree show the review state without reading every file.
 *
 * The result file (`<out>/<document path>.json`) keeps the model's output in `data` and gains:
 *
 *   "corrected": data with the corrections applied      (only while corrections are in effect)
 *   "review": { "reviewed", "reviewedAt"?, "reviewedBy"?, "corrections", "correctedFields": [pointers],
 *               "lastCorrectedAt"?, "lastCorrectedBy"?, "correctionsFile": path relative to the folder }
 *
 * No `vscode` import: plain Node, usable from tests and the CLI.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveInside } from '../core/paths';
import { readResult, writeFileAtomic, writeResult, type ResultFile } from '../export/jsonExporter';
import type { SharedResults } from '../store/types';
import { applyCorrection, ProtocolError, type CorrectionOp, type JsonValue, type ReviewInfo } from '../shared/reviewProtocol';

export const CORRECTIONS_FORMAT_VERSION = 1;
export const CORRECTIONS_DIR = 'corrections';

export interface CorrectionEntry {
  /** Increases with every correction of the document (never reused, also not after an undo). */
  version: number;
  at: string;
  by: string;
  op: CorrectionOp;
  pointer: string;
  value?: JsonValue;
  previous?: JsonValue;
}

export interface CorrectionsFile {
  formatVersion: typeof CORRECTIONS_FORMAT_VERSION;
  source: string;
  base?: { runId: string; contentHash: string; fingerprint: string };
  reviewed?: { at: string; by: string };
  corrections: CorrectionEntry[];
  undone: CorrectionEntry[];
  nextVersion: number;
}

/** The review block written into result files. */
export interface ResultReview {
  reviewed: boolean;
  reviewedAt?: string;
  reviewedBy?: string;
  corrections: number;
  correctedFields: string[];
  lastCorrectedAt?: string;
  lastCorrectedBy?: string;
  correctionsFile: string;
}

/** A result file with the review fields this module adds. */
export type ReviewedResultFile = ResultFile & { corrected?: unknown; review?: ResultReview };

export interface ReviewStatus {
  reviewed: boolean;
  corrections: number;
}

export interface Replayed {
  data: JsonValue;
  applied: CorrectionEntry[];
  skipped: { entry: CorrectionEntry; reason: string }[];
}

/** Replays corrections on the model's data. */
export function replay(modelData: JsonValue, corrections: readonly CorrectionEntry[]): Replayed {
  let data = modelData;
  const applied: CorrectionEntry[] = [];
  const skipped: Replayed['skipped'] = [];
  for (const c of corrections) {
    try {
      data = applyCorrection(data, c.op, c.pointer, c.value);
      applied.push(c);
    } catch (err) {
      skipped.push({ entry: c, reason: err instanceof ProtocolError ? err.message : String(err) });
    }
  }
  return { data, applied, skipped };
}

export function currentUser(): string {
  try {
    return os.userInfo().username || process.env.USER || 'unknown';
  } catch {
    return process.env.USER || process.env.USERNAME || 'unknown';
  }
}

export interface CorrectionsStoreOptions {
  /** Author of corrections (default: the OS user name). */
  author?: () => string;
  now?: () => Date;
}

/** Corrections of the documents of one folder (`<stateDir>/corrections`). */
export class CorrectionsStore {
  readonly dir: string;
  readonly #author: () => string;
  readonly #now: () => Date;
  #index: Record<string, ReviewStatus> | undefined;

  constructor(
    readonly stateDir: string,
    options: CorrectionsStoreOptions = {},
  ) {
    this.dir = path.join(stateDir, CORRECTIONS_DIR);
    this.#author = options.author ?? currentUser;
    this.#now = options.now ?? (() => new Date());
  }

  fileOf(docPath: string): string {
    return resolveInside(this.dir, `${docPath}.json`);
  }

  /** The corrections file of a document, or undefined (absent or unreadable). */
  load(docPath: string): CorrectionsFile | undefined {
    try {
      const f = JSON.parse(fs.readFileSync(this.fileOf(docPath), 'utf8')) as CorrectionsFile;
      if (f.formatVersion !== CORRECTIONS_FORMAT_VERSION || f.source !== docPath || !Array.isArray(f.corrections)) return undefined;
      f.undone ??= [];
      f.nextVersion ??= Math.max(0, ...f.corrections.map((c) => c.version), ...f.undone.map((c) => c.version)) + 1;
      return f;
    } catch {
      return undefined;
    }
  }

  #empty(docPath: string): CorrectionsFile {
    return { formatVersion: CORRECTIONS_FORMAT_VERSION, source: docPath, corrections: [], undone: [], nextVersion: 1 };
  }

  #save(file: CorrectionsFile): void {
    writeFileAtomic(this.fileOf(file.source), JSON.stringify(file, null, 2) + '\n');
    this.#setIndex(file.source, { reviewed: !!file.reviewed, corrections: file.corrections.length });
  }

  /** Review state of a document for the tree (from the index; undefined when never reviewed or corrected). */
  status(docPath: string): ReviewStatus | undefined {
    return this.#readIndex()[docPath];
  }

  #readIndex(): Record<string, ReviewStatus> {
    if (!this.#index) {
      try {
        this.#index = JSON.parse(fs.readFileSync(path.join(this.dir, 'index.json'), 'utf8')) as Record<string, ReviewStatus>;
      } catch {
        this.#index = {};
      }
    }
    return this.#index;
  }

  #setIndex(docPath: string, status: ReviewStatus): void {
    const index = { ...this.#readIndex() };
    if (!status.reviewed && !status.corrections) delete index[docPath];
    else index[docPath] = status;
    this.#index = index;
    writeFileAtomic(path.join(this.dir, 'index.json'), JSON.stringify(index, null, 1) + '\n', { fsync: false });
  }

  /** The documents a person corrected or marked reviewed (from the index), sorted. */
  checkedPaths(): string[] {
    return Object.entries(this.#readIndex())
      .filter(([, st]) => st.reviewed || st.corrections > 0)
      .map(([p]) => p)
      .sort();
  }

  /** Forgets the cached index (another window may have written it). */
  refresh(): void {
    this.#index = undefined;
  }

  /** Records a correction (after the caller checked that it applies and validates). */
  add(docPath: string, base: ResultFile | undefined, op: CorrectionOp, pointer: string, value: JsonValue | undefined, previous: JsonValue | undefined): CorrectionsFile {
    const file = this.load(docPath) ?? this.#empty(docPath);
    const entry: CorrectionEntry = {
      version: file.nextVersion++,
      at: this.#now().toISOString(),
      by: this.#author(),
      op,
      pointer,
      ...(value !== undefined ? { value } : {}),
      ...(previous !== undefined ? { previous } : {}),
    };
    file.corrections.push(entry);
    if (base) file.base = { runId: base.metadata.runId, contentHash: base.metadata.contentHash, fingerprint: base.metadata.fingerprint };
    this.#save(file);
    return file;
  }

  /** Records that the corrections now apply to `result` (after the reviewer accepted a rerun). */
  rebase(docPath: string, result: ResultFile): void {
    const file = this.load(docPath);
    if (!file) return;
    file.base = { runId: result.metadata.runId, contentHash: result.metadata.contentHash, fingerprint: result.metadata.fingerprint };
    this.#save(file);
  }

  /** Undoes the last correction in effect; returns it, or undefined when there is none. */
  undo(docPath: string): CorrectionEntry | undefined {
    const file = this.load(docPath);
    const last = file?.corrections.pop();
    if (!file || !last) return undefined;
    file.undone.push(last);
    this.#save(file);
    return last;
  }

  setReviewed(docPath: string, reviewed: boolean): CorrectionsFile {
    const file = this.load(docPath) ?? this.#empty(docPath);
    if (reviewed) file.reviewed = { at: this.#now().toISOString(), by: this.#author() };
    else delete file.reviewed;
    this.#save(file);
    return file;
  }

  /** The review state shown in the webview, for a result (or none). */
  info(docPath: string, result: ResultFile | undefined, file = this.load(docPath)): { info: ReviewInfo; data: JsonValue; replayed: Replayed } {
    const modelData = (result?.data ?? null) as JsonValue;
    const replayed = replay(modelData, file?.corrections ?? []);
    const last = replayed.applied[replayed.applied.length - 1];
    const stale = file?.base && result && (file.base.contentHash !== result.metadata.contentHash || file.base.runId !== result.metadata.runId);
    const notices: string[] = [];
    if (stale && replayed.applied.length) notices.push('These corrections were made on an earlier result of this document and have been applied to the current one.');
    if (replayed.skipped.length) notices.push(`${replayed.skipped.length} correction${replayed.skipped.length === 1 ? '' : 's'} no longer apply to the current result: ${replayed.skipped.map((s) => s.entry.pointer).join(', ')}.`);
    const info: ReviewInfo = {
      reviewed: !!file?.reviewed,
      ...(file?.reviewed ? { reviewedAt: file.reviewed.at, reviewedBy: file.reviewed.by } : {}),
      corrections: replayed.applied.length,
      ...(last ? { lastCorrectionAt: last.at, lastCorrectionBy: last.by } : {}),
      correctedPointers: [...new Set(replayed.applied.map((c) => c.pointer))],
      skipped: replayed.skipped.length,
      ...(notices.length ? { notice: notices.join(' ') } : {}),
    };
    return { info, data: replayed.data, replayed };
  }

  /**
   * Writes the corrections into the result file: `corrected` + `review` (both removed again when nothing
   * is corrected or reviewed); `data` stays the model's. Returns the result written, or undefined when
   * the document has no result (no file, nor one in `shared`).
   *
   * With `shared` (a state shared by machines): the result stored there gets the same fields, and a
   * document whose result file is not here (a worker on another machine wrote it) is corrected there only.
   */
  async exportToResult(root: string, outDir: string, docPath: string, shared?: SharedResults): Promise<ReviewedResultFile | undefined> {
    const local = (await readResult(outDir, docPath)) as ReviewedResultFile | undefined;
    const result = local ?? ((await shared?.get(docPath)) as ReviewedResultFile | undefined);
    if (!result) return undefined;
    const file = this.load(docPath);
    const { info, data } = this.info(docPath, result, file);
    const next: ReviewedResultFile = { ...result };
    delete next.corrected;
    delete next.review;
    if (info.corrections > 0) next.corrected = data;
    if (info.corrections > 0 || info.reviewed) {
      next.review = {
        reviewed: info.reviewed,
        ...(info.reviewedAt ? { reviewedAt: info.reviewedAt } : {}),
        ...(info.reviewedBy ? { reviewedBy: info.reviewedBy } : {}),
        corrections: info.corrections,
        correctedFields: info.correctedPointers,
        ...(info.lastCorrectionAt ? { lastCorrectedAt: info.lastCorrectionAt } : {}),
        ...(info.lastCorrectionBy ? { lastCorrectedBy: info.lastCorrectionBy } : {}),
        correctionsFile: path.relative(root, this.fileOf(docPath)).split(path.sep).join('/'),
      };
    }
    if (local) await writeResult(outDir, next);
    await shared?.replace(next);
    return next;
  }
}
