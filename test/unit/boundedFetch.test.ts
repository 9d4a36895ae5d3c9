/**
 * The extractor's `fetch` (src/extract/boundedFetch.ts) against a real HTTP server on 127.0.0.1: what the
 * openai client relies on from `fetch` (status, headers, body, abort), and what the bound adds (a size limit
 * that also holds for a compressed or chunked answer, a body that is read before `fetch` resolves).
 */
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { BufferedResponse, directFetch, ResponseTooLargeError } from '../../src/extract/boundedFetch';

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

describe('directFetch (the extractor’s bounded fetch over undici)', function () {
  this.timeout(20_000);
  let server: http.Server;
  let base: string;
  let handler: Handler;
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        handler(req, body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => (seen.length = 0));
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends method, headers and body; the answer keeps its status and headers and is read in full', async () => {
    handler = (_req, body, res) => {
      res.writeHead(201, [['Content-Type', 'application/json'], ['X-Request-Id', 'req_1'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']]);
      res.end(JSON.stringify({ echoed: body }));
    };
    const res = await directFetch(1024)(`${base}/v1/chat/completions?x=1`, { method: 'POST', headers: new Headers({ Authorization: 'Bearer k', 'Content-Type': 'application/json' }), body: '{"a":1}' });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-request-id'), 'req_1');
    assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2']);
    assert.deepEqual(await res.json(), { echoed: '{"a":1}' });
    assert.equal(seen[0].method, 'POST');
    assert.equal(seen[0].url, '/v1/chat/completions?x=1');
    assert.equal(seen[0].headers.authorization, 'Bearer k');
    assert.equal(seen[0].headers['content-type'], 'application/json');
  });

  it('refuses an answer over the bound whether its length is declared or not', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('x'.repeat(5000)); // Content-Length: 5000
    };
    await assert.rejects(directFetch(4096)(`${base}/declared`), (e) => e instanceof ResponseTooLargeError);
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' }); // chunked: the length shows only while reading
      for (let i = 0; i < 10; i++) res.write('y'.repeat(1000));
      res.end();
    };
    await assert.rejects(directFetch(4096)(`${base}/chunked`), (e) => e instanceof ResponseTooLargeError);
    // the same answers within the bound are read
    const ok = await directFetch(20_000)(`${base}/chunked`);
    assert.equal((await ok.text()).length, 10_000);
  });

  it('decodes a compressed answer, the bound holding for the decoded size', async () => {
    const json = JSON.stringify({ text: 'z'.repeat(50_000) });
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      res.end(gzipSync(json)); // a few hundred bytes on the wire
    };
    const res = await directFetch(100_000)(`${base}/gzip`);
    assert.equal(res.headers.get('content-encoding'), null);
    assert.equal(await res.text(), json);
    await assert.rejects(directFetch(10_000)(`${base}/gzip`), (e) => e instanceof ResponseTooLargeError);
  });

  it('follows a redirect with the request’s method and body, as fetch does', async () => {
    handler = (req, body, res) => {
      if (req.url === '/old/v1/chat') {
        res.writeHead(307, { Location: '/new/v1/chat' });
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, body }));
    };
    const res = await directFetch(1024)(`${base}/old/v1/chat`, { method: 'POST', body: 'payload' });
    assert.deepEqual(await res.json(), { url: '/new/v1/chat', body: 'payload' });
  });

  it('an answer without a body (204) is a Response with none', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(204);
      res.end();
    };
    const res = await directFetch(1024)(`${base}/empty`, { method: 'DELETE' });
    assert.equal(res.status, 204);
    assert.equal(res.body, null);
  });

  it('an abort while the body is still coming rejects with an AbortError (what the client takes for its timeout)', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"partial":'); // and never more
    };
    const controller = new AbortController();
    const pending = directFetch(1024)(`${base}/stall`, { signal: controller.signal });
    while (seen.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    await assert.rejects(pending, (e: Error) => e.name === 'AbortError');
  });

  it('refuses a URL with credentials without repeating them', async () => {
    await assert.rejects(directFetch(1024)(`http://user:hunter2@127.0.0.1:1/v1`), (e: Error) => /includes credentials/.test(e.message) && !e.message.includes('hunter2'));
  });

  it('what it does not send itself (a Request, a streamed body) goes through the fallback fetch, still bounded', async () => {
    const calls: string[] = [];
    const fallback: typeof fetch = async (input) => {
      calls.push(input instanceof Request ? `Request ${input.url}` : String(input));
      return new Response('f'.repeat(2000));
    };
    const f = directFetch(1024, fallback);
    await assert.rejects(f(new Request(`${base}/req`)), (e) => e instanceof ResponseTooLargeError);
    const stream = new ReadableStream({ start: (c) => c.close() });
    await assert.rejects(f(`${base}/stream`, { method: 'POST', body: stream }), (e) => e instanceof ResponseTooLargeError);
    assert.deepEqual(calls, [`Request ${base}/req`, `${base}/stream`]);
    assert.equal(seen.length, 0);
  });

  describe('BufferedResponse (the answer, already in memory)', () => {
    const make = () => new BufferedResponse(Buffer.from('{"a":[1,2]}'), { status: 200, headers: { 'content-type': 'application/json' } });

    it('reads as json, text, bytes or blob — once, as any Response', async () => {
      const r = make();
      assert.equal(r.bodyUsed, false);
      assert.deepEqual(await r.json(), { a: [1, 2] });
      assert.equal(r.bodyUsed, true);
      await assert.rejects(r.text(), TypeError);
      assert.equal(await make().text(), '{"a":[1,2]}');
      assert.deepEqual([...(await make().bytes())], [...Buffer.from('{"a":[1,2]}')]);
      const blob = await make().blob();
      assert.equal(blob.type, 'application/json');
      assert.equal(await blob.text(), '{"a":[1,2]}');
    });

    it('still has a body stream, and a clone reads the same bytes', async () => {
      const r = make();
      const copy = r.clone();
      assert.equal(await new Response(r.body).text(), '{"a":[1,2]}');
      assert.equal(r.bodyUsed, true);
      assert.deepEqual(await copy.json(), { a: [1, 2] });
      assert.equal(copy.headers.get('content-type'), 'application/json');
      assert.equal(new BufferedResponse(null, { status: 204 }).body, null);
    });
  });
});
