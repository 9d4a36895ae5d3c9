/**
 * The documents of a dataset export, read a batch at a time (nothing of the whole set is kept but the list
 * of paths): the result files of the output folder, with the reviewer's corrections applied, and — with
 * status — every document of the checkpoint store, results or not. A state shared by machines (PostgreSQL)
 * also holds the results: a document whose result file is not in the output folder here (a worker on
 * another machine wrote it) is read from the database, one request per batch.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { replay, type CorrectionsStore, type ReviewedResultFile } from '../app/corrections';
import type { JsonValue } from '../shared/reviewProtocol';
import type { CheckpointStore } from '../store/types';
import { readResult } from './jsonExporter';

/** Where a document stands (the `--with-status` columns). */
export interface DatasetStatus {
  /** A pipeline stage (`done`, `failed`, `dead-lettered`, `pending`…) or `rejected`. */
  stage: string;
  attempts: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  model: string | null;
  finishedAt: string | null;
  /** Reviewer corrections in effect. */
  corrections: number;
  reviewed: boolean;
}

export interface DatasetRecord {
  /** The document's path, relative to the folder, with `/`. */
  source: string;
  /** The reviewer's corrected data when corrections are in effect, else the model's; absent without a result. */
  data?: unknown;
  hasResult: boolean;
  status: DatasetStatus;
}

export interface DatasetSourceOptions {
  /** The output folder with the result files (`<out>/<document path>.json`); none: the store's results only. */
  outDir?: string;
  /** The folder's checkpoint store: stages and errors, and documents without a result. */
  store?: CheckpointStore;
  /** The folder's corrections (`<state>/corrections`); without it, the `corrected` field of result files is used. */
  corrections?: CorrectionsStore;
  /** Also list documents that have no result (they come from the store). */
  withStatus?: boolean;
}

const PAGE = 5000;
/** Documents read at a time: their result files together, and the stored results of those without one in one request. */
const BATCH = 200;

/** Relative paths (with `/`) of the `*.json` files under `dir`, dot folders and dot files left out. */
async function jsonFilesUnder(dir: string, rel = '', out: string[] = []): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(path.join(dir, rel), { withFileTypes: true });
  } catch (err) {
    if (!rel && (err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) await jsonFilesUnder(dir, p, out);
    else if (e.isFile() && e.name.endsWith('.json')) out.push(p);
  }
  return out;
}

/** The documents of an export, in path order; each read when it is reached, so the set can be read again. */
export class DatasetSource {
  readonly #o: DatasetSourceOptions;
  #paths: string[] | undefined;

  constructor(options: DatasetSourceOptions) {
    this.#o = options;
  }

  /** Document paths: those with a result file, and with status every document the store knows. */
  async paths(): Promise<string[]> {
    if (this.#paths) return this.#paths;
    const set = new Set(this.#o.outDir ? (await jsonFilesUnder(this.#o.outDir)).map((p) => p.slice(0, -'.json'.length)) : []);
    const store = this.#o.store;
    for (const p of (await store?.results?.paths()) ?? []) set.add(p);
    if (this.#o.withStatus && store) {
      for (let offset = 0; ; offset += PAGE) {
        const page = store.listDocuments({ offset, limit: PAGE });
        for (const d of page) set.add(d.path);
        if (page.length < PAGE) break;
      }
    }
    this.#paths = [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.#paths;
  }

  async *records(): AsyncGenerator<DatasetRecord> {
    const all = await this.paths();
    for (let i = 0; i < all.length; i += BATCH) {
      const batch = all.slice(i, i + BATCH);
      const outDir = this.#o.outDir;
      const files = await Promise.all(batch.map((p) => (outDir ? readResult(outDir, p).catch(() => undefined) : undefined)));
      // the documents without a result file here: their stored results, in one request per batch
      const missing = batch.filter((_, k) => !files[k]);
      const stored = missing.length ? await this.#o.store?.results?.getMany(missing) : undefined;
      for (let k = 0; k < batch.length; k++) {
        const record = this.#read(batch[k], (files[k] ?? stored?.get(batch[k])) as ReviewedResultFile | undefined);
        if (record && (record.hasResult || this.#o.withStatus)) yield record;
      }
    }
  }

  #read(source: string, result: ReviewedResultFile | undefined): DatasetRecord | undefined {
    const doc = this.#o.store?.getDocument(source);
    if (!result && !doc) return undefined; // a JSON file that is no result (or not this document's)
    let data: unknown = result?.data;
    let corrections = result?.review?.corrections ?? 0;
    let reviewed = result?.review?.reviewed ?? false;
    const file = this.#o.corrections?.load(source);
    if (file) {
      reviewed = !!file.reviewed;
      corrections = 0;
      if (result) {
        // replayed on the model's data every time: after a rerun they still win over the new output
        const replayed = replay((result.data ?? null) as JsonValue, file.corrections);
        data = replayed.data;
        corrections = replayed.applied.length;
      }
    } else if (result && result.corrected !== undefined) {
      data = result.corrected;
    }
    const rejected = doc?.readiness === 'rejected';
    return {
      source,
      ...(result ? { data } : {}),
      hasResult: !!result,
      status: {
        stage: rejected ? 'rejected' : (doc?.stage ?? 'done'),
        attempts: doc ? doc.attempts : (result?.metadata.attempts ?? null),
        errorCode: doc?.lastError?.code ?? (rejected ? 'REJECTED' : null),
        errorMessage: doc?.lastError?.message ?? (rejected ? (doc?.rejectReason ?? null) : null),
        model: result?.metadata.model ?? null,
        finishedAt: result?.metadata.finishedAt ?? null,
        corrections,
        reviewed,
      },
    };
  }
}
