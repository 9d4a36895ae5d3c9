import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { CorrectionsStore } from '../../src/app/corrections';
import { exportDataset, formatOfFile, lineItemFile, type DatasetFormat } from '../../src/export/dataset';
import { DatasetLayout } from '../../src/export/datasetLayout';
import { sheetName } from '../../src/export/xlsxWriter';
import { writeResult, type ResultFile } from '../../src/export/jsonExporter';
import { rejectsWithCode } from '../support/assertions';

const SCHEMA = {
  type: 'object',
  properties: {
    invoice_number: { type: 'string' },
    vendor: { $ref: '#/$defs/vendor' },
    total: { type: 'number' },
    tags: { type: 'array', items: { type: 'string' } },
    line_items: { type: 'array', items: { type: 'object', properties: { description: { type: 'string' }, amount: { type: 'number' } } } },
    paid: { anyOf: [{ type: 'boolean' }, { type: 'null' }] },
  },
  $defs: { vendor: { type: 'object', properties: { name: { type: 'string' }, address: { type: 'object', properties: { city: { type: 'string' } } } } } },
};

/** Values a spreadsheet or a CSV reader gets wrong when they are not quoted or escaped. */
const NASTY = {
  quotes: 'He said "hi", then left',
  newline: 'line one\r\nline two\nline three',
  unicode: 'Zürich — 東京 ✓ 🧾',
  formula: '=HYPERLINK("http://evil.invalid","x")',
  plus: '+1 555 0100',
  at: '@SUM(A1)',
  minus: '-42 (text)',
  tab: '\tindented',
};

function result(source: string, data: unknown): ResultFile {
  return {
    formatVersion: 1,
    source,
    data,
    metadata: { runId: 'run-1', model: 'test-model', schemaHash: 's', fingerprint: 'f', contentHash: 'h', converter: 'text', attempts: 1, requests: 1, tokensIn: 1, tokensOut: 1, cost: 0, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z' },
  };
}

describe('dataset export', function () {
  this.timeout(30_000);
  let dir: string;
  let outDir: string;
  let stateDir: string;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-dataset-'));
    outDir = path.join(dir, 'extracted');
    stateDir = path.join(dir, '.extraction');
    await writeResult(outDir, result('b/second.txt', {
      // fields out of schema order, and two the schema does not know
      extra_note: NASTY.quotes,
      total: -12.5,
      invoice_number: NASTY.formula,
      vendor: { name: NASTY.unicode, address: { city: NASTY.newline }, vat: 'DE123' },
      tags: ['a', 'b;c', 'd'],
      line_items: [
        { description: NASTY.plus, amount: 1 },
        { description: 'widget, large', amount: 2.25, sku: 'W-1' },
      ],
      paid: true,
    }), { fsync: false });
    await writeResult(outDir, result('a.txt', {
      invoice_number: 'INV-1',
      vendor: { name: NASTY.at, address: { city: NASTY.tab } },
      total: 10,
      tags: [],
      line_items: [],
      paid: null,
      source: NASTY.minus, // a data field named like the key column
    }), { fsync: false });
    fs.writeFileSync(path.join(outDir, 'not-a-result.json'), '{"hello": 1}');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (format: DatasetFormat, extra: Partial<Parameters<typeof exportDataset>[0]> = {}) =>
    exportDataset({ outDir, to: path.join(dir, `data.${format}`), format, schema: SCHEMA, corrections: new CorrectionsStore(stateDir), ...extra });

  it('writes CSV that a standard reader reads back: quoting, newlines, unicode, columns in schema order, line items apart', async () => {
    const report = await run('csv');
    assert.equal(report.documents, 2);
    assert.deepEqual(report.files, [path.join(dir, 'data.csv'), path.join(dir, 'data.line_items.csv')]);
    const bytes = fs.readFileSync(path.join(dir, 'data.csv'));
    assert.notEqual(bytes[0], 0xef, 'no BOM unless asked');
    const text = bytes.toString('utf8');
    assert.ok(text.includes('\r\n'), 'CRLF record ends');
    assert.ok(text.includes('""hi""'), 'quotes doubled');
    const rows = parse(text, { columns: true }) as Array<Record<string, string>>;
    assert.deepEqual(Object.keys(rows[0]), ['source', 'invoice_number', 'vendor.name', 'vendor.address.city', 'total', 'tags', 'paid', 'data.source', 'extra_note', 'vendor.vat']);
    assert.deepEqual(rows.map((r) => r.source), ['a.txt', 'b/second.txt'], 'sorted by path; a JSON file that is no result is left out');
    const [a, b] = rows;
    assert.equal(b.invoice_number, `'${NASTY.formula}`, 'formula escaped');
    assert.equal(b['vendor.name'], NASTY.unicode);
    assert.equal(b['vendor.address.city'], NASTY.newline);
    assert.equal(b.total, '-12.5', 'a negative number is not escaped');
    assert.equal(b.tags, 'a; b;c; d');
    assert.equal(b.paid, 'true');
    assert.equal(b.extra_note, NASTY.quotes);
    assert.equal(b['vendor.vat'], 'DE123');
    assert.equal(a['vendor.name'], `'${NASTY.at}`);
    assert.equal(a['vendor.address.city'], `'${NASTY.tab}`);
    assert.equal(a['data.source'], `'${NASTY.minus}`, 'text starting with - is escaped');
    assert.equal(a.paid, '');
    assert.equal(a.tags, '');
    const items = parse(fs.readFileSync(path.join(dir, 'data.line_items.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    assert.deepEqual(items, [
      { source: 'b/second.txt', index: '0', description: `'${NASTY.plus}`, amount: '1', sku: '' },
      { source: 'b/second.txt', index: '1', description: 'widget, large', amount: '2.25', sku: 'W-1' },
    ]);
    assert.deepEqual(report.tables, [{ field: 'line_items', target: path.join(dir, 'data.line_items.csv'), rows: 2 }]);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
  });

  it('starts CSV files with a BOM when asked', async () => {
    await run('csv', { bom: true });
    for (const f of ['data.csv', 'data.line_items.csv']) assert.deepEqual([...fs.readFileSync(path.join(dir, f)).subarray(0, 3)], [0xef, 0xbb, 0xbf], f);
  });

  it('lets the reviewer\'s corrections win over the model\'s values', async () => {
    const corrections = new CorrectionsStore(stateDir, { author: () => 'tester' });
    corrections.add('b/second.txt', undefined, 'set', '/total', 99, -12.5);
    corrections.add('b/second.txt', undefined, 'set', '/line_items/1/amount', 3, 2.25);
    corrections.add('b/second.txt', undefined, 'set', '/vendor/name', 'ACME "fixed"', NASTY.unicode);
    const report = await run('csv', { withStatus: true });
    const rows = parse(fs.readFileSync(path.join(dir, 'data.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    const b = rows.find((r) => r.source === 'b/second.txt')!;
    assert.equal(b.total, '99');
    assert.equal(b['vendor.name'], 'ACME "fixed"');
    assert.equal(b._corrections, '3');
    assert.equal(b._stage, 'done');
    assert.equal(b._model, 'test-model');
    assert.equal(rows.find((r) => r.source === 'a.txt')!._corrections, '0');
    const items = parse(fs.readFileSync(report.files[1], 'utf8'), { columns: true }) as Array<Record<string, string>>;
    assert.equal(items[1].amount, '3');
    // the result file's own `corrected` copy is used when there is no state folder to read corrections from
    const copy = JSON.parse(fs.readFileSync(path.join(outDir, 'a.txt.json'), 'utf8'));
    copy.corrected = { ...copy.data, total: 11 };
    fs.writeFileSync(path.join(outDir, 'a.txt.json'), JSON.stringify(copy));
    await exportDataset({ outDir, to: path.join(dir, 'plain.csv'), format: 'csv', schema: SCHEMA });
    const plain = parse(fs.readFileSync(path.join(dir, 'plain.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    assert.equal(plain.find((r) => r.source === 'a.txt')!.total, '11');
    assert.equal(plain.find((r) => r.source === 'b/second.txt')!.total, '-12.5', 'without the corrections folder, only what the result file says');
  });

  it('writes XLSX that exceljs reads back: typed cells, text never a formula, line items in a second sheet', async () => {
    const report = await run('xlsx');
    assert.deepEqual(report.files, [path.join(dir, 'data.xlsx')]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path.join(dir, 'data.xlsx'));
    assert.deepEqual(wb.worksheets.map((w) => w.name), ['documents', 'line_items']);
    const sheet = wb.getWorksheet('documents')!;
    const values = (r: number) => (sheet.getRow(r).values as unknown[]).slice(1);
    assert.deepEqual(values(1), ['source', 'invoice_number', 'vendor.name', 'vendor.address.city', 'total', 'tags', 'paid', 'data.source', 'extra_note', 'vendor.vat']);
    const b = values(3);
    assert.equal(b[0], 'b/second.txt');
    assert.equal(b[1], NASTY.formula, 'kept as text');
    assert.equal(sheet.getRow(3).getCell(2).formula, undefined, 'not a formula');
    assert.equal(b[2], NASTY.unicode);
    assert.equal(b[3], NASTY.newline.replace(/\r\n/g, '\n'), 'XML reads CRLF as LF (Excel shows the same lines)');
    assert.equal(b[4], -12.5);
    assert.equal(b[6], true);
    assert.equal(values(2)[7], NASTY.minus);
    const items = wb.getWorksheet('line_items')!;
    assert.deepEqual((items.getRow(1).values as unknown[]).slice(1), ['source', 'index', 'description', 'amount', 'sku']);
    assert.deepEqual((items.getRow(3).values as unknown[]).slice(1), ['b/second.txt', 1, 'widget, large', 2.25, 'W-1']);
    assert.equal(items.rowCount, 3);
  });

  it('writes JSONL with one object per document, line items nested, and status on request', async () => {
    fs.mkdirSync(stateDir, { recursive: true });
    await run('jsonl', { withStatus: true });
    const lines = fs.readFileSync(path.join(dir, 'data.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.equal(lines[1].source, 'b/second.txt');
    assert.deepEqual(lines[1].data.line_items[1], { description: 'widget, large', amount: 2.25, sku: 'W-1' });
    assert.equal(lines[1].data.vendor.address.city, NASTY.newline);
    assert.equal(lines[1].status.stage, 'done');
    assert.equal(lines[1].status.finishedAt, '2026-01-01T00:00:01.000Z');
  });

  it('gives clear errors: nothing to export, unknown format, unwritable target; and leaves an old file untouched', async () => {
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(dir, 'x.csv'), 'old');
    await rejectsWithCode(exportDataset({ outDir: empty, to: path.join(dir, 'x.csv'), format: 'csv' }), 'EXPORT_FAILED', (e) => assert.match(e.message, /No results in/));
    assert.equal(fs.readFileSync(path.join(dir, 'x.csv'), 'utf8'), 'old');
    await rejectsWithCode(exportDataset({ outDir, to: path.join(dir, 'x.txt'), format: 'txt' as DatasetFormat }), 'INVALID_CONFIG', (e) => assert.match(e.message, /Unknown export format "txt"/));
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'x');
    await rejectsWithCode(run('csv', { to: path.join(blocker, 'data.csv') }), 'OUTPUT_UNWRITABLE', (e) => assert.match(e.message, /Cannot write the export/));
    fs.mkdirSync(path.join(dir, 'folder.csv'));
    await rejectsWithCode(run('csv', { to: path.join(dir, 'folder.csv') }), 'OUTPUT_UNWRITABLE', (e) => assert.match(e.message, /it is a folder/));
  });

  it('flattens by the schema, through refs and nullable unions, and keeps fields the schema does not know', () => {
    const layout = DatasetLayout.fromSchema(SCHEMA);
    assert.deepEqual(layout.columns, ['invoice_number', 'vendor.name', 'vendor.address.city', 'total', 'tags', 'paid']);
    assert.deepEqual([...layout.tables], [['line_items', ['description', 'amount']]]);
    const flat = layout.flatten({ total: 1, nested: { deep: { x: [1, { y: 2 }] } }, parts: [{ a: 1, sub: [{ z: 1 }] }] }, true);
    assert.equal(flat.cells.get('nested.deep.x'), '1; {"y":2}');
    assert.deepEqual([...flat.items.get('parts')![0]], [['a', 1], ['sub', '[{"z":1}]']]);
    assert.deepEqual(layout.columns.slice(-1), ['nested.deep.x']);
  });

  it('names files and sheets safely', () => {
    assert.equal(lineItemFile('/x/data.csv', 'order.items'), '/x/data.order.items.csv');
    assert.equal(lineItemFile('/x/data', 'a/b:c'), '/x/data.a_b_c.csv');
    assert.equal(sheetName('a[b]:c*?/\\', new Set()), 'a_b__c____');
    assert.equal(sheetName('Documents', new Set(['documents'])), 'Documents (2)');
    assert.equal(sheetName('x'.repeat(40), new Set()).length, 31);
    assert.equal(formatOfFile('a.NDJSON'), 'jsonl');
    assert.equal(formatOfFile('a.tsv'), undefined);
  });
});
