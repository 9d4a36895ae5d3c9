/**
 * Hostile PDFs through the real bundled worker (issue #17, 8.1 and 8.5): flate bombs are bounded by the
 * memory limit (TOO_LARGE, the worker replaced, the rest of the run converts), and a page without text
 * is called scanned only when it shows an image.
 *
 * Memory is asserted as an outcome (the code, the process alive, the next PDF converted), not as RSS.
 */
import * as assert from 'assert';
import * as path from 'path';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import { createPdfConverter, type PdfConverter } from '../../src/convert/pdf/pdfConverter';
import { ASSETS_DIR, mixedPdf, multiPagePdf, requireBuiltWorker, WORKER_PATH } from '../fixtures/pdf/generate';
import { flateBombPdf, objectStreamBombPdf } from '../fixtures/pdf/hostile';
import { rejectsWithCode } from '../support/assertions';

function input(bytes: Uint8Array, name = 'test.pdf') {
  return { path: name, absPath: path.join('/nonexistent', name), bytes };
}


describe('PDF flate bombs are bounded by the memory limit', function () {
  this.timeout(120_000);
  let conv: PdfConverter;
  before(() => requireBuiltWorker());
  afterEach(async () => conv?.dispose());

  it('content streams inflating to 256 MB under a 64 MB limit: TOO_LARGE naming the limit, worker replaced, the next PDFs convert', async () => {
    conv = createPdfConverter({ workerPath: WORKER_PATH, assetsDir: ASSETS_DIR, poolSize: 1, maxWorkerMemoryMb: 64, timeoutMs: 60_000 });
    const small = await multiPagePdf(2);
    const bombs = [flateBombPdf({ streams: 4, mbPerStream: 64 }), flateBombPdf({ streams: 1, mbPerStream: 256 })];
    for (const b of bombs) assert.ok(b.length < 300_000, `a small file (${b.length} bytes)`);
    const results = await Promise.allSettled([
      conv.convert(input(small, 'a.pdf')),
      conv.convert(input(bombs[0], 'bomb-array.pdf')),
      conv.convert(input(small, 'b.pdf')),
      conv.convert(input(bombs[1], 'bomb-single.pdf')),
      conv.convert(input(small, 'c.pdf')),
    ]);
    for (const i of [0, 2, 4]) {
      assert.strictEqual(results[i].status, 'fulfilled', `document ${i} converts: ${String((results[i] as PromiseRejectedResult).reason)}`);
      assert.match((results[i] as PromiseFulfilledResult<{ text: string }>).value.text, /tok2x/);
    }
    for (const [i, name] of [[1, 'bomb-array.pdf'], [3, 'bomb-single.pdf']] as const) {
      assert.strictEqual(results[i].status, 'rejected', `${name} must not convert`);
      const err = (results[i] as PromiseRejectedResult).reason as ExtractionError;
      assert.ok(err instanceof ExtractionError, String(err));
      assert.strictEqual(err.code, ErrorCodes.TOO_LARGE, err.message);
      assert.strictEqual(err.retryable, false);
      assert.match(err.message, /memory limit of 64 MB/);
      assert.match(err.message, /pdf\.maxMemoryMb.*--pdf-max-memory-mb/);
      assert.ok(err.message.includes(name), err.message);
      assert.deepStrictEqual(err.details, { limitMb: 64 });
    }
    const stats = conv.pool!.stats;
    assert.strictEqual(stats.crashes, 0, 'refused, not crashed');
    assert.ok(stats.replaced >= 2 && stats.started >= 3, `each worker that hit the limit was replaced: ${JSON.stringify(stats)}`);
  });

  it('an object stream inflated by pdf.js itself (not through DecompressionStream) is bounded too', async () => {
    conv = createPdfConverter({ workerPath: WORKER_PATH, assetsDir: ASSETS_DIR, poolSize: 1, maxWorkerMemoryMb: 64, timeoutMs: 60_000 });
    const err = await rejectsWithCode(conv.convert(input(objectStreamBombPdf(256), 'objstm.pdf')), ErrorCodes.TOO_LARGE);
    assert.match(err.message, /memory limit of 64 MB/);
    const doc = await conv.convert(input(await multiPagePdf(1)));
    assert.match(doc.text, /tok1x/);
  });

  it('the same files, small enough, convert: the bound refuses only what is over the limit', async () => {
    conv = createPdfConverter({ workerPath: WORKER_PATH, assetsDir: ASSETS_DIR, poolSize: 1, maxWorkerMemoryMb: 64 });
    const flate = await conv.convert(input(flateBombPdf({ streams: 3, mbPerStream: 2 }), 'three-streams.pdf'));
    assert.match(flate.text, /Bomb page text/);
    const objStm = await conv.convert(input(objectStreamBombPdf(4), 'objstm-small.pdf'));
    assert.match(objStm.text, /Object stream page/);
    assert.strictEqual(conv.pool!.stats.replaced, 0);
  });
});

describe('PDF pages without text: scanned (an image) or blank', function () {
  this.timeout(60_000);
  let conv: PdfConverter;
  before(() => {
    requireBuiltWorker();
    conv = createPdfConverter({ workerPath: WORKER_PATH, assetsDir: ASSETS_DIR, poolSize: 1 });
  });
  after(async () => conv?.dispose());

  it('a blank page and a page of vector shapes are empty, not "probably scanned"; an image page needs OCR', async () => {
    // 1 image, 2 blank, 3 rectangles only, 4 text
    const doc = await conv.convert(input(await mixedPdf(4, [1], [2], [3])));
    assert.deepStrictEqual(
      doc.pages!.map((p) => !!p.needsOcr),
      [true, false, false, false],
    );
    assert.deepStrictEqual(doc.meta?.needsOcrPages, [1]);
    assert.deepStrictEqual(doc.meta?.blankPages, [2, 3]);
    assert.deepStrictEqual(doc.warnings, ['1 of 4 pages have no text layer (need OCR): 1']);
  });

  it('text and blank pages only: no OCR warning', async () => {
    const doc = await conv.convert(input(await mixedPdf(3, [], [2])));
    assert.strictEqual(doc.warnings, undefined);
    assert.ok(doc.pages!.every((p) => !p.needsOcr));
    assert.match(doc.text, /Text page 1 content[\s\S]*Text page 3 content/);
  });

  it('a PDF of blank pages → EMPTY_DOCUMENT (not NEEDS_OCR); blank + image pages → NEEDS_OCR naming the image page', async () => {
    const blank = await rejectsWithCode(conv.convert(input(await mixedPdf(2, [], [1, 2]), 'blank.pdf')), ErrorCodes.EMPTY_DOCUMENT);
    assert.strictEqual(blank.retryable, false);
    assert.doesNotMatch(blank.message, /scanned|OCR/);
    const vector = await rejectsWithCode(conv.convert(input(await mixedPdf(1, [], [], [1]), 'shapes.pdf')), ErrorCodes.EMPTY_DOCUMENT);
    assert.doesNotMatch(vector.message, /scanned|OCR/);
    const scanned = await rejectsWithCode(conv.convert(input(await mixedPdf(3, [2], [1, 3]), 'scan.pdf')), ErrorCodes.NEEDS_OCR);
    assert.deepStrictEqual(scanned.details?.pages, [2]);
    assert.match(scanned.message, /1 page with images and no text/);
  });
});
