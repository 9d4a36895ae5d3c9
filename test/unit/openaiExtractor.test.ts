import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import * as net from 'node:net';
import { inspect } from 'node:util';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { CancelledError, ErrorCodes, ExtractionError } from '../../src/core/errors';
import { buildUserMessage, classifyOpenAIError, OpenAIExtractor, redactSecrets, SYSTEM_PROMPT, type OpenAIExtractorOptions } from '../../src/extract/openaiExtractor';
import { PriceTable } from '../../src/extract/pricing';
import { toStrictSchema } from '../../src/extract/schema';
import type { ExtractInput, JsonSchema } from '../../src/extract/types';
import { startModelServer, type ModelServer, type Step } from '../support/modelServer';
import { rejectsWithCode, until } from '../support/assertions';
import { FakeClock } from '../support/fakeClock';

const API_KEY = 'sk-test-Zq7SECRETkey0123456789abcdef';

const schema: JsonSchema = {
  title: 'Invoice',
  type: 'object',
  properties: {
    invoice_number: { type: 'string' },
    total: { type: 'number', minimum: 0 },
    currency: { type: 'string', enum: ['EUR', 'USD'] },
    note: { type: 'string' },
  },
  required: ['invoice_number', 'total'],
};

function input(path: string, text = `Invoice ${path}\nTotal: 12.50 EUR`, extra: Partial<ExtractInput> = {}): ExtractInput {
  return { path, document: { format: 'text', text }, schema, ...extra };
}

/** Asserts an ExtractionError with a code and that the API key appears nowhere in it. */
function rejectsWith(p: Promise<unknown>, code: string, check?: (e: ExtractionError) => void): Promise<ExtractionError> {
  return rejectsWithCode(p, code, (e) => {
    assertNoKey(e);
    check?.(e);
  });
}

function assertNoKey(e: unknown): void {
  const text = `${(e as Error).message}\n${inspect(e, { depth: 10, showHidden: true })}\n${JSON.stringify(e)}`;
  assert.ok(!text.includes(API_KEY), `the API key leaked: ${text}`);
  assert.ok(!text.includes('SECRETkey'), 'no part of the key leaked');
}

describe('OpenAIExtractor', function () {
  this.timeout(20_000);
  let server: ModelServer;
  const make = (o: Partial<OpenAIExtractorOptions> = {}): OpenAIExtractor =>
    // a minute: on a loaded machine 300 concurrent requests to the in-process server take seconds (tests of
    // the timeout itself pass their own)
    new OpenAIExtractor({ baseURL: server.url, apiKey: API_KEY, model: 'gpt-4o-mini', timeoutMs: 60_000, ...o });
  const script = (path: string, ...steps: Step[]): void => server.setScript(path, steps);

  before(async () => {
    server = await startModelServer({ requireApiKey: API_KEY, models: ['gpt-4o-mini', 'gpt-4o'] });
  });
  afterEach(() => server.reset());
  after(async () => server.close());

  describe('happy path', () => {
    it('sends system prompt, Document line, instructions, text and the strict schema; returns data, tokens and cost', async () => {
      server.setResponder((req) => {
        const total = Number(/Total: ([\d.]+)/.exec(req.userText)?.[1]);
        return { reply: { invoice_number: req.document.toUpperCase(), total, currency: 'EUR', note: null }, usage: { prompt_tokens: 1200, completion_tokens: 30 } };
      });
      try {
        const ex = make({ temperature: 0, maxOutputTokens: 800, price: { inputPer1M: 0.15, outputPer1M: 0.6 } });
        const out = await ex.extract(input('inv-7.txt', 'ACME\nTotal: 12.50 EUR', { instructions: 'Amounts in the invoice currency.' }));
        assert.deepEqual(out.data, { invoice_number: 'INV-7.TXT', total: 12.5, currency: 'EUR' }, 'null of the optional note dropped');
        assert.equal(out.validatedAgainst, schema, 'validated against the input schema (the pipeline does not check again)');
        assert.equal(out.tokensIn, 1200);
        assert.equal(out.tokensOut, 30);
        assert.equal(out.requests, 1);
        assert.equal(out.model, 'gpt-4o-mini');
        assert.ok(Math.abs(out.cost - (1200 * 0.15 + 30 * 0.6) / 1e6) < 1e-12);
        assert.equal(ex.model, 'gpt-4o-mini');

        assert.equal(server.requests.length, 1);
        const req = server.requests[0];
        assert.equal(req.headers.authorization, `Bearer ${API_KEY}`);
        const body = req.body!;
        assert.equal(body.model, 'gpt-4o-mini');
        assert.equal(body.temperature, 0);
        assert.equal(body.max_completion_tokens, 800);
        assert.equal(body.messages![0].role, 'system');
        assert.equal(body.messages![0].content, SYSTEM_PROMPT);
        assert.match(SYSTEM_PROMPT, /only information present in the document/i);
        assert.match(SYSTEM_PROMPT, /use null/i);
        const user = body.messages![1].content as string;
        assert.equal(body.messages![1].role, 'user');
        assert.equal(user.split('\n')[0], 'Document: inv-7.txt');
        assert.ok(user.indexOf('Amounts in the invoice currency.') < user.indexOf('ACME\nTotal: 12.50 EUR'));
        assert.deepEqual(body.response_format, { type: 'json_schema', json_schema: { name: 'Invoice', schema: toStrictSchema(schema), strict: true } });
      } finally {
        server.setResponder(undefined);
      }
    });

    it('omits temperature and max tokens when not set; can use max_tokens; cost 0 for a model without a price', async () => {
      script('a', { reply: { invoice_number: 'A', total: 1 } });
      const out = await make({ prices: new PriceTable({}, { defaults: false }) }).extract(input('a'));
      assert.equal(out.cost, 0);
      const body = server.requests[0].body!;
      assert.equal('temperature' in body, false);
      assert.equal('max_completion_tokens' in body, false);
      script('b', { reply: { invoice_number: 'B', total: 1 } });
      await make({ maxOutputTokens: 100, maxTokensParam: 'max_tokens' }).extract(input('b'));
      assert.equal(server.requests[1].body!.max_tokens, 100);
    });

    it('buildUserMessage puts the Document line first and keeps a path on one line', () => {
      const msg = buildUserMessage({ path: 'a\nb.txt', document: { format: 'pdf', text: 'T', pages: [{ page: 1, start: 0, end: 1 }] } });
      assert.equal(msg.split('\n')[0], 'Document: a b.txt');
      assert.match(msg, /Format: pdf \(1 page\)/);
      assert.match(msg, /--- BEGIN DOCUMENT ---\nT\n--- END DOCUMENT ---$/);
    });

    it('runs many documents concurrently against the server', async () => {
      server.setResponder((req) => ({ reply: { invoice_number: req.document, total: 1 }, latencyMs: 5 }));
      try {
        const ex = make();
        const outs = await Promise.all(Array.from({ length: 300 }, (_, i) => ex.extract(input(`docs/${i}.txt`))));
        assert.deepEqual(
          outs.map((o) => (o.data as { invoice_number: string }).invoice_number),
          Array.from({ length: 300 }, (_, i) => `docs/${i}.txt`),
        );
        assert.equal(server.stats.total, 300);
        assert.ok(server.stats.maxConcurrency > 10, `maxConcurrency ${server.stats.maxConcurrency}`);
      } finally {
        server.setResponder(undefined);
      }
    });
  });

  describe('HTTP error classification', () => {
    it('429 + Retry-After (seconds) → RATE_LIMITED, retryable, retryAfterMs (classification)', () => {
      const e = classifyOpenAIError(new APIError(429, { message: 'slow down' }, undefined, new Headers({ 'retry-after': '2' })));
      assert.equal(e.code, ErrorCodes.RATE_LIMITED);
      assert.equal(e.retryable, true);
      assert.equal(e.retryAfterMs, 2000);
      assert.match(e.message, /Rate limited by the provider \(429\)\. The server asked to wait 2 s\./);
      const ms = classifyOpenAIError(new APIError(429, { message: 'slow down' }, undefined, new Headers({ 'retry-after-ms': '750' })));
      assert.equal(ms.retryAfterMs, 750);
      assert.equal(classifyOpenAIError(new APIError(429, { message: 'slow down' }, undefined, new Headers())).retryAfterMs, undefined);
    });

    it('a 429 is waited out and the request sent again, not failed: after Retry-After, else after a backoff', async () => {
      const clock = new FakeClock();
      script('d', { status: 429, retryAfter: 2 }, { status: 429 }, { reply: { invoice_number: 'D', total: 1 } });
      const ex = make({ clock, rateLimit: { clock }, backoff: { baseDelayMs: 1000, jitter: 0 } });
      let settled = false;
      const p = ex.extract(input('d')).finally(() => (settled = true));
      await until(() => server.requests.length === 1 && ex.rateLimiter.stats.waiting === 1, 'the first 429', 60_000);
      await clock.advance(1999);
      assert.equal(server.requests.length, 1, 'nothing before Retry-After');
      await clock.advance(1);
      await until(() => server.requests.length === 2 && clock.timers.size === 1, 'the second request, answered 429 without Retry-After: a backoff');
      // the second refusal in a row: twice the base delay
      await clock.advance(1999);
      assert.equal(settled, false);
      assert.equal(server.requests.length, 2, 'nothing before the backoff');
      await clock.advance(1);
      const out = await p;
      assert.deepEqual(out.data, { invoice_number: 'D', total: 1 });
      assert.equal(out.requests, 3);
      assert.equal(server.requests.length, 3, 'the client did not retry by itself (maxRetries: 0)');
    });

    it('a request refused with 429s for maxRateLimitWaitMs fails with RATE_LIMITED, not retryable', async () => {
      const clock = new FakeClock();
      script('d', { status: 429 }, { status: 429 }, { status: 429 });
      const ex = make({ clock, rateLimit: { clock }, backoff: { baseDelayMs: 1000, jitter: 0 }, maxRateLimitWaitMs: 2500 });
      const p = rejectsWith(ex.extract(input('d')), ErrorCodes.RATE_LIMITED, (e) => {
        assert.equal(e.retryable, false);
        assert.match(e.message, /^The provider refused this request with 429 \(rate limited\) for 3 s \(3 times\)\. Rate limited by the provider \(429\)/);
      });
      await until(() => server.requests.length === 1 && clock.timers.size === 1, 'first 429: a backoff');
      await clock.advance(1000);
      await until(() => server.requests.length === 2 && clock.timers.size === 1, 'second 429: a longer backoff');
      await clock.advance(2000);
      await p;
      assert.equal(server.requests.length, 3);
    });

    it('429 insufficient_quota → QUOTA_EXCEEDED, not retryable', async () => {
      script('d', { status: 429, code: 'insufficient_quota', retryAfter: 1 });
      await rejectsWith(make().extract(input('d')), ErrorCodes.QUOTA_EXCEEDED, (e) => {
        assert.equal(e.retryable, false);
        assert.match(e.message, /run out of quota.*retrying will not help/);
      });
    });

    for (const status of [500, 502, 503]) {
      it(`${status} → SERVER_ERROR, retryable`, async () => {
        script('d', { status });
        await rejectsWith(make().extract(input('d')), ErrorCodes.SERVER_ERROR, (e) => {
          assert.equal(e.retryable, true);
          assert.match(e.message, new RegExp(`The model server failed \\(${status}\\)`));
          assert.equal(e.details?.status, status);
        });
      });
    }

    it('408 → HTTP_408 and 409 → HTTP_409, retryable', async () => {
      script('d', { status: 408 }, { status: 409 });
      await rejectsWith(make().extract(input('d')), ErrorCodes.REQUEST_TIMEOUT, (e) => assert.equal(e.retryable, true));
      await rejectsWith(make().extract(input('d')), ErrorCodes.CONFLICT, (e) => assert.equal(e.retryable, true));
      assert.equal(server.requests.length, 2);
    });

    it('400 → BAD_REQUEST, not retryable, server message included but scrubbed of the key', async () => {
      script('d', { status: 400, message: `Invalid 'response_format': bad schema (request by ${API_KEY})` });
      // mode 'json_schema' (not 'auto'): no fallback to JSON mode on a response_format error
      await rejectsWith(make({ mode: 'json_schema' }).extract(input('d')), ErrorCodes.BAD_REQUEST, (e) => {
        assert.equal(e.retryable, false);
        assert.match(e.message, /The model server rejected the request \(400\)\. .*Server said: Invalid 'response_format': bad schema \(request by \[redacted\]\)/);
      });
    });

    it('400 context_length_exceeded → TOO_LARGE', async () => {
      script('d', { status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 128000 tokens." });
      await rejectsWith(make().extract(input('d')), ErrorCodes.TOO_LARGE, (e) => assert.equal(e.retryable, false));
    });

    it('401 → AUTH_FAILED with an actionable message; the echoed key never appears', async () => {
      const wrongKey = 'sk-proj-WRONGkey-9876543210';
      const ex = new OpenAIExtractor({ baseURL: server.url, apiKey: wrongKey, model: 'gpt-4o-mini', timeoutMs: 5000 });
      let err: ExtractionError | undefined;
      try {
        await ex.extract(input('d'));
      } catch (e) {
        err = e as ExtractionError;
      }
      assert.ok(err instanceof ExtractionError);
      assert.equal(err.code, ErrorCodes.AUTH_FAILED);
      assert.equal(err.retryable, false);
      assert.equal(err.message, "The API key was rejected (401). Set a valid key with 'Extraction Workbench: Set API Key' or OPENAI_API_KEY.");
      const everything = `${err.message} ${inspect(err, { depth: 10, showHidden: true })}`;
      assert.ok(!everything.includes(wrongKey), 'the key the server echoed is scrubbed from the error and its cause');
      assert.ok(!everything.includes('WRONGkey'));
    });

    it('401 with no key set says so', async () => {
      const ex = new OpenAIExtractor({ baseURL: server.url, apiKey: '', model: 'gpt-4o-mini', timeoutMs: 5000 });
      await rejectsWith(ex.extract(input('d')), ErrorCodes.AUTH_FAILED, (e) => assert.match(e.message, /^No API key is set \(401\)\. Set a valid key/));
    });

    it('403 → FORBIDDEN', async () => {
      script('d', { status: 403 });
      await rejectsWith(make().extract(input('d')), ErrorCodes.FORBIDDEN, (e) => {
        assert.equal(e.retryable, false);
        assert.match(e.message, /^Access denied \(403\).*Country, region, or territory not supported/);
      });
    });

    it('unknown model → UNKNOWN_MODEL (server model list and scripted model_not_found)', async () => {
      await rejectsWith(make({ model: 'gpt-9-ultra' }).extract(input('d')), ErrorCodes.UNKNOWN_MODEL, (e) => {
        assert.equal(e.retryable, false);
        assert.equal(e.message, "The model 'gpt-9-ultra' does not exist or this API key has no access to it (404). Choose another model in the settings.");
      });
      script('d', { status: 404, code: 'model_not_found' });
      await rejectsWith(make().extract(input('d')), ErrorCodes.UNKNOWN_MODEL);
    });

    it('404 without a model error (wrong base URL) → INVALID_CONFIG naming the URL', async () => {
      const base = server.url.replace(/\/v1$/, '');
      await rejectsWith(make({ baseURL: base }).extract(input('d')), ErrorCodes.INVALID_CONFIG, (e) => {
        assert.equal(e.retryable, false);
        assert.ok(e.message.includes(`The endpoint was not found at ${base} (404). Check the base URL (it usually ends in /v1).`), e.message);
      });
    });
  });

  describe('connection, timeout and cancellation', () => {
    it('hang + AbortSignal → CancelledError promptly', async () => {
      script('d', { hang: true });
      const ac = new AbortController();
      const t0 = Date.now();
      setTimeout(() => ac.abort(), 150);
      const e = await rejectsWith(make({ timeoutMs: 10_000 }).extract(input('d', undefined, { signal: ac.signal })), ErrorCodes.CANCELLED);
      assert.ok(e instanceof CancelledError);
      assert.equal(e.retryable, false);
      assert.ok(Date.now() - t0 < 2000);
    });

    it('leaves no abort listeners behind on a long-lived signal', async () => {
      const ac = new AbortController();
      const ex = make();
      for (let i = 0; i < 20; i++) await ex.extract(input(`doc${i}`, undefined, { signal: ac.signal }));
      script('bad', { status: 500 });
      await assert.rejects(ex.extract(input('bad', undefined, { signal: ac.signal })));
      assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    });

    it('an already aborted signal → CancelledError without a request', async () => {
      const ac = new AbortController();
      ac.abort();
      await rejectsWith(make().extract(input('d', undefined, { signal: ac.signal })), ErrorCodes.CANCELLED);
      assert.equal(server.requests.length, 0);
    });

    it('hang + timeout → TIMEOUT, retryable, after about timeoutMs', async () => {
      script('d', { hang: true });
      const t0 = Date.now();
      await rejectsWith(make({ timeoutMs: 300 }).extract(input('d')), ErrorCodes.TIMEOUT, (e) => {
        assert.equal(e.retryable, true);
        assert.match(e.message, /did not answer within 300 ms/);
      });
      const ms = Date.now() - t0;
      assert.ok(ms >= 280 && ms < 3000, `took ${ms} ms`);
      assert.equal(server.requests.length, 1, 'no retry inside the client');
    });

    it('connection reset → NETWORK_ERROR, retryable', async () => {
      script('d', { reset: true });
      await rejectsWith(make().extract(input('d')), ErrorCodes.NETWORK, (e) => {
        assert.equal(e.retryable, true);
        assert.match(e.message, /^Could not reach http:\/\/127\.0\.0\.1:\d+\/v1 \(.+\)\. Check the base URL/);
      });
    });

    it('nothing listening → NETWORK_ERROR (ECONNREFUSED); credentials in the URL are not shown', async () => {
      const port = await new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as net.AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      await rejectsWith(make({ baseURL: `http://127.0.0.1:${port}/v1` }).extract(input('d')), ErrorCodes.NETWORK, (e) => {
        assert.equal(e.message, `Could not reach http://127.0.0.1:${port}/v1 (ECONNREFUSED). Check the base URL, proxy settings and network connection.`);
      });
      // fetch refuses URLs with credentials, and its message repeats the URL: it must not reach ours.
      await rejectsWith(make({ baseURL: `http://user:hunter2@127.0.0.1:${port}/v1` }).extract(input('d')), ErrorCodes.NETWORK, (e) => {
        assert.match(e.message, /includes credentials/);
        assert.ok(!inspect(e, { depth: 10 }).includes('hunter2'), e.message);
      });
    });
  });

  describe('model output', () => {
    it('malformed JSON → MALFORMED_OUTPUT, retryable, tokens counted', async () => {
      script('d', { malformed: true, usage: { prompt_tokens: 50, completion_tokens: 9 } });
      await rejectsWith(make().extract(input('d')), ErrorCodes.MALFORMED_OUTPUT, (e) => {
        assert.equal(e.retryable, true);
        assert.match(e.message, /not valid JSON/);
        assert.deepEqual([e.tokensIn, e.tokensOut], [50, 9]);
      });
    });

    it('truncated (finish_reason length) at the output cap, short document → TRUNCATED_OUTPUT, retryable', async () => {
      script('d', { truncated: true, reply: { invoice_number: 'A-1', total: 5 } });
      await rejectsWith(make({ maxOutputTokens: 16, maxOutputTokensCap: 16 }).extract(input('d')), ErrorCodes.TRUNCATED_OUTPUT, (e) => {
        assert.equal(e.retryable, true);
        assert.match(e.message, /cut off at the output token limit \(16 tokens\)\. Raise the maximum output tokens/);
        assert.equal(e.tokensOut, 16);
      });
    });

    it('truncated output is never parsed, even when it happens to be valid JSON', async () => {
      script('d', { content: '{"invoice_number":"A","total":1}', finishReason: 'length' });
      await rejectsWith(make({ maxOutputTokens: 100, maxOutputTokensCap: 100 }).extract(input('d')), ErrorCodes.TRUNCATED_OUTPUT);
      assert.equal(server.requests.length, 1, 'no re-ask');
    });

    it('accepts JSON wrapped in a ```json fence (non-strict compatible servers)', async () => {
      script('d', { content: '```json\n{"invoice_number":"A","total":1}\n```' });
      assert.deepEqual((await make().extract(input('d'))).data, { invoice_number: 'A', total: 1 });
    });

    it('refusal → MODEL_REFUSED, not retryable', async () => {
      script('d', { refusal: 'I cannot help with that.' });
      await rejectsWith(make().extract(input('d')), 'MODEL_REFUSED', (e) => {
        assert.equal(e.retryable, false);
        assert.match(e.message, /refused.*I cannot help with that\./);
      });
    });

    it('re-asks with the validation errors, then succeeds; tokens of both requests counted', async () => {
      script(
        'd',
        { reply: { invoice_number: 'A-1', total: -12.5 }, usage: { prompt_tokens: 100, completion_tokens: 10 } },
        { reply: { invoice_number: 'A-1', total: 12.5 }, usage: { prompt_tokens: 140, completion_tokens: 11 } },
      );
      const out = await make({ price: { inputPer1M: 1, outputPer1M: 2 } }).extract(input('d'));
      assert.deepEqual(out.data, { invoice_number: 'A-1', total: 12.5 });
      assert.equal(out.requests, 2);
      assert.equal(out.tokensIn, 240);
      assert.equal(out.tokensOut, 21);
      assert.ok(Math.abs(out.cost - (240 + 21 * 2) / 1e6) < 1e-12);
      const second = server.requests[1].body!.messages!;
      assert.equal(second.length, 4);
      assert.equal(second[1].content, server.requests[0].body!.messages![1].content, 'same document message');
      assert.deepEqual(second[2], { role: 'assistant', content: '{"invoice_number":"A-1","total":-12.5}' });
      assert.equal(second[3].role, 'user');
      assert.match(second[3].content as string, /does not match the schema:\n- total: expected >= 0, received -12\.5\n/);
      assert.equal(server.requests[1].document, 'd');
    });

    it('re-asks exhausted → SCHEMA_MISMATCH (retryable) with all tokens and the errors', async () => {
      script(
        'd',
        { reply: { invoice_number: 'A', total: -1 }, usage: { prompt_tokens: 10, completion_tokens: 1 } },
        { reply: { invoice_number: 'A', total: -2 }, usage: { prompt_tokens: 20, completion_tokens: 2 } },
        { reply: { invoice_number: 'A', total: -3 }, usage: { prompt_tokens: 30, completion_tokens: 3 } },
      );
      await rejectsWith(make().extract(input('d')), ErrorCodes.SCHEMA_MISMATCH, (e) => {
        assert.equal(e.retryable, true);
        assert.deepEqual([e.tokensIn, e.tokensOut], [60, 6]);
        assert.deepEqual(e.details?.errors, ['total: expected >= 0, received -3']);
        assert.equal(e.details?.requests, 3);
        assert.equal(e.message, "The model's answer does not match the schema after 3 requests: total: expected >= 0, received -3.");
      });
      assert.equal(server.requests.length, 3, 'default maxReasks is 2');
    });

    it('maxReasks: 0 → one request only', async () => {
      script('d', { reply: { invoice_number: 'A', total: -1 } }, { reply: { invoice_number: 'A', total: 1 } });
      await rejectsWith(make({ maxReasks: 0 }).extract(input('d')), ErrorCodes.SCHEMA_MISMATCH);
      assert.equal(server.requests.length, 1);
    });

    it('an API error during a re-ask keeps the tokens already spent', async () => {
      script('d', { reply: { invoice_number: 'A', total: -1 }, usage: { prompt_tokens: 70, completion_tokens: 7 } }, { status: 500 });
      await rejectsWith(make().extract(input('d')), ErrorCodes.SERVER_ERROR, (e) => {
        assert.deepEqual([e.tokensIn, e.tokensOut], [70, 7]);
        assert.equal(e.retryable, true);
      });
    });

    it('an invalid schema → INVALID_SCHEMA before any request', async () => {
      const bad = { type: 'object', properties: { a: { type: 'strng' } } };
      await rejectsWith(make().extract({ ...input('d'), schema: bad }), ErrorCodes.INVALID_SCHEMA);
      assert.equal(server.requests.length, 0);
    });
  });

  describe('options', () => {
    it('rejects bad options with INVALID_CONFIG', () => {
      assert.throws(() => new OpenAIExtractor({ apiKey: 'k', model: '', timeoutMs: 1000 }), (e: ExtractionError) => e.code === ErrorCodes.INVALID_CONFIG);
      assert.throws(() => new OpenAIExtractor({ apiKey: 'k', model: 'm', timeoutMs: 0 }), /timeout must be a positive number/);
      assert.throws(() => new OpenAIExtractor({ apiKey: 'k', model: 'm', timeoutMs: 1000, maxReasks: -1 }), /maxReasks must be an integer/);
    });
  });
});

describe('classifyOpenAIError', () => {
  const headers = (h: Record<string, string>): Headers => new Headers(h);

  it('maps client errors directly', () => {
    assert.equal(classifyOpenAIError(new APIConnectionTimeoutError()).code, ErrorCodes.TIMEOUT);
    assert.equal(classifyOpenAIError(new APIConnectionError({ message: 'Connection error.' })).code, ErrorCodes.NETWORK);
    assert.ok(classifyOpenAIError(new APIUserAbortError()) instanceof CancelledError);
    assert.ok(classifyOpenAIError(new DOMException('This operation was aborted', 'AbortError')) instanceof CancelledError);
  });

  it('maps statuses from APIError.generate', () => {
    const gen = (status: number, error: object, h: Record<string, string> = {}) => APIError.generate(status, { error }, undefined, headers(h));
    const rl = classifyOpenAIError(gen(429, { message: 'slow down', code: 'rate_limit_exceeded' }, { 'retry-after': '3' }));
    assert.deepEqual([rl.code, rl.retryAfterMs, rl.retryable], [ErrorCodes.RATE_LIMITED, 3000, true]);
    assert.equal(classifyOpenAIError(gen(429, { message: 'x', type: 'insufficient_quota' })).code, ErrorCodes.QUOTA_EXCEEDED);
    assert.equal(classifyOpenAIError(gen(504, { message: 'x' })).code, ErrorCodes.SERVER_ERROR);
    assert.equal(classifyOpenAIError(gen(422, { message: 'x' })).code, ErrorCodes.BAD_REQUEST);
    assert.equal(classifyOpenAIError(gen(413, { message: 'x' })).code, ErrorCodes.TOO_LARGE);
    assert.equal(classifyOpenAIError(gen(404, { message: "model 'llama9' not found" })).code, ErrorCodes.UNKNOWN_MODEL, 'Ollama-style message');
  });

  it('passes ExtractionErrors through; other errors become ExtractionErrors', () => {
    const own = new ExtractionError(ErrorCodes.TOO_LARGE, 'x');
    assert.equal(classifyOpenAIError(own), own);
    const other = classifyOpenAIError(new Error(`boom ${API_KEY}`), { apiKey: API_KEY });
    assert.equal(other.code, ErrorCodes.INTERNAL);
    assertNoKey(other);
  });

  it('redactSecrets removes the key, sk- tokens and bearer tokens', () => {
    assert.equal(redactSecrets(`key ${API_KEY} end`, API_KEY), 'key [redacted] end');
    assert.equal(redactSecrets('Incorrect API key provided: sk-proj-abc123456789xyz.'), 'Incorrect API key provided: sk-[redacted]');
    assert.equal(redactSecrets('Authorization: Bearer abc.def'), 'Authorization: Bearer [redacted]');
    assert.equal(redactSecrets('at https://me:pw@host/v1/x'), 'at https://host/v1/x');
  });
});
