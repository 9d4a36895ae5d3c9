#!/usr/bin/env node
'use strict';
/**
 * The offline "sample replies" endpoint: a minimal OpenAI-compatible server on 127.0.0.1 that answers
 * ONLY for the sample documents in samples/invoices, with the canned extractions of
 * samples/sample-replies.json. It lets a newcomer without any model endpoint see the whole flow of
 * the extension (progress, results, review) offline; `npm start` starts it unless a real model is
 * configured (see scripts/start.js). It is not a model: any other document gets a 400 that says so.
 *
 *   node scripts/sample-replies.js [port]     prints the base URL (http://127.0.0.1:PORT/v1); Ctrl-C stops
 *
 *   const { startSampleReplies } = require('./scripts/sample-replies');
 *   const server = await startSampleReplies({ port: 0 });   // server.url = 'http://127.0.0.1:PORT/v1'
 *   await server.close();
 *
 * Endpoints:
 *   GET  /v1/models             one model, `sample-replies`
 *   POST /v1/chat/completions   finds the line `Document: <path>` in the first user message (the
 *                               extension sends it as the message's first line; the content may be a
 *                               string or an array of parts) and answers that document's canned reply
 *                               as a chat.completion: message.content = the JSON text, or, when the
 *                               request uses tools, a call of the (chosen) tool with the JSON as its
 *                               arguments. Answers after a short latency (400 ms) so progress is visible.
 * A document is found by its path relative to samples/invoices, or by a path that ends in it
 * (`invoices/inv-7781-kestrel.txt` when a parent folder is opened). Plain Node, no dependencies.
 */
const fs = require('fs');
const http = require('http');
const path = require('path');

const MODEL = 'sample-replies';
const DEFAULT_REPLIES_FILE = path.resolve(__dirname, '..', 'samples', 'sample-replies.json');
const DEFAULT_LATENCY_MS = 400;
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const NOT_A_SAMPLE_MESSAGE =
  "This is the offline 'sample replies' endpoint started by npm start: it only answers for the sample documents in samples/invoices. " +
  'Set extractionWorkbench.baseUrl to a real OpenAI-compatible server to extract other documents.';

/** The canned replies (document path → extraction) from a JSON file. */
function loadReplies(file = DEFAULT_REPLIES_FILE) {
  const replies = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!replies || typeof replies !== 'object' || Array.isArray(replies)) throw new Error(`${file}: expected an object keyed by document path`);
  return replies;
}

/** Text of a message whose content is a string or an array of parts (`{ type: 'text', text }`). */
function messageText(message) {
  const content = message && message.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p.text === 'string' ? p.text : typeof p === 'string' ? p : '')).join('\n');
  return '';
}

/** The value of the `Document: <path>` line of a text, or '' when there is none. */
function documentOf(text) {
  const m = /^Document: (.*)$/m.exec(text);
  return m ? m[1].trim() : '';
}

function normalize(p) {
  return p.replace(/\\/g, '/').replace(/^\.\//, '');
}

/** The key of `replies` for a document path: an exact match, else the longest key the path ends in. */
function findReply(replies, document) {
  if (!document) return undefined;
  const doc = normalize(document);
  if (Object.prototype.hasOwnProperty.call(replies, doc)) return doc;
  let best;
  for (const key of Object.keys(replies)) {
    if (doc.endsWith(`/${normalize(key)}`) && (!best || key.length > best.length)) best = key;
  }
  return best;
}

/** Rough token count (4 characters a token), as a tokenizer would roughly report. */
function tokens(chars) {
  return Math.max(1, Math.ceil(chars / 4));
}

function promptChars(body) {
  let chars = 0;
  for (const m of Array.isArray(body.messages) ? body.messages : []) chars += messageText(m).length + 4;
  if (body.response_format && body.response_format.json_schema) chars += JSON.stringify(body.response_format.json_schema).length;
  if (Array.isArray(body.tools)) chars += JSON.stringify(body.tools).length;
  return chars;
}

/** The tool a request asks to be called: the one `tool_choice` names, else the first function tool. */
function chosenTool(body) {
  const tools = Array.isArray(body.tools) ? body.tools.filter((t) => t && t.type === 'function' && t.function && t.function.name) : [];
  if (tools.length === 0 || body.tool_choice === 'none') return undefined;
  const choice = body.tool_choice;
  const named = choice && typeof choice === 'object' && choice.function && choice.function.name;
  return { name: named || tools[0].function.name, forced: !!named || choice === 'required' };
}

/**
 * Starts the server.
 *
 * @param {object} [opts]
 * @param {number} [opts.port]        default 0: a free port
 * @param {Record<string, unknown>} [opts.replies]  document path → reply (default: samples/sample-replies.json)
 * @param {number} [opts.latencyMs]   delay before each answer (default 400)
 * @param {(line: string) => void} [opts.log]  called with one line per chat request
 * @returns {Promise<{ url: string, port: number, close(): Promise<void> }>}
 */
function startSampleReplies(opts = {}) {
  const replies = opts.replies || loadReplies();
  const latencyMs = opts.latencyMs ?? DEFAULT_LATENCY_MS;
  const log = typeof opts.log === 'function' ? opts.log : () => {};
  const timers = new Set();
  let seq = 0;

  function send(res, status, body) {
    if (res.destroyed || res.writableEnded) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': `req_sample_${++seq}` });
    res.end(text);
  }

  function sendError(res, status, message, { type = 'invalid_request_error', code = null, param = null } = {}) {
    send(res, status, { error: { message, type, param, code } });
  }

  function later(fn) {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, latencyMs);
    timers.add(t);
  }

  function completion(body, document, key) {
    const content = JSON.stringify(replies[key]);
    const tool = chosenTool(body);
    const message = tool
      ? {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [{ id: `call_sample_${++seq}`, type: 'function', function: { name: tool.name, arguments: content } }],
        }
      : { role: 'assistant', content, refusal: null };
    const promptTokens = tokens(promptChars(body));
    const completionTokens = tokens(content.length);
    return {
      id: `chatcmpl-sample-${++seq}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: MODEL,
      choices: [{ index: 0, message, logprobs: null, finish_reason: tool && !tool.forced ? 'tool_calls' : 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      system_fingerprint: 'fp_sample_replies',
    };
  }

  function handleChat(res, raw) {
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      sendError(res, 400, `The request body is not valid JSON. ${NOT_A_SAMPLE_MESSAGE}`);
      return;
    }
    if (!body || typeof body !== 'object' || !Array.isArray(body.messages)) {
      sendError(res, 400, `The request has no messages. ${NOT_A_SAMPLE_MESSAGE}`, { param: 'messages' });
      return;
    }
    if (body.stream) {
      sendError(res, 400, `Streaming is not supported by the offline 'sample replies' endpoint.`, { param: 'stream' });
      return;
    }
    const firstUser = body.messages.find((m) => m && m.role === 'user');
    const document = documentOf(messageText(firstUser));
    const key = findReply(replies, document);
    later(() => {
      if (key === undefined) {
        log(`no sample reply for ${document ? JSON.stringify(document) : 'a request without a "Document:" line'}: answered 400`);
        sendError(res, 400, NOT_A_SAMPLE_MESSAGE, { code: 'not_a_sample_document', param: 'messages' });
        return;
      }
      log(`answered ${document}`);
      send(res, 200, completion(body, document, key));
    });
  }

  const server = http.createServer((req, res) => {
    const url = (req.url || '/').split('?')[0].replace(/\/+$/, '') || '/';
    if (req.method === 'GET' && (url === '/v1/models' || url === '/models')) {
      send(res, 200, { object: 'list', data: [{ id: MODEL, object: 'model', created: 0, owned_by: 'extraction-workbench' }] });
      return;
    }
    if (req.method === 'GET' && (url === `/v1/models/${MODEL}` || url === `/models/${MODEL}`)) {
      send(res, 200, { id: MODEL, object: 'model', created: 0, owned_by: 'extraction-workbench' });
      return;
    }
    if (req.method === 'POST' && (url === '/v1/chat/completions' || url === '/chat/completions')) {
      const chunks = [];
      let size = 0;
      req.on('data', (c) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          sendError(res, 413, 'The request is too large.');
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => handleChat(res, Buffer.concat(chunks).toString('utf8')));
      return;
    }
    if (req.method === 'GET' && (url === '/' || url === '/v1')) {
      send(res, 200, { object: 'sample-replies', message: NOT_A_SAMPLE_MESSAGE, documents: Object.keys(replies) });
      return;
    }
    sendError(res, 404, `Unknown endpoint ${req.method} ${url}. ${NOT_A_SAMPLE_MESSAGE}`);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port || 0, '127.0.0.1', () => {
      server.removeListener('error', reject);
      const { port } = server.address();
      let closing;
      resolve({
        url: `http://127.0.0.1:${port}/v1`,
        port,
        close() {
          if (!closing) {
            closing = new Promise((done) => {
              for (const t of timers) clearTimeout(t);
              timers.clear();
              server.close(() => done());
              server.closeAllConnections();
            });
          }
          return closing;
        },
      });
    });
  });
}

module.exports = { startSampleReplies, loadReplies, findReply, documentOf, MODEL, NOT_A_SAMPLE_MESSAGE, DEFAULT_REPLIES_FILE };

if (require.main === module) {
  const port = Number(process.argv[2] || 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('usage: node scripts/sample-replies.js [port]');
    process.exit(2);
  }
  startSampleReplies({ port, log: (line) => console.log(`[sample-replies] ${line}`) }).then(
    (server) => {
      console.log(server.url);
      console.log(`[sample-replies] offline sample replies for samples/invoices (model ${MODEL}); Ctrl-C to stop`);
      const stop = () => server.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (e) => {
      console.error(`[sample-replies] ${e && e.message ? e.message : e}`);
      process.exit(1);
    },
  );
}
