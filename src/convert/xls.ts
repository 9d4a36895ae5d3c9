/**
 * XLS converter: old binary Excel workbooks (BIFF2–8, Excel 97–2003 and older), read with SheetJS
 * (`@e965/xlsx`, a republish of SheetJS 0.20.3 on npm — the `xlsx` package on npm stops at 0.18.5, which has
 * known advisories), loaded as its own bundle on the first workbook. The text is what the XLSX converter
 * gives (sheetText.ts): a `Sheet: <name>` line, then one ` | ` line per row; a formula's cached result,
 * dates as ISO dates, errors as `#DIV/0!`.
 *
 * Bounded: a workbook over {@link xlsLimits}' bytes (a 32nd of the memory limit) is not parsed, one with more
 * cells than its cell limit is not converted → TOO_LARGE naming the limit. Bad input: not an OLE compound
 * file or BIFF stream (an XLSX, HTML or text named `.xls`), an unreadable or password-protected workbook →
 * CORRUPT_INPUT saying so; no cell with a value → EMPTY_DOCUMENT.
 */
import type * as XLSXModule from '@e965/xlsx';
import { ErrorCodes, ExtractionError } from '../core/errors';
import { converterCacheKey } from './cache';
import { corruptOffice } from './officeZip';
import { DEFAULT_WORKER_MEMORY_MB } from './pdf/pool';
import { isoDate, rowLine, sheetBlock } from './sheetText';
import { emptyDocumentError, linePositions, throwIfAborted } from './text';
import type { ConvertedDocument, ConvertInput, Converter } from './types';

type Xlsx = typeof XLSXModule;

let xlsxPromise: Promise<Xlsx> | undefined;
function loadXlsx(): Promise<Xlsx> {
  xlsxPromise ??= import('@e965/xlsx').then((m) => ((m as unknown as { default?: Xlsx }).default ?? (m as unknown as Xlsx)));
  return xlsxPromise;
}

/** Output version of this converter: bump when its text changes, so cached conversions are redone. */
export const XLS_CONVERTER_VERSION = 1;

const MB = 1024 * 1024;

export interface XlsOptions {
  /** Memory limit in MB the bounds are derived from (default: the PDF workers' default, 1024). */
  memoryMb?: number;
  /** Most cells converted (default: from `memoryMb`, see {@link xlsLimits}). */
  maxCells?: number;
}

/** Largest workbook parsed (bytes) and most cells converted under a memory limit (SheetJS keeps an object per cell). */
export function xlsLimits(memoryMb: number = DEFAULT_WORKER_MEMORY_MB): { maxBytes: number; maxCells: number } {
  return { maxBytes: Math.max(4, Math.floor(memoryMb / 32)) * MB, maxCells: Math.max(100_000, memoryMb * 2000) };
}

function tooLarge(message: string): ExtractionError {
  return new ExtractionError(ErrorCodes.TOO_LARGE, `${message} (limits follow pdf.maxMemoryMb / --pdf-max-memory-mb)`, { retryable: false, stage: 'converting' });
}

/** What the bytes are, when they are not a binary Excel workbook (undefined when they may be one). */
function notXls(bytes: Uint8Array): string | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1)) return undefined; // OLE compound file (BIFF5/8)
  // BIFF2/3/4 worksheets and BIFF4 workbooks start with their BOF record
  if (bytes[0] === 0x09 && (bytes[1] === 0x00 || bytes[1] === 0x02 || bytes[1] === 0x04) && bytes[3] === 0x00) return undefined;
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'it is a ZIP archive (an .xlsx workbook? rename it .xlsx)';
  const head = Buffer.from(bytes.subarray(0, 512)).toString('latin1').trimStart().toLowerCase();
  if (head.startsWith('<')) return 'it is XML or HTML (a table saved as .xls?), not a binary Excel workbook';
  return 'it is not an Excel 97–2003 (BIFF) workbook';
}

/** What a person sees in a cell. */
function cellText(cell: XLSXModule.CellObject | undefined): string {
  if (!cell || cell.v === undefined || cell.v === null) return '';
  if (cell.t === 'd' && cell.v instanceof Date) return isoDate(cell.v);
  if (cell.t === 'e') return cell.w ?? '#ERROR';
  return String(cell.v);
}

export async function convertXlsBytes(bytes: Uint8Array, path = '(input)', signal?: AbortSignal, options: XlsOptions = {}): Promise<ConvertedDocument> {
  if (bytes.length === 0) throw emptyDocumentError(path);
  const what = notXls(bytes);
  if (what) throw corruptOffice('XLS', path, new Error(what));
  const limits = { ...xlsLimits(options.memoryMb), ...(options.maxCells !== undefined ? { maxCells: options.maxCells } : {}) };
  if (bytes.length > limits.maxBytes) throw tooLarge(`XLS workbook ${path} is ${(bytes.length / MB).toFixed(1)} MB, over the ${limits.maxBytes / MB} MB read at once`);
  const X = await loadXlsx();
  throwIfAborted(signal);
  let wb: XLSXModule.WorkBook;
  try {
    wb = X.read(bytes, { type: 'buffer', dense: true, cellDates: true, UTC: true, cellFormula: false, cellHTML: false, cellStyles: false, WTF: false });
  } catch (err) {
    const msg = (err as Error)?.message ?? String(err);
    throw corruptOffice('XLS', path, /password|encrypt/i.test(msg) ? new Error(`the workbook is password-protected (${msg})`) : err);
  }
  throwIfAborted(signal);
  if (!wb.SheetNames?.length) throw corruptOffice('XLS', path, new Error('the file holds no worksheet'));
  let cells = 0;
  for (const name of wb.SheetNames) {
    for (const row of (wb.Sheets[name]?.['!data'] as XLSXModule.CellObject[][] | undefined) ?? []) cells += row ? row.length : 0;
    if (cells > limits.maxCells) throw tooLarge(`XLS workbook ${path} has more than ${limits.maxCells.toLocaleString('en-US')} cells`);
  }
  const blocks: string[] = [];
  for (const name of wb.SheetNames) {
    const lines: string[] = [];
    for (const row of (wb.Sheets[name]?.['!data'] as XLSXModule.CellObject[][] | undefined) ?? []) {
      if (!row) continue;
      const line = rowLine(Array.from(row, cellText));
      if (line !== undefined) lines.push(line);
    }
    const block = sheetBlock(name, lines);
    if (block) blocks.push(block);
  }
  const text = blocks.join('\n\n');
  if (text.trim() === '') throw emptyDocumentError(path);
  return { format: 'xls', text, positions: linePositions(text), meta: { sheets: wb.SheetNames.length } };
}

export function createXlsConverter(options: XlsOptions = {}): Converter {
  return {
    id: 'xls',
    cacheKey: converterCacheKey('xls', XLS_CONVERTER_VERSION),
    extensions: ['.xls'],
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      return convertXlsBytes(input.bytes, input.path, input.signal, options);
    },
  };
}
