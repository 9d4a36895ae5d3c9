/**
 * Vision input (#12 part 4): which pages go to the model as images (`input`: text | images | auto), the
 * images themselves (real PNG / JPEG / TIFF files made with ghostscript, decoded back with pngjs), what the
 * request carries (recorded by the local model server), a model that refuses images, the fingerprint and
 * the cost estimate's image tokens.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import type { ConvertedDocument } from '../../src/convert/types';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import { extractionFingerprint } from '../../src/core/fingerprint';
import { estimateRunCost } from '../../src/extract/estimate';
import { OpenAIExtractor } from '../../src/extract/openaiExtractor';
import { checkInputMode, documentImageTokens, fileImageSource, fitSize, imageFilePages, imageTokens, pagesForImages, shrinkGray } from '../../src/extract/pageImages';
import { ASSETS_DIR, WORKER_PATH, requireBuiltWorker, tempDir } from '../fixtures/pdf/generate';
import { createConverterRegistry } from '../../src/convert/index';
import { pdfScanImagesOf } from '../../src/app/session';
import { ghostscript, invoicePdf, joinPdfs, scannedPdf } from '../fixtures/ocr/scans';
import { rejectsWithCode } from '../support/assertions';
import { runCli } from '../support/cli';
import { startModelServer, type ModelServer } from '../support/modelServer';

const schema = { type: 'object', properties: { invoice_number: { type: ['string', 'null'] } }, required: ['invoice_number'], additionalProperties: false };

/** An image document as the image converter records it: page sizes in pixels, mean OCR confidence per page. */
function imageDoc(pages: { width: number; height: number; ocrConfidence: number }[]): ConvertedDocument {
  let text = '';
  const out = pages.map((p, i) => {
    if (i) text += '\n\n';
    const start = text.length;
    text += `Invoice number INV-2041${i}`;
    return { page: i + 1, start, end: text.length, width: p.width, height: p.height, ocr: true, ocrConfidence: p.ocrConfidence };
  });
  return { format: 'image', text, pages: out };
}

function pngSize(bytes: Uint8Array): { width: number; height: number; colorType: number } {
  const png = PNG.sync.read(Buffer.from(bytes));
  return { width: png.width, height: png.height, colorType: (png as unknown as { colorType: number }).colorType };
}

/** The image parts of the user message of a recorded request. */
function imageParts(server: ModelServer): { url: string; detail?: string }[] {
  const content = server.requests.at(-1)!.body!.messages!.find((m) => m.role === 'user')!.content;
  if (typeof content === 'string' || !content) return [];
  return content.filter((p) => p.type === 'image_url').map((p) => (p as unknown as { image_url: { url: string; detail?: string } }).image_url);
}

const dataOf = (url: string) => Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');

describe('vision input: page images for multimodal models', function () {
  this.timeout(60_000);
  let tmp: string;
  let page: Uint8Array;
  before(async () => {
    tmp = tempDir('vision-test-');
    page = await invoicePdf(1); // 360 × 200 pt
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('counts image tokens by OpenAI\'s tile rule (its documented examples)', () => {
    // platform.openai.com/docs/guides/images-vision: 1024 × 1024 high → 765; 2048 × 4096 → 1105
    assert.equal(imageTokens(1024, 1024), 765);
    assert.equal(imageTokens(2048, 4096), 1105);
    assert.equal(imageTokens(100, 100), 85 + 170, 'a small image is one tile');
    assert.deepEqual(fitSize(3000, 1500, 2048), { width: 2048, height: 1024 });
    assert.deepEqual(fitSize(300, 150, 2048), { width: 300, height: 150 }, 'never enlarged');
  });

  it('chooses the pages: none for text, every image page for images, the poorly read ones for auto', () => {
    const doc = imageDoc([{ width: 1000, height: 1400, ocrConfidence: 92 }, { width: 1000, height: 1400, ocrConfidence: 31 }]);
    assert.deepEqual(pagesForImages('text', doc), []);
    assert.deepEqual(pagesForImages('images', doc), [1, 2]);
    assert.deepEqual(pagesForImages('auto', doc), [2]);
    const pdf = { format: 'pdf', pages: doc.pages!.map((p) => ({ ...p, ocr: p.page === 2 })) };
    assert.deepEqual(pagesForImages('images', pdf), [2], 'a PDF: its scanned pages; a page with a text layer goes as text');
    assert.deepEqual(pagesForImages('images', { ...doc, format: 'html' }), []);
    assert.deepEqual(documentImageTokens('auto', doc), { images: 1, tokens: imageTokens(1000, 1400) });
    assert.equal(checkInputMode(undefined), 'text');
    assert.throws(() => checkInputMode('pictures'), (e: unknown) => e instanceof ExtractionError && e.code === ErrorCodes.INVALID_CONFIG && /text, images, auto/.test(e.message));
  });

  it('sends PNG / JPEG within the limit as they are, and shrinks larger ones (and TIFF pages) to grey PNG', () => {
    const png = ghostscript(page, 'png16m', tmp, 'png', 150); // 750 × 417
    const asIs = imageFilePages(png, 'a.png', [1], 2048);
    assert.equal(asIs.length, 1);
    assert.equal(asIs[0].mime, 'image/png');
    assert.deepEqual(Buffer.from(asIs[0].data), Buffer.from(png), 'the file itself');
    const small = imageFilePages(png, 'a.png', [1], 300);
    assert.equal(small[0].mime, 'image/png');
    assert.deepEqual(pngSize(small[0].data), { width: 300, height: Math.round((417 * 300) / 750), colorType: 0 }, 'shrunk to the maximum side, grey');
    const jpg = ghostscript(page, 'jpeg', tmp, 'jpg', 150);
    assert.equal(imageFilePages(jpg, 'a.jpg', [1], 2048)[0].mime, 'image/jpeg');
    const jpgSmall = imageFilePages(jpg, 'a.jpg', [1], 400)[0];
    assert.equal(jpgSmall.mime, 'image/png');
    assert.equal(pngSize(jpgSmall.data).width, 400);
    const tiff = ghostscript(joinPdfs(page, page, tmp), 'tiffgray', tmp, 'tiff', 100); // two pages of 500 × 278
    const pages = imageFilePages(tiff, 'a.tiff', [1, 2], 2048);
    assert.deepEqual(pages.map((p) => [p.page, p.mime, pngSize(p.data).width, pngSize(p.data).height]), [[1, 'image/png', 500, 278], [2, 'image/png', 500, 278]]);
    assert.throws(() => imageFilePages(png.slice(0, 200), 'cut.png', [1], 100), (e: unknown) => e instanceof ExtractionError && e.code === ErrorCodes.CORRUPT_INPUT);
  });

  it('shrinks by averaging: a 2 × 2 block becomes its mean', () => {
    assert.deepEqual([...shrinkGray(new Uint8Array([0, 100, 200, 255, 10, 20, 30, 40]), 4, 2, 2, 1)], [Math.round((0 + 100 + 10 + 20) / 4), Math.round((200 + 255 + 30 + 40) / 4)]);
  });

  describe('requests', () => {
    let server: ModelServer;
    let root: string;
    before(async () => {
      server = await startModelServer();
      root = path.join(tmp, 'root');
      fs.mkdirSync(root);
      fs.writeFileSync(path.join(root, 'scan.png'), ghostscript(page, 'png16m', tmp, 'png', 150));
      fs.writeFileSync(path.join(root, 'two.tiff'), ghostscript(joinPdfs(page, page, tmp), 'tiffgray', tmp, 'tiff', 100));
    });
    after(() => server.close());
    const extractor = (input: 'text' | 'images' | 'auto', maxSide?: number) =>
      new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'vision-model', timeoutMs: 10_000, input, pageImages: fileImageSource(root, maxSide) });

    it('images: each page as an image_url data URL (detail high) beside the text', async () => {
      server.setScript('two.tiff', [{ reply: { invoice_number: 'INV-20410' } }]);
      const doc = imageDoc([{ width: 500, height: 278, ocrConfidence: 90 }, { width: 500, height: 278, ocrConfidence: 95 }]);
      const out = await extractor('images').extract({ path: 'two.tiff', document: doc, schema });
      assert.deepEqual(out.data, { invoice_number: 'INV-20410' });
      const parts = imageParts(server);
      assert.equal(parts.length, 2, 'one image per TIFF page');
      for (const p of parts) {
        assert.match(p.url, /^data:image\/png;base64,/);
        assert.equal(p.detail, 'high');
        assert.deepEqual(pngSize(dataOf(p.url)), { width: 500, height: 278, colorType: 0 });
      }
      assert.match(server.requests.at(-1)!.userText, /Document: two\.tiff[\s\S]*INV-20410/, 'the text goes too');
      assert.equal(extractor('images').inputMode, 'images');
    });

    it('images: a PNG larger than the maximum side is sent shrunk', async () => {
      server.setScript('scan.png', [{ reply: { invoice_number: null } }]);
      await extractor('images', 256).extract({ path: 'scan.png', document: imageDoc([{ width: 750, height: 417, ocrConfidence: 90 }]), schema });
      const parts = imageParts(server);
      assert.equal(parts.length, 1);
      assert.deepEqual(pngSize(dataOf(parts[0].url)), { width: 256, height: Math.round((417 * 256) / 750), colorType: 0 });
    });

    it('auto sends only the poorly read page; text sends no image', async () => {
      server.setScript('two.tiff', [{ reply: { invoice_number: null } }, { reply: { invoice_number: null } }, { reply: { invoice_number: null } }]);
      const doc = imageDoc([{ width: 500, height: 278, ocrConfidence: 95 }, { width: 500, height: 278, ocrConfidence: 20 }]);
      await extractor('auto').extract({ path: 'two.tiff', document: doc, schema });
      assert.equal(imageParts(server).length, 1);
      await extractor('auto').extract({ path: 'two.tiff', document: imageDoc([{ width: 500, height: 278, ocrConfidence: 95 }, { width: 500, height: 278, ocrConfidence: 88 }]), schema });
      assert.equal(typeof server.requests.at(-1)!.body!.messages![1].content, 'string', 'well read: text only');
      await extractor('text').extract({ path: 'two.tiff', document: doc, schema });
      assert.equal(typeof server.requests.at(-1)!.body!.messages![1].content, 'string');
    });

    it('a model that refuses images fails the document at once with BAD_REQUEST naming the option', async () => {
      server.setScript('scan.png', [{ status: 400, message: 'Invalid content type. image_url is only supported by certain models. Image input not supported.' }, { reply: { invoice_number: null } }]);
      const before = server.requestsFor('scan.png').length;
      const err = await rejectsWithCode(extractor('images').extract({ path: 'scan.png', document: imageDoc([{ width: 750, height: 417, ocrConfidence: 90 }]), schema }), ErrorCodes.BAD_REQUEST);
      assert.equal(err.retryable, false);
      assert.match(err.message, /does not accept image input.*input option to "text".*--input text.*extractionWorkbench\.input/);
      assert.equal(server.requestsFor('scan.png').length - before, 1, 'asked once');
      server.reset();
    });
  });

  it('the CLI: --input images sends the OCR\'d photo\'s image, the estimate counts it, and a change of input extracts again', async () => {
    const root = path.join(tmp, 'cli');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'photo.png'), ghostscript(page, 'png16m', tmp, 'png', 150));
    const schemaFile = path.join(tmp, 'cli.schema.json');
    fs.writeFileSync(schemaFile, JSON.stringify(schema));
    const server = await startModelServer();
    server.setResponder((req) => ({ reply: { invoice_number: /INV-\d+/.exec(req.userText)?.[0] ?? null } }));
    const common = ['--schema', schemaFile, '--base-url', server.url, '--ocr-workers', '1', '--pdf-workers', '1'];
    try {
      const est = await runCli(['estimate', root, ...common, '--input', 'images'], { OPENAI_API_KEY: 'test' });
      assert.equal(est.code, 0, est.stderr);
      assert.match(est.stdout, new RegExp(`${imageTokens(750, 417)} of them for 1 page image`));
      const text = await runCli(['run', root, ...common], { OPENAI_API_KEY: 'test' });
      assert.equal(text.code, 0, text.stderr);
      assert.equal(imageParts(server).length, 0, 'text by default');
      const images = await runCli(['run', root, ...common, '--input', 'images'], { OPENAI_API_KEY: 'test' });
      assert.equal(images.code, 0, images.stderr);
      assert.equal(server.requests.length, 2, 'another input mode: the done document is extracted again');
      const parts = imageParts(server);
      assert.equal(parts.length, 1);
      assert.deepEqual(dataOf(parts[0].url), fs.readFileSync(path.join(root, 'photo.png')), 'the PNG itself (within 2048 px)');
      const result = JSON.parse(fs.readFileSync(path.join(root, 'extracted', 'photo.png.json'), 'utf8'));
      assert.deepEqual(result.data, { invoice_number: 'INV-20417' });
      const bad = await runCli(['run', root, ...common, '--input', 'pictures'], { OPENAI_API_KEY: 'test' });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /input/);
    } finally {
      await server.close();
    }
  });

  it('a scanned PDF page goes as the grey PNG of its scan (from the PDF workers); a page with text stays text', async () => {
    requireBuiltWorker();
    const registry = createConverterRegistry({ pdfWorkerPath: WORKER_PATH, pdfAssetsDir: ASSETS_DIR, poolSize: 1, ocrWorkers: 1 });
    const server = await startModelServer();
    try {
      const root = path.join(tmp, 'pdf');
      fs.mkdirSync(root);
      // page 1 scanned at 150 dpi, page 2 born-digital
      const mixed = joinPdfs(scannedPdf(page, tmp, 150), await invoicePdf(2), tmp, '2');
      fs.writeFileSync(path.join(root, 'mixed.pdf'), mixed);
      const doc = await registry.get('.pdf')!.convert({ path: 'mixed.pdf', absPath: path.join(root, 'mixed.pdf'), bytes: mixed });
      assert.deepEqual(doc.pages!.map((p) => !!p.ocr), [true, false], 'page 1 was read by OCR');
      assert.deepEqual(pagesForImages('images', doc), [1]);
      const source = fileImageSource(root, 2048, pdfScanImagesOf(registry));
      server.setScript('mixed.pdf', [{ reply: { invoice_number: null } }, { reply: { invoice_number: null } }]);
      await new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'vision-model', timeoutMs: 10_000, input: 'images', pageImages: source }).extract({ path: 'mixed.pdf', document: doc, schema });
      const parts = imageParts(server);
      assert.equal(parts.length, 1, 'only the scanned page');
      // the scan is 360 × 200 pt at 150 dpi
      assert.deepEqual(pngSize(dataOf(parts[0].url)), { width: 750, height: Math.round((200 * 150) / 72), colorType: 0 });
      const small = await fileImageSource(root, 300, pdfScanImagesOf(registry))('mixed.pdf', [1, 2]);
      assert.deepEqual(small.map((i) => [i.page, i.width, pngSize(i.data).width]), [[1, 300, 300]], 'shrunk; page 2 has no scan');
      const est = estimateRunCost({ documents: [doc], model: 'gpt-4o', schema, input: 'images' });
      assert.equal(est.imageTokens, imageTokens(Math.round((768 * 360) / 200), 768), 'a scanned PDF page counts by its shape');
    } finally {
      await server.close();
      await registry.dispose();
    }
  });

  it('the input mode is part of the fingerprint (text keeps the fingerprint it had)', () => {
    const base = { schema, instructions: 'x', model: 'm' };
    assert.equal(extractionFingerprint({ ...base, inputMode: 'text' }), extractionFingerprint(base));
    assert.notEqual(extractionFingerprint({ ...base, inputMode: 'images' }), extractionFingerprint(base));
    assert.notEqual(extractionFingerprint({ ...base, inputMode: 'auto' }), extractionFingerprint({ ...base, inputMode: 'images' }));
  });

  it('the cost estimate adds the image tokens of the pages that would be sent', () => {
    const doc = imageDoc([{ width: 1700, height: 2200, ocrConfidence: 93 }, { width: 1700, height: 2200, ocrConfidence: 40 }]);
    const o = { documents: [doc], model: 'gpt-4o', schema };
    const text = estimateRunCost(o);
    const images = estimateRunCost({ ...o, input: 'images' });
    const auto = estimateRunCost({ ...o, input: 'auto' });
    const perPage = imageTokens(...(Object.values(fitSize(1700, 2200, 2048)) as [number, number]));
    assert.equal(text.imageTokens, undefined);
    assert.deepEqual([images.images, images.imageTokens, images.tokensIn - text.tokensIn], [2, 2 * perPage, 2 * perPage]);
    assert.deepEqual([auto.images, auto.imageTokens], [1, perPage]);
    assert.ok(images.inputCost > text.inputCost);
  });
});
