/**
 * OCR of scanned PDFs and images through the real bundled workers (dist/pdfWorker.js, dist/ocrWorker.js,
 * built by `node esbuild.js`) and the real tesseract.js engine. Fixtures are made here from a small text PDF
 * with ghostscript (test/fixtures/ocr/scans.ts): the text layer of the original is what OCR must find.
 * Pages are small and few: OCR is slow on shared cores.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCodes } from '../../src/core/errors';
import { ConvertCache } from '../../src/convert/cache';
import { createConverterRegistry, type ConverterRegistry } from '../../src/convert/index';
import { LOW_OCR_CONFIDENCE, spliceOcrPages } from '../../src/convert/ocr/ocrText';
import type { ConvertedDocument } from '../../src/convert/types';
import { groundValues } from '../../src/extract/grounding';
import { ASSETS_DIR, REPO_ROOT, WORKER_PATH, requireBuiltWorker, tempDir } from '../fixtures/pdf/generate';
import { INVOICE_LINES, ghostscript, invoicePdf, joinPdfs, pngHeader, scanWithTextLayerPdf, scannedPdf, tiffWithCompression } from '../fixtures/ocr/scans';
import { rejectsWithCode } from '../support/assertions';
import { runCli } from '../support/cli';
import { startModelServer } from '../support/modelServer';

const OCR_WORKER = path.join(REPO_ROOT, 'dist', 'ocrWorker.js');

function input(bytes: Uint8Array, name: string) {
  return { path: name, absPath: path.join('/nonexistent', name), bytes };
}

/** Words of `s`, lower-cased, punctuation at the ends dropped. */
const words = (s: string) => s.toLowerCase().split(/\s+/).map((w) => w.replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')).filter(Boolean);

/** Share of the words of `truth` that appear in `text`. */
function wordRecall(truth: string, text: string): number {
  const have = new Set(words(text));
  const want = words(truth);
  return want.filter((w) => have.has(w)).length / want.length;
}

describe('OCR (tesseract.js in worker threads)', function () {
  this.timeout(180_000);
  let tmp: string;
  let registry: ConverterRegistry;
  let original: Uint8Array;
  let textLayer: ConvertedDocument;

  before(async () => {
    requireBuiltWorker();
    assert.ok(fs.existsSync(OCR_WORKER), `${OCR_WORKER} missing: run \`node esbuild.js\``);
    tmp = tempDir('ocr-test-');
    registry = createConverterRegistry({ pdfWorkerPath: WORKER_PATH, pdfAssetsDir: ASSETS_DIR, poolSize: 1, ocrWorkers: 2 });
    original = await invoicePdf(2);
    textLayer = await registry.get('.pdf')!.convert(input(original, 'original.pdf'));
  });
  after(async () => {
    await registry?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a scanned PDF is recognised: the text layer words, one span per word with a box near the original', async () => {
    const doc = await registry.get('.pdf')!.convert(input(scannedPdf(original, tmp), 'scan.pdf'));
    assert.equal(doc.pages!.length, 2);
    for (const [i, pg] of doc.pages!.entries()) {
      assert.ok(pg.ocr, `page ${i + 1} is marked as OCR`);
      const truth = textLayer.text.slice(textLayer.pages![i].start, textLayer.pages![i].end);
      const got = doc.text.slice(pg.start, pg.end);
      assert.ok(wordRecall(truth, got) >= 0.8, `page ${i + 1}: ${JSON.stringify(got)} vs ${JSON.stringify(truth)}`);
    }
    assert.deepEqual(doc.meta?.ocrPages, [1, 2]);
    assert.equal(doc.meta?.needsOcrPages, undefined);
    // the invoice number's box: OCR (pixels mapped to page units) against the text layer's
    const at = (d: ConvertedDocument) => d.positions!.find((s) => d.text.slice(s.start, s.end).includes('INV-20417'))!;
    const ocrBox = at(doc).bbox!, layerBox = at(textLayer).bbox!;
    assert.equal(at(doc).page, 1);
    assert.ok(typeof at(doc).confidence === 'number');
    // the text layer's item is the whole line; the OCR word ends where the line ends
    assert.ok(Math.abs(ocrBox[2] - layerBox[2]) < 4 && Math.abs(ocrBox[1] - layerBox[1]) < 6 && Math.abs(ocrBox[3] - layerBox[3]) < 6, `${ocrBox} vs ${layerBox}`);
  });

  it('a mixed PDF: the scanned page is recognised, the text page keeps its text layer', async () => {
    // page 1 scanned, page 2 the original's text page
    const mixed = joinPdfs(scannedPdf(await invoicePdf(1), tmp), original, tmp, '2');
    const doc = await registry.get('.pdf')!.convert(input(mixed, 'mixed.pdf'));
    assert.deepEqual(doc.meta?.ocrPages, [1]);
    assert.ok(doc.pages![0].ocr && !doc.pages![1].ocr);
    assert.match(doc.text.slice(doc.pages![0].start, doc.pages![0].end), /INV-20417/);
    assert.equal(doc.text.slice(doc.pages![1].start, doc.pages![1].end), textLayer.text.slice(textLayer.pages![1].start, textLayer.pages![1].end));
    // offsets after the spliced page stay consistent: every span's text is inside its page
    for (const s of doc.positions!) {
      const pg = doc.pages![s.page! - 1];
      assert.ok(s.start >= pg.start && s.end <= pg.end, `span ${s.start}-${s.end} outside page ${s.page}`);
    }
  });

  it("ocr 'always' replaces the text layer of a scan with one of its own, not of a page with a logo; 'auto' keeps it", async () => {
    const bytes = await scanWithTextLayerPdf(ghostscript(await invoicePdf(1), 'png16m', tmp, 'png', 150));
    const always = createConverterRegistry({ pdfWorkerPath: WORKER_PATH, pdfAssetsDir: ASSETS_DIR, poolSize: 1, ocrWorkers: 1, ocr: 'always' });
    try {
      const doc = await always.get('.pdf')!.convert(input(bytes, 'layered.pdf'));
      const page = (n: number) => doc.text.slice(doc.pages![n - 1].start, doc.pages![n - 1].end);
      assert.match(page(1), /INV-20417/);
      assert.doesNotMatch(page(1), /WRONG/);
      assert.equal(page(2), 'Delivery note DN-5521');
      assert.deepEqual(doc.meta?.ocrPages, [1]);
    } finally {
      await always.dispose();
    }
    const auto = await registry.get('.pdf')!.convert(input(bytes, 'layered.pdf'));
    assert.match(auto.text, /WRONG LAYER/);
    assert.equal(auto.meta?.ocrPages, undefined);
  });

  it('images are documents: PNG, JPEG, BMP, G4 TIFF, WebP and every page of a multi-page TIFF', async () => {
    const formats: [string, string, string[]][] = [
      ['png16m', 'png', []],
      ['jpeg', 'jpg', []],
      ['bmp16m', 'bmp', []],
      ['tiffg4', 'tif', []],
    ];
    const onePage = await invoicePdf(1);
    for (const [device, ext, extra] of formats) {
      const doc = await registry.get(`.${ext}`)!.convert(input(ghostscript(onePage, device, tmp, ext, 150, extra), `scan.${ext}`));
      assert.equal(doc.format, 'image');
      assert.equal(doc.pages!.length, 1);
      assert.ok(wordRecall(INVOICE_LINES.join(' '), doc.text) >= 0.8, `${ext}: ${JSON.stringify(doc.text)}`);
      assert.ok(doc.positions!.every((s) => s.page === 1 && s.bbox!.every((v) => v >= 0)));
    }
    // WebP: ghostscript writes none; cwebp (Debian webp) encodes its PNG, lossless and lossy
    for (const args of [['-lossless'], ['-q', '80']]) {
      const png = path.join(tmp, 'for-webp.png');
      const webp = path.join(tmp, 'scan.webp');
      fs.writeFileSync(png, ghostscript(onePage, 'png16m', tmp, 'png', 150));
      execFileSync('cwebp', ['-quiet', ...args, png, '-o', webp]);
      const bytes = new Uint8Array(fs.readFileSync(webp));
      assert.equal(Buffer.from(bytes.subarray(8, 12)).toString('ascii'), 'WEBP', 'a WebP file');
      const doc = await registry.get('.webp')!.convert(input(bytes, 'scan.webp'));
      assert.equal(doc.meta?.imageType, 'webp');
      assert.deepEqual([doc.pages![0].width, doc.pages![0].height], [750, 417], 'page size in pixels');
      assert.ok(wordRecall(INVOICE_LINES.join(' '), doc.text) >= 0.8, `webp ${args.join(' ')}: ${JSON.stringify(doc.text)}`);
    }
    const multi = await registry.get('.tiff')!.convert(input(ghostscript(original, 'tiff24nc', tmp, 'tiff', 100), 'two.tiff'));
    assert.equal(multi.pages!.length, 2);
    assert.match(multi.text.slice(multi.pages![0].start, multi.pages![0].end), /INV-20417/);
    assert.match(multi.text.slice(multi.pages![1].start, multi.pages![1].end), /Harbour/);
  });

  it('bad images get a code and the converter goes on: empty, truncated, pixel bomb (image and PDF scan), unsupported TIFF compression', async () => {
    const png = registry.get('.png')!;
    await rejectsWithCode(png.convert(input(new Uint8Array(0), 'empty.png')), ErrorCodes.EMPTY_DOCUMENT);
    const good = ghostscript(await invoicePdf(1), 'png16m', tmp, 'png', 100);
    await rejectsWithCode(png.convert(input(good.slice(0, 20), 'cut-header.png')), ErrorCodes.CORRUPT_INPUT);
    await rejectsWithCode(png.convert(input(good.slice(0, Math.floor(good.length / 3)), 'truncated.png')), ErrorCodes.CORRUPT_INPUT);
    const bomb = await rejectsWithCode(png.convert(input(pngHeader(200_000, 200_000), 'bomb.png')), ErrorCodes.TOO_LARGE);
    assert.match(bomb.message, /200000 × 200000/);
    const jp2 = await rejectsWithCode(registry.get('.tif')!.convert(input(tiffWithCompression(64, 64, 34712), 'jp2.tif')), ErrorCodes.UNSUPPORTED_CONTENT);
    assert.match(jp2.message, /compression 34712/);
    // still working afterwards
    assert.match((await png.convert(input(good, 'good.png'))).text, /INV-20417/);
    // a scanned PDF page whose image is over the pixel limit: TOO_LARGE before anything is recognised
    const small = createConverterRegistry({ pdfWorkerPath: WORKER_PATH, pdfAssetsDir: ASSETS_DIR, poolSize: 1, ocrMaxPixels: 10_000 });
    try {
      const big = await rejectsWithCode(small.get('.pdf')!.convert(input(scannedPdf(await invoicePdf(1), tmp, 72), 'big-scan.pdf')), ErrorCodes.TOO_LARGE);
      assert.match(big.message, /OCR limit of 10000/);
      assert.equal(small.ocr.pool, undefined, 'no OCR worker was started');
    } finally {
      await small.dispose();
    }
  });

  it('OCR time limit per page → CONVERT_TIMEOUT, the worker is replaced; ocr off → NEEDS_OCR; a missing language names its package', async () => {
    const slow = createConverterRegistry({ pdfWorkerPath: WORKER_PATH, pdfAssetsDir: ASSETS_DIR, poolSize: 1, ocrWorkers: 1, ocrTimeoutMs: 1 });
    try {
      const scan = scannedPdf(await invoicePdf(1), tmp);
      const err = await rejectsWithCode(slow.get('.pdf')!.convert(input(scan, 'slow.pdf')), ErrorCodes.CONVERT_TIMEOUT);
      assert.match(err.message, /timed out/);
      assert.equal(slow.ocr.pool!.stats.timeouts, 1);
      assert.ok(slow.ocr.pool!.stats.replaced >= 1, 'the worker on the page was terminated');
    } finally {
      await slow.dispose();
    }
    const off = createConverterRegistry({ pdfWorkerPath: WORKER_PATH, pdfAssetsDir: ASSETS_DIR, poolSize: 1, ocr: 'off' });
    try {
      await rejectsWithCode(off.get('.pdf')!.convert(input(scannedPdf(await invoicePdf(1), tmp), 'scan.pdf')), ErrorCodes.NEEDS_OCR);
      await rejectsWithCode(off.get('.png')!.convert(input(ghostscript(await invoicePdf(1), 'png16m', tmp, 'png', 72), 'scan.png')), ErrorCodes.NEEDS_OCR);
    } finally {
      await off.dispose();
    }
    assert.throws(
      () => createConverterRegistry({ ocrLanguages: ['eng', 'xqz'] }),
      (e: Error & { code?: string }) => e.code === ErrorCodes.INVALID_CONFIG && /@tesseract\.js-data\/xqz/.test(e.message),
    );
  });

  it('a re-run reads OCR text and boxes from the converted-text cache; other OCR options miss it', async () => {
    const cache = new ConvertCache(path.join(tmp, 'cache'));
    const bytes = ghostscript(await invoicePdf(1), 'png16m', tmp, 'png', 120);
    const png = registry.get('.png')!;
    const first = await cache.getOrConvert(png, input(bytes, 'a.png'));
    const pagesBefore = registry.ocr.pool!.stats.pages;
    assert.ok(pagesBefore > 0);
    const again = await cache.getOrConvert(png, input(bytes, 'a.png'));
    assert.deepEqual(again, JSON.parse(JSON.stringify(first)));
    assert.equal(registry.ocr.pool!.stats.pages, pagesBefore, 'no page was recognised again');
    const other = createConverterRegistry({ pdfWorkerPath: WORKER_PATH, pdfAssetsDir: ASSETS_DIR, ocr: 'always' });
    assert.notEqual(other.get('.png')!.cacheKey, png.cacheKey);
    assert.notEqual(other.get('.pdf')!.cacheKey, registry.get('.pdf')!.cacheKey);
    await other.dispose();
  });

  it('the CLI extracts a folder of scans: the model sees the OCR text, the result is grounded on the scan', async () => {
    const root = path.join(tmp, 'cli');
    fs.mkdirSync(root);
    const page = await invoicePdf(1);
    fs.writeFileSync(path.join(root, 'scan.pdf'), scannedPdf(page, tmp, 120));
    fs.writeFileSync(path.join(root, 'photo.png'), ghostscript(page, 'png16m', tmp, 'png', 120));
    const schema = path.join(tmp, 'invoice.schema.json');
    fs.writeFileSync(schema, JSON.stringify({ type: 'object', properties: { invoice_number: { type: ['string', 'null'] }, total: { type: ['number', 'null'] } }, required: ['invoice_number', 'total'] }));
    const server = await startModelServer();
    // answers only what the document text it was sent contains
    server.setResponder((req) => ({
      reply: { invoice_number: /INV-\d+/.exec(req.userText)?.[0] ?? null, total: Number(/Total due: ([\d.]+)/.exec(req.userText)?.[1] ?? NaN) || null },
    }));
    try {
      const r = await runCli(['run', root, '--schema', schema, '--base-url', server.url, '--ocr-workers', '2', '--pdf-workers', '1'], { OPENAI_API_KEY: 'test' });
      assert.equal(r.code, 0, r.stderr);
      for (const name of ['scan.pdf', 'photo.png']) {
        const result = JSON.parse(fs.readFileSync(path.join(root, 'extracted', `${name}.json`), 'utf8'));
        assert.deepEqual(result.data, { invoice_number: 'INV-20417', total: 1234.56 }, name);
        const g = (result.grounding?.fields ?? []).find((f: { pointer: string }) => f.pointer === '/invoice_number');
        assert.equal(g?.status, 'grounded', `${name}: ${JSON.stringify(result.grounding)}`);
        assert.equal(g.page, 1);
        assert.ok(g.boxes?.length && typeof g.ocrConfidence === 'number', JSON.stringify(g));
      }
      const off = await runCli(['run', root, '--schema', schema, '--base-url', server.url, '--ocr', 'off', '--state', path.join(tmp, 'cli-state-off'), '--out', path.join(tmp, 'cli-out-off')], { OPENAI_API_KEY: 'test' });
      assert.notEqual(off.code, 0);
      assert.match(off.stderr + off.stdout, /NEEDS_OCR/);
    } finally {
      await server.close();
    }
  });

  it('grounding: values found in OCR text carry their word confidence; low confidence words mark the value', () => {
    const doc: ConvertedDocument = {
      format: 'image',
      text: 'Invoice INV-1 Total 99.50',
      pages: [{ page: 1, start: 0, end: 25 }],
      positions: [
        { start: 0, end: 7, page: 1, bbox: [0, 0, 10, 10], confidence: 96 },
        { start: 8, end: 13, page: 1, bbox: [12, 0, 20, 10], confidence: 91 },
        { start: 14, end: 19, page: 1, bbox: [22, 0, 30, 10], confidence: 95 },
        { start: 20, end: 25, page: 1, bbox: [32, 0, 40, 10], confidence: LOW_OCR_CONFIDENCE - 20 },
      ],
    };
    const g = groundValues({ invoice: 'INV-1', total: 99.5 }, doc);
    const inv = g.fields.find((f) => f.pointer === '/invoice')!;
    const total = g.fields.find((f) => f.pointer === '/total')!;
    assert.equal(inv.ocrConfidence, 91);
    assert.equal(inv.lowConfidence, undefined);
    assert.equal(total.ocrConfidence, LOW_OCR_CONFIDENCE - 20);
    assert.equal(total.lowConfidence, true);
  });

  it('spliceOcrPages shifts the pages and spans after a replaced page', () => {
    const doc: ConvertedDocument = {
      format: 'pdf',
      text: 'A\n\n\n\nC',
      pages: [
        { page: 1, start: 0, end: 1 },
        { page: 2, start: 3, end: 3 },
        { page: 3, start: 5, end: 6 },
      ],
      positions: [
        { start: 0, end: 1, page: 1, bbox: [0, 0, 1, 1] },
        { start: 5, end: 6, page: 3, bbox: [0, 0, 1, 1] },
      ],
    };
    spliceOcrPages(doc, new Map([[2, { text: 'BB', spans: [{ start: 0, end: 2, page: 2, bbox: [1, 1, 2, 2] }], words: 1, meanConfidence: 90 }]]));
    assert.equal(doc.text, 'A\n\nBB\n\nC');
    assert.deepEqual(doc.pages!.map((p) => doc.text.slice(p.start, p.end)), ['A', 'BB', 'C']);
    assert.deepEqual(doc.positions!.map((s) => doc.text.slice(s.start, s.end)), ['A', 'BB', 'C']);
  });
});
