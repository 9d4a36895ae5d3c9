/**
 * Where the two sides of an evaluation come from:
 *  - results: the result files of an output folder (`<out>/<document path>.json`, src/export/jsonExporter.ts);
 *    the evaluated value is always the model's `data`, never the reviewer's `corrected` copy;
 *  - truth, a folder: `<truth>/<document path>.json`, each an object or a one-element array;
 *  - truth, the corrections: the documents a person corrected or marked reviewed, their truth being the
 *    model's data with the corrections applied (from the state folder's corrections store when one is
 *    given, else from the `corrected`/`review` fields the review panel writes into result files).
 *
 * Bad input is an {@link ExtractionError}: FILE_MISSING for a missing folder, CORRUPT_INPUT naming a truth
 * file that is not JSON or not an object. Unreadable result files are skipped and reported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, ExtractionError } from '../core/errors';
import { RESULT_FORMAT_VERSION } from '../export/jsonExporter';
import { CorrectionsStore, replay, type ReviewedResultFile } from '../app/corrections';
import type { JsonValue } from '../shared/reviewProtocol';
import { isPlainObject } from './normalise';
import type { EvalCase } from './score';

export interface LoadedResults {
  /** By document path (the result's `source`). */
  results: Map<string, ReviewedResultFile>;
  /** Result-folder files that are not readable results (relative paths, with the reason). */
  unreadable: { file: string; reason: string }[];
}

export interface EvalInput {
  cases: EvalCase[];
  /** Documents with a truth but no result (scored as missing). */
  withoutResult: string[];
  /** Results without a truth (not scored). */
  withoutTruth: string[];
  unreadable: LoadedResults['unreadable'];
}

function requireFolder(dir: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new ExtractionError(ErrorCodes.FILE_MISSING, `${what} not found: ${dir}`, { retryable: false });
  }
  if (!st.isDirectory()) throw new ExtractionError(ErrorCodes.FILE_MISSING, `${what} is not a folder: ${dir}`, { retryable: false });
}

/** `.json` files under `dir` (relative, `/`-separated), skipping hidden files and folders (temp files, state). */
function jsonFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && e.name.endsWith('.json')) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** The result files of an output folder. */
export function loadResults(outDir: string): LoadedResults {
  requireFolder(outDir, 'Results folder');
  const results = new Map<string, ReviewedResultFile>();
  const unreadable: LoadedResults['unreadable'] = [];
  for (const file of jsonFiles(outDir)) {
    let r: ReviewedResultFile;
    try {
      r = JSON.parse(fs.readFileSync(path.join(outDir, file), 'utf8')) as ReviewedResultFile;
    } catch (err) {
      unreadable.push({ file, reason: `not JSON (${(err as Error).message})` });
      continue;
    }
    if (!isPlainObject(r) || r.formatVersion !== RESULT_FORMAT_VERSION || typeof r.source !== 'string') {
      unreadable.push({ file, reason: 'not an extraction result file (no formatVersion/source)' });
      continue;
    }
    results.set(r.source, r);
  }
  return { results, unreadable };
}

/** The truth files of a folder, by document path (`<truth>/<document path>.json`). */
export function loadTruthFolder(truthDir: string): Map<string, unknown> {
  requireFolder(truthDir, 'Truth folder');
  const truth = new Map<string, unknown>();
  for (const file of jsonFiles(truthDir)) {
    const abs = path.join(truthDir, file);
    let v: unknown;
    try {
      v = JSON.parse(fs.readFileSync(abs, 'utf8'));
    } catch (err) {
      throw new ExtractionError(ErrorCodes.CORRUPT_INPUT, `Truth file ${abs} is not JSON: ${(err as Error).message}`, { retryable: false });
    }
    if (Array.isArray(v) && v.length === 1) v = v[0];
    if (!isPlainObject(v)) throw new ExtractionError(ErrorCodes.CORRUPT_INPUT, `Truth file ${abs} is not a JSON object (or a one-element array of one)`, { retryable: false });
    truth.set(file.slice(0, -'.json'.length), v);
  }
  return truth;
}

/** Pairs truth and results by document path. */
export function matchCases(truth: Map<string, unknown>, loaded: LoadedResults): EvalInput {
  const cases: EvalCase[] = [];
  const withoutResult: string[] = [];
  for (const [source, expected] of [...truth].sort((a, b) => a[0].localeCompare(b[0]))) {
    const r = loaded.results.get(source);
    if (!r) withoutResult.push(source);
    cases.push({ source, expected, actual: r ? r.data : undefined });
  }
  const withoutTruth = [...loaded.results.keys()].filter((s) => !truth.has(s)).sort();
  return { cases, withoutResult, withoutTruth, unreadable: loaded.unreadable };
}

/**
 * Truth from the reviewers: the documents with corrections or marked reviewed. With `stateDir`, read from
 * its corrections store (corrections replayed on the result's model data); else from the result files'
 * `corrected` and `review` fields.
 */
export function correctionsTruth(loaded: LoadedResults, stateDir?: string): Map<string, unknown> {
  const truth = new Map<string, unknown>();
  if (stateDir) {
    requireFolder(stateDir, 'State folder');
    const store = new CorrectionsStore(stateDir);
    for (const [source, r] of loaded.results) {
      const status = store.status(source);
      if (!status?.reviewed && !status?.corrections) continue;
      const file = store.load(source);
      if (!file || (!file.reviewed && !file.corrections.length)) continue;
      truth.set(source, replay((r.data ?? null) as JsonValue, file.corrections).data);
    }
    return truth;
  }
  for (const [source, r] of loaded.results) {
    if (!r.review || (!r.review.reviewed && !r.review.corrections)) continue;
    truth.set(source, r.corrected !== undefined ? r.corrected : r.data);
  }
  return truth;
}
