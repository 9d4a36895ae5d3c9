/**
 * Source grounding: exact, normalized (whitespace, case, number and date formats) and fuzzy matches,
 * JSON pointers, line numbers, pages and boxes — on plain text and on real PDFs converted by the real
 * converter (dist/pdfWorker.js, built by `node esbuild.js`).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { ConvertCache, sha256Hex } from '../../src/convert/cache';
import { createConverterRegistry, type ConverterRegistry } from '../../src/convert/index';
import { convertTextBytes, createTextConverter } from '../../src/convert/text';
import { Pipeline } from '../../src/core/pipeline';
import { readResult } from '../../src/export/jsonExporter';
import type { ConvertedDocument } from '../../src/convert/types';
import { groundingConfidence } from '../../src/extract/confidence';
import { Grounder, groundValues, type FieldGrounding, type Grounding } from '../../src/extract/grounding';
import { dateValues, numberValues } from '../../src/extract/valueForms';
import { FakeExtractor } from '../fakes/fakeExtractor';
import { MemoryCheckpointStore } from '../fakes/memoryStore';
import { ASSETS_DIR, REPO_ROOT, WORKER_PATH, pdftotextBBox, requireBuiltWorker, tempDir } from '../fixtures/pdf/generate';

const textDoc = (text: string): ConvertedDocument => convertTextBytes(Buffer.from(text, 'utf8'), 'text');

function field(g: Grounding, pointer: string): FieldGrounding {
  const f = g.fields.find((x) => x.pointer === pointer);
  assert.ok(f, `a grounding entry for ${pointer} (have ${g.fields.map((x) => x.pointer).join(', ')})`);
  return f;
}

function matched(doc: ConvertedDocument, f: FieldGrounding): string {
  assert.strictEqual(f.status, 'grounded', `${f.pointer} is grounded`);
  return doc.text.slice(f.start, f.end);
}

describe('grounding: number and date parsing', () => {
  it('reads a number token in every common format', () => {
    assert.deepStrictEqual(numberValues('1,249.50'), [1249.5]);
    assert.deepStrictEqual(numberValues('1.249,50'), [1249.5]);
    assert.deepStrictEqual(numberValues('1 249,50'), [1249.5]);
    assert.deepStrictEqual(numberValues("1'249.50"), [1249.5]);
    assert.deepStrictEqual(numberValues('1249.5'), [1249.5]);
    assert.deepStrictEqual(numberValues('1,234').sort(), [1.234, 1234].sort());
    assert.deepStrictEqual(numberValues('1.234.567'), [1234567]);
    assert.deepStrictEqual(numberValues('0,5'), [0.5]);
    assert.deepStrictEqual(numberValues('1.2.3'), []);
  });

  it('reads dates written in several ways as calendar days', () => {
    assert.deepStrictEqual(dateValues('2024-03-05'), ['2024-03-05']);
    assert.deepStrictEqual(dateValues('2024-03-05T10:00:00Z'), ['2024-03-05']);
    assert.deepStrictEqual(dateValues('05.03.2024'), ['2024-03-05']);
    assert.deepStrictEqual(dateValues('March 5, 2024'), ['2024-03-05']);
    assert.deepStrictEqual(dateValues('5 Mar 2024'), ['2024-03-05']);
    assert.deepStrictEqual(dateValues('5. März 2024'), ['2024-03-05']);
    assert.deepStrictEqual(dateValues('03/05/2024').sort(), ['2024-03-05', '2024-05-03']);
    assert.deepStrictEqual(dateValues('2024-02-30'), []);
    assert.deepStrictEqual(dateValues('not a date'), []);
  });
});

describe('grounding: text documents', () => {
  const text = [
    'ACME Office Supplies GmbH', // 1
    'Invoice number: INV-2024-0117', // 2
    'Invoice date: 05.03.2024', // 3
    'Customer:   Northwind\tTraders', // 4
    '', // 5
    'Item            Qty   Amount', // 6
    'Paper A4         10    1.249,50', // 7
    'Pens              2       54,00', // 8
    'Desk organiser    3       54,00', // 9
    'TOTAL DUE              EUR 1.357,50', // 10
    'Due by March 5, 2024', // 11
    'Path: a/b~c', // 12
  ].join('\n');
  const doc = textDoc(text);

  it('grounds exact, normalized and numeric values with JSON pointers and lines', () => {
    const data = {
      vendor: 'ACME Office Supplies GmbH',
      invoice_number: 'INV-2024-0117',
      invoice_date: '2024-03-05',
      customer: 'northwind traders',
      total: 1357.5,
      currency: 'EUR',
      'a/b~c': 'a/b~c',
      due: 'March 5, 2024',
      paid: true,
      note: null,
      empty: '',
    };
    const g = groundValues(data, doc);
    assert.strictEqual(g.version, 1);
    const vendor = field(g, '/vendor');
    assert.strictEqual(vendor.match, 'exact');
    assert.strictEqual(vendor.line, 1);
    assert.strictEqual(matched(doc, vendor), 'ACME Office Supplies GmbH');
    assert.strictEqual(field(g, '/invoice_number').line, 2);
    const date = field(g, '/invoice_date');
    assert.strictEqual(date.match, 'normalized');
    assert.strictEqual(matched(doc, date), '05.03.2024');
    assert.strictEqual(date.line, 3);
    const customer = field(g, '/customer');
    assert.strictEqual(customer.match, 'normalized');
    assert.strictEqual(matched(doc, customer), 'Northwind\tTraders');
    const total = field(g, '/total');
    assert.strictEqual(total.match, 'normalized');
    assert.strictEqual(matched(doc, total), '1.357,50');
    assert.strictEqual(total.line, 10);
    assert.strictEqual(field(g, '/currency').match, 'exact');
    // RFC 6901 escaping of "/" and "~"
    assert.strictEqual(matched(doc, field(g, '/a~1b~0c')), 'a/b~c');
    // an exact string match wins over the date reading
    assert.strictEqual(field(g, '/due').match, 'exact');
    // nothing to find: null, booleans, empty strings get no entry
    for (const p of ['/paid', '/note', '/empty']) assert.ok(!g.fields.some((f) => f.pointer === p), `${p} has no entry`);
    assert.deepStrictEqual(g.summary, { total: 8, exact: 5, normalized: 3, fuzzy: 0, ungrounded: 0 });
  });

  it('grounds array items row by row (nearest occurrence after the previous value)', () => {
    const data = {
      items: [
        { description: 'Paper A4', quantity: 10, amount: 1249.5 },
        { description: 'Pens', quantity: 2, amount: 54 },
        { description: 'Desk organiser', quantity: 3, amount: 54 },
      ],
    };
    const g = groundValues(data, doc);
    assert.strictEqual(field(g, '/items/0/quantity').line, 7);
    assert.strictEqual(field(g, '/items/1/amount').line, 8, 'the 54,00 of the Pens row');
    assert.strictEqual(field(g, '/items/2/quantity').line, 9);
    assert.strictEqual(field(g, '/items/2/amount').line, 9, 'the 54,00 of the Desk organiser row');
    // "A4" holds a 4, but a number glued to letters is not preferred
    assert.strictEqual(matched(doc, field(g, '/items/0/quantity')), '10');
  });

  it('places a line item\'s value on its own row when the value also occurs elsewhere, and flags the ambiguous ones', () => {
    // 3 × 640.00 = 1,920.00 and 2 × 320.00 = 640.00: the chair's amount is also the desk's unit price
    const table = textDoc(
      ['Invoice 2024-117', '', 'Description        Qty   Unit price      Amount', 'Standing desk        3       640.00    1,920.00', 'Office chair         2       320.00      640.00', 'Cable tray           1         5.00        5.00', '', 'Total: 2,565.00', ''].join(
        '\n',
      ),
    );
    // keys in alphabetical order (as some schemas list them): the amount is looked for before its siblings
    const data = {
      line_items: [
        { amount: 1920, description: 'Standing desk', quantity: 3, unit_price: 640 },
        { amount: 640, description: 'Office chair', quantity: 2, unit_price: 320 },
        { amount: 5, description: 'Cable tray', quantity: 1, unit_price: 5 },
      ],
      total: 2565,
    };
    const g = groundValues(data, table);
    const col = (p: string) => {
      const f = field(g, p);
      const lineStart = table.text.lastIndexOf('\n', f.start! - 1) + 1;
      return { line: f.line, column: f.start! - lineStart, text: matched(table, f), ambiguous: f.ambiguous ?? false };
    };
    const header = table.text.split('\n')[2];
    const amountEnd = header.indexOf('Amount') + 'Amount'.length;
    const unitEnd = header.indexOf('Unit price') + 'Unit price'.length;
    const chairAmount = col('/line_items/1/amount');
    assert.deepStrictEqual([chairAmount.line, chairAmount.text, chairAmount.ambiguous], [5, '640.00', false], "the chair's amount, on the chair's row");
    assert.strictEqual(chairAmount.column + chairAmount.text.length, amountEnd, 'in the Amount column');
    const deskPrice = col('/line_items/0/unit_price');
    assert.deepStrictEqual([deskPrice.line, deskPrice.ambiguous], [4, false]);
    assert.strictEqual(deskPrice.column + deskPrice.text.length, unitEnd, "the desk's unit price, in the Unit price column");
    assert.deepStrictEqual([col('/line_items/1/unit_price').line, col('/line_items/0/amount').line, col('/line_items/1/quantity').line], [5, 4, 5]);
    // the cable tray: 1 × 5.00 = 5.00, two equally plausible 5.00 on its row: both used once, flagged
    const trayAmount = col('/line_items/2/amount');
    const trayPrice = col('/line_items/2/unit_price');
    assert.deepStrictEqual([trayAmount.line, trayPrice.line], [6, 6]);
    assert.notStrictEqual(trayAmount.column, trayPrice.column, 'not the same 5.00 twice');
    assert.strictEqual(trayAmount.ambiguous, true);
    assert.strictEqual(field(g, '/total').line, 8);
    assert.ok(!g.fields.some((f) => f.ambiguous && !f.pointer.startsWith('/line_items/2/')), 'only the tray is ambiguous');
  });

  it('places a top-level value that occurs twice after its label, on its line or the line above', () => {
    // the total equals the only line item's amount, and the total comes first in the data
    const doc = textDoc(['Invoice INV-7 of 2024-03-05', 'Lamp oil        4   10.00   40.00', 'Delivery date', '2024-03-05', 'Total due: EUR 40.00', ''].join('\n'));
    const data = { delivery_date: '2024-03-05', invoiceNumber: 'INV-7', total: 40, line_items: [{ description: 'Lamp oil', quantity: 4, amount: 40 }] };
    const g = groundValues(data, doc);
    assert.strictEqual(field(g, '/total').line, 5, 'the total on the "Total due" line, not on the lamp oil row');
    assert.strictEqual(field(g, '/line_items/0/amount').line, 2, 'the line item keeps its row');
    assert.strictEqual(field(g, '/delivery_date').line, 4, 'a value under its label (the line above)');
    // without a label anywhere, the nearest occurrence after the previous value wins, as before
    const plain = groundValues({ a: 'INV-7', x: 40 }, doc);
    assert.strictEqual(field(plain, '/x').line, 2);
  });

  it('finds near misses fuzzily, but never with different digits', () => {
    const g = groundValues({ vendor: 'ACME Ofice Suplies GmbH', wrong_number: 'INV-2024-0171', absent: 'Globex Corporation' }, doc);
    const vendor = field(g, '/vendor');
    assert.strictEqual(vendor.match, 'fuzzy');
    assert.strictEqual(matched(doc, vendor), 'ACME Office Supplies GmbH');
    assert.ok(vendor.score! > 0.85 && vendor.score! < 1, `score ${vendor.score}`);
    assert.strictEqual(field(g, '/wrong_number').status, 'ungrounded', 'digits must agree');
    assert.strictEqual(field(g, '/absent').status, 'ungrounded');
    assert.strictEqual(g.summary.ungrounded, 2);
    assert.strictEqual(g.summary.fuzzy, 1);
  });

  it('ungrounds numbers that are not in the text and never throws on odd input', () => {
    const g = groundValues({ total: 999.99, list: [1, 'x', [2, null]], nan: Number.NaN }, doc);
    assert.strictEqual(field(g, '/total').status, 'ungrounded');
    assert.deepStrictEqual(
      g.fields.map((f) => f.pointer),
      ['/total', '/list/0', '/list/1', '/list/2/0'],
    );
    assert.doesNotThrow(() => groundValues(undefined, doc));
    assert.doesNotThrow(() => groundValues('Pens', { format: 'text', text: '' }));
    assert.strictEqual(groundValues('Pens', doc).fields[0].pointer, '', 'a bare value has the root pointer');
  });

  it('re-grounds single values with the same indexes (Grounder.groundLeaf)', () => {
    const g = new Grounder(doc);
    assert.strictEqual(g.groundLeaf('/x', 'Desk organiser')?.line, 9);
    assert.strictEqual(g.groundLeaf('/x', 1357.5)?.line, 10);
    assert.strictEqual(g.groundLeaf('/x', null), undefined);
  });

  // its speed is measured by `npm run bench` (part grounding), not here: these machines are shared
  it('grounds values in a document of hundreds of pages (a million characters)', () => {
    const lines: string[] = [];
    for (let p = 0; p < 400; p++) {
      for (let l = 0; l < 40; l++) lines.push(`Page ${p} line ${l}: the quick brown fox ${p * 40 + l} jumps over 1,${String(l).padStart(3, '0')}.${p % 100} lazy dogs`);
    }
    lines.push('Final amount 7.777.777,77 payable to Zanzibar Holdings Limited');
    const big = textDoc(lines.join('\n'));
    assert.ok(big.text.length > 1_000_000);
    const data: Record<string, unknown> = { company: 'Zanzibar Holdings Limted', amount: 7777777.77, missing: 'Completely absent phrase here' };
    for (let i = 0; i < 40; i++) data[`n${i}`] = i * 97;
    const g = groundValues(data, big);
    assert.strictEqual(field(g, '/company').match, 'fuzzy');
    assert.strictEqual(field(g, '/amount').line, lines.length);
    assert.strictEqual(field(g, '/missing').status, 'ungrounded');
  });
});

describe('grounding: PDFs converted by the real converter', function () {
  this.timeout(60_000);
  let registry: ConverterRegistry;
  let tmp: string;

  before(() => {
    requireBuiltWorker();
    tmp = tempDir('grounding-test-');
    registry = createConverterRegistry({ pdfWorkerPath: WORKER_PATH, pdfAssetsDir: ASSETS_DIR, poolSize: 1, timeoutMs: 30_000 });
  });
  after(async () => {
    await registry.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const convert = (file: string) => registry.get('.pdf')!.convert({ path: path.basename(file), absPath: file, bytes: new Uint8Array(fs.readFileSync(file)) });

  /** Asserts that `f` has a box on `page` that covers a pdftotext word equal to `word`. */
  function assertBoxCovers(file: string, f: FieldGrounding, page: number, word: string): void {
    assert.strictEqual(f.page, page, `${f.pointer} on page ${page}`);
    assert.ok(f.boxes && f.boxes.length > 0, `${f.pointer} has boxes`);
    const words = pdftotextBBox(file, page).filter((w) => w.word === word);
    assert.ok(words.length, `pdftotext finds "${word}" on page ${page}`);
    const ok = words.some((w) =>
      f.boxes!.some(({ page: p, bbox: [x0, y0, x1, y1] }) => {
        const cx = (w.xMin + w.xMax) / 2;
        const cy = (w.yMin + w.yMax) / 2;
        return p === page && cx >= x0 - 1 && cx <= x1 + 1 && cy >= y0 - 2 && cy <= y1 + 2 && x0 <= w.xMin + 2 && x1 >= w.xMax - 2;
      }),
    );
    assert.ok(ok, `${f.pointer}: a box of ${JSON.stringify(f.boxes)} covers "${word}" at ${JSON.stringify(words.map((w) => [w.xMin, w.yMin, w.xMax, w.yMax]))}`);
  }

  it('grounds every value of the sample invoice to page 1 with a box around the word', async () => {
    const file = path.join(REPO_ROOT, 'samples', 'invoices', 'invoice-single-column.pdf');
    const doc = await convert(file);
    const data = {
      invoice_number: 'INV-2024-0042',
      invoice_date: '2024-03-15',
      vendor: 'Northwind Office Supplies GmbH',
      total: 250.26,
      currency: 'EUR',
      line_items: [
        { description: 'A4 copy paper, 80 g/m2, box of 5 reams', quantity: 4, amount: 94 },
        { description: 'Ballpoint pens, blue, pack of 50', quantity: 2, amount: 25.8 },
        { description: 'Desk organiser, bamboo', quantity: 3, amount: 54 },
        { description: 'Stapler, heavy duty', quantity: 1, amount: 34.75 },
      ],
    };
    const g = groundValues(data, doc);
    assert.strictEqual(g.summary.ungrounded, 0, JSON.stringify(g.fields.filter((f) => f.status === 'ungrounded')));
    assert.strictEqual(g.summary.total, 17);
    for (const f of g.fields) {
      assert.strictEqual(f.page, 1);
      assert.strictEqual(f.line, undefined, 'no lines for a PDF');
    }
    assertBoxCovers(file, field(g, '/invoice_number'), 1, 'INV-2024-0042');
    assertBoxCovers(file, field(g, '/invoice_date'), 1, '2024-03-15');
    assertBoxCovers(file, field(g, '/total'), 1, '250.26');
    assertBoxCovers(file, field(g, '/line_items/0/amount'), 1, '94.00');
    assertBoxCovers(file, field(g, '/line_items/0/quantity'), 1, '4');
    assertBoxCovers(file, field(g, '/line_items/3/amount'), 1, '34.75');
    assertBoxCovers(file, field(g, '/line_items/2/description'), 1, 'organiser,');
    assert.strictEqual(field(g, '/line_items/0/amount').match, 'normalized', '94 vs 94.00');
    assert.strictEqual(field(g, '/total').match, 'exact');
    // the quantity 4 of the first row, not the "4" of "A4"
    const q = field(g, '/line_items/0/quantity');
    assert.strictEqual(doc.text.slice(q.start, q.end), '4');
    assert.ok(q.boxes![0].bbox[0] > 300, `quantity column (x ${q.boxes![0].bbox[0]})`);
  });

  it('grounds values on the right page of a multi-page PDF', async () => {
    const pdf = await PDFDocument.create();
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    const facts = ['Contract reference CR-88120', 'Signed by Jane Q. Public', 'Penalty amount 12,500.00 EUR'];
    facts.forEach((fact, i) => {
      const page = pdf.addPage([595, 842]);
      page.drawText(`Page ${i + 1} heading`, { x: 60, y: 780, size: 14, font });
      page.drawText(fact, { x: 80, y: 500 - i * 100, size: 12, font });
    });
    const file = path.join(tmp, 'multi.pdf');
    fs.writeFileSync(file, await pdf.save());
    const doc = await convert(file);
    const g = groundValues({ reference: 'CR-88120', signer: 'jane q. public', penalty: 12500, missing: 'Initech' }, doc);
    assertBoxCovers(file, field(g, '/reference'), 1, 'CR-88120');
    assert.strictEqual(field(g, '/signer').match, 'normalized');
    assertBoxCovers(file, field(g, '/signer'), 2, 'Public');
    assertBoxCovers(file, field(g, '/penalty'), 3, '12,500.00');
    assert.strictEqual(field(g, '/missing').status, 'ungrounded');
  });
});

describe('grounding in the pipeline', () => {
  it('writes the grounding into the result, caches the converted text, and a forced rerun bypasses the up-to-date result', async () => {
    const dir = tempDir('grounding-pipe-');
    try {
      const root = path.join(dir, 'docs');
      fs.mkdirSync(root);
      const body = 'Invoice INV-9\nTotal due: 1.249,50 EUR\n';
      fs.writeFileSync(path.join(root, 'a.txt'), body);
      const extractor = new FakeExtractor();
      extractor.script('a.txt', { data: { number: 'INV-9', total: 1249.5, note: 'not in the text' } }, { data: { number: 'INV-9', total: 1249.5, note: null } });
      const cacheDir = path.join(dir, 'state', 'converted');
      // a converter whose output is worth caching (plain text itself skips the cache: convertFormats.test.ts)
      const text = { ...createTextConverter(), cacheable: true };
      const seen: (string | undefined)[] = [];
      const spy = { ...extractor, model: extractor.model, extract: (input: Parameters<FakeExtractor['extract']>[0]) => (seen.push(input.instructions), extractor.extract(input)) };
      const make = () =>
        new Pipeline({ root, outDir: path.join(dir, 'out'), store, converters: { get: (e: string) => (e === '.txt' ? text : undefined) }, extractor: spy, schema: { type: 'object' }, instructions: 'Base.', convertedCacheDir: cacheDir, progressIntervalMs: 0 });
      const store = new MemoryCheckpointStore();
      await make().start({ trigger: 'cli' }).done;
      const r1 = (await readResult(path.join(dir, 'out'), 'a.txt'))!;
      const g = r1.grounding as Grounding;
      assert.deepStrictEqual(g.summary, { total: 3, exact: 1, normalized: 1, fuzzy: 0, ungrounded: 1, minConfidence: groundingConfidence({ status: 'ungrounded' }) });
      assert.strictEqual(field(g, '/total').line, 2);
      assert.strictEqual(field(g, '/note').confidence, groundingConfidence({ status: 'ungrounded' }), 'every record carries its confidence');
      const cached = await new ConvertCache(cacheDir).get(sha256Hex(fs.readFileSync(path.join(root, 'a.txt'))), text.cacheKey);
      assert.strictEqual(cached?.text, body, 'the converted document is in the cache under the content hash');
      // unchanged: a plain retry adopts the result; a forced one extracts again with the extra instruction
      const p = make();
      await p.retry(['a.txt']).done;
      assert.strictEqual(extractor.callsFor('a.txt'), 1, 'adopted, not extracted again');
      p.forceNext('a.txt', { instructions: 'Extra.' });
      await p.retry(['a.txt']).done;
      assert.strictEqual(extractor.callsFor('a.txt'), 2);
      assert.deepStrictEqual(seen, ['Base.', 'Base.\n\nExtra.']);
      const r2 = (await readResult(path.join(dir, 'out'), 'a.txt'))!;
      assert.strictEqual((r2.data as { note: unknown }).note, null);
      assert.strictEqual((r2.grounding as Grounding).summary.total, 2, 'null is not grounded');
      await p.retry(['a.txt']).done;
      assert.strictEqual(extractor.callsFor('a.txt'), 2, 'the force applies once');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
