/**
 * `extraction-workbench export [--out <dir>] [--state <dir>] [--format csv|jsonl|xlsx] --to <file>
 * [--schema <file.json>] [--with-status] [--bom] [--json]`: the results of a folder as one dataset file
 * (see src/export/dataset.ts). Reads the state folder read-only, so it also works while a run holds it.
 *
 * Defaults: the state folder is `<out>/../.extraction` (else `./.extraction`) when there is one; the output
 * folder and the schema are those of the state folder's last run; the format is the one of `--to`'s
 * extension. Exit 0, or 2 with a one-line reason (no results, unknown format, unwritable target…).
 *
 * `--state postgres://…` (or EXTRACTION_STATE_URL): the state of a fleet. The results come from the output
 * folder where it has them and from the database for the rest, so the export works on a machine that has
 * none of the workers' files (`--out` is then optional).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CorrectionsStore } from '../app/corrections';
import { readSchemaFile } from '../app/config';
import { defaultStateDir, loadSavedSettings, openStore } from '../app/session';
import type { Logger } from '../core/logger';
import { DATASET_FORMATS, exportDataset, formatOfFile, isDatasetFormat, type DatasetExportReport } from '../export/dataset';
import { listJournalFiles } from '../store/journal';
import { isStateUrl } from '../store/pg/url';
import { SNAPSHOT_FILE } from '../store/sqlStore';
import type { CheckpointStore } from '../store/types';
import { STATE_URL_ENV, stateTargetOf } from './stateTarget';

export const EXPORT_USAGE = `  extraction-workbench export --to <file> [--format csv|jsonl|xlsx] [--out <dir>] [--state <dir>|postgres://…] [--schema <file.json>]
                              [--with-status] [--bom] [--json]   # results as one dataset file (one row per document)`;

const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function hasStore(stateDir: string): boolean {
  return fs.existsSync(path.join(stateDir, SNAPSHOT_FILE)) || listJournalFiles(stateDir).length > 0;
}

/** The state folder: `--state`, else `.extraction` beside `--out`, else in the current folder; undefined when none exists. */
function stateDirOf(state: string | undefined, out: string | undefined, usageError: (m: string) => Error): string | undefined {
  if (state) {
    const dir = path.resolve(state);
    if (!fs.existsSync(dir)) throw usageError(`No extraction state in ${dir}`);
    return dir;
  }
  const candidates = [...(out ? [defaultStateDir(path.dirname(path.resolve(out)))] : []), defaultStateDir(process.cwd())];
  return candidates.find((d) => fs.existsSync(d));
}

function describe(report: DatasetExportReport): string {
  const lines = [`Exported ${report.documents} document(s) (${report.withResult} with a result) to ${report.files[0]}`];
  for (const t of report.tables) lines.push(`  line items of "${t.field}": ${t.rows} row(s) in ${t.target}`);
  if (report.truncatedCells) lines.push(`  ${report.truncatedCells} cell(s) were cut at Excel's limit of 32,767 characters (CSV and JSONL keep them whole)`);
  return lines.join('\n') + '\n';
}

export async function cmdExport(argv: string[], usageError: (m: string) => Error): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      state: { type: 'string' },
      schema: { type: 'string' },
      format: { type: 'string' },
      to: { type: 'string' },
      'with-status': { type: 'boolean', default: false },
      bom: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length) throw usageError(`export takes no positional arguments (got "${positionals[0]}"): name the file with --to`);
  if (!values.to) throw usageError('export needs --to <file> (e.g. --to results.csv)');
  const format = values.format ?? formatOfFile(values.to);
  if (!format) throw usageError(`No --format given and the extension of "${values.to}" names none: use --format ${DATASET_FORMATS.join('|')}`);
  if (!isDatasetFormat(format)) throw usageError(`Unknown --format "${format}": use ${DATASET_FORMATS.join(', ')}`);
  if (values.bom && format !== 'csv') throw usageError('--bom is for CSV only');
  // a database (--state postgres://…, else EXTRACTION_STATE_URL unless --state names a folder)
  const url = isStateUrl(values.state ?? (process.env[STATE_URL_ENV] || undefined)) ? stateTargetOf(values.state, process.cwd(), usageError).url : undefined;
  // the local state folder: saved settings and the reviewers' corrections (with a database, when there is one)
  const stateDir = stateDirOf(url ? undefined : values.state, values.out, usageError);
  let saved: ReturnType<typeof loadSavedSettings>;
  try {
    saved = stateDir ? loadSavedSettings(stateDir) : undefined;
  } catch {
    saved = undefined; // a state folder kept outside its folder: --out names the results
  }
  const outDir = values.out ? path.resolve(values.out) : saved?.outDir;
  if (!outDir && !url) throw usageError(`export needs --out <dir> (the folder with the result files)${stateDir ? `: ${stateDir} has no saved run to take it from` : ''}`);
  // with a database, the results the folder lacks (or all of them) come from it
  if (outDir && !url && (!fs.existsSync(outDir) || !fs.statSync(outDir).isDirectory())) throw usageError(`Output folder not found: ${outDir}`);
  const schemaFile = values.schema ? path.resolve(values.schema) : saved?.schemaPath;
  let schema: Record<string, unknown> | undefined;
  if (schemaFile) {
    try {
      schema = readSchemaFile(schemaFile);
    } catch (err) {
      if (values.schema) throw err;
      process.stderr.write(`[warn] ${(err as Error).message}; columns follow the order of the results\n`);
    }
  }
  let store: CheckpointStore | undefined;
  if (url) store = await openStore(stateDir ?? process.cwd(), { logger: quiet, readOnly: true, url });
  else if (stateDir && hasStore(stateDir)) store = await openStore(stateDir, { logger: quiet, readOnly: true });
  else if (values['with-status']) process.stderr.write(`[warn] No checkpoint store${stateDir ? ` in ${stateDir}` : ' found (use --state <dir>)'}: status columns come from the result files only\n`);
  try {
    const report = await exportDataset({
      ...(outDir ? { outDir } : {}),
      to: values.to,
      format,
      ...(schema ? { schema } : {}),
      ...(store ? { store } : {}),
      ...(stateDir ? { corrections: new CorrectionsStore(stateDir) } : {}),
      withStatus: values['with-status'],
      bom: values.bom,
    });
    process.stdout.write(values.json ? JSON.stringify(report) + '\n' : describe(report));
  } finally {
    store?.close();
  }
  return 0;
}
