/**
 * The Review panel's pure parts: the host ⇄ webview protocol (zod schemas at both ends), JSON Pointer
 * corrections and diffs, the corrections store and its result-file export, navigation and rerun state.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertTextBytes } from '../../src/convert/text';
import type { DocumentState } from '../../src/core/types';
import { readResult, writeResult, type ResultFile } from '../../src/export/jsonExporter';
import { groundValues } from '../../src/extract/grounding';
import { createValidator } from '../../src/extract/schema';
import {
  applyCorrection,
  diffValues,
  escapePointerSegment,
  getAt,
  groundingSchema,
  messagesFor,
  parseHostMessage,
  parsePointer,
  parseWebviewMessage,
  pointerToPath,
  ProtocolError,
  REVIEW_PROTOCOL_VERSION,
  type DocumentView,
  type JsonValue,
} from '../../src/shared/reviewProtocol';
import { CorrectionsStore, replay, type ReviewedResultFile } from '../../src/app/corrections';
import { imagePages, isImageDocument, neighbour, position, rerunState, type RerunBackup } from '../../src/vscode/review/reviewData';
import type { ConvertedDocument } from '../../src/convert/types';
import { LOW_OCR_CONFIDENCE } from '../../src/convert/ocr/ocrText';
import { pngHeader } from '../fixtures/ocr/scans';
import { MemoryCheckpointStore } from '../fakes/memoryStore';

const schema = {
  type: 'object',
  properties: {
    invoice_number: { type: 'string' },
    total: { type: 'number', minimum: 0 },
    paid: { type: 'boolean' },
    'odd/key~x': { type: ['string', 'null'] },
    line_items: {
      type: 'array',
      items: { type: 'object', properties: { description: { type: 'string' }, amount: { type: 'number' } }, required: ['description', 'amount'], additionalProperties: false },
    },
  },
  required: ['invoice_number', 'total', 'line_items'],
  additionalProperties: false,
};

const data: JsonValue = {
  invoice_number: 'INV-1',
  total: 12.5,
  paid: false,
  'odd/key~x': null,
  line_items: [
    { description: 'Paper', amount: 10 },
    { description: 'Pens', amount: 2.5 },
  ],
};

function view(overrides: Partial<DocumentView> = {}): DocumentView {
  const doc = convertTextBytes(Buffer.from('Invoice INV-1\nPaper 10.00\nPens 2,50\nTotal 12.50\n'), 'text');
  return {
    folderKey: 'file:///ws',
    path: 'a/inv.txt',
    stage: 'done',
    hasResult: true,
    canRun: true,
    source: { kind: 'text', text: doc.text, format: 'text' },
    schema,
    modelData: data,
    data,
    grounding: groundValues(data, doc),
    review: { reviewed: false, corrections: 0, correctedPointers: [], skipped: 0 },
    nav: { index: 0, total: 1 },
    ...overrides,
  };
}

describe('review protocol: messages', () => {
  it('accepts every webview message type and rejects malformed ones', () => {
    const good: unknown[] = [
      { type: 'review/ready', protocol: REVIEW_PROTOCOL_VERSION },
      { type: 'review/ready', protocol: REVIEW_PROTOCOL_VERSION, state: { folderKey: 'k', path: 'a.pdf', selected: '/total', filter: 'ungrounded' } },
      { type: 'review/fieldSelected', pointer: '/line_items/0/amount' },
      { type: 'review/correct', op: 'set', pointer: '/total', value: 13 },
      { type: 'review/correct', op: 'add', pointer: '/line_items/-', value: { description: '', amount: 0 } },
      { type: 'review/correct', op: 'remove', pointer: '/line_items/1' },
      { type: 'review/undo' },
      { type: 'review/markReviewed', reviewed: true },
      { type: 'review/rerun' },
      { type: 'review/rerun', instruction: 'Use the subtotal.' },
      { type: 'review/acceptRerun', accept: false },
      { type: 'review/navigate', direction: 'next', filter: 'unreviewed' },
      { type: 'review/openSource' },
      { type: 'review/error', message: 'pdf.js failed' },
    ];
    for (const m of good) assert.equal(parseWebviewMessage(m).type, (m as { type: string }).type);
    const bad: unknown[] = [
      null,
      'review/undo',
      { type: 'review/unknown' },
      { type: 'review/ready' }, // no protocol version
      { type: 'review/ready', protocol: 2 },
      { type: 'review/fieldSelected', pointer: 'total' }, // not a pointer
      { type: 'review/correct', op: 'replace', pointer: '/total', value: 1 },
      { type: 'review/correct', op: 'set', pointer: '/total', value: () => 1 },
      { type: 'review/markReviewed', reviewed: 'yes' },
      { type: 'review/rerun', instruction: 'x'.repeat(4001) },
      { type: 'review/navigate', direction: 'sideways', filter: 'all' },
    ];
    for (const m of bad) assert.throws(() => parseWebviewMessage(m), ProtocolError, JSON.stringify(m));
  });

  it('validates host messages, including a full document view with real grounding', () => {
    const v = view();
    const load = parseHostMessage({ type: 'review/load', document: v, selected: '/total' });
    assert.equal(load.type, 'review/load');
    assert.ok(groundingSchema.safeParse(v.grounding).success, 'groundValues output matches the protocol schema');
    assert.equal(parseHostMessage({ type: 'review/update', data, grounding: null, review: v.review }).type, 'review/update');
    assert.equal(parseHostMessage({ type: 'review/rerun', rerun: { state: 'running' } }).type, 'review/rerun');
    assert.equal(parseHostMessage({ type: 'review/rerun', rerun: { state: 'diff', changes: diffValues(1, 2), before: 1, after: 2 } }).type, 'review/rerun');
    assert.equal(parseHostMessage({ type: 'review/select', pointer: '/total' }).type, 'review/select');
    assert.throws(() => parseHostMessage({ type: 'review/load', document: { ...v, source: { kind: 'html', html: '<b>x</b>' } } }), ProtocolError);
    assert.throws(() => parseHostMessage({ type: 'review/load', document: { ...v, grounding: { version: 2, fields: [] } } }), ProtocolError);
    assert.throws(() => parseHostMessage({ type: 'review/error' }), /message/);
  });
});

describe('review protocol: image documents', () => {
  /** An image's OCR output: two pages of a TIFF, word boxes in pixels, the total read with low confidence. */
  const scan: ConvertedDocument = {
    format: 'image',
    text: 'Invoice INV-1\n\nTotal 12.50',
    pages: [
      { page: 1, start: 0, end: 13, width: 1700, height: 2200, ocr: true, ocrConfidence: 93 },
      { page: 2, start: 15, end: 26, width: 1700, height: 1100, ocr: true, ocrConfidence: 41 },
    ],
    positions: [
      { start: 0, end: 7, page: 1, bbox: [100, 200, 420, 260], confidence: 95 },
      { start: 8, end: 13, page: 1, bbox: [440, 200, 640, 260], confidence: 92 },
      { start: 15, end: 20, page: 2, bbox: [100, 900, 300, 960], confidence: 90 },
      { start: 21, end: 26, page: 2, bbox: [320, 900, 520, 960], confidence: LOW_OCR_CONFIDENCE - 25 },
    ],
    meta: { imageType: 'tiff' },
  };

  it('carries the OCR confidence of values and their pixel boxes to the webview', () => {
    const g = groundValues({ invoice_number: 'INV-1', total: 12.5 }, scan);
    const v = view({ path: 'scans/inv.tiff', source: { kind: 'image', uri: 'https://file+.vscode-resource/ws/scans/inv.tiff', format: 'tiff', pages: imagePages(scan, '/nowhere', 'inv.tiff').pages }, grounding: g });
    const load = parseHostMessage({ type: 'review/load', document: v });
    assert.ok(load.type === 'review/load');
    const total = load.document.grounding!.fields.find((f) => f.pointer === '/total')!;
    assert.equal(total.ocrConfidence, LOW_OCR_CONFIDENCE - 25, 'the lowest OCR word confidence reaches the webview');
    assert.equal(total.lowConfidence, true);
    assert.deepEqual(total.boxes, [{ page: 2, bbox: [320, 900, 520, 960] }], 'boxes stay in image pixels, on their page');
    const inv = load.document.grounding!.fields.find((f) => f.pointer === '/invoice_number')!;
    assert.equal(inv.ocrConfidence, 92);
    assert.equal(inv.lowConfidence, undefined);
    assert.deepEqual(load.document.source, { kind: 'image', uri: 'https://file+.vscode-resource/ws/scans/inv.tiff', format: 'tiff', pages: [{ page: 1, width: 1700, height: 2200 }, { page: 2, width: 1700, height: 1100 }] });
    assert.throws(() => parseHostMessage({ type: 'review/load', document: { ...v, source: { kind: 'image', uri: 'x', format: 'png', pages: [{ page: 0, width: 1, height: 1 }] } } }), ProtocolError);
  });

  it('knows image documents and their page sizes: the converter\'s, else the file header\'s', () => {
    for (const p of ['a.png', 'b/C.JPG', 'c.jpeg', 'd.tif', 'e.TIFF', 'f.webp', 'g.bmp']) assert.ok(isImageDocument(p), p);
    for (const p of ['a.pdf', 'b.txt', 'png', 'c.png.json']) assert.ok(!isImageDocument(p), p);
    assert.deepEqual(imagePages(scan, '/nowhere', 'inv.tiff'), { format: 'tiff', pages: [{ page: 1, width: 1700, height: 2200 }, { page: 2, width: 1700, height: 1100 }] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-review-image-'));
    try {
      // OCR failed (no converted document): the header still gives the size to show the image at
      fs.writeFileSync(path.join(dir, 'x.png'), pngHeader(640, 480));
      assert.deepEqual(imagePages(undefined, path.join(dir, 'x.png'), 'x.png'), { format: 'png', pages: [{ page: 1, width: 640, height: 480 }] });
      // a pixel bomb is not handed to the webview
      fs.writeFileSync(path.join(dir, 'bomb.png'), pngHeader(200_000, 200_000));
      assert.throws(() => imagePages(undefined, path.join(dir, 'bomb.png'), 'bomb.png'), /more than the OCR limit/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('review protocol: JSON pointers, corrections and diffs', () => {
  it('parses and escapes pointers (RFC 6901)', () => {
    assert.deepEqual(parsePointer(''), []);
    assert.deepEqual(parsePointer('/a~1b/~0c/0'), ['a/b', '~c', '0']);
    assert.equal(escapePointerSegment('odd/key~x'), 'odd~1key~0x');
    assert.equal(getAt(data, '/odd~1key~0x'), null);
    assert.equal(getAt(data, '/line_items/1/description'), 'Pens');
    assert.equal(getAt(data, '/line_items/9'), undefined);
    assert.equal(getAt(data, '/__proto__'), undefined);
    assert.throws(() => parsePointer('total'), ProtocolError);
  });

  it('applies set / add / remove to a copy and refuses impossible targets', () => {
    const set = applyCorrection(data, 'set', '/line_items/0/amount', 11);
    assert.equal(getAt(set, '/line_items/0/amount'), 11);
    assert.equal(getAt(data, '/line_items/0/amount'), 10, 'the input is not modified');
    const added = applyCorrection(data, 'add', '/line_items/-', { description: 'Ink', amount: 5 });
    assert.equal((getAt(added, '/line_items') as unknown[]).length, 3);
    const inserted = applyCorrection(data, 'add', '/line_items/0', { description: 'First', amount: 1 });
    assert.equal(getAt(inserted, '/line_items/0/description'), 'First');
    const removed = applyCorrection(data, 'remove', '/line_items/0');
    assert.deepEqual(getAt(removed, '/line_items'), [{ description: 'Pens', amount: 2.5 }]);
    assert.equal(getAt(applyCorrection(data, 'set', '/odd~1key~0x', 'v'), '/odd~1key~0x'), 'v');
    assert.throws(() => applyCorrection(data, 'remove', '/line_items/5'), /No item 5/);
    assert.throws(() => applyCorrection(data, 'add', '/total', 1), /array items only/);
    assert.throws(() => applyCorrection(data, 'set', '/missing/deep', 1), ProtocolError);
    assert.throws(() => applyCorrection(data, 'add', '/line_items/x', 1), /not an array index/);
  });

  it('maps pointers to the validator\'s paths, so messages land on the right field', () => {
    const validate = createValidator(schema);
    const bad = applyCorrection(data, 'set', '/line_items/1/amount', 'two');
    const r = validate(bad);
    assert.ok(!r.ok);
    assert.equal(pointerToPath('/line_items/1/amount'), 'line_items[1].amount');
    assert.equal(pointerToPath('/odd~1key~0x'), '["odd/key~x"]');
    assert.deepEqual(messagesFor(r.errors, '/line_items/1/amount'), ['expected number, received string ("two")']);
    assert.deepEqual(messagesFor(r.errors, '/line_items/0/amount'), []);
    const negative = validate(applyCorrection(data, 'set', '/total', -1));
    assert.ok(!negative.ok);
    assert.match(messagesFor(negative.errors, '/total')[0], />= 0/);
  });

  it('diffs two results field by field', () => {
    const after = applyCorrection(applyCorrection(applyCorrection(data, 'set', '/total', 13), 'remove', '/line_items/1'), 'set', '/paid', true);
    const withNew = { ...(after as Record<string, JsonValue>), currency: 'EUR' };
    const changes = diffValues(data, withNew);
    assert.deepEqual(
      changes.map((c) => [c.pointer, c.kind]),
      [
        ['/total', 'changed'],
        ['/paid', 'changed'],
        ['/line_items/1', 'removed'],
        ['/currency', 'added'],
      ],
    );
    assert.deepEqual(changes[0], { pointer: '/total', kind: 'changed', before: 12.5, after: 13 });
    assert.deepEqual(diffValues(data, JSON.parse(JSON.stringify(data))), []);
  });
});

describe('review corrections store', () => {
  let dir: string;
  let outDir: string;
  let stateDir: string;
  let clock: number;
  const result = (d: unknown, runId = 'run-1'): ResultFile => ({
    formatVersion: 1,
    source: 'a/inv.txt',
    data: d,
    metadata: { runId, model: 'm', schemaHash: 's', fingerprint: 'f', contentHash: 'h', converter: 'text', attempts: 1, requests: 1, tokensIn: 1, tokensOut: 1, cost: 0, startedAt: '', finishedAt: '' },
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-review-'));
    outDir = path.join(dir, 'extracted');
    stateDir = path.join(dir, '.extraction');
    clock = Date.parse('2024-05-01T10:00:00Z');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const store = () => new CorrectionsStore(stateDir, { author: () => 'alice', now: () => new Date((clock += 1000)) });

  it('keeps corrections apart from the model output, versioned, with author and time; undo pops the last', async () => {
    const s = store();
    const r = result(data);
    await writeResult(outDir, r);
    s.add('a/inv.txt', r, 'set', '/total', 13, 12.5);
    s.add('a/inv.txt', r, 'add', '/line_items/-', { description: 'Ink', amount: 0.5 }, undefined);
    const file = s.load('a/inv.txt')!;
    assert.deepEqual(
      file.corrections.map((c) => [c.version, c.by, c.op, c.pointer]),
      [
        [1, 'alice', 'set', '/total'],
        [2, 'alice', 'add', '/line_items/-'],
      ],
    );
    assert.equal(file.corrections[0].at, '2024-05-01T10:00:01.000Z');
    assert.equal(file.corrections[0].previous, 12.5);
    assert.ok(fs.existsSync(path.join(stateDir, 'corrections', 'a', 'inv.txt.json')));
    assert.deepEqual(s.status('a/inv.txt'), { reviewed: false, corrections: 2 });

    const exported = (await s.exportToResult(dir, outDir, 'a/inv.txt')) as ReviewedResultFile;
    const onDisk = (await readResult(outDir, 'a/inv.txt')) as ReviewedResultFile;
    assert.deepEqual(onDisk, exported);
    assert.deepEqual(onDisk.data, data, 'data stays the model output');
    assert.equal(getAt(onDisk.corrected, '/total'), 13);
    assert.equal((getAt(onDisk.corrected, '/line_items') as unknown[]).length, 3);
    assert.deepEqual(onDisk.review, {
      reviewed: false,
      corrections: 2,
      correctedFields: ['/total', '/line_items/-'],
      lastCorrectedAt: '2024-05-01T10:00:02.000Z',
      lastCorrectedBy: 'alice',
      correctionsFile: '.extraction/corrections/a/inv.txt.json',
    });

    assert.equal(s.undo('a/inv.txt')?.version, 2);
    s.setReviewed('a/inv.txt', true);
    const again = (await s.exportToResult(dir, outDir, 'a/inv.txt')) as ReviewedResultFile;
    assert.equal((getAt(again.corrected, '/line_items') as unknown[]).length, 2);
    assert.equal(again.review?.reviewed, true);
    assert.equal(again.review?.reviewedBy, 'alice');
    assert.equal(s.load('a/inv.txt')!.undone.length, 1, 'undone corrections are kept for the record');
    s.add('a/inv.txt', r, 'set', '/paid', true, false);
    assert.equal(s.load('a/inv.txt')!.corrections.at(-1)!.version, 3, 'versions are never reused');

    // everything undone and not reviewed: the result file loses its review fields again
    s.undo('a/inv.txt');
    s.undo('a/inv.txt');
    s.setReviewed('a/inv.txt', false);
    const clean = (await s.exportToResult(dir, outDir, 'a/inv.txt')) as ReviewedResultFile;
    assert.equal(clean.corrected, undefined);
    assert.equal(clean.review, undefined);
    assert.equal(s.status('a/inv.txt'), undefined);
    assert.equal(new CorrectionsStore(stateDir).status('a/inv.txt'), undefined, 'the index on disk agrees');
  });

  it('replays corrections on a new result, skipping those whose target is gone, and says so', () => {
    const s = store();
    const r1 = result(data);
    s.add('a/inv.txt', r1, 'set', '/line_items/1/amount', 3, 2.5);
    s.add('a/inv.txt', r1, 'set', '/total', 13.5, 12.5);
    const shorter = applyCorrection(data, 'remove', '/line_items/1');
    const { info, data: corrected } = s.info('a/inv.txt', result(shorter, 'run-2'));
    assert.equal(info.corrections, 1);
    assert.equal(info.skipped, 1);
    assert.equal(getAt(corrected, '/total'), 13.5);
    assert.match(info.notice ?? '', /earlier result/);
    assert.match(info.notice ?? '', /no longer apply.*\/line_items\/1\/amount/);
    s.rebase('a/inv.txt', result(shorter, 'run-2'));
    assert.doesNotMatch(s.info('a/inv.txt', result(shorter, 'run-2')).info.notice ?? '', /earlier result/);
    assert.equal(replay(data, []).data, data);
  });

  it('finds the next and previous document to review, with filters', async () => {
    const mem = new MemoryCheckpointStore();
    const doc = (p: string, stage: DocumentState['stage']): DocumentState => ({ path: p, size: 1, mtimeMs: 1, readiness: 'ready', stage, attempts: 1, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 0 });
    for (const [p, st] of [
      ['a.txt', 'done'],
      ['b.txt', 'dead-lettered'],
      ['c.txt', 'pending'],
      ['d.txt', 'done'],
      ['e.txt', 'done'],
    ] as const)
      mem.putDocument(doc(p, st));
    const s = store();
    s.setReviewed('d.txt', true);
    await writeResult(outDir, { ...result({ v: 'x' }), source: 'e.txt', grounding: { version: 1, fields: [], summary: { total: 1, exact: 0, normalized: 0, fuzzy: 0, ungrounded: 1 } } });
    const ctx = { store: mem, outDir, status: (p: string) => s.status(p) };
    assert.equal(neighbour(ctx, 'a.txt', 'next', 'all'), 'b.txt');
    assert.equal(neighbour(ctx, 'b.txt', 'next', 'all'), 'd.txt', 'pending documents are skipped');
    assert.equal(neighbour(ctx, 'a.txt', 'previous', 'all'), 'e.txt', 'wraps around');
    assert.equal(neighbour(ctx, 'd.txt', 'next', 'failed'), 'b.txt');
    assert.equal(neighbour(ctx, 'a.txt', 'next', 'unreviewed'), 'b.txt');
    assert.equal(neighbour(ctx, 'b.txt', 'next', 'unreviewed'), 'e.txt', 'd.txt is reviewed');
    assert.equal(neighbour(ctx, 'a.txt', 'next', 'ungrounded'), 'e.txt');
    assert.equal(neighbour(ctx, 'e.txt', 'next', 'ungrounded'), undefined, 'no other document has ungrounded values');
    assert.equal(neighbour(ctx, 'c.txt', 'next', 'all'), 'd.txt', 'from a document that is not reviewable');
    assert.deepEqual(position(mem, 'd.txt'), { index: 2, total: 4 });
  });

  it('derives the rerun state from the backup, the document stage and whether a new result is on disk', () => {
    const backup: RerunBackup = { formatVersion: 1, source: 'a.txt', startedAt: '', instruction: 'again', previous: JSON.stringify(result({ total: 1 })) };
    const st = (stage: DocumentState['stage'], extra: Partial<DocumentState> = {}): DocumentState => ({ path: 'a.txt', size: 1, mtimeMs: 1, readiness: 'ready', stage, attempts: 1, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 0, ...extra });
    assert.equal(rerunState(undefined, st('done'), result({ total: 2 }, 'run-2'), false), undefined);
    assert.deepEqual(rerunState(backup, st('extracting'), undefined, true), { state: 'running', instruction: 'again' });
    assert.deepEqual(rerunState(backup, st('failed'), undefined, true), { state: 'running', instruction: 'again' }, 'a retry is pending');
    assert.deepEqual(rerunState(backup, st('done'), result({ total: 1 }), true), { state: 'running', instruction: 'again' }, 'queued, not picked up yet: still the old result');
    const lost = rerunState(backup, st('done'), result({ total: 1 }), false);
    assert.match(lost?.state === 'failed' ? lost.message : '', /ended without a new result/);
    const diff = rerunState(backup, st('done'), result({ total: 2 }, 'run-2'), true);
    assert.equal(diff?.state, 'diff');
    assert.deepEqual(diff?.state === 'diff' && diff.changes, [{ pointer: '/total', kind: 'changed', before: 1, after: 2 }]);
    const failed = rerunState(backup, st('dead-lettered', { lastError: { code: 'HTTP_400', message: 'bad', stage: 'extracting', retryable: false } }), result({ total: 1 }), false);
    const first = rerunState({ ...backup, previous: null }, st('done'), result({ total: 2, items: ['a'] }), false);
    assert.deepEqual(
      first?.state === 'diff' && first.changes.map((c) => [c.pointer, c.kind]),
      [
        ['/total', 'added'],
        ['/items', 'added'],
      ],
      'no previous result: every field is new',
    );
    assert.equal(failed?.state, 'failed');
    assert.match(failed?.state === 'failed' ? failed.message : '', /HTTP_400.*previous result is unchanged/);
  });
});
