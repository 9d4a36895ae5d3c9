/**
 * Answers that would otherwise hang a run or cost without bound: a body that stalls half-way, an answer of
 * many megabytes, a model that cuts off every answer. Real extractor, test model server.
 */
import { strict as assert } from 'node:assert';
import { ErrorCodes } from '../../src/core/errors';
import { MAX_TRUNCATIONS, OpenAIExtractor, type OpenAIExtractorOptions } from '../../src/extract/openaiExtractor';
import type { ExtractInput, JsonSchema } from '../../src/extract/types';
import { rejectsWithCode } from '../support/assertions';
import { startModelServer, type ModelServer } from '../support/modelServer';

const schema: JsonSchema = { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] };
const input = (path: string, text = `Title of ${path}`): ExtractInput => ({ path, document: { format: 'text', text }, schema });

describe('OpenAIExtractor: answers that would hang a run or cost without bound', function () {
  this.timeout(30_000);
  let server: ModelServer;
  const make = (o: Partial<OpenAIExtractorOptions> = {}) => new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'gpt-4o-mini', timeoutMs: 5000, ...o });
  before(async () => {
    server = await startModelServer();
  });
  afterEach(() => server.reset());
  after(async () => server.close());

  it('a body that stalls after the headers times out within the request timeout (TIMEOUT, retryable)', async () => {
    server.setScript('stall.txt', [{ stall: true }]);
    const t0 = Date.now();
    await rejectsWithCode(make({ timeoutMs: 400 }).extract(input('stall.txt')), ErrorCodes.TIMEOUT, (e) => assert.equal(e.retryable, true));
    // a deadline for a hung test, not a speed check: without the fix the request never ends
    assert.ok(Date.now() - t0 < 20_000);
    assert.equal(server.requestsFor('stall.txt').length, 1);
  });

  it('an answer over the size bound is refused, not buffered (MALFORMED_OUTPUT)', async () => {
    server.setScript('huge.txt', [{ content: JSON.stringify({ title: 'x'.repeat(3 * 1024 * 1024) }) }]);
    await rejectsWithCode(make({ maxResponseBytes: 1024 * 1024 }).extract(input('huge.txt')), ErrorCodes.MALFORMED_OUTPUT, (e) => assert.match(e.message, /too large \(the answer is larger than 1 MiB\)/));
    // the same answer within a larger bound is read
    server.setScript('huge.txt', [{ content: JSON.stringify({ title: 'x'.repeat(3 * 1024 * 1024) }) }]);
    const out = await make({ maxResponseBytes: 8 * 1024 * 1024 }).extract(input('huge.txt'));
    assert.equal((out.data as { title: string }).title.length, 3 * 1024 * 1024);
  });

  it('a model that cuts off every answer is given up after a bounded number of requests (TRUNCATED_OUTPUT, not retryable)', async () => {
    server.setResponder(() => ({ truncated: true }));
    try {
      // a long document: larger budgets, then chunks, then halves of chunks would each be asked again
      const long = Array.from({ length: 400 }, (_, i) => `Line ${i}: ${'word '.repeat(20)}`).join('\n');
      await rejectsWithCode(make({ maxOutputTokens: 50, maxOutputTokensCap: 200, contextTokens: 4000, chunkConcurrency: 1 }).extract(input('long.txt', long)), ErrorCodes.TRUNCATED_OUTPUT, (e) => {
        assert.equal(e.retryable, false);
        assert.match(e.message, /cut off at the output token limit 9 times/);
      });
      assert.equal(server.requestsFor('long.txt').length, MAX_TRUNCATIONS + 1);
    } finally {
      server.setResponder(undefined);
    }
  });
});
