/**
 * Old binary Excel workbooks (.xls, BIFF) as documents. The fixtures are written with the same library that
 * reads them (SheetJS, `@e965/xlsx`: BIFF8, BIFF5 and BIFF2 writers): LibreOffice, which would make them
 * independently, is a large install this machine and CI do not have.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as XLSX from '@e965/xlsx';
import { ErrorCodes } from '../../src/core/errors';
import { createConverterRegistry, type ConverterRegistry } from '../../src/convert';
import { createXlsConverter, xlsLimits } from '../../src/convert/xls';
import { rejectsWithCode } from '../support/assertions';
import { runCli } from '../support/cli';
import { zipStored } from '../fixtures/convert/docx';

const input = (bytes: Uint8Array, path: string) => ({ path, absPath: `/tmp/${path}`, bytes });
const message = (re: RegExp) => (e: Error) => assert.match(e.message, re);

function book(sheets: Record<string, unknown[][]>, bookType: XLSX.BookType = 'biff8'): Uint8Array {
  const wb = XLSX.utils.book_new();
  for (const [name, rows] of Object.entries(sheets)) XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet(rows, { cellDates: true }), name);
  return new Uint8Array(XLSX.write(wb, { type: 'buffer', bookType }) as Buffer);
}

describe('convert/xls (BIFF workbooks)', () => {
  let registry: ConverterRegistry;
  before(() => (registry = createConverterRegistry({ maxWorkerMemoryMb: 64 })));
  after(() => registry.dispose());
  const convert = (bytes: Uint8Array, name = 'book.xls') => registry.get('.xls')!.convert(input(bytes, name));

  it('every sheet with values as "Sheet: name" and one " | " line per row, as for XLSX', async () => {
    const bytes = book({
      Invoices: [
        ['Invoice', 'Date', 'Net', 'Paid'],
        ['INV-1', new Date(Date.UTC(2024, 2, 5)), 100.5, true],
        [],
        ['INV-2', new Date(Date.UTC(2024, 2, 6, 9, 30)), null, false],
        ['Straße  ', 'multi\nline', '', 'x'],
      ],
      Empty: [],
      Notes: [[null, 'second column']],
    });
    assert.deepEqual([...bytes.subarray(0, 4)], [0xd0, 0xcf, 0x11, 0xe0], 'an OLE compound file');
    const doc = await convert(bytes);
    assert.equal(doc.format, 'xls');
    assert.equal(
      doc.text,
      [
        'Sheet: Invoices',
        'Invoice | Date | Net | Paid',
        'INV-1 | 2024-03-05 | 100.5 | true',
        'INV-2 | 2024-03-06T09:30:00Z |  | false',
        'Straße | multi line |  | x',
        '',
        'Sheet: Notes',
        ' | second column',
      ].join('\n'),
    );
    assert.deepEqual(doc.meta, { sheets: 3 });
    assert.equal(doc.positions?.[2].line, 3);
  });

  it('older BIFF5 and BIFF2 files are read too', async () => {
    for (const type of ['biff5', 'biff2'] as const) {
      const doc = await convert(book({ Sheet1: [['a', 'b'], [1, 2]] }, type), `${type}.xls`);
      assert.equal(doc.text, 'Sheet: Sheet1\na | b\n1 | 2', type);
    }
  });

  it('bad input: empty, no values, text / XLSX / HTML named .xls, a cut or scrambled workbook', async () => {
    await rejectsWithCode(convert(new Uint8Array(0)), ErrorCodes.EMPTY_DOCUMENT);
    await rejectsWithCode(convert(book({ Sheet1: [[null, '']] })), ErrorCodes.EMPTY_DOCUMENT);
    await rejectsWithCode(convert(new TextEncoder().encode('Invoice,Total\nINV-1,12\n'), 'csv.xls'), ErrorCodes.CORRUPT_INPUT, message(/Cannot read XLS csv\.xls: it is not an Excel 97–2003 \(BIFF\) workbook/));
    await rejectsWithCode(convert(new Uint8Array(zipStored({ '[Content_Types].xml': '<Types/>' })), 'x.xls'), ErrorCodes.CORRUPT_INPUT, message(/rename it \.xlsx/));
    await rejectsWithCode(convert(new TextEncoder().encode('<html><table><tr><td>1</td></tr></table></html>'), 'h.xls'), ErrorCodes.CORRUPT_INPUT, message(/XML or HTML/));
    const good = book({ Sheet1: Array.from({ length: 200 }, (_, i) => [`row ${i}`, i]) });
    await rejectsWithCode(convert(good.subarray(0, 1024), 'cut.xls'), ErrorCodes.CORRUPT_INPUT, message(/Cannot read XLS cut\.xls/));
    const scrambled = new Uint8Array(good);
    for (let i = 512; i < scrambled.length; i++) scrambled[i] = (i * 7919) & 0xff;
    await rejectsWithCode(convert(scrambled, 'scrambled.xls'), ErrorCodes.CORRUPT_INPUT);
  });

  it('bounded: more cells than the limit, or more bytes than are parsed at once → TOO_LARGE naming the limit', async () => {
    const { maxCells, maxBytes } = xlsLimits(32);
    assert.deepEqual({ maxCells, maxBytes }, { maxCells: 100_000, maxBytes: 4 * 1024 * 1024 });
    assert.deepEqual(xlsLimits(1024), { maxCells: 2_048_000, maxBytes: 32 * 1024 * 1024 });
    // (a smaller cell limit here: SheetJS' BIFF writer takes half a minute for 100,000 cells)
    const many = book({ Big: Array.from({ length: 101 }, (_, i) => Array.from({ length: 10 }, (_, j) => i * 10 + j)) });
    await rejectsWithCode(createXlsConverter({ memoryMb: 32, maxCells: 1000 }).convert(input(many, 'many.xls')), ErrorCodes.TOO_LARGE, message(/more than 1,000 cells.*--pdf-max-memory-mb/));
    const huge = new Uint8Array(maxBytes + 1);
    huge.set([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
    await rejectsWithCode(createXlsConverter({ memoryMb: 32 }).convert(input(huge, 'huge.xls')), ErrorCodes.TOO_LARGE, message(/over the 4 MB read at once/));
    // under the limits the same workbook converts
    assert.match((await convert(many, 'many.xls')).text, /^Sheet: Big\n0 \| 1 \| 2/);
  });

  it('the built CLI reads .xls (SheetJS is its own bundle beside cli.js)', async function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-xls-'));
    try {
      fs.writeFileSync(path.join(dir, 'book.xls'), book({ S: [['Invoice', 'Total'], ['INV-9', 12]] }));
      fs.writeFileSync(path.join(dir, 'bad.xls'), 'not a workbook');
      const schema = path.join(dir, 'schema.json');
      fs.writeFileSync(schema, JSON.stringify({ type: 'object', properties: { invoice: { type: 'string' } } }));
      const r = await runCli(['estimate', dir, '--schema', schema, '--include', '*.xls', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const est = JSON.parse(r.stdout) as { documents: number; skipped: Array<{ path: string; reason: string }> };
      assert.equal(est.documents, 1);
      assert.deepEqual(est.skipped.map((s) => s.path), ['bad.xls']);
      assert.match(est.skipped[0].reason, /\[CORRUPT_INPUT\] Cannot read XLS bad\.xls/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
