/**
 * Dataset export: the results of a folder as one table (CSV, XLSX) or one JSON object per line (JSONL),
 * one row per document, for spreadsheets, pandas or a database. Used by `extraction-workbench export` and
 * the window's "Export Dataset…" command.
 *
 *   - the document table: `source` (the document's path), the `--with-status` columns (`_stage`,
 *     `_attempts`, `_error_code`, `_error_message`, `_model`, `_finished_at`, `_corrections`, `_reviewed`),
 *     then every data field (see datasetLayout.ts for the column order and flattening);
 *   - line items (arrays of objects) in tables of their own: `<file>.<field>.csv` beside a CSV, a sheet of
 *     their own in an XLSX, nested as they are in JSONL; keyed by `source` and `index` (0-based);
 *   - the reviewer's corrections win over the model's values;
 *   - without status, only documents with a result are listed.
 *
 * A data field that has the name of a key column (`source`, or `index` in a line-item table) is written
 * as `data.<name>`. Every file is written to a temp file and renamed into place once all are complete.
 */
import * as path from 'node:path';
import { ErrorCodes, ExtractionError } from '../core/errors';
import { AtomicFiles, checkTarget } from './atomicTarget';
import { writeCsv } from './csvWriter';
import { DatasetLayout, type Cell } from './datasetLayout';
import { DatasetSource, type DatasetRecord, type DatasetSourceOptions, type DatasetStatus } from './datasetRecords';
import { writeJsonl } from './jsonlWriter';
import { writeXlsx } from './xlsxWriter';

export const DATASET_FORMATS = ['csv', 'jsonl', 'xlsx'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export function isDatasetFormat(v: string): v is DatasetFormat {
  return (DATASET_FORMATS as readonly string[]).includes(v);
}

/** The format named by a file's extension (`.csv`, `.jsonl`/`.ndjson`, `.xlsx`), or undefined. */
export function formatOfFile(file: string): DatasetFormat | undefined {
  const ext = path.extname(file).toLowerCase().slice(1);
  return ext === 'ndjson' ? 'jsonl' : isDatasetFormat(ext) ? ext : undefined;
}

export interface DatasetExportOptions extends DatasetSourceOptions {
  /** The file to write (for CSV, line-item tables go beside it). */
  to: string;
  format: DatasetFormat;
  /** The job's JSON Schema: column order (fields it does not know come after). */
  schema?: Record<string, unknown>;
  /** CSV: start each file with a UTF-8 byte order mark (Excel). */
  bom?: boolean;
}

export interface DatasetExportReport {
  /** Documents written (rows of the document table, lines of JSONL). */
  documents: number;
  /** Of them, documents with a result. */
  withResult: number;
  /** Files written, the main file first. */
  files: string[];
  /** Line-item tables: the field, and where it went (a CSV file or a sheet), with its row count. */
  tables: Array<{ field: string; target: string; rows: number }>;
  /** XLSX: text cells cut at Excel's 32,767-character limit. */
  truncatedCells: number;
}

export const STATUS_COLUMNS = ['_stage', '_attempts', '_error_code', '_error_message', '_model', '_finished_at', '_corrections', '_reviewed'] as const;

function statusCells(s: DatasetStatus): Cell[] {
  return [s.stage, s.attempts, s.errorCode, s.errorMessage, s.model, s.finishedAt, s.corrections, s.reviewed];
}

/** A data column's header: key column names get a `data.` prefix. */
function header(col: string, keys: readonly string[]): string {
  return keys.includes(col) ? `data.${col}` : col;
}

/** `<to without .csv>.<field>.csv`, with characters a file name cannot hold replaced. */
export function lineItemFile(to: string, field: string): string {
  const base = to.toLowerCase().endsWith('.csv') ? to.slice(0, -4) : to;
  return `${base}.${field.replace(/[^\p{L}\p{N}._-]/gu, '_')}.csv`;
}

export async function exportDataset(o: DatasetExportOptions): Promise<DatasetExportReport> {
  if (!isDatasetFormat(o.format)) {
    throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `Unknown export format "${String(o.format)}": use ${DATASET_FORMATS.join(', ')}`, { retryable: false });
  }
  const to = path.resolve(o.to);
  const source = new DatasetSource(o);
  // first pass: count, and (for tables) learn the columns the schema does not name
  const layout = DatasetLayout.fromSchema(o.schema);
  let documents = 0;
  let withResult = 0;
  for await (const r of source.records()) {
    documents++;
    if (r.hasResult) withResult++;
    if (o.format !== 'jsonl' && r.hasResult) layout.flatten(r.data, true);
  }
  if (!withResult && !(o.withStatus && documents)) {
    throw new ExtractionError(ErrorCodes.EXPORT_FAILED, `No results in ${o.outDir}: nothing to export${o.store ? '' : ' (is it the output folder of a run?)'}`, { retryable: false });
  }
  await checkTarget(to);
  const files = new AtomicFiles();
  const report: DatasetExportReport = { documents, withResult, files: [], tables: [], truncatedCells: 0 };
  const withStatus = !!o.withStatus;
  const mainHeader = ['source', ...(withStatus ? STATUS_COLUMNS : []), ...layout.columns.map((c) => header(c, ['source']))];
  const mainRows = async function* (): AsyncGenerator<Cell[]> {
    for await (const r of source.records()) {
      const cells = layout.flatten(r.data, false).cells;
      yield [r.source, ...(withStatus ? statusCells(r.status) : []), ...layout.columns.map((c) => cells.get(c) ?? null)];
    }
  };
  const tables = [...layout.tables].map(([field, columns]) => ({
    field,
    header: ['source', 'index', ...columns.map((c) => header(c, ['source', 'index']))],
    rows: async function* (): AsyncGenerator<Cell[]> {
      for await (const r of source.records()) {
        const items = layout.flatten(r.data, false).items.get(field) ?? [];
        for (let i = 0; i < items.length; i++) yield [r.source, i, ...columns.map((c) => items[i].get(c) ?? null)];
      }
    },
  }));
  try {
    if (o.format === 'jsonl') {
      await writeJsonl(files.temp(to), jsonlObjects(source, withStatus));
    } else if (o.format === 'csv') {
      await writeCsv(files.temp(to), mainHeader, mainRows(), { bom: o.bom });
      for (const t of tables) {
        const file = lineItemFile(to, t.field);
        const rows = await writeCsv(files.temp(file), t.header, t.rows(), { bom: o.bom });
        report.tables.push({ field: t.field, target: file, rows });
      }
    } else {
      const xlsx = await writeXlsx(files.temp(to), [{ name: 'documents', header: mainHeader, rows: mainRows }, ...tables.map((t) => ({ name: t.field, header: t.header, rows: t.rows }))]);
      report.truncatedCells = xlsx.truncatedCells;
      report.tables = tables.map((t, i) => ({ field: t.field, target: xlsx.sheets[i + 1].name, rows: xlsx.sheets[i + 1].rows }));
    }
    report.files = await files.commit();
  } catch (err) {
    await files.abort();
    if (err instanceof ExtractionError) throw err;
    throw new ExtractionError(ErrorCodes.EXPORT_FAILED, `Cannot write the export to ${to}: ${(err as Error).message}`, { cause: err, retryable: false });
  }
  return report;
}

/** JSONL lines: `{ source, data, status? }`; `data` is absent for a document without a result. */
async function* jsonlObjects(source: DatasetSource, withStatus: boolean): AsyncGenerator<object> {
  for await (const r of source.records()) yield jsonlObject(r, withStatus);
}

function jsonlObject(r: DatasetRecord, withStatus: boolean): object {
  return { source: r.source, ...(r.hasResult ? { data: r.data } : {}), ...(withStatus ? { status: r.status } : {}) };
}
