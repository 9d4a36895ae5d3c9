/**
 * Accuracy of one run against the reviewers' corrections, for the Run Dashboard's comparison.
 *
 * A result folder keeps only the latest result of each document, so the results of the *checked*
 * documents (corrected or marked reviewed: the test set) are kept per run in the state folder,
 * `<state>/eval-snapshots/<run id>/<document path>.json` ({@link snapshotCheckedResults}: the session
 * takes them when a run starts, before it overwrites anything, and when it ends). They are small: the
 * model's data and the cost figures of the checked documents only.
 *
 * A run's values of a document: its snapshot, else the current result when that run wrote it. The truth
 * of a document: the result the corrections were made on (the corrections' base run; for a document only
 * marked reviewed, the latest result finished before it was) with the corrections applied. Scored like
 * `eval --truth corrections` (src/eval/score.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CorrectionsStore, replay, type CorrectionsFile } from '../app/corrections';
import { resolveInside } from '../core/paths';
import { resultAbsPath, writeFileAtomic, type ResultFile } from '../export/jsonExporter';
import type { JsonValue } from '../shared/reviewProtocol';
import { DEFAULT_NORMALISE } from './normalise';
import { scoreCases, type EvalCase, type FieldStats } from './score';

export const SNAPSHOTS_DIR = 'eval-snapshots';

/** What a snapshot keeps of a result. */
export interface ResultSnapshot {
  source: string;
  data: unknown;
  metadata: Pick<ResultFile['metadata'], 'runId' | 'model' | 'cost' | 'tokensIn' | 'tokensOut' | 'startedAt' | 'finishedAt'>;
}

export interface RunAccuracy {
  /** Checked documents that have a value of this run. */
  documents: number;
  overall: FieldStats;
  fields: Record<string, FieldStats>;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function currentResult(outDir: string, docPath: string): ResultFile | undefined {
  const r = readJson<ResultFile>(resultAbsPath(outDir, docPath));
  return r && r.source === docPath && r.metadata && typeof r.metadata.runId === 'string' ? r : undefined;
}

function snapshotFile(stateDir: string, runId: string, docPath: string): string {
  return resolveInside(path.join(stateDir, SNAPSHOTS_DIR, runId), `${docPath}.json`);
}

/**
 * Keeps the current result of every checked document under the run that wrote it (once per run and
 * document). Synchronous: called when a run starts, before its first result is written. Returns the
 * snapshots written.
 */
export function snapshotCheckedResults(stateDir: string, outDir: string): number {
  let written = 0;
  for (const docPath of new CorrectionsStore(stateDir).checkedPaths()) {
    const r = currentResult(outDir, docPath);
    if (!r || !/^[\w.-]+$/.test(r.metadata.runId)) continue;
    const file = snapshotFile(stateDir, r.metadata.runId, docPath);
    if (fs.existsSync(file)) continue;
    const m = r.metadata;
    const snap: ResultSnapshot = {
      source: docPath,
      data: r.data,
      metadata: { runId: m.runId, model: m.model, cost: m.cost, tokensIn: m.tokensIn, tokensOut: m.tokensOut, startedAt: m.startedAt, finishedAt: m.finishedAt },
    };
    writeFileAtomic(file, JSON.stringify(snap) + '\n', { fsync: false });
    written++;
  }
  return written;
}

/** Every known result of a document: its snapshots and the current result. */
function resultsOf(stateDir: string, outDir: string, docPath: string, runIds: readonly string[]): ResultSnapshot[] {
  const out: ResultSnapshot[] = [];
  for (const runId of runIds) {
    const s = readJson<ResultSnapshot>(snapshotFile(stateDir, runId, docPath));
    if (s && s.source === docPath) out.push(s);
  }
  const current = currentResult(outDir, docPath);
  if (current && !out.some((s) => s.metadata.runId === current.metadata.runId)) out.push({ source: docPath, data: current.data, metadata: current.metadata });
  return out;
}

/** The result the reviewer checked: the corrections' base run, else the latest finished before the review. */
function checkedResult(file: CorrectionsFile, results: readonly ResultSnapshot[]): ResultSnapshot | undefined {
  const base = file.base?.runId;
  const byBase = base ? results.find((r) => r.metadata.runId === base) : undefined;
  if (byBase) return byBase;
  const at = file.reviewed?.at;
  const before = results.filter((r) => !at || r.metadata.finishedAt <= at).sort((x, y) => (x.metadata.finishedAt < y.metadata.finishedAt ? 1 : -1));
  return before[0] ?? results[results.length - 1];
}

/** Accuracy of run `runId` on the checked documents it has values for; undefined when it has none. */
export function runAccuracy(stateDir: string, outDir: string, runId: string): RunAccuracy | undefined {
  const store = new CorrectionsStore(stateDir);
  let runIds: string[] = [];
  try {
    runIds = fs.readdirSync(path.join(stateDir, SNAPSHOTS_DIR)).filter((d) => /^[\w.-]+$/.test(d));
  } catch {
    runIds = [];
  }
  const cases: EvalCase[] = [];
  for (const docPath of store.checkedPaths()) {
    const file = store.load(docPath);
    if (!file || (!file.reviewed && !file.corrections.length)) continue;
    const results = resultsOf(stateDir, outDir, docPath, runIds);
    const mine = results.find((r) => r.metadata.runId === runId);
    const checked = checkedResult(file, results);
    if (!mine || !checked) continue;
    cases.push({ source: docPath, expected: replay((checked.data ?? null) as JsonValue, file.corrections).data, actual: mine.data });
  }
  if (!cases.length) return undefined;
  const scores = scoreCases(cases, DEFAULT_NORMALISE);
  return { documents: scores.documents, overall: scores.overall, fields: scores.fields };
}
