/**
 * XLSX converter: every sheet as text the model reads like a table — a `Sheet: <name>` line, then one line
 * per row with its cells joined by ` | ` — read with exceljs (loaded on the first workbook; the library the
 * dataset export writes XLSX with). Cells show what a person sees: a formula's cached result, dates as ISO
 * dates, rich text and hyperlinks as their text, errors as `#DIV/0!`. Empty rows and sheets are left out.
 *
 * Bad input: zero bytes or no cell with a value → EMPTY_DOCUMENT; not a ZIP, not a workbook, password-protected
 * or an old binary `.xls` named `.xlsx` → CORRUPT_INPUT saying so; an archive whose XML would unpack beyond the
 * memory bound → TOO_LARGE (officeZip.ts, as for DOCX). Old binary `.xls` (BIFF) files: xls.ts.
 */
import type ExcelJS from 'exceljs';
import { converterCacheKey } from './cache';
import { corruptOffice, unpackOffice } from './officeZip';
import { isoDate, rowLine, sheetBlock } from './sheetText';
import { emptyDocumentError, linePositions, throwIfAborted } from './text';
import type { ConvertedDocument, ConvertInput, Converter } from './types';

type ExcelModule = typeof ExcelJS;

let excelPromise: Promise<ExcelModule> | undefined;
function loadExcel(): Promise<ExcelModule> {
  excelPromise ??= import('exceljs').then((m) => ((m as unknown as { default?: ExcelModule }).default ?? (m as unknown as ExcelModule)));
  return excelPromise;
}

/** Output version of this converter: bump when its text changes, so cached conversions are redone. */
export const XLSX_CONVERTER_VERSION = 1;

export interface XlsxOptions {
  /** Memory limit in MB the unpack bound is derived from (default: the PDF workers' default, 1024). */
  memoryMb?: number;
}

/** What a person sees in a cell, as plain text ('' for an empty one). */
export function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return isoDate(value);
  if (typeof value !== 'object') return String(value);
  if ('richText' in value) return value.richText.map((r) => r.text).join('');
  if ('formula' in value || 'sharedFormula' in value) {
    const result = (value as ExcelJS.CellFormulaValue).result;
    return result === undefined ? '' : cellText(result as ExcelJS.CellValue);
  }
  if ('hyperlink' in value) return typeof value.text === 'string' ? value.text : cellText(value.text as ExcelJS.CellValue);
  if ('error' in value) return String(value.error);
  return '';
}

/** One line per row with a value: cells joined by ` | `, empty cells kept as empty between filled ones. */
function sheetLines(sheet: ExcelJS.Worksheet): string[] {
  const lines: string[] = [];
  sheet.eachRow({ includeEmpty: false }, (row) => {
    const cells: string[] = [];
    row.eachCell({ includeEmpty: true }, (cell, col) => {
      cells[col - 1] = cellText(cell.value);
    });
    const line = rowLine(cells);
    if (line !== undefined) lines.push(line);
  });
  return lines;
}

export async function convertXlsxBytes(bytes: Uint8Array, path = '(input)', signal?: AbortSignal, options: XlsxOptions = {}): Promise<ConvertedDocument> {
  if (bytes.length === 0) throw emptyDocumentError(path);
  const buffer = unpackOffice('XLSX', bytes, path, options.memoryMb);
  const Excel = await loadExcel();
  throwIfAborted(signal);
  const workbook = new Excel.Workbook();
  try {
    await workbook.xlsx.load(buffer as unknown as ArrayBuffer);
  } catch (err) {
    throw corruptOffice('XLSX', path, err);
  }
  throwIfAborted(signal);
  const blocks: string[] = [];
  let sheets = 0;
  workbook.eachSheet((sheet) => {
    sheets++;
    const block = sheetBlock(sheet.name, sheetLines(sheet));
    if (block) blocks.push(block);
  });
  if (sheets === 0) throw corruptOffice('XLSX', path, new Error('the file holds no worksheet (is it a workbook?)'));
  const text = blocks.join('\n\n');
  if (text.trim() === '') throw emptyDocumentError(path);
  return { format: 'xlsx', text, positions: linePositions(text), meta: { sheets } };
}

export function createXlsxConverter(options: XlsxOptions = {}): Converter {
  return {
    id: 'xlsx',
    cacheKey: converterCacheKey('xlsx', XLSX_CONVERTER_VERSION),
    extensions: ['.xlsx', '.xlsm'],
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      return convertXlsxBytes(input.bytes, input.path, input.signal, options);
    },
  };
}
