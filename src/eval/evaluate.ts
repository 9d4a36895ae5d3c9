/**
 * One evaluation, start to end: loads the results of an output folder and the truth (a folder of truth
 * files, or the reviewers' corrections), scores them and builds the report. Shared by the CLI
 * (`extraction-workbench eval`) and the VS Code commands.
 */
import * as path from 'node:path';
import { DEFAULT_NORMALISE, type NormaliseOptions } from './normalise';
import { buildReport, type EvalReport } from './report';
import { scoreCases, truthFields } from './score';
import { selected } from './shape';
import { correctionsTruth, loadResults, loadTruthFolder, matchCases, type LoadedResults } from './sources';

/** `--truth corrections`: the reviewers' corrections are the truth. */
export const CORRECTIONS_TRUTH = 'corrections';

export interface EvalRequest {
  outDir: string;
  /** A truth folder, or {@link CORRECTIONS_TRUTH}. */
  truth: string;
  /** State folder: where the corrections are kept (else the result files' `corrected` fields are used). */
  stateDir?: string;
  fields?: string[];
  options?: Partial<NormaliseOptions>;
}

/** Fields asked for (`--fields`) that no truth document has. */
export class UnknownFieldsError extends Error {
  override readonly name = 'UnknownFieldsError';
}

export interface ResolvedTruth {
  byDocument: Map<string, unknown>;
  /** How the report names the truth. */
  label: string;
}

/** The truth of a request (a folder's files, or the corrections of `outDir`'s documents). */
export function resolveTruth(req: EvalRequest, loaded: LoadedResults = loadResults(req.outDir)): ResolvedTruth {
  if (req.truth !== CORRECTIONS_TRUTH) return { byDocument: loadTruthFolder(req.truth), label: path.resolve(req.truth) };
  const byDocument = correctionsTruth(loaded, req.stateDir);
  const where = req.stateDir ? `in ${path.resolve(req.stateDir)}` : `from the result files in ${path.resolve(req.outDir)}`;
  return { byDocument, label: `the reviewers' corrections (${byDocument.size} corrected or reviewed document(s) ${where})` };
}

/** Scores `req.outDir` against `truth` (default: the request's own truth). */
export function evaluate(req: EvalRequest, truth?: ResolvedTruth): EvalReport {
  const o: NormaliseOptions = { ...DEFAULT_NORMALISE, ...req.options };
  const loaded = loadResults(req.outDir);
  const t = truth ?? resolveTruth(req, loaded);
  const input = matchCases(t.byDocument, loaded);
  if (req.fields?.length) {
    const known = truthFields(input.cases);
    const unknown = req.fields.filter((n) => !known.some((f) => selected(f, [n])));
    if (unknown.length) {
      const tops = [...new Set(known.map((f) => f.split(/[.[]/)[0]))];
      throw new UnknownFieldsError(`--fields: no field ${unknown.map((n) => `"${n}"`).join(', ')} in the truth (its fields: ${tops.join(', ') || 'none'})`);
    }
  }
  const scores = scoreCases(input.cases, { ...o, ...(req.fields?.length ? { fields: req.fields } : {}) });
  return buildReport(t.label, input, scores, o);
}
