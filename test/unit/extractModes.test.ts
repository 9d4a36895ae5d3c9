import { strict as assert } from 'node:assert';
import { APIError } from 'openai';
import { ErrorCodes } from '../../src/core/errors';
import { OpenAIExtractor, SYSTEM_PROMPT, type OpenAIExtractorOptions } from '../../src/extract/openaiExtractor';
import { parseAnswer, rejectsMode } from '../../src/extract/modes';
import { toStrictSchema } from '../../src/extract/schema';
import type { ExtractInput, JsonSchema } from '../../src/extract/types';
import { startModelServer, type ChatMessage, type ModelServer, type Step } from '../support/modelServer';
import { rejectsWithCode as rejectsWith } from '../support/assertions';

const schema: JsonSchema = {
  title: 'Invoice',
  type: 'object',
  properties: {
    invoice_number: { type: 'string' },
    total: { type: 'number', minimum: 0 },
    currency: { type: 'string', enum: ['EUR', 'USD'] },
  },
  required: ['invoice_number', 'total'],
};

function input(path: string, text = `Invoice ${path}\nTotal: 12.50 EUR`): ExtractInput {
  return { path, document: { format: 'text', text }, schema };
}


const text = (m: ChatMessage | undefined): string => (typeof m?.content === 'string' ? m.content : '');

describe('OpenAIExtractor: truncation and modes', function () {
  this.timeout(20_000);
  let server: ModelServer;
  const make = (o: Partial<OpenAIExtractorOptions> = {}): OpenAIExtractor =>
    new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'gpt-4o-mini', timeoutMs: 5000, ...o });
  const script = (path: string, ...steps: Step[]): void => server.setScript(path, steps);

  before(async () => {
    server = await startModelServer();
  });
  afterEach(() => {
    server.reset();
    server.setSupports({});
    server.setResponder(undefined);
  });
  after(async () => server.close());

  describe('truncation', () => {
    it('cut off → asked again with twice the output budget, which succeeds; tokens of both requests counted', async () => {
      script(
        'd',
        { truncated: true, reply: { invoice_number: 'A-1', total: 5 }, usage: { prompt_tokens: 50, completion_tokens: 100 } },
        { reply: { invoice_number: 'A-1', total: 5 }, usage: { prompt_tokens: 50, completion_tokens: 120 } },
      );
      const out = await make({ maxOutputTokens: 100 }).extract(input('d'));
      assert.deepEqual(out.data, { invoice_number: 'A-1', total: 5 });
      assert.equal(out.requests, 2);
      assert.deepEqual([out.tokensIn, out.tokensOut], [100, 220]);
      assert.deepEqual(
        server.requests.map((r) => r.body!.max_completion_tokens),
        [100, 200],
      );
      assert.equal(server.requests[1].body!.messages!.length, 2, 'the same conversation, no re-ask message');
      assert.equal(out.chunks, undefined, 'sent whole');
    });

    it('doubles up to the cap, then fails with TRUNCATED_OUTPUT carrying every token (short document: no chunks)', async () => {
      script('d', { truncated: true }, { truncated: true }, { truncated: true }, { truncated: true });
      await rejectsWith(make({ maxOutputTokens: 100, maxOutputTokensCap: 300, maxTokensParam: 'max_tokens' }).extract(input('d')), ErrorCodes.TRUNCATED_OUTPUT, (e) => {
        assert.equal(e.retryable, true);
        assert.match(e.message, /cut off at the output token limit \(300 tokens\)/);
        assert.equal(e.tokensOut, 100 + 200 + 300, 'the server reports the budget as completion tokens');
        assert.equal(e.details?.requests, 3);
      });
      assert.deepEqual(
        server.requests.map((r) => r.body!.max_tokens),
        [100, 200, 300],
      );
    });

    it('without maxOutputTokens, the next budget is twice what the provider stopped at', async () => {
      script('d', { content: '{"invoice_number":"A', finishReason: 'length', usage: { completion_tokens: 700 } }, { reply: { invoice_number: 'A', total: 1 } });
      const out = await make().extract(input('d'));
      assert.equal(out.requests, 2);
      assert.equal('max_completion_tokens' in server.requests[0].body!, false);
      assert.equal(server.requests[1].body!.max_completion_tokens, 1400);
    });

    it('never asks for more output than the context window leaves', async () => {
      script('d', { truncated: true }, { reply: { invoice_number: 'A', total: 1 } });
      await make({ maxOutputTokens: 1000, maxOutputTokensCap: 100_000, contextTokens: 2600, maxReasks: 0 }).extract(input('d'));
      const second = server.requests[1].body!.max_completion_tokens!;
      assert.ok(second > 1000 && second < 2600, `second budget ${second}`);
    });
  });

  describe('fallback modes (auto)', () => {
    it('json_schema rejected (400 response_format) → json_object with the schema in the prompt; remembered for later documents', async () => {
      server.setSupports({ jsonSchema: false });
      script('a', { reply: { invoice_number: 'A', total: 1 } });
      script('b', { reply: { invoice_number: 'B', total: 2 } });
      const ex = make();
      assert.equal(ex.mode, 'json_schema');
      const a = await ex.extract(input('a'));
      assert.deepEqual(a.data, { invoice_number: 'A', total: 1 });
      assert.equal(a.mode, 'json_object');
      assert.equal(a.requests, 2, 'the rejected request counts');
      assert.equal(ex.mode, 'json_object');
      const [rejected, retried] = server.requestsFor('a');
      assert.equal(rejected.body!.response_format!.type, 'json_schema');
      assert.deepEqual(retried.body!.response_format, { type: 'json_object' });
      const system = text(retried.body!.messages![0]);
      assert.ok(system.startsWith(SYSTEM_PROMPT));
      assert.ok(system.includes(JSON.stringify(toStrictSchema(schema))), 'the strict schema is spelled out in the system prompt');
      assert.equal(text(retried.body!.messages![1]).split('\n')[0], 'Document: a');

      const b = await ex.extract(input('b'));
      assert.equal(b.requests, 1);
      assert.deepEqual(server.requestsFor('b').map((r) => r.body!.response_format?.type), ['json_object'], 'straight to the working mode');
    });

    it('json_object rejected too → plain text, and malformed JSON in prose and a fence is repaired', async () => {
      server.setSupports({ jsonSchema: false, jsonObject: false });
      script('d', { content: "Sure! Here is the data:\n```json\n{invoice_number: 'A-1', total: 12.5, currency: 'EUR',}\n```\nAnything else?" });
      const ex = make();
      const out = await ex.extract(input('d'));
      assert.deepEqual(out.data, { invoice_number: 'A-1', total: 12.5, currency: 'EUR' });
      assert.equal(out.mode, 'text');
      assert.equal(ex.mode, 'text');
      assert.deepEqual(
        server.requests.map((r) => r.body!.response_format?.type ?? 'none'),
        ['json_schema', 'json_object', 'none'],
      );
      assert.ok(text(server.requests[2].body!.messages![0]).includes('"invoice_number"'));
    });

    it('text mode: an answer with no JSON at all is re-asked, then validated against the original schema', async () => {
      script('d', { content: 'I could not find anything.' }, { content: '{"invoice_number": "A", "total": -3}' }, { content: '{"invoice_number": "A", "total": 3}' });
      const out = await make({ mode: 'text' }).extract(input('d'));
      assert.deepEqual(out.data, { invoice_number: 'A', total: 3 });
      assert.equal(out.requests, 3);
      const third = server.requests[2].body!.messages!;
      assert.match(text(third[3]), /not valid JSON/);
      assert.match(text(third[5]), /total: expected >= 0, received -3/);
    });

    it('an explicit mode never falls back: json_object rejected → BAD_REQUEST', async () => {
      server.setSupports({ jsonObject: false });
      await rejectsWith(make({ mode: 'json_object' }).extract(input('d')), ErrorCodes.BAD_REQUEST, (e) => {
        assert.equal(e.retryable, false);
        assert.match(e.message, /response_format' of type 'json_object' is not supported/);
      });
      assert.equal(server.requests.length, 1);
    });

    it('a 400 unrelated to the response format does not switch modes', async () => {
      script('d', { status: 400, message: 'The request is invalid' });
      const ex = make();
      await rejectsWith(ex.extract(input('d')), ErrorCodes.BAD_REQUEST);
      assert.equal(ex.mode, 'json_schema');
      assert.equal(server.requests.length, 1);
    });

    it('json_schema mode keeps strict parsing: malformed JSON → MALFORMED_OUTPUT without repair', async () => {
      script('d', { content: "{invoice_number: 'A', total: 1}" });
      await rejectsWith(make().extract(input('d')), ErrorCodes.MALFORMED_OUTPUT);
    });
  });

  describe('tools mode', () => {
    it('one forced function with the strict schema as parameters; its arguments are the answer', async () => {
      script('d', { reply: { invoice_number: 'T-1', total: 4, currency: 'USD' }, usage: { prompt_tokens: 10, completion_tokens: 5 } });
      const out = await make({ mode: 'tools' }).extract(input('d'));
      assert.deepEqual(out.data, { invoice_number: 'T-1', total: 4, currency: 'USD' });
      assert.equal(out.mode, 'tools');
      const body = server.requests[0].body!;
      assert.equal(body.response_format, undefined);
      assert.deepEqual(body.tools, [
        { type: 'function', function: { name: 'Invoice', description: 'Records the data extracted from the document.', parameters: toStrictSchema(schema), strict: true } },
      ]);
      assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'Invoice' } });
      assert.equal(text(body.messages![0]), SYSTEM_PROMPT, 'the schema travels as tool parameters, not in the prompt');
    });

    it('re-asks through a tool message answering the call', async () => {
      script('d', { reply: { invoice_number: 'T-1', total: -4 } }, { reply: { invoice_number: 'T-1', total: 4 } });
      const out = await make({ mode: 'tools' }).extract(input('d'));
      assert.deepEqual(out.data, { invoice_number: 'T-1', total: 4 });
      const msgs = server.requests[1].body!.messages!;
      assert.equal(msgs.length, 4);
      assert.equal(msgs[2].role, 'assistant');
      const call = msgs[2].tool_calls![0];
      assert.equal(call.function.name, 'Invoice');
      assert.deepEqual(JSON.parse(call.function.arguments), { invoice_number: 'T-1', total: -4 });
      assert.equal(msgs[3].role, 'tool');
      assert.equal(msgs[3].tool_call_id, call.id);
      assert.match(text(msgs[3]), /total: expected >= 0, received -4/);
    });

    it('the default responder answers tool requests from the tool schema', async () => {
      const out = await make({ mode: 'tools' }).extract(input('d'));
      assert.deepEqual(out.data, { invoice_number: '', total: 0, currency: 'EUR' });
    });

    it('tools rejected by the provider → BAD_REQUEST (explicit mode)', async () => {
      server.setSupports({ tools: false });
      await rejectsWith(make({ mode: 'tools' }).extract(input('d')), ErrorCodes.BAD_REQUEST, (e) => assert.match(e.message, /does not support tools/));
    });
  });

  describe('helpers', () => {
    it('parseAnswer: strict in json_schema mode, repairing otherwise', () => {
      assert.deepEqual(parseAnswer('json_schema', '```json\n{"a":1}\n```'), { a: 1 });
      assert.throws(() => parseAnswer('json_schema', '{a:1}'));
      assert.deepEqual(parseAnswer('text', 'Result: {"a": 1, "b": [1, 2,],} — done'), { a: 1, b: [1, 2] });
      assert.deepEqual(parseAnswer('json_object', '{"a": "unterminated'), { a: 'unterminated' });
      assert.deepEqual(parseAnswer('text', '{"a": None, "b": True}'), { a: null, b: true });
      assert.throws(() => parseAnswer('text', '   '), /empty/);
      assert.throws(() => parseAnswer('text', 'nothing here'), /no JSON object/);
    });

    it('rejectsMode recognises the usual provider messages', () => {
      const err = (status: number, message: string, param?: string): unknown => APIError.generate(status, { error: { message, ...(param ? { param } : {}) } }, undefined, new Headers());
      assert.equal(rejectsMode(err(400, "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model."), 'json_schema'), true);
      assert.equal(rejectsMode(err(400, 'guided_json is not supported'), 'json_schema'), true);
      assert.equal(rejectsMode(err(400, 'llama3 does not support tools'), 'tools'), true);
      assert.equal(rejectsMode(err(400, 'The request is invalid'), 'json_schema'), false);
      assert.equal(rejectsMode(err(400, "This model's maximum context length is 8192 tokens", 'messages'), 'json_schema'), false);
      assert.equal(rejectsMode(err(500, 'response_format broke'), 'json_schema'), false);
    });
  });
});
