/**
 * `extraction-workbench eval --out <dir> --truth <dir>|corrections [--fields a,b] [--json] [--min-accuracy X]
 * [--state <dir>] [--tolerance X] [--date-order dmy|mdy] [--ignore-case] [--ignore-punctuation]
 * [--compare-out <dir> [--compare-state <dir>]]`
 *
 * Scores the model's results in an output folder against truth files (`<truth>/<document path>.json`) or
 * against the reviewers' corrections (src/eval/). With `--compare-out`, scores a second output folder
 * against the same truth and prints both side by side with the difference, plus cost and time.
 *
 * Exit 0; 1 when the overall accuracy (of `--out`) is below `--min-accuracy`; 2 on bad input (a missing
 * folder, a truth file that is not JSON — named — or a bad flag).
 */
import { parseArgs } from 'node:util';
import { compareReports, formatComparison, runCosts, type RunCosts } from '../eval/compareRuns';
import { evaluate, resolveTruth, UnknownFieldsError, type EvalRequest } from '../eval/evaluate';
import { DEFAULT_TOLERANCE, type DateOrder } from '../eval/normalise';
import { formatReport, percent, reportJson, type EvalReport } from '../eval/report';

const EXIT_OK = 0;
const EXIT_BELOW = 1;

export const EVAL_USAGE = `  extraction-workbench eval --out <dir> --truth <dir>|corrections [--fields <a,b>] [--json] [--min-accuracy <0..1>]
                           [--state <dir>] [--tolerance <x>] [--date-order dmy|mdy] [--ignore-case] [--ignore-punctuation]
                           [--compare-out <dir> [--compare-state <dir>]]   # accuracy against truth files or corrections`;

export const EVAL_HELP = `eval compares the model's values (a result's "data", not a reviewer's corrected copy) with <truth>/<document path>.json
(an object or a one-element array); --truth corrections uses the documents a person corrected or marked reviewed
(with --state, from its corrections; else from the result files; a truth folder named corrections: ./corrections). Numbers agree within --tolerance (default ${DEFAULT_TOLERANCE},
absolute), dates by day, strings trimmed with whitespace collapsed; line items are paired by the most agreeing
sub-fields (Hungarian algorithm). Exit 1 when the overall accuracy is below --min-accuracy.
--compare-out scores a second output folder (another run or model) side by side; --state/--compare-state add their cost and time.`;

export async function cmdEval(argv: string[], usageError: (m: string) => Error): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      truth: { type: 'string' },
      fields: { type: 'string' },
      json: { type: 'boolean', default: false },
      'min-accuracy': { type: 'string' },
      state: { type: 'string' },
      tolerance: { type: 'string' },
      'date-order': { type: 'string' },
      'ignore-case': { type: 'boolean', default: false },
      'ignore-punctuation': { type: 'boolean', default: false },
      'compare-out': { type: 'string' },
      'compare-state': { type: 'string' },
    },
  });
  if (positionals.length) throw usageError(`eval takes no positional arguments (got ${positionals.join(' ')}): use --out and --truth`);
  if (!values.out) throw usageError('eval needs --out <dir> (the results to evaluate)');
  if (!values.truth) throw usageError('eval needs --truth <dir> (truth files) or --truth corrections');
  const tolerance = values.tolerance === undefined ? DEFAULT_TOLERANCE : Number(values.tolerance);
  if (!Number.isFinite(tolerance) || tolerance < 0 || values.tolerance?.trim() === '') throw usageError(`--tolerance must be a number ≥ 0, got "${values.tolerance}"`);
  const minAccuracy = values['min-accuracy'] === undefined ? undefined : Number(values['min-accuracy']);
  if (minAccuracy !== undefined && (!Number.isFinite(minAccuracy) || minAccuracy < 0 || minAccuracy > 1 || values['min-accuracy']?.trim() === '')) {
    throw usageError(`--min-accuracy must be a number from 0 to 1 (0.9 = 90%), got "${values['min-accuracy']}"`);
  }
  const dateOrder = values['date-order'];
  if (dateOrder !== undefined && dateOrder !== 'dmy' && dateOrder !== 'mdy') throw usageError(`--date-order must be dmy or mdy, got "${dateOrder}"`);
  if (values['compare-state'] && !values['compare-out']) throw usageError('--compare-state needs --compare-out');
  const fields = values.fields
    ?.split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const base: Omit<EvalRequest, 'outDir' | 'stateDir'> = {
    truth: values.truth,
    ...(fields?.length ? { fields } : {}),
    options: { tolerance, ignoreCase: values['ignore-case'] ?? false, ignorePunctuation: values['ignore-punctuation'] ?? false, ...(dateOrder ? { dateOrder: dateOrder as DateOrder } : {}) },
  };
  const req: EvalRequest = { ...base, outDir: values.out, ...(values.state ? { stateDir: values.state } : {}) };
  const truth = resolveTruth(req);
  let report: EvalReport;
  try {
    report = evaluate(req, truth);
  } catch (err) {
    throw err instanceof UnknownFieldsError ? usageError(err.message) : err;
  }
  const below = minAccuracy !== undefined && (report.overall.accuracy ?? 0) < minAccuracy;
  if (values['compare-out']) {
    // the same truth for both (with --truth corrections: the corrections of the --out documents)
    const other = evaluate({ ...base, outDir: values['compare-out'] }, truth);
    const costs: [RunCosts, RunCosts] = [
      await runCosts(values.out, report, values.state),
      await runCosts(values['compare-out'], other, values['compare-state']),
    ];
    const cmp = compareReports(report, other, costs);
    process.stdout.write(values.json ? JSON.stringify(cmp, null, 2) + '\n' : formatComparison(cmp));
  } else {
    process.stdout.write(values.json ? reportJson(report) : formatReport(report));
  }
  if (below) {
    process.stderr.write(`extraction-workbench: overall accuracy ${percent(report.overall.accuracy)} is below --min-accuracy ${percent(minAccuracy ?? 0)}\n`);
    return EXIT_BELOW;
  }
  return EXIT_OK;
}
