/**
 * Provider and limit options, end to end: extraction.config.json job fields and editor settings become
 * RunSettings (job over settings), a session built from them, and requests on the wire of the local
 * model server.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, selectJob, type JobConfig } from '../../src/app/config';
import { openSession, type RunSettings } from '../../src/app/session';
import { ErrorCodes } from '../../src/core/errors';
import { readResult } from '../../src/export/jsonExporter';
import { DEFAULT_SETTINGS, type ExtensionSettings } from '../../src/vscode/extensionSettings';
import { resolveRunSettings, reviewThresholdOf, type JobSource } from '../../src/vscode/runSettings';
import { MemoryCheckpointStore } from '../fakes/memoryStore';
import { multiPagePdf, REPO_ROOT } from '../fixtures/pdf/generate';
import { rejectsWithCode } from '../support/assertions';
import { FakeClock } from '../support/fakeClock';
import { startModelServer, type ModelServer } from '../support/modelServer';

const SCHEMA = {
  type: 'object',
  properties: { invoice_number: { type: 'string' }, total: { type: 'number' } },
  required: ['invoice_number', 'total'],
};

/** What the editor's settings reader returns with nothing set, but a local endpoint, one attempt and 30 s requests. */
const EDITOR: ExtensionSettings = { ...DEFAULT_SETTINGS, baseUrl: 'http://127.0.0.1:9/v1', maxAttempts: 1, requestTimeoutSeconds: 30 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A folder with `n` invoices, the schema and an extraction.config.json holding `job`. */
function workspace(n: number, job: Partial<JobConfig>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-options-'));
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(root, `inv${i}.txt`), `Invoice INV-${i}\nTotal: ${i}.50 EUR\n`);
  fs.writeFileSync(path.join(root, 'invoice.schema.json'), JSON.stringify(SCHEMA));
  fs.writeFileSync(path.join(root, 'extraction.config.json'), JSON.stringify({ jobs: [{ name: 'invoices', schema: 'invoice.schema.json', include: ['*.txt'], ...job }] }));
  return root;
}

/** The run settings the editor builds for the folder's job. */
function editorRunSettings(root: string, editor: Partial<ExtensionSettings> = {}): RunSettings {
  const config = loadConfig(path.join(root, 'extraction.config.json'));
  assert.ok(config);
  return resolveRunSettings(root, { ...EDITOR, ...editor }, { kind: 'config', job: selectJob(config, undefined), configDir: root });
}

describe('provider and limit options', function () {
  this.timeout(30_000);
  let server: ModelServer;
  const roots: string[] = [];
  const folder = (n: number, job: Partial<JobConfig>): string => {
    const root = workspace(n, job);
    roots.push(root);
    return root;
  };

  before(async () => {
    server = await startModelServer();
  });
  afterEach(() => {
    server.reset();
    for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
  });
  after(async () => server.close());

  describe('merging: the job over the editor settings', () => {
    it('the job\'s fields win; the settings fill what it leaves out; zero limits mean none', () => {
      const root = folder(0, { mode: 'json_object', contextTokens: 8192, requestsPerMinute: 30, price: { inputPer1M: 1, outputPer1M: 2 }, maxReasks: 0, maxOutputTokensCap: 4096 });
      const s = editorRunSettings(root, { mode: 'tools', contextTokens: 32_000, requestsPerMinute: 500, tokensPerMinute: 90_000, maxTokensParam: 'max_tokens', budget: 3 });
      assert.equal(s.mode, 'json_object');
      assert.equal(s.contextTokens, 8192);
      assert.equal(s.requestsPerMinute, 30);
      assert.equal(s.tokensPerMinute, 90_000, 'from the settings');
      assert.equal(s.maxTokensParam, 'max_tokens', 'from the settings');
      assert.equal(s.budget, 3, 'from the settings');
      assert.deepEqual(s.price, { inputPer1M: 1, outputPer1M: 2 });
      assert.equal(s.maxReasks, 0);
      assert.equal(s.maxOutputTokensCap, 4096);
      const none = editorRunSettings(folder(0, {}));
      assert.equal(none.requestsPerMinute, undefined, 'requestsPerMinute 0 in the settings: no limit');
      assert.equal(none.tokensPerMinute, undefined);
      assert.equal(none.budget, undefined);
      assert.equal(none.mode, 'auto');
    });

    it('review.confidenceThreshold: the job\'s wins over the setting; out of 0..1 is a config error', () => {
      const job = (review?: JobConfig['review']): JobSource => ({ kind: 'config', job: { name: 'j', schema: 's.json', ...(review ? { review } : {}) }, configDir: '/' });
      assert.equal(reviewThresholdOf({ ...EDITOR, reviewConfidenceThreshold: 0.4 }, job({ confidenceThreshold: 0.9 })), 0.9);
      assert.equal(reviewThresholdOf({ ...EDITOR, reviewConfidenceThreshold: 0.4 }, job({})), 0.4);
      assert.equal(reviewThresholdOf({ ...EDITOR, reviewConfidenceThreshold: 0.4 }, undefined), 0.4);
      const root = folder(0, {});
      fs.writeFileSync(path.join(root, 'extraction.config.json'), JSON.stringify({ jobs: [{ name: 'j', schema: 'invoice.schema.json', review: { confidenceThreshold: 1.5 } }] }));
      assert.throws(() => loadConfig(path.join(root, 'extraction.config.json')), /review\.confidenceThreshold/);
    });

    it('examples: the job\'s option reaches the run settings (saved runs keep it)', () => {
      const s = editorRunSettings(folder(0, { examples: { from: 'corrections', max: 2 } }));
      assert.deepEqual(s.examples, { from: 'corrections', max: 2 });
      assert.equal(editorRunSettings(folder(0, {})).examples, undefined);
    });

    it('PDF limits: the pdf.* settings, overridden field by field by the job, in the converter\'s units', () => {
      const defaults = editorRunSettings(folder(0, {}));
      assert.deepEqual(
        defaults.pdf,
        { timeoutMs: 120_000, maxWorkerMemoryMb: 1024, ocr: 'auto', ocrLanguages: ['eng'], ocrTimeoutMs: 120_000 },
        '0 pages / 0 workers in the settings: the converter\'s defaults',
      );
      const s = editorRunSettings(folder(0, { pdf: { maxPages: 5, workers: 1 }, ocr: { mode: 'always', languages: ['eng', 'deu'] } }), {
        pdfMaxPages: 50,
        pdfTimeoutSeconds: 30,
        pdfWorkers: 3,
        ocrMode: 'off',
        ocrWorkers: 2,
        ocrTimeoutSeconds: 10,
      });
      assert.deepEqual(s.pdf, { maxPages: 5, timeoutMs: 30_000, maxWorkerMemoryMb: 1024, poolSize: 1, ocr: 'always', ocrLanguages: ['eng', 'deu'], ocrTimeoutMs: 10_000, ocrWorkers: 2 });
    });

    it('settings saved by an earlier run keep the job\'s fields, while the provider options follow today\'s settings', () => {
      const saved = editorRunSettings(folder(0, { price: { inputPer1M: 1, outputPer1M: 2 }, maxReasks: 1, maxOutputTokensCap: 2048, mode: 'text' }));
      const s = resolveRunSettings(saved.root, { ...EDITOR, mode: 'json_object', requestsPerMinute: 10 }, { kind: 'saved', saved });
      assert.deepEqual([s.price, s.maxReasks, s.maxOutputTokensCap], [{ inputPer1M: 1, outputPer1M: 2 }, 1, 2048]);
      assert.equal(s.mode, 'json_object');
      assert.equal(s.requestsPerMinute, 10);
    });
  });

  describe('on the wire', () => {
    it('mode, output budget field, re-asks and price of the job shape every request and the result', async () => {
      const root = folder(3, { model: 'local-model', mode: 'json_object', maxTokensParam: 'max_tokens', maxOutputTokens: 321, maxReasks: 0, price: { inputPer1M: 2, outputPer1M: 8 } });
      // the editor asks for tools mode: the job wins
      const settings = { ...editorRunSettings(root, { mode: 'tools' }), baseURL: server.url };
      // JSON mode carries no schema the test server could answer from: script the answers
      server.setScript('inv0.txt', [{ reply: { invoice_number: 'INV-0', total: 0.5 } }]);
      server.setScript('inv1.txt', [{ reply: { invoice_number: 'INV-1', total: 1.5 } }]);
      server.setScript('inv2.txt', [{ reply: { invoice_number: 7, total: 'n/a' } }]);
      const session = await openSession(settings, { apiKey: 'k', store: new MemoryCheckpointStore() });
      try {
        await session.pipeline.start({ trigger: 'cli' }).done;
      } finally {
        await session.close();
      }
      assert.equal(server.requests.length, 3, 'one request per document: the wrong answer is not asked again (maxReasks 0)');
      for (const r of server.requests) {
        assert.equal(r.body?.model, 'local-model');
        assert.deepEqual(r.body?.response_format, { type: 'json_object' });
        assert.equal(r.body?.tools, undefined);
        assert.equal(r.body?.max_tokens, 321);
        assert.equal(r.body?.max_completion_tokens, undefined);
      }
      assert.equal(session.store.getDocument('inv2.txt')?.lastError?.code, ErrorCodes.SCHEMA_MISMATCH);
      const result = await readResult(settings.outDir, 'inv0.txt');
      assert.ok(result);
      const m = result.metadata;
      assert.equal(m.mode, 'json_object');
      assert.ok(m.tokensIn > 0 && m.tokensOut > 0);
      assert.equal(m.cost, (m.tokensIn * 2 + m.tokensOut * 8) / 1_000_000, 'priced with the job\'s price (the model has no list price)');
    });

    it('a job\'s PDF page limit reaches the converter: later pages are never sent', async () => {
      const root = folder(0, { include: ['*.pdf'], pdf: { maxPages: 2 } });
      fs.writeFileSync(path.join(root, 'three-pages.pdf'), await multiPagePdf(3));
      const settings = { ...editorRunSettings(root), baseURL: server.url };
      const session = await openSession(settings, { apiKey: 'k', store: new MemoryCheckpointStore(), assetsDir: path.join(REPO_ROOT, 'dist') });
      try {
        await session.pipeline.start({ trigger: 'cli' }).done;
      } finally {
        await session.close();
      }
      const sent = JSON.stringify(server.requestsFor('three-pages.pdf').map((r) => r.body?.messages));
      assert.match(sent, /tok1x/);
      assert.match(sent, /tok2x/);
      assert.doesNotMatch(sent, /tok3x/, 'page 3 is beyond the limit');
      assert.equal(session.store.getDocument('three-pages.pdf')?.stage, 'done');
    });

    it('an out-of-range PDF limit fails the session with INVALID_CONFIG naming it, before the store is opened', async () => {
      const root = folder(0, {});
      const settings: RunSettings = { ...editorRunSettings(root), baseURL: server.url, pdf: { maxWorkerMemoryMb: 4 } };
      await rejectsWithCode(openSession(settings, { apiKey: 'k' }), ErrorCodes.INVALID_CONFIG, (e) => assert.match(e.message, /maxWorkerMemoryMb must be at least 32/));
      assert.ok(!fs.existsSync(path.join(settings.stateDir, 'store.lock')), 'no store left open');
    });

    it('a small context window makes a long document go out in chunks', async () => {
      const root = folder(0, { contextTokens: 1500, maxOutputTokens: 200 });
      fs.writeFileSync(path.join(root, 'long.txt'), Array.from({ length: 200 }, (_, i) => `Line ${i}: Invoice INV-1 was checked by the accounting team.`).join('\n'));
      const settings = { ...editorRunSettings(root), baseURL: server.url };
      const session = await openSession(settings, { apiKey: 'k', store: new MemoryCheckpointStore() });
      try {
        await session.pipeline.start({ trigger: 'cli' }).done;
      } finally {
        await session.close();
      }
      const parts = server.requestsFor('long.txt').map((r) => r.parts);
      assert.ok(parts.length >= 2 && parts.every((n) => n === parts.length), `sent in ${parts.length} parts`);
    });

    it('a requests-per-minute limit holds requests back until the limiter\'s clock allows the next one', async () => {
      const root = folder(4, { requestsPerMinute: 2, concurrency: 4 });
      const settings = { ...editorRunSettings(root), baseURL: server.url };
      const clock = new FakeClock();
      const session = await openSession(settings, { apiKey: 'k', store: new MemoryCheckpointStore(), clock });
      try {
        const limiter = session.extractor.rateLimiter;
        const run = session.pipeline.start({ trigger: 'cli' });
        // a minute's allowance (2) goes at once; the other two documents wait in the limiter
        await until('two requests sent and two waiting', () => server.requests.length === 2 && limiter.stats.waiting === 2 && limiter.stats.inFlight === 0);
        assert.equal(limiter.stats.granted, 2);
        await clock.advance(29_999);
        assert.equal(limiter.stats.granted, 2, 'no request before half a minute (2 per minute)');
        await clock.advance(1);
        await until('the third request', () => server.requests.length === 3);
        assert.equal(limiter.stats.waiting, 1);
        await clock.advance(30_000);
        await until('the fourth request', () => server.requests.length === 4);
        const summary = await run.done;
        assert.equal(summary.done, 4);
        assert.ok(limiter.stats.maxInFlight <= 2, `never more than the bucket allowed at once (${limiter.stats.maxInFlight})`);
      } finally {
        await session.close();
      }
    });

    it('a tokens-per-minute limit holds requests back until the bucket has room again', async () => {
      const root = folder(3, { tokensPerMinute: 1000, maxOutputTokens: 600, concurrency: 3 });
      const settings = { ...editorRunSettings(root), baseURL: server.url };
      // the provider counts 1000 tokens per request: each one empties the minute's bucket
      server.setResponder((req) => ({ reply: { invoice_number: req.document, total: 1 }, usage: { prompt_tokens: 1000, completion_tokens: 0 } }));
      const clock = new FakeClock();
      const session = await openSession(settings, { apiKey: 'k', store: new MemoryCheckpointStore(), clock });
      try {
        const limiter = session.extractor.rateLimiter;
        const run = session.pipeline.start({ trigger: 'cli' });
        for (let n = 1; n <= 3; n++) {
          await until(`request ${n} answered, ${3 - n} waiting`, () => server.requests.length === n && limiter.stats.inFlight === 0 && limiter.stats.waiting === 3 - n);
          if (n === 3) break;
          await clock.advance(1_000);
          assert.equal(limiter.stats.granted, n, 'a second of refill is not enough for the next request');
          await clock.advance(59_000);
        }
        assert.equal((await run.done).done, 3);
        assert.equal(limiter.stats.maxInFlight, 1);
      } finally {
        server.setResponder(undefined);
        await session.close();
      }
    });

    it('run settings with an invalid option (hand-edited, or saved by an older version) → INVALID_CONFIG naming it, before any request', async () => {
      const root = folder(1, {});
      const settings = { ...editorRunSettings(root), baseURL: server.url };
      await rejectsWithCode(openSession({ ...settings, requestsPerMinute: 0 }, { apiKey: 'k', store: new MemoryCheckpointStore() }), ErrorCodes.INVALID_CONFIG, (e) =>
        assert.match(e.message, /requestsPerMinute: Too small/),
      );
      await rejectsWithCode(openSession({ ...settings, mode: 'fast' as RunSettings['mode'] }, { apiKey: 'k', store: new MemoryCheckpointStore() }), ErrorCodes.INVALID_CONFIG, (e) =>
        assert.match(e.message, /mode: Invalid option/),
      );
      assert.equal(server.requests.length, 0);
    });
  });
});
