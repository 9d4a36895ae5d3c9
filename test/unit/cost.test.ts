import { strict as assert } from 'node:assert';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import { estimateRunCost, expectedOutputTokensFor, promptOverheadTokens } from '../../src/extract/estimate';
import { systemPrompt } from '../../src/extract/modes';
import { OpenAIExtractor, type OpenAIExtractorOptions } from '../../src/extract/openaiExtractor';
import { DEFAULT_PRICES, PriceTable, costWith, defaultPriceTable } from '../../src/extract/pricing';
import { buildUserMessage } from '../../src/extract/prompt';
import { toStrictSchema } from '../../src/extract/schema';
import { countChatTokens, countTokens } from '../../src/extract/tokens';
import type { JsonSchema } from '../../src/extract/types';
import { startModelServer, type ModelServer, type RecordedRequest, type Step } from '../support/modelServer';

const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-12;

const schema: JsonSchema = {
  title: 'Invoice',
  type: 'object',
  properties: {
    invoice_number: { type: 'string' },
    total: { type: 'number', minimum: 0 },
    lines: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' } }, required: ['code'] } },
  },
  required: ['invoice_number', 'total'],
};

describe('PriceTable', () => {
  it('has well-known defaults, matched case-insensitively, with provider prefixes and snapshot suffixes', () => {
    assert.deepEqual(defaultPriceTable.priceOf('gpt-4o-mini'), { inputPer1M: 0.15, outputPer1M: 0.6 });
    assert.deepEqual(defaultPriceTable.priceOf('GPT-4o-mini-2024-07-18'), DEFAULT_PRICES['gpt-4o-mini']);
    assert.deepEqual(defaultPriceTable.priceOf('gpt-4o-2024-08-06'), DEFAULT_PRICES['gpt-4o']);
    assert.deepEqual(defaultPriceTable.priceOf('openai/gpt-4.1-mini'), DEFAULT_PRICES['gpt-4.1-mini']);
    assert.equal(defaultPriceTable.priceOf('o3-pro'), undefined, 'variants are not guessed from a prefix');
    assert.equal(defaultPriceTable.priceOf('llama3.1:8b'), undefined);
    assert.equal(defaultPriceTable.costOf('llama3.1:8b', 1e6, 1e6), 0, 'local models cost nothing');
    assert.ok(close(defaultPriceTable.costOf('gpt-4o-mini', 1_000_000, 100_000), 0.15 + 0.06));
  });

  it('user overrides win; defaults can be left out; bad prices are refused', () => {
    const t = new PriceTable({ 'gpt-4o-mini': { inputPer1M: 1, outputPer1M: 2 }, 'my-model': { inputPer1M: 3, outputPer1M: 4 } });
    assert.deepEqual(t.priceOf('gpt-4o-mini'), { inputPer1M: 1, outputPer1M: 2 });
    assert.deepEqual(t.priceOf('My-Model'), { inputPer1M: 3, outputPer1M: 4 });
    assert.deepEqual(t.priceOf('gpt-4o'), DEFAULT_PRICES['gpt-4o']);
    const only = new PriceTable({ x: { inputPer1M: 1, outputPer1M: 1 } }, { defaults: false });
    assert.equal(only.priceOf('gpt-4o'), undefined);
    assert.deepEqual(Object.keys(only.toJSON()), ['x']);
    assert.throws(() => new PriceTable({ m: { inputPer1M: -1, outputPer1M: 0 } }), /Price of 'm': inputPer1M must be a number ≥ 0/);
    assert.equal(costWith(undefined, 100, 100), 0);
  });
});

describe('OpenAIExtractor cost accounting', function () {
  this.timeout(20_000);
  let server: ModelServer;
  const make = (o: Partial<OpenAIExtractorOptions> = {}): OpenAIExtractor =>
    new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'gpt-4o-mini', timeoutMs: 5000, ...o });
  const input = (path: string, text = `Invoice ${path}`) => ({ path, document: { format: 'text', text }, schema });

  before(async () => {
    server = await startModelServer();
  });
  afterEach(() => {
    server.reset();
    server.setResponder(undefined);
  });
  after(async () => server.close());

  it('costOf: the explicit price, else the table price of the model, else 0', () => {
    assert.ok(close(make().costOf(1e6, 1e6), 0.15 + 0.6), 'default table');
    assert.ok(close(make({ price: { inputPer1M: 1, outputPer1M: 1 } }).costOf(1e6, 1e6), 2), 'explicit price');
    assert.ok(close(make({ prices: { 'gpt-4o-mini': { inputPer1M: 2, outputPer1M: 0 } } }).costOf(1e6, 1e6), 2), 'overrides');
    assert.equal(make({ model: 'llama3' }).costOf(1e6, 1e6), 0);
    assert.throws(() => make({ price: { inputPer1M: Number.NaN, outputPer1M: 1 } }), (e: ExtractionError) => e.code === ErrorCodes.INVALID_CONFIG);
  });

  it('re-asks and larger budgets: every request counted in tokens and cost', async () => {
    server.setScript('d', [
      { truncated: true, usage: { prompt_tokens: 1000, completion_tokens: 50 } },
      { reply: { invoice_number: 'A', total: -1 }, usage: { prompt_tokens: 1000, completion_tokens: 60 } },
      { reply: { invoice_number: 'A', total: 1 }, usage: { prompt_tokens: 1100, completion_tokens: 70 } },
    ]);
    const out = await make({ maxOutputTokens: 50, price: { inputPer1M: 2, outputPer1M: 10 } }).extract(input('d'));
    assert.equal(out.requests, 3);
    assert.deepEqual([out.tokensIn, out.tokensOut], [3100, 180]);
    assert.ok(close(out.cost, (3100 * 2 + 180 * 10) / 1e6));
  });

  it('chunks: the tokens of every chunk request (re-asks included) add up; a failure carries what was spent', async () => {
    const responder = (req: RecordedRequest): Step => {
      // part 2 first answers something that breaks the schema, then corrects itself
      const bad = req.part === 2 && req.body!.messages!.length === 2;
      return { reply: { invoice_number: null, total: bad ? -5 : null, lines: [{ code: `L${req.part}` }] }, usage: { prompt_tokens: 200, completion_tokens: 20 } };
    };
    server.setResponder(responder);
    const long = Array.from({ length: 300 }, (_, i) => `Line ${i}: the delivery of goods as agreed in the contract, item ${i}.`).join('\n');
    const ex = make({ contextTokens: 3000, maxOutputTokens: 200, price: { inputPer1M: 1, outputPer1M: 4 } });
    const err = await ex.extract(input('long.txt', `Invoice: INV-1\nTotal: 5\n${long}`)).then(
      () => undefined,
      (e: unknown) => e as ExtractionError,
    );
    // the merged answer has no invoice_number / total (the responder never gives them): SCHEMA_MISMATCH
    assert.ok(err instanceof ExtractionError);
    assert.equal(err.code, ErrorCodes.SCHEMA_MISMATCH);
    const n = new Set(server.requests.map((r) => r.part)).size;
    assert.ok(n >= 3, `parts ${n}`);
    assert.equal(server.requests.length, n + 1, 'one re-ask for part 2');
    assert.deepEqual([err.tokensIn, err.tokensOut], [200 * (n + 1), 20 * (n + 1)]);
    assert.equal(err.details?.requests, n + 1);
    assert.ok(close(err.details?.cost as number, (200 * (n + 1) + 80 * (n + 1)) / 1e6));
    assert.ok(close(ex.costOf(err.tokensIn, err.tokensOut), err.details?.cost as number), 'what the pipeline charges for the failed attempt');

    server.reset();
    server.setResponder((req) => ({ ...responder(req), reply: { invoice_number: req.part === 1 ? 'INV-1' : null, total: req.part === 1 ? 5 : null, lines: [{ code: `L${req.part}` }] } }));
    const out = await ex.extract(input('long.txt', `Invoice: INV-1\nTotal: 5\n${long}`));
    assert.equal(out.requests, out.chunks);
    assert.deepEqual([out.tokensIn, out.tokensOut], [200 * out.chunks!, 20 * out.chunks!]);
    assert.ok(close(out.cost, (200 * out.chunks! + 80 * out.chunks!) / 1e6));
    assert.deepEqual(out.data, { invoice_number: 'INV-1', total: 5, lines: Array.from({ length: out.chunks! }, (_, i) => ({ code: `L${i + 1}` })) });
  });
});

describe('estimateRunCost', () => {
  const text = 'Invoice INV-7 from ACME Corp.\nTotal: 12.50 EUR\nDue: 2024-06-30\n';

  it('counts the prompt of each document with the tokenizer, as the extractor will send it', () => {
    const est = estimateRunCost({ documents: [{ text, path: 'inv.txt' }], model: 'gpt-4o-mini', schema, expectedOutputTokens: 40 });
    const strict = toStrictSchema(schema);
    const actual =
      countChatTokens([systemPrompt('json_schema', { strict, name: 'Invoice' }), buildUserMessage({ path: 'inv.txt', document: { format: 'text', text } })]) +
      countTokens(JSON.stringify(strict));
    assert.ok(est.tokensIn >= actual && est.tokensIn <= actual + 20, `estimate ${est.tokensIn}, actual ${actual}`);
    assert.equal(est.tokensOutEstimate, 40);
    assert.equal(est.requests, 1);
    assert.equal(est.chunkedDocuments, 0);
    assert.deepEqual(est.price, DEFAULT_PRICES['gpt-4o-mini']);
    assert.ok(close(est.cost, (est.tokensIn * 0.15 + 40 * 0.6) / 1e6));
    assert.ok(close(est.cost, est.inputCost + est.outputCost));
  });

  it('adds up documents given as texts, token counts or converted documents', () => {
    const one = estimateRunCost({ documents: [text], model: 'gpt-4o', schema, expectedOutputTokens: 10 });
    const many = estimateRunCost({ documents: [text, text, { text, format: 'text' }, 1000, { tokens: 1000 }], model: 'gpt-4o', schema, expectedOutputTokens: 10 });
    const overhead = promptOverheadTokens({ mode: 'json_schema', strict: toStrictSchema(schema), part: false });
    assert.equal(many.documents, 5);
    assert.equal(many.requests, 5);
    assert.equal(many.tokensIn, 3 * one.tokensIn + 2 * (1000 + overhead));
    assert.equal(many.tokensOutEstimate, 50);
  });

  it('long documents are counted as chunks (the prompt repeated per chunk)', () => {
    const est = estimateRunCost({ documents: [500_000], model: 'gpt-4o-mini', schema, expectedOutputTokens: 100 });
    assert.equal(est.chunkedDocuments, 1);
    assert.ok(est.requests >= 5, `requests ${est.requests}`);
    assert.ok(est.tokensIn > 500_000);
    assert.equal(est.tokensOutEstimate, 100 * est.requests);
    const small = estimateRunCost({ documents: [500_000], model: 'gpt-4o-mini', schema, expectedOutputTokens: 100, contextTokens: 1_000_000 });
    assert.equal(small.requests, 1, 'a larger context: one request');
  });

  it('without expectedOutputTokens, a typical answer to the schema; unknown models cost 0; json_object puts the schema in the prompt', () => {
    const out = expectedOutputTokensFor(toStrictSchema(schema));
    assert.ok(out > 10 && out < 200, String(out));
    const est = estimateRunCost({ documents: [text], model: 'llama3', schema });
    assert.equal(est.tokensOutEstimate, out);
    assert.equal(est.cost, 0);
    assert.equal(est.price, undefined);
    const a = estimateRunCost({ documents: [text], model: 'llama3', schema, mode: 'json_schema' }).tokensIn;
    const b = estimateRunCost({ documents: [text], model: 'llama3', schema, mode: 'json_object' }).tokensIn;
    assert.ok(b > a && b - a < 80, `the schema is counted either way: ${a} vs ${b}`);
    const priced = estimateRunCost({ documents: [text], model: 'llama3', schema, price: { inputPer1M: 1, outputPer1M: 1 } });
    assert.ok(priced.cost > 0);
  });
});
