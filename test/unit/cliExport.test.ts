import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { CorrectionsStore } from '../../src/app/corrections';
import { runCli } from '../support/cli';
import { startModelServer, type ModelServer } from '../support/modelServer';

const SCHEMA = {
  type: 'object',
  properties: {
    invoice_number: { type: 'string' },
    vendor: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    total: { type: 'number' },
    line_items: { type: 'array', items: { type: 'object', properties: { description: { type: 'string' }, amount: { type: 'number' } }, required: ['description', 'amount'] } },
  },
  required: ['invoice_number', 'vendor', 'total', 'line_items'],
};

const REPLIES: Record<string, unknown> = {
  'a.txt': { invoice_number: '=1+1', vendor: { name: 'Ünïcode, "quoted" GmbH' }, total: -3, line_items: [{ description: 'one\nline two', amount: 1 }] },
  'sub/b.txt': { invoice_number: 'INV-2', vendor: { name: 'Plain' }, total: 7.5, line_items: [] },
};

describe('CLI export', function () {
  this.timeout(120_000); // several CLI processes per test (each starts a Node bundle)
  let server: ModelServer;
  let root: string;
  let state: string;

  before(async () => {
    server = await startModelServer({ latencyMs: 1 });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-export-'));
    fs.mkdirSync(path.join(root, 'sub'));
    for (const [doc, reply] of Object.entries(REPLIES)) {
      fs.writeFileSync(path.join(root, doc), `Document text: ${JSON.stringify(reply)}\n`);
      server.setScript(doc, [{ reply }]);
    }
    fs.writeFileSync(path.join(root, 'c.txt'), 'A document the model cannot answer.\n');
    server.setScript('c.txt', [{ status: 400 }]);
    fs.writeFileSync(path.join(root, 'invoice.schema.json'), JSON.stringify(SCHEMA));
    const r = await runCli(['run', root, '--schema', path.join(root, 'invoice.schema.json'), '--base-url', server.url, '--include', '**/*.txt']);
    assert.equal(r.code, 1, `one document is dead-lettered: ${r.stderr}`);
    state = path.join(root, '.extraction');
    // a reviewer's correction, recorded as the review panel records it
    new CorrectionsStore(state, { author: () => 'tester' }).add('sub/b.txt', undefined, 'set', '/total', 8, 7.5);
  });
  after(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const csv = (file: string) => parse(fs.readFileSync(file, 'utf8'), { columns: true }) as Array<Record<string, string>>;

  it('exports the results of a real run as CSV: schema order, corrections win, line items beside it', async () => {
    const to = path.join(root, 'exports', 'data.csv');
    const r = await runCli(['export', '--state', state, '--to', to]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Exported 2 document\(s\)/);
    const rows = csv(to);
    assert.deepEqual(Object.keys(rows[0]), ['source', 'invoice_number', 'vendor.name', 'total']);
    assert.deepEqual(rows, [
      { source: 'a.txt', invoice_number: "'=1+1", 'vendor.name': 'Ünïcode, "quoted" GmbH', total: '-3' },
      { source: 'sub/b.txt', invoice_number: 'INV-2', 'vendor.name': 'Plain', total: '8' },
    ]);
    assert.deepEqual(csv(path.join(root, 'exports', 'data.line_items.csv')), [{ source: 'a.txt', index: '0', description: 'one\nline two', amount: '1' }]);
  });

  it('lists documents without a result with --with-status, with stage and error', async () => {
    const to = path.join(root, 'status.csv');
    const r = await runCli(['export', '--out', path.join(root, 'extracted'), '--to', to, '--with-status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).documents, 3);
    const rows = csv(to);
    const c = rows.find((row) => row.source === 'c.txt')!;
    assert.equal(c._stage, 'dead-lettered');
    assert.equal(c._error_code, 'BAD_REQUEST');
    assert.equal(c.invoice_number, '');
    const b = rows.find((row) => row.source === 'sub/b.txt')!;
    assert.equal(b._stage, 'done');
    assert.equal(b._corrections, '1');
    assert.equal(b._model, 'gpt-4o-mini');
  });

  it('exports XLSX and JSONL chosen by the extension of --to', async () => {
    assert.equal((await runCli(['export', '--state', state, '--to', path.join(root, 'd.xlsx')])).code, 0);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path.join(root, 'd.xlsx'));
    assert.deepEqual(wb.worksheets.map((w) => w.name), ['documents', 'line_items']);
    assert.equal(wb.getWorksheet('documents')!.getRow(3).getCell(4).value, 8);
    const j = await runCli(['export', '--state', state, '--to', path.join(root, 'd.out'), '--format', 'jsonl']);
    assert.equal(j.code, 0, j.stderr);
    const lines = fs.readFileSync(path.join(root, 'd.out'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.source, l.data.total]), [['a.txt', -3], ['sub/b.txt', 8]]);
  });

  it('exits 2 with a clear reason for bad usage', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['export', '--state', state], /export needs --to <file>/],
      [['export', '--state', state, '--to', path.join(root, 'x.tsv')], /the extension of ".*x\.tsv" names none/],
      [['export', '--state', state, '--to', path.join(root, 'x.csv'), '--format', 'parquet'], /Unknown --format "parquet"/],
      [['export', '--out', path.join(root, 'sub'), '--state', path.join(root, 'sub'), '--to', path.join(root, 'x.csv')], /No results in/],
      [['export', '--state', state, '--to', path.join(root, 'invoice.schema.json', 'x.csv')], /\[OUTPUT_UNWRITABLE\] Cannot write the export/],
      [['export', '--state', path.join(root, 'nowhere'), '--to', path.join(root, 'x.csv')], /No extraction state in/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { HOME: root });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    assert.ok(!fs.existsSync(path.join(root, 'x.csv')));
  });
});
