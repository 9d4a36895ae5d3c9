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
import { CsvFile } from './csvWriter';
import { DatasetLayout, type Cell, type FlatRecord } from './datasetLayout';
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
    const where = o.outDir ? `${o.outDir}${o.store?.results ? ' nor in the state database' : ''}` : 'the state database';
    throw new ExtractionError(ErrorCodes.EXPORT_FAILED, `No results in ${where}: nothing to export${o.store ? '' : ' (is it the output folder of a run?)'}`, { retryable: false });
  }
  await checkTarget(to);
  const files = new AtomicFiles();
  const report: DatasetExportReport = { documents, withResult, files: [], tables: [], truncatedCells: 0 };
  const withStatus = !!o.withStatus;
  const mainHeader = ['source', ...(withStatus ? STATUS_COLUMNS : []), ...layout.columns.map((c) => header(c, ['source']))];
  const tables: Table[] = [...layout.tables].map(([field, columns]) => ({
    field,
    columns,
    header: ['source', 'index', ...columns.map((c) => header(c, ['source', 'index']))],
  }));
  const mainRow = (r: DatasetRecord, flat: FlatRecord): Cell[] => [r.source, ...(withStatus ? statusCells(r.status) : []), ...layout.columns.map((c) => flat.cells.get(c) ?? null)];
  try {
    if (o.format === 'jsonl') {
      await writeJsonl(files.temp(to), jsonlObjects(source, withStatus));
    } else if (o.format === 'csv') {
      report.tables = await writeCsvTables(to, files, source, layout, { header: mainHeader, row: mainRow }, tables, o.bom ?? false);
    } else {
      // a streaming workbook writes its sheets one after the other: one pass over the documents per sheet
      const mainRows = async function* (): AsyncGenerator<Cell[]> {
        for await (const r of source.records()) yield mainRow(r, layout.flatten(r.data, false));
      };
      const tableRows = (t: Table) =>
        async function* (): AsyncGenerator<Cell[]> {
          for await (const r of source.records()) yield* itemRows(r, layout.flatten(r.data, false), t);
        };
      const xlsx = await writeXlsx(files.temp(to), [{ name: 'documents', header: mainHeader, rows: mainRows }, ...tables.map((t) => ({ name: t.field, header: t.header, rows: tableRows(t) }))]);
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

/** A line-item table: its field, item columns, and header. */
interface Table {
  field: string;
  columns: readonly string[];
  header: string[];
}

/** The rows of one document in a line-item table. */
function itemRows(r: DatasetRecord, flat: FlatRecord, t: Table): Cell[][] {
  return (flat.items.get(t.field) ?? []).map((item, i) => [r.source, i, ...t.columns.map((c) => item.get(c) ?? null)]);
}

/** CSV: the document table and each line-item table in files of their own, written in one pass. */
async function writeCsvTables(
  to: string,
  files: AtomicFiles,
  source: DatasetSource,
  layout: DatasetLayout,
  main: { header: string[]; row: (r: DatasetRecord, flat: FlatRecord) => Cell[] },
  tables: readonly Table[],
  bom: boolean,
): Promise<DatasetExportReport['tables']> {
  const open: CsvFile[] = [];
  const csv = (file: string, header: readonly string[]) => {
    const f = new CsvFile(files.temp(file), header, { bom });
    open.push(f);
    return f;
  };
  try {
    const mainFile = csv(to, main.header);
    const itemFiles = tables.map((t) => ({ table: t, target: lineItemFile(to, t.field), file: csv(lineItemFile(to, t.field), t.header) }));
    for await (const r of source.records()) {
      const flat = layout.flatten(r.data, false);
      await mainFile.write(main.row(r, flat));
      for (const f of itemFiles) for (const row of itemRows(r, flat, f.table)) await f.file.write(row);
    }
    for (const f of open) await f.close();
    return itemFiles.map((f) => ({ field: f.table.field, target: f.target, rows: f.file.rows }));
  } catch (err) {
    for (const f of open) f.destroy();
    throw err;
  }
}

/** JSONL lines: `{ source, data, status? }`; `data` is absent for a document without a result. */
async function* jsonlObjects(source: DatasetSource, withStatus: boolean): AsyncGenerator<object> {
  for await (const r of source.records()) yield jsonlObject(r, withStatus);
}

function jsonlObject(r: DatasetRecord, withStatus: boolean): object {
  return { source: r.source, ...(r.hasResult ? { data: r.data } : {}), ...(withStatus ? { status: r.status } : {}) };
}
