/**
 * The offline "sample replies" endpoint that `npm start` offers without a model (scripts/sample-replies.js
 * with samples/sample-replies.json): every canned reply answers the sample schema and is found in its
 * document, every document of the sample job has one, and the real OpenAIExtractor gets them from the
 * server (structured outputs and tool calls), while any other document gets a clear, non-retryable error.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { createConverterRegistry, convertTextBytes, type ConvertedDocument, type ConverterRegistry } from '../../src/convert/index';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import { listFiles } from '../../src/core/lister';
import { groundValues } from '../../src/extract/grounding';
import { OpenAIExtractor, type ModeOption } from '../../src/extract/openaiExtractor';
import { createValidator } from '../../src/extract/schema';
import type { JsonSchema } from '../../src/extract/types';

/** The bundle runs from out/test/unit/. */
const REPO_ROOT = path.resolve(__dirname, '../../..');
const SAMPLES = path.join(REPO_ROOT, 'samples', 'invoices');
const REPLIES_FILE = path.join(REPO_ROOT, 'samples', 'sample-replies.json');
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'sample-replies.js');

interface SampleServer {
  url: string;
  port: number;
  close(): Promise<void>;
}
interface SampleRepliesModule {
  startSampleReplies(opts?: { port?: number; replies?: Record<string, unknown>; latencyMs?: number; log?: (line: string) => void }): Promise<SampleServer>;
  MODEL: string;
}

const { startSampleReplies, MODEL } = createRequire(__filename)(SCRIPT) as SampleRepliesModule;

interface Job {
  name: string;
  include?: string[];
  exclude?: string[];
  schema: string;
}

const config = JSON.parse(fs.readFileSync(path.join(SAMPLES, 'extraction.config.json'), 'utf8')) as { jobs: Job[] };
const job = config.jobs[0];
const schema = JSON.parse(fs.readFileSync(path.join(SAMPLES, job.schema), 'utf8')) as JsonSchema;
const replies = JSON.parse(fs.readFileSync(REPLIES_FILE, 'utf8')) as Record<string, unknown>;

async function jobDocuments(): Promise<string[]> {
  const out: string[] = [];
  for await (const f of listFiles(SAMPLES, { include: job.include, exclude: job.exclude })) out.push(f.path);
  return out;
}

function extractor(url: string, mode?: ModeOption): OpenAIExtractor {
  return new OpenAIExtractor({ baseURL: url, apiKey: 'x', model: 'sample-replies', timeoutMs: 10_000, ...(mode ? { mode } : {}) });
}

describe('sample replies: the canned extractions', function () {
  this.timeout(60_000);

  it('answer the sample schema: every required field, numbers as numbers, ISO dates, currency codes', () => {
    const validate = createValidator(schema);
    const keys = Object.keys(replies);
    assert.ok(keys.length > 0, 'samples/sample-replies.json has replies');
    for (const key of keys) {
      const result = validate(replies[key]);
      assert.ok(result.ok, `${key}: ${result.ok ? '' : result.errors.join('; ')}`);
      const r = replies[key] as { invoice_date: string; currency: string; total: number; line_items: Array<{ amount: number }> };
      assert.match(r.invoice_date, /^\d{4}-\d{2}-\d{2}$/, `${key}: ISO date`);
      assert.ok(!Number.isNaN(Date.parse(r.invoice_date)), `${key}: a real date`);
      assert.match(r.currency, /^[A-Z]{3}$/, `${key}: ISO 4217 code`);
      const net = r.line_items.reduce((s, l) => s + l.amount, 0);
      assert.ok(r.total >= net, `${key}: the total (${r.total}) includes the line items (${net})`);
    }
  });

  it('cover exactly the documents the sample job includes', async () => {
    const docs = await jobDocuments();
    assert.ok(docs.length >= 6, `the sample job lists its documents (got ${docs.join(', ')})`);
    for (const d of docs) assert.ok(Object.prototype.hasOwnProperty.call(replies, d), `a sample reply for ${d}`);
    for (const key of Object.keys(replies)) assert.ok(docs.includes(key), `${key} is a document of the sample job`);
  });

  describe('every value is found in its document (grounding)', () => {
    let registry: ConverterRegistry;
    before(() => {
      const worker = path.join(REPO_ROOT, 'dist', 'pdfWorker.js');
      if (!fs.existsSync(worker)) throw new Error(`${worker} missing: run \`node esbuild.js\` first`);
      registry = createConverterRegistry({ pdfWorkerPath: worker, pdfAssetsDir: path.join(REPO_ROOT, 'dist', 'pdfjs'), poolSize: 1, timeoutMs: 30_000 });
    });
    after(async () => {
      await registry?.dispose();
    });

    for (const key of Object.keys(replies)) {
      it(key, async () => {
        const abs = path.join(SAMPLES, key);
        const bytes = new Uint8Array(fs.readFileSync(abs));
        const doc: ConvertedDocument = key.endsWith('.pdf')
          ? await registry.get('.pdf')!.convert({ path: key, absPath: abs, bytes })
          : convertTextBytes(Buffer.from(bytes), key.endsWith('.md') ? 'markdown' : 'text');
        const g = groundValues(replies[key], doc);
        const missing = g.fields.filter((f) => f.status === 'ungrounded').map((f) => f.pointer);
        assert.deepEqual(missing, [], `${key}: values not found in the document`);
      });
    }
  });
});

describe('sample replies: the server', function () {
  this.timeout(60_000);
  let server: SampleServer;
  const logged: string[] = [];

  before(async () => {
    server = await startSampleReplies({ latencyMs: 20, log: (line) => logged.push(line) });
  });
  after(async () => {
    await server?.close();
  });

  it('listens on 127.0.0.1 and lists one model, sample-replies', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const res = await fetch(`${server.url}/models`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { object: string; data: Array<{ id: string }> };
    assert.equal(body.object, 'list');
    assert.deepEqual(body.data.map((m) => m.id), [MODEL]);
    assert.equal(MODEL, 'sample-replies');
  });

  for (const mode of ['auto', 'tools', 'json_object'] as const) {
    it(`answers a sample document through the real OpenAIExtractor (mode ${mode})`, async () => {
      const key = 'inv-2024-0117-acme.txt';
      const out = await extractor(server.url, mode).extract({ path: key, document: { format: 'text', text: 'Document text' }, schema });
      assert.deepEqual(out.data, replies[key]);
      assert.equal(out.model, 'sample-replies');
      assert.ok(out.tokensIn > 0 && out.tokensOut > 0, `usage is reported (${out.tokensIn} in, ${out.tokensOut} out)`);
      assert.ok(Math.abs(out.tokensOut - Math.ceil(JSON.stringify(replies[key]).length / 4)) <= 1, 'completion tokens ≈ length / 4');
    });
  }

  it('answers every sample document, also under a parent folder', async () => {
    const ex = extractor(server.url);
    for (const key of Object.keys(replies)) {
      const out = await ex.extract({ path: `invoices/${key}`, document: { format: 'text', text: 'Document text' }, schema });
      assert.deepEqual(out.data, replies[key], key);
    }
  });

  it('reads the Document line of a message whose content is an array of parts', async () => {
    const key = 'invoice-two-column.pdf';
    const res = await fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
      body: JSON.stringify({
        model: 'sample-replies',
        messages: [
          { role: 'system', content: 'Extract.' },
          { role: 'user', content: [{ type: 'text', text: `Document: ${key}\nFormat: pdf (1 page)` }, { type: 'text', text: 'the text' }] },
        ],
      }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { object: string; choices: Array<{ message: { content: string }; finish_reason: string }>; usage: { total_tokens: number } };
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.choices[0].finish_reason, 'stop');
    assert.deepEqual(JSON.parse(body.choices[0].message.content), replies[key]);
    assert.ok(body.usage.total_tokens > 0);
  });

  it('rejects any other document with a clear, non-retryable error', async () => {
    let caught: unknown;
    try {
      await extractor(server.url).extract({ path: 'contracts/lease.pdf', document: { format: 'text', text: 'Document text' }, schema });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof ExtractionError, `an ExtractionError, got ${String(caught)}`);
    assert.equal(caught.code, ErrorCodes.BAD_REQUEST);
    assert.equal(caught.retryable, false);
    assert.match(caught.message, /'sample replies' endpoint/);
    assert.match(caught.message, /only answers for the sample documents in samples\/invoices/);
    assert.match(caught.message, /extractionWorkbench\.baseUrl/);
    assert.ok(logged.some((l) => l.includes('contracts/lease.pdf')), `the refusal is logged (${logged.join(' | ')})`);
  });

  it('answers after a small latency (400 ms by default) and closes promptly', async () => {
    const slow = await startSampleReplies();
    try {
      const t0 = Date.now();
      await extractor(slow.url).extract({ path: 'inv-7781-kestrel.txt', document: { format: 'text', text: 'Document text' }, schema });
      const ms = Date.now() - t0;
      assert.ok(ms >= 350 && ms < 5000, `answered after ${ms} ms`);
    } finally {
      const t0 = Date.now();
      await slow.close();
      assert.ok(Date.now() - t0 < 2000, 'close() does not wait for keep-alive connections');
    }
  });
});
