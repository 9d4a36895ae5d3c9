import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeEstimate, estimateRun, type EstimateProgress, type RunEstimate } from '../../src/app/estimateRun';
import { convertedCacheDirOf, type RunSettings } from '../../src/app/session';
import { createTextConverter } from '../../src/convert/text';
import type { Converter } from '../../src/convert/types';
import { CancelledError } from '../../src/core/errors';
import { Pipeline } from '../../src/core/pipeline';
import { estimateRunCost } from '../../src/extract/estimate';
import { FakeExtractor } from '../fakes/fakeExtractor';
import { MemoryCheckpointStore } from '../fakes/memoryStore';

const SCHEMA = { type: 'object', properties: { invoice_number: { type: 'string' }, total: { type: 'number' } }, required: ['invoice_number'] };

/** The text converter, counting conversions per document. */
function countingConverters(): { get(ext: string): Converter | undefined; calls: Map<string, number> } {
  const text = createTextConverter();
  const calls = new Map<string, number>();
  const counting: Converter = {
    id: text.id,
    extensions: ['.txt', '.md'],
    convert: (input) => {
      calls.set(input.path, (calls.get(input.path) ?? 0) + 1);
      return text.convert(input);
    },
  };
  return { get: (ext) => (ext === '.txt' || ext === '.md' ? counting : undefined), calls };
}

describe('estimateRun', function () {
  this.timeout(20_000);
  let root: string;
  let settings: RunSettings;

  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-estimate-'));
    write('schema.json', JSON.stringify(SCHEMA));
    write('a.txt', 'Invoice A-1\nTotal: 10 EUR\n');
    write('b.txt', 'Invoice B-2\nTotal: 20 EUR\n'.repeat(20));
    write('notes/c.md', '# Invoice C-3\n\nTotal: 30 EUR\n');
    write('big.txt', 'x'.repeat(5000));
    write('photo.xyz', 'not a document');
    write('empty.txt', '   \n');
    write('drafts/d.txt', 'Invoice D-4');
    settings = {
      root,
      outDir: path.join(root, 'extracted'),
      stateDir: path.join(root, '.extraction'),
      schemaPath: path.join(root, 'schema.json'),
      instructions: 'Extract the invoice.',
      exclude: ['drafts/**', 'schema.json'],
      baseURL: 'http://127.0.0.1:9/v1',
      model: 'fake-model',
      concurrency: 2,
      maxAttempts: 1,
      timeoutMs: 5000,
      maxFileBytes: 4096,
    };
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('counts the documents a run would send, as the pipeline decides; the run reuses the conversions', async () => {
    const store = new MemoryCheckpointStore();
    const converters = countingConverters();
    const progress: EstimateProgress[] = [];
    const first = await estimateRun({ settings, store, converters, onProgress: (p) => progress.push(p) });
    assert.equal(first.listed, 6, 'listed with the job\'s globs (drafts/ and the schema left out)');
    assert.equal(first.documents, 3);
    assert.equal(first.requests, 3);
    assert.deepEqual(
      first.skipped.map((s) => [s.path, s.reason.replace(/: .*/, '')]).sort(),
      [
        ['big.txt', 'Too large'],
        ['empty.txt', '[EMPTY_DOCUMENT] Document has no text'],
        ['photo.xyz', 'Unsupported file type ".xyz"'],
      ],
    );
    assert.equal(first.unchanged, 0);
    assert.equal(first.storeChecked, true);
    assert.deepEqual(
      progress.map((p) => p.listed),
      [1, 2, 3, 4, 5, 6],
      'progress after every document',
    );
    assert.equal(progress.at(-1)?.counted, 3);
    // the same figures as the cost estimate of the converted documents themselves
    const direct = estimateRunCost({
      documents: ['a.txt', 'b.txt', 'notes/c.md'].map((p) => ({ text: fs.readFileSync(path.join(root, p), 'utf8'), path: p, format: p.endsWith('.md') ? 'markdown' : 'text' })),
      model: 'fake-model',
      schema: SCHEMA,
      instructions: settings.instructions,
    });
    assert.equal(first.tokensIn, direct.tokensIn);
    assert.equal(first.tokensOutEstimate, direct.tokensOutEstimate);

    // the run that follows converts nothing the estimate converted
    const extractor = new FakeExtractor();
    const pipeline = new Pipeline({
      root,
      outDir: settings.outDir,
      store,
      converters,
      extractor,
      schema: SCHEMA,
      instructions: settings.instructions,
      exclude: settings.exclude,
      maxFileBytes: settings.maxFileBytes,
      retry: { maxAttempts: 1 },
      convertedCacheDir: convertedCacheDirOf(settings.stateDir),
    });
    const summary = await pipeline.start({ trigger: 'cli' }).done;
    assert.equal(summary.done, 3);
    assert.equal(extractor.totalCalls, first.documents, 'the run sent what the estimate counted');
    for (const p of ['a.txt', 'b.txt', 'notes/c.md']) assert.equal(converters.calls.get(p), 1, `${p} converted once, by the estimate`);

    // done and unchanged: nothing to send; the empty document stays dead-lettered
    const second = await estimateRun({ settings, store, converters });
    assert.deepEqual([second.documents, second.unchanged, second.cost], [0, 4, 0]);
    write('a.txt', 'Invoice A-1\nTotal: 11 EUR (corrected)\n');
    const third = await estimateRun({ settings, store, converters });
    assert.deepEqual([third.documents, third.unchanged], [1, 3], 'only the changed document');
    const otherModel = await estimateRun({ settings: { ...settings, model: 'other-model' }, store, converters });
    assert.equal(otherModel.documents, 3, 'another model changes the fingerprint: every document again');
  });

  it('documents asked for by path: a dead letter is taken again, a done one is not', async () => {
    const store = new MemoryCheckpointStore();
    const converters = countingConverters();
    const pipeline = new Pipeline({ root, outDir: settings.outDir, store, converters, extractor: new FakeExtractor(), schema: SCHEMA, instructions: settings.instructions, exclude: settings.exclude, maxFileBytes: 4096, retry: { maxAttempts: 1 } });
    await pipeline.start({ trigger: 'cli' }).done;
    assert.equal(store.getDocument('empty.txt')?.stage, 'dead-lettered');
    const e = await estimateRun({ settings, store, converters, paths: ['a.txt', 'empty.txt', 'gone.txt'] });
    assert.equal(e.listed, 3);
    assert.equal(e.unchanged, 1, 'a.txt is done');
    assert.deepEqual(
      e.skipped.map((s) => [s.path, s.reason.split(':')[0]]),
      [
        ['empty.txt', '[EMPTY_DOCUMENT] Document has no text'],
        ['gone.txt', 'File not found'],
      ],
      'the dead letter was converted again (and is still empty); a missing file is named',
    );
  });

  it('stops at the next document when aborted, with CancelledError', async () => {
    for (let i = 0; i < 20; i++) write(`more/doc${i}.txt`, `Invoice M-${i}`);
    const converters = countingConverters();
    const ac = new AbortController();
    await assert.rejects(
      estimateRun({
        settings,
        converters,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.listed === 2) ac.abort();
        },
      }),
      (e: unknown) => e instanceof CancelledError,
    );
    const converted = [...converters.calls.values()].reduce((a, b) => a + b, 0);
    assert.ok(converted <= 2, `converted ${converted} documents`);
  });

  it('describes the figures, the price used, what was left out, and when the store was not read', () => {
    const base: RunEstimate = {
      model: 'gpt-4o-mini',
      documents: 12,
      requests: 14,
      chunkedDocuments: 1,
      tokensIn: 123_456,
      tokensOutEstimate: 2_000,
      price: { inputPer1M: 0.15, outputPer1M: 0.6 },
      inputCost: 0.0185,
      outputCost: 0.0012,
      cost: 0.0197,
      listed: 16,
      unchanged: 3,
      skipped: [{ path: 'x.xyz', reason: 'Unsupported file type ".xyz"' }],
      storeChecked: true,
    };
    assert.deepEqual(describeEstimate(base), [
      'Documents: 12 (not counted: 3 already done and unchanged, 1 unsupported, too large or unreadable)',
      'Requests: 14 (1 long document split into chunks)',
      'Input tokens: 123,456',
      'Output tokens: ~2,000 (estimated)',
      'Cost: ~0.0197 (input 0.0185, output 0.0012) at 0.15 / 0.6 per 1M input / output tokens',
      'Re-asks and retries are not included.',
    ]);
    const { price: _price, ...unpriced } = base;
    const lines = describeEstimate({ ...unpriced, model: 'llama3.1', cost: 0, inputCost: 0, outputCost: 0, unchanged: 0, skipped: [], storeChecked: false });
    assert.equal(lines[0], 'Documents: 12');
    assert.equal(lines[4], 'Cost: unknown, no price known for model llama3.1 (set "price" in the job to get one)');
    assert.match(lines.at(-1)!, /Documents already done were counted too/);
  });
});
