import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import { startModelServer, type ModelServer, type ModelServerOptions } from '../support/modelServer';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const schema = {
  type: 'object',
  properties: {
    total: { type: 'number' },
    vendor: { type: ['string', 'null'] },
    currency: { type: 'string', enum: ['EUR', 'USD'] },
    lines: { type: 'array', items: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false } },
    buyer: { anyOf: [{ $ref: '#/$defs/Party' }, { type: 'null' }] },
    seller: { $ref: '#/$defs/Party' },
  },
  required: ['total', 'vendor', 'currency', 'lines', 'buyer', 'seller'],
  additionalProperties: false,
  $defs: { Party: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false } },
};

function chatBody(document: string, extra: Json = {}): Json {
  return {
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'Extract.' },
      { role: 'user', content: `Document: ${document}\nFormat: text\n\n--- BEGIN DOCUMENT ---\nTotal 12.50 EUR\n--- END DOCUMENT ---` },
    ],
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } },
    ...extra,
  };
}

async function post(server: ModelServer, body: unknown, init: RequestInit = {}): Promise<{ status: number; headers: Headers; json: Json }> {
  const res = await fetch(`${server.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Json };
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('test model server', function () {
  this.timeout(30_000);
  let server: ModelServer;
  const start = async (opts: ModelServerOptions = {}): Promise<ModelServer> => {
    server = await startModelServer(opts);
    return server;
  };
  afterEach(async () => {
    await server?.close();
  });

  it('listens on 127.0.0.1 with a /v1 base URL and lists models', async () => {
    await start();
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.ok(server.port > 0);
    const res = await fetch(`${server.url}/models`);
    assert.equal(res.status, 200);
    const json = (await res.json()) as Json;
    assert.equal(json.object, 'list');
    assert.ok(json.data.some((m: Json) => m.id === 'gpt-4o-mini' && m.object === 'model'));
  });

  it('answers a reply step with an OpenAI-shaped completion', async () => {
    await start();
    server.setScript('inv/a.txt', [{ reply: { total: 12.5 }, usage: { prompt_tokens: 100, completion_tokens: 7 } }]);
    const { status, headers, json } = await post(server, chatBody('inv/a.txt'));
    assert.equal(status, 200);
    assert.match(headers.get('x-request-id') ?? '', /^req_/);
    assert.match(json.id, /^chatcmpl-/);
    assert.equal(json.object, 'chat.completion');
    assert.equal(typeof json.created, 'number');
    assert.equal(json.model, 'gpt-4o-mini');
    assert.deepEqual(json.choices[0].message.role, 'assistant');
    assert.equal(json.choices[0].index, 0);
    assert.equal(json.choices[0].finish_reason, 'stop');
    assert.equal(json.choices[0].message.content, '{"total":12.5}');
    assert.deepEqual([json.usage.prompt_tokens, json.usage.completion_tokens, json.usage.total_tokens], [100, 7, 107]);
  });

  it('holdUntil: the answer waits until the test lets it go', async () => {
    await start();
    let release!: () => void;
    server.setScript('held.txt', [{ reply: { total: 1 }, holdUntil: new Promise<void>((r) => (release = r)) }]);
    let answered = false;
    const reply = post(server, chatBody('held.txt')).then((r) => ((answered = true), r));
    await waitFor(() => server.requestsFor('held.txt').length === 1);
    // the request arrived and is held: a second request is answered meanwhile
    assert.equal((await post(server, chatBody('other.txt'))).status, 200);
    assert.equal(answered, false, 'still held');
    release();
    assert.equal((await reply).json.choices[0].message.content, '{"total":1}');
  });

  it('estimates usage when not scripted', async () => {
    await start();
    server.setScript([{ content: 'x'.repeat(40) }]);
    const { json } = await post(server, chatBody('a'));
    assert.equal(json.usage.completion_tokens, 10);
    assert.ok(json.usage.prompt_tokens > 10);
    assert.equal(json.usage.total_tokens, json.usage.prompt_tokens + json.usage.completion_tokens);
  });

  it('scripts per document, then the default script, then the responder; records requests and counts', async () => {
    await start({ responder: (req) => ({ reply: { from: 'responder', document: req.document } }) });
    server.setScript('a', [{ reply: { n: 'a1' } }, { reply: { n: 'a2' } }]);
    server.setScript('b', [{ reply: { n: 'b1' } }]);
    server.setScript([{ reply: { n: 'default1' } }]);
    const contents: string[] = [];
    for (const doc of ['a', 'b', 'b', 'a', 'a', 'c']) contents.push((await post(server, chatBody(doc))).json.choices[0].message.content);
    assert.deepEqual(contents.map((c) => JSON.parse(c)), [
      { n: 'a1' },
      { n: 'b1' },
      { n: 'default1' },
      { n: 'a2' },
      { from: 'responder', document: 'a' },
      { from: 'responder', document: 'c' },
    ]);
    assert.equal(server.stats.total, 6);
    assert.deepEqual([...server.stats.perDocument.entries()].sort(), [
      ['a', 3],
      ['b', 2],
      ['c', 1],
    ]);
    assert.deepEqual(
      server.requestsFor('a').map((r) => r.attempt),
      [1, 2, 3],
    );
    const first = server.requests[0];
    assert.equal(first.document, 'a');
    assert.equal(first.body?.model, 'gpt-4o-mini');
    assert.match(first.userText, /^Document: a\n/);
    assert.equal(first.headers.authorization, 'Bearer test-key');
    assert.ok(Math.abs(first.receivedAt - Date.now()) < 5000);
    assert.equal(server.remaining('a'), 0);
    server.reset();
    assert.equal(server.requests.length, 0);
    assert.equal(server.stats.total, 0);
    assert.equal(server.stats.perDocument.size, 0);
  });

  it('built-in responder answers the smallest value valid for the request schema', async () => {
    await start();
    const { json } = await post(server, chatBody('doc'));
    assert.deepEqual(JSON.parse(json.choices[0].message.content), { total: 0, vendor: null, currency: 'EUR', lines: [], buyer: null, seller: { name: '' } });
  });

  it('429 with Retry-After seconds and retry-after-ms headers, OpenAI error body', async () => {
    await start();
    server.setScript('d', [{ status: 429, retryAfter: 3 }, { status: 429, retryAfterMs: 750 }]);
    const r1 = await post(server, chatBody('d'));
    assert.equal(r1.status, 429);
    assert.equal(r1.headers.get('retry-after'), '3');
    assert.equal(r1.json.error.code, 'rate_limit_exceeded');
    assert.equal(typeof r1.json.error.message, 'string');
    assert.equal(r1.json.error.type, 'requests');
    const r2 = await post(server, chatBody('d'));
    assert.equal(r2.status, 429);
    assert.equal(r2.headers.get('retry-after-ms'), '750');
    assert.equal(r2.headers.get('retry-after'), null);
  });

  it('insufficient_quota and model_not_found bodies', async () => {
    await start();
    server.setScript('d', [{ status: 429, code: 'insufficient_quota' }, { status: 404, code: 'model_not_found' }]);
    const q = await post(server, chatBody('d'));
    assert.equal(q.status, 429);
    assert.deepEqual([q.json.error.type, q.json.error.code], ['insufficient_quota', 'insufficient_quota']);
    const m = await post(server, chatBody('d'));
    assert.equal(m.status, 404);
    assert.equal(m.json.error.code, 'model_not_found');
    assert.match(m.json.error.message, /The model `gpt-4o-mini` does not exist/);
  });

  it('answers every scripted status code with an error body', async () => {
    await start();
    const statuses = [400, 401, 403, 404, 408, 409, 500, 502, 503];
    server.setScript('s', statuses.map((status) => ({ status })));
    for (const status of statuses) {
      const r = await post(server, chatBody('s'));
      assert.equal(r.status, status);
      assert.equal(typeof r.json.error.message, 'string', `${status} has error.message`);
      assert.ok('type' in r.json.error && 'code' in r.json.error && 'param' in r.json.error, `${status} error shape`);
    }
  });

  it('rejects unknown models when a model list is set', async () => {
    await start({ models: ['gpt-4o-mini'] });
    assert.equal((await post(server, chatBody('d'))).status, 200);
    const r = await post(server, chatBody('d', { model: 'gpt-9' }));
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'model_not_found');
  });

  it('requireApiKey: 401 for a missing or wrong key, 200 for the right one', async () => {
    await start({ requireApiKey: 'sk-right' });
    const none = await post(server, chatBody('d'), { headers: { 'content-type': 'application/json' } });
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'invalid_api_key');
    const wrong = await post(server, chatBody('d'), { headers: { 'content-type': 'application/json', authorization: 'Bearer sk-wrong' } });
    assert.equal(wrong.status, 401);
    assert.match(wrong.json.error.message, /sk-wrong/, 'echoes the key it got, so clients must scrub it');
    const right = await post(server, chatBody('d'), { headers: { 'content-type': 'application/json', authorization: 'Bearer sk-right' } });
    assert.equal(right.status, 200);
  });

  it('malformed: content is not JSON', async () => {
    await start();
    server.setScript('d', [{ malformed: true }]);
    const { json } = await post(server, chatBody('d'));
    assert.equal(json.choices[0].finish_reason, 'stop');
    assert.throws(() => JSON.parse(json.choices[0].message.content));
  });

  it('truncated: finish_reason length and half of the JSON', async () => {
    await start();
    const reply = { total: 12.5, vendor: 'ACME Corporation International', lines: [{ a: 'x' }, { a: 'y' }] };
    server.setScript('d', [{ truncated: true, reply }]);
    const { json } = await post(server, chatBody('d', { max_completion_tokens: 64 }));
    const content: string = json.choices[0].message.content;
    assert.equal(json.choices[0].finish_reason, 'length');
    assert.ok(JSON.stringify(reply).startsWith(content) && content.length < JSON.stringify(reply).length);
    assert.throws(() => JSON.parse(content));
    assert.equal(json.usage.completion_tokens, 64);
  });

  it('refusal and custom finish reasons', async () => {
    await start();
    server.setScript('d', [{ refusal: 'I cannot help with that.' }, { content: '{}', finishReason: 'length' }]);
    const r1 = await post(server, chatBody('d'));
    assert.equal(r1.json.choices[0].message.content, null);
    assert.equal(r1.json.choices[0].message.refusal, 'I cannot help with that.');
    const r2 = await post(server, chatBody('d'));
    assert.equal(r2.json.choices[0].finish_reason, 'length');
  });

  it('hang: never answers; the client abort ends it and frees the slot', async () => {
    await start();
    server.setScript('d', [{ hang: true }]);
    const ac = new AbortController();
    const t0 = Date.now();
    const pending = post(server, chatBody('d'), { signal: ac.signal });
    await waitFor(() => server.stats.inFlight === 1);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(server.stats.inFlight, 1, 'still hanging after 150 ms');
    ac.abort();
    await assert.rejects(pending, (e: Error) => e.name === 'AbortError');
    assert.ok(Date.now() - t0 >= 150);
    await waitFor(() => server.stats.inFlight === 0);
    assert.equal(server.requestsFor('d')[0].status, undefined, 'an aborted request has no answer status');
  });

  it('records the status of each answer; a request the client abandons during the latency has none', async () => {
    await start({ latencyMs: 300 });
    server.setScript('gone', [{ reply: { total: 1 } }]);
    server.setScript('bad', [{ status: 400, latencyMs: 0 }]);
    const ac = new AbortController();
    const abandoned = post(server, chatBody('gone'), { signal: ac.signal });
    await waitFor(() => server.requestsFor('gone').length === 1);
    ac.abort();
    await assert.rejects(abandoned, (e: Error) => e.name === 'AbortError');
    assert.equal((await post(server, chatBody('ok'))).status, 200);
    assert.equal((await post(server, chatBody('bad'))).status, 400);
    await waitFor(() => server.stats.inFlight === 0);
    assert.deepEqual(
      server.requests.map((r) => [r.document, r.status]),
      [
        ['gone', undefined],
        ['ok', 200],
        ['bad', 400],
      ],
    );
  });

  it('close() ends hanging requests and returns promptly', async () => {
    await start();
    server.setScript([{ hang: true }, { hang: true }]);
    const a = post(server, chatBody('x')).catch((e: Error) => e);
    const b = post(server, chatBody('y')).catch((e: Error) => e);
    await waitFor(() => server.stats.inFlight === 2);
    const t0 = Date.now();
    await server.close();
    assert.ok(Date.now() - t0 < 1000, 'close did not wait for the hanging requests');
    assert.ok((await a) instanceof Error);
    assert.ok((await b) instanceof Error);
  });

  it('reset: the connection is destroyed without an answer', async () => {
    await start();
    server.setScript('d', [{ reset: true }]);
    await assert.rejects(post(server, chatBody('d')), (e: Error) => e instanceof TypeError && /fetch failed/.test(e.message));
  });

  it('latency: per step and global', async () => {
    // a global latency far above what a loaded machine adds, so "without it" cannot be mistaken for "with it"
    await start({ latencyMs: 3000 });
    let t0 = Date.now();
    await post(server, chatBody('d'));
    assert.ok(Date.now() - t0 >= 2990, 'global latency');
    server.setScript('d', [{ reply: {}, latencyMs: 0 }]);
    t0 = Date.now();
    await post(server, chatBody('d'));
    assert.ok(Date.now() - t0 < 1500, 'step latency overrides the global one');
    server.setLatency(0);
    server.setScript('d', [{ reply: {}, latencyMs: 200 }]);
    t0 = Date.now();
    await post(server, chatBody('d'));
    assert.ok(Date.now() - t0 >= 190, 'step latency');
  });

  it('tracks in-flight requests and the maximum concurrency', async () => {
    await start({ latencyMs: 100 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => post(server, chatBody(`doc${i}`))));
    assert.equal(server.stats.maxConcurrency, 12);
    assert.equal(server.stats.inFlight, 0);
    await post(server, chatBody('one more'));
    assert.equal(server.stats.maxConcurrency, 12);
  });

  it('400 for a body that is not JSON or has no messages; 404 for unknown paths', async () => {
    await start();
    const bad = await post(server, '{nope');
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /could not parse the JSON body/);
    const empty = await post(server, { model: 'm' });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.error.param, 'messages');
    const res = await fetch(`${server.url}/embeddings`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as Json).error.message, /Invalid URL/);
  });

  it('serves 10,000 requests over keep-alive, 32 at a time, each answered for its own document', async () => {
    // 2 ms latency so requests overlap (without it each answer is written before the next request is read).
    await start({ latencyMs: 2, responder: (req) => ({ reply: { doc: req.document } }) });
    const total = 10_000;
    const concurrency = 32;
    // node:http with a keep-alive agent: Node 20's fetch costs ~1 ms of client CPU per request, which would dominate.
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const send = (body: string): Promise<Json> =>
      new Promise((resolve, reject) => {
        const req = http.request(`${server.url}/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json));
        });
        req.on('error', reject);
        req.end(body);
      });
    let next = 0;
    const t0 = Date.now();
    const worker = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        const json = await send(JSON.stringify(chatBody(`docs/${i}.txt`)));
        if (JSON.parse(json.choices[0].message.content).doc !== `docs/${i}.txt`) throw new Error(`wrong answer for ${i}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const ms = Date.now() - t0;
    agent.destroy();
    assert.equal(server.stats.total, total);
    assert.equal(server.stats.perDocument.size, total);
    assert.equal(server.requests.length, total);
    assert.ok(server.stats.maxConcurrency <= concurrency && server.stats.maxConcurrency >= concurrency / 2, `maxConcurrency ${server.stats.maxConcurrency}`);
    assert.equal(server.stats.inFlight, 0);
    // the time is printed for information only (a timed assertion fails on a loaded machine)
    console.log(`      10,000 requests in ${ms} ms (${Math.round(total / (ms / 1000))} req/s)`);
  });
});
