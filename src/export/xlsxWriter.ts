/**
 * XLSX workbooks through exceljs's streaming writer: rows are committed as they come, with no shared-string
 * table and no styles, so a large table does not sit in memory. Sheets are written one after the other
 * (each gets its own pass over the rows). Numbers and booleans keep their cell types; text is written as
 * text, never as a formula, so a value like `=1+1` stays the text it was.
 *
 * exceljs is large (2.5 MB bundled): it is required on the first XLSX export, and the build makes it a
 * bundle of its own (`dist/exceljs.js`, see esbuild.js), so the CLI and the extension start without it.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';
import type { Cell } from './datasetLayout';

/** Excel's limits: characters in a cell, rows in a sheet, characters in a sheet name. */
export const XLSX_MAX_CELL_CHARS = 32_767;
export const XLSX_MAX_ROWS = 1_048_576;
const MAX_SHEET_NAME = 31;

export interface XlsxSheet {
  /** Wanted name; made valid and unique (Excel forbids `[]:*?/\` and allows 31 characters). */
  name: string;
  header: readonly string[];
  rows: () => AsyncIterable<readonly Cell[]>;
}

export interface XlsxReport {
  /** Sheet names as written, and their row counts (header not counted). */
  sheets: Array<{ name: string; rows: number }>;
  /** Text cells cut at Excel's limit of 32,767 characters. */
  truncatedCells: number;
}

/** A valid sheet name for `wanted`, not one of `taken` (compared as Excel does, without case). */
export function sheetName(wanted: string, taken: ReadonlySet<string>): string {
  const base = wanted.replace(/[[\]:*?/\\]/g, '_').replace(/^'+|'+$/g, '').slice(0, MAX_SHEET_NAME) || 'sheet';
  const lower = new Set([...taken].map((t) => t.toLowerCase()));
  let name = base;
  for (let i = 2; lower.has(name.toLowerCase()); i++) {
    const suffix = ` (${i})`;
    name = base.slice(0, MAX_SHEET_NAME - suffix.length) + suffix;
  }
  return name;
}

type ExcelJsModule = typeof import('exceljs');

let excelJs: ExcelJsModule | undefined;

function loadExcelJs(): ExcelJsModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  excelJs ??= require('exceljs') as ExcelJsModule;
  return excelJs;
}

export async function writeXlsx(file: string, sheets: readonly XlsxSheet[]): Promise<XlsxReport> {
  const ExcelJS = loadExcelJs();
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useStyles: false, useSharedStrings: false });
  const report: XlsxReport = { sheets: [], truncatedCells: 0 };
  const taken = new Set<string>();
  const cell = (v: Cell): Cell => {
    if (typeof v === 'string' && v.length > XLSX_MAX_CELL_CHARS) {
      report.truncatedCells++;
      return v.slice(0, XLSX_MAX_CELL_CHARS);
    }
    return v;
  };
  for (const sheet of sheets) {
    const name = sheetName(sheet.name, taken);
    taken.add(name);
    const ws = workbook.addWorksheet(name);
    ws.addRow(sheet.header.map(cell)).commit();
    let n = 0;
    for await (const row of sheet.rows()) {
      if (++n >= XLSX_MAX_ROWS) {
        throw new ExtractionError(ErrorCodes.EXPORT_FAILED, `The sheet "${name}" would have more than ${XLSX_MAX_ROWS - 1} rows, Excel's limit: export as CSV or JSONL instead`, { retryable: false });
      }
      ws.addRow(row.map(cell)).commit();
    }
    ws.commit();
    report.sheets.push({ name, rows: n });
  }
  await workbook.commit();
  return report;
}
