import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import type { ConvertedDocument, PageInfo } from '../../src/convert/types';
import { CancelledError, ErrorCodes } from '../../src/core/errors';
import { groundValues } from '../../src/extract/grounding';
import { MAX_SPLIT_DEPTH, OpenAIExtractor, type OpenAIExtractorOptions } from '../../src/extract/openaiExtractor';
import type { ExtractInput, JsonSchema } from '../../src/extract/types';
import { startModelServer, type ModelServer, type RecordedRequest, type Step } from '../support/modelServer';
import { rejectsWithCode as rejectsWith } from '../support/assertions';

const schema: JsonSchema = {
  title: 'Report',
  type: 'object',
  properties: {
    title: { type: 'string' },
    author: { type: 'string' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: { code: { type: 'string' }, qty: { type: 'integer', minimum: 0 } },
        required: ['code', 'qty'],
      },
    },
  },
  required: ['title', 'items'],
};

const FILLER =
  'The committee reviewed the quarterly figures in detail and discussed the outlook for the coming period. ' +
  'Several members noted that supply costs remained volatile, while demand stayed broadly stable across regions. ';

/** 40 sections of ~750 characters, one item each; the title on top; two different authors. */
function longText(sections = 40): string {
  const out = ['Title: Annual Report 2024', ''];
  for (let k = 1; k <= sections; k++) {
    out.push(`Section ${k}`);
    if (k === 3) out.push('Author: Alice Example');
    if (k === sections - 2) out.push('Author: Bob Example');
    out.push(FILLER.repeat(3).trim());
    out.push(`Item I-${String(k).padStart(3, '0')} qty ${k}`);
    out.push('');
  }
  return out.join('\n');
}

function pagedDocument(pages = 12): ConvertedDocument {
  let text = '';
  const info: PageInfo[] = [];
  for (let p = 1; p <= pages; p++) {
    const start = text.length;
    text += `Page ${p}\n${p === 1 ? 'Title: Paged Report\n' : ''}${FILLER.repeat(9)}\nItem P-${p} qty ${p}\n`;
    info.push({ page: p, start, end: text.length });
    text += '\f';
  }
  return { format: 'pdf', text, pages: info };
}

/** The document text of a request (between the BEGIN/END markers). */
function docText(req: RecordedRequest): string {
  const m = /--- BEGIN DOCUMENT ---\n([\s\S]*)\n--- END DOCUMENT ---/.exec(req.userText);
  return m ? m[1] : '';
}

/** Answers what a careful model would: the values present in the (chunk) text. */
function answerFor(req: RecordedRequest): Step {
  const t = docText(req);
  const items = [...t.matchAll(/^Item ([A-Z]-\d+) qty (\d+)$/gm)].map((m) => ({ code: m[1], qty: Number(m[2]) }));
  return {
    reply: { title: /^Title: (.+)$/m.exec(t)?.[1] ?? null, author: /^Author: (.+)$/m.exec(t)?.[1] ?? null, items },
    usage: { prompt_tokens: 100, completion_tokens: 10 },
  };
}


/** The character offsets of a request's chunk, from its `Part:` line. */
function offsets(req: RecordedRequest): { start: number; end: number } {
  const m = /^Part: \d+ of \d+ \(characters (\d+)-(\d+)\)$/m.exec(req.userText);
  assert.ok(m, `a Part line with offsets: ${req.userText.slice(0, 200)}`);
  return { start: Number(m[1]), end: Number(m[2]) };
}

function countBy<T>(list: T[], key: (t: T) => string | number | undefined): Map<string | number | undefined, number> {
  const m = new Map<string | number | undefined, number>();
  for (const x of list) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

describe('OpenAIExtractor: long documents in chunks', function () {
  this.timeout(30_000);
  let server: ModelServer;
  let tmp: string;
  const make = (o: Partial<OpenAIExtractorOptions> = {}): OpenAIExtractor =>
    new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'gpt-4o-mini', timeoutMs: 5000, contextTokens: 3000, maxOutputTokens: 300, ...o });
  const input = (p: string, document: ConvertedDocument, extra: Partial<ExtractInput> = {}): ExtractInput => ({ path: p, document, schema, ...extra });

  before(async () => {
    server = await startModelServer({ responder: answerFor });
  });
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-chunks-'));
  });
  afterEach(() => {
    server.reset();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  after(async () => server.close());

  it('a document longer than the context is split by characters, one request per chunk, and merged', async () => {
    const text = longText();
    const out = await make().extract(input('long.txt', { format: 'text', text }));
    const n = out.chunks!;
    assert.ok(n >= 3, `chunks: ${n}`);
    assert.equal(server.requests.length, n);
    assert.equal(out.validatedAgainst, schema, 'the merged answer was validated against the whole schema');
    assert.deepEqual(
      server.requests.map((r) => r.part).sort((a, b) => a! - b!),
      Array.from({ length: n }, (_, i) => i + 1),
      'one request per part',
    );
    for (const r of server.requests) {
      assert.equal(r.document, 'long.txt');
      assert.equal(r.parts, n);
      assert.match(r.userText, new RegExp(`^Part: ${r.part} of ${n} \\(characters \\d+-\\d+\\)$`, 'm'));
      assert.ok(docText(r).length < text.length);
      assert.ok(text.includes(docText(r)), 'a chunk is a slice of the text');
      // the chunk schema is relaxed: nothing is required to be non-null
      const strict = r.body!.response_format!.json_schema!.schema!;
      assert.deepEqual((strict.properties as Record<string, { type: unknown }>).title.type, ['string', 'null']);
    }
    const data = out.data as { title: string; author: string; items: Array<{ code: string; qty: number }> };
    assert.equal(data.title, 'Annual Report 2024');
    assert.equal(data.author, 'Alice Example', 'first non-null value in document order');
    assert.deepEqual(
      data.items.map((i) => i.qty),
      Array.from({ length: 40 }, (_, i) => i + 1),
      'all items, in document order, items seen in two overlapping chunks kept once',
    );
    const answered = server.requests.reduce((n, r) => n + ((answerFor(r) as { reply: { items: unknown[] } }).reply.items.length), 0);
    assert.ok(answered > 40, `some items were in two overlapping chunks (${answered} answered)`);
    const authorConflict = out.conflicts!.find((c) => c.path === '/author');
    assert.ok(authorConflict, inspect(out.conflicts));
    assert.deepEqual(authorConflict.values, ['Alice Example', 'Bob Example']);
    assert.equal(authorConflict.chunks[0], 0);
    assert.equal(authorConflict.chunks[1], n - 1);
    assert.equal(out.conflicts!.length, 1, 'the title is only in the first chunk: no conflict');
    assert.equal(out.requests, n);
    assert.deepEqual([out.tokensIn, out.tokensOut], [100 * n, 10 * n]);
    assert.equal(out.chunksReused, 0);
  });

  it('a document with pages is split at page boundaries', async () => {
    const doc = pagedDocument(12);
    const out = await make().extract(input('paged.pdf', doc));
    const n = out.chunks!;
    assert.ok(n >= 2 && n < 12, `chunks: ${n}`);
    for (const r of server.requests) {
      const m = /^Part: \d+ of \d+ \(pages? (\d+)(?:-(\d+))?\)$/m.exec(r.userText);
      assert.ok(m, r.userText.slice(0, 200));
      assert.ok(docText(r).startsWith(`Page ${m[1]}\n`), 'a chunk starts at its first page');
      assert.match(r.userText, /^Format: pdf \(\d+ pages?\)$/m);
    }
    const data = out.data as { title: string; items: Array<{ code: string }> };
    assert.equal(data.title, 'Paged Report');
    assert.deepEqual(
      data.items.map((i) => i.code),
      Array.from({ length: 12 }, (_, i) => `P-${i + 1}`),
    );
  });

  it('a short document is sent whole (no Part line)', async () => {
    const out = await make().extract(input('short.txt', { format: 'text', text: 'Title: Short\nItem S-1 qty 1' }));
    assert.equal(out.chunks, undefined);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].part, undefined);
    assert.doesNotMatch(server.requests[0].userText, /^Part:/m);
  });

  it('a failed chunk fails the attempt; the next attempt redoes only that chunk (checkpoints)', async () => {
    const cacheDir = path.join(tmp, 'chunks');
    const doc: ConvertedDocument = { format: 'text', text: longText() };
    server.setScript('long.txt#2', [{ status: 500 }]);
    const ex = make({ chunkCacheDir: cacheDir, chunkConcurrency: 1 });
    const err = await rejectsWith(ex.extract(input('long.txt', doc)), ErrorCodes.SERVER_ERROR);
    assert.equal(err.retryable, true);
    assert.equal(err.tokensIn, 100, 'the tokens of the chunk that succeeded are on the error');
    assert.equal(filesUnder(cacheDir).length, 1, 'chunk 1 is checkpointed');

    // a new extractor (e.g. after a restart) reuses the checkpoint
    const out = await make({ chunkCacheDir: cacheDir, chunkConcurrency: 1 }).extract(input('long.txt', doc));
    const n = out.chunks!;
    assert.equal(out.chunksReused, 1);
    assert.equal(out.requests, n - 1);
    const perPart = countBy(server.requests, (r) => r.part);
    for (let k = 1; k <= n; k++) assert.equal(perPart.get(k), k === 2 ? 2 : 1, `requests for part ${k}`);
    assert.equal((out.data as { items: unknown[] }).items.length, 40);
    assert.deepEqual(filesUnder(cacheDir), [], 'checkpoints are removed once the document is done');
  });

  it('with parallel chunks, every chunk that succeeded is never asked again', async () => {
    const cacheDir = path.join(tmp, 'chunks');
    const doc: ConvertedDocument = { format: 'text', text: longText(60) };
    server.setScript('long.txt#3', [{ status: 503 }]);
    server.setLatency(5);
    try {
      const ex = make({ chunkCacheDir: cacheDir, chunkConcurrency: 3 });
      await rejectsWith(ex.extract(input('long.txt', doc)), ErrorCodes.SERVER_ERROR);
      const out = await ex.extract(input('long.txt', doc));
      const perPart = countBy(server.requests, (r) => r.part);
      for (let k = 1; k <= out.chunks!; k++) assert.equal(perPart.get(k), k === 3 ? 2 : 1, `requests for part ${k}`);
      assert.ok(out.chunksReused! >= 2, `reused ${out.chunksReused}`);
    } finally {
      server.setLatency(0);
    }
  });

  it('a merged answer that breaks the original schema → SCHEMA_MISMATCH, and the checkpoints are dropped', async () => {
    const cacheDir = path.join(tmp, 'chunks');
    const strictSchema = { ...schema, properties: { ...(schema.properties as object), items: { ...(schema.properties as { items: object }).items, maxItems: 5 } } };
    const err = await rejectsWith(make({ chunkCacheDir: cacheDir }).extract({ path: 'long.txt', document: { format: 'text', text: longText() }, schema: strictSchema }), ErrorCodes.SCHEMA_MISMATCH);
    assert.match(err.message, /merged answer of the \d+ parts .* items: expected at most 5 items, got 40/);
    assert.equal(err.retryable, true);
    assert.deepEqual(filesUnder(cacheDir), []);
  });

  it('cut off at the output cap, a long document falls back to chunks — and goes straight to chunks next time', async () => {
    const text = longText();
    server.setScript('big.txt', [{ truncated: true }, { truncated: true }]);
    const ex = make({ contextTokens: 128_000, maxOutputTokens: 100, maxOutputTokensCap: 200 });
    const out = await ex.extract(input('big.txt', { format: 'text', text }));
    const whole = server.requests.filter((r) => r.part === undefined);
    assert.deepEqual(
      whole.map((r) => r.body!.max_completion_tokens),
      [100, 200],
      'whole document: budget doubled to the cap first',
    );
    assert.ok(out.chunks! >= 4, `chunks: ${out.chunks}`);
    assert.equal(out.requests, 2 + out.chunks!);
    assert.equal(out.tokensOut, 100 + 200 + 10 * out.chunks!, 'tokens of every request counted');
    assert.equal((out.data as { items: unknown[] }).items.length, 40);

    server.reset();
    const again = await ex.extract(input('big.txt', { format: 'text', text }));
    assert.equal(again.chunks, out.chunks);
    assert.ok(
      server.requests.every((r) => r.part !== undefined),
      'no whole-document request the second time',
    );
  });

  it('the "needs chunks" decision survives a new extractor through the cache folder', async () => {
    const cacheDir = path.join(tmp, 'chunks');
    const text = longText();
    server.setScript('big.txt', [{ truncated: true }]);
    const opts = { contextTokens: 128_000, maxOutputTokens: 100, maxOutputTokensCap: 100, chunkCacheDir: cacheDir };
    await make(opts).extract(input('big.txt', { format: 'text', text }));
    server.reset();
    await make(opts).extract(input('big.txt', { format: 'text', text }));
    assert.ok(server.requests.every((r) => r.part !== undefined));
  });

  it('cancellation while chunks are in flight → CancelledError', async () => {
    server.setScript('long.txt#1', [{ hang: true }]);
    const ac = new AbortController();
    const p = make().extract(input('long.txt', { format: 'text', text: longText() }, { signal: ac.signal }));
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(p, (e: unknown) => e instanceof CancelledError);
  });

  describe('a chunk still cut off at the output cap', () => {
    /** Answers are cut off for any text longer than this (characters): "big prompts" do not fit the output. */
    const FITS = 3500;
    const onlySmall = (req: RecordedRequest): Step => (docText(req).length > FITS ? { truncated: true } : answerFor(req));
    // output budget = cap: a cut-off answer is not asked again with a larger budget, it goes straight to halves
    const capped = { maxOutputTokens: 300, maxOutputTokensCap: 300 };
    afterEach(() => server.setResponder(answerFor));

    it('is split in halves that keep their offsets; the answers merge, and their values ground in the whole text', async () => {
      server.setResponder(onlySmall);
      const text = longText();
      const out = await make(capped).extract(input('long.txt', { format: 'text', text }));
      const cut = server.requests.filter((r) => docText(r).length > FITS);
      const answered = server.requests.filter((r) => docText(r).length <= FITS);
      assert.ok(cut.length >= 3, `whole chunks were cut off (${cut.length})`);
      for (const r of server.requests) {
        const at = offsets(r);
        assert.equal(text.slice(at.start, at.end), docText(r), `the Part line's offsets locate the text sent (${at.start}-${at.end})`);
      }
      // every cut-off chunk was answered through pieces that cover it (halves overlap a little)
      for (const r of cut) {
        const chunk = offsets(r);
        const pieces = answered.filter((p) => p.part === r.part && offsets(p).start >= chunk.start && offsets(p).end <= chunk.end);
        assert.ok(pieces.length >= 2, `part ${r.part} answered in pieces`);
        assert.equal(Math.min(...pieces.map((p) => offsets(p).start)), chunk.start);
        assert.equal(Math.max(...pieces.map((p) => offsets(p).end)), chunk.end);
      }
      assert.equal(out.chunks, answered.length, 'chunks counts the pieces answered');
      assert.equal(out.requests, server.requests.length);
      const data = out.data as { title: string; author: string; items: Array<{ code: string; qty: number }> };
      assert.equal(data.title, 'Annual Report 2024');
      assert.equal(data.author, 'Alice Example');
      assert.deepEqual(
        data.items.map((i) => i.qty),
        Array.from({ length: 40 }, (_, i) => i + 1),
        'all items in document order, those in two overlapping pieces kept once',
      );
      const grounding = groundValues(out.data, { format: 'text', text });
      const codes = grounding.fields.filter((g) => /^\/items\/\d+\/code$/.test(g.pointer));
      assert.equal(codes.length, 40);
      assert.ok(codes.every((g) => g.status === 'grounded' && text.slice(g.start, g.end) === (data.items[Number(g.pointer.split('/')[2])].code)), 'every item code grounds at its place');
    });

    it('a chunk of pages is split at the page boundary nearest its middle', async () => {
      server.setResponder(onlySmall);
      const doc = pagedDocument(12);
      const out = await make(capped).extract(input('paged.pdf', doc));
      const answered = server.requests.filter((r) => docText(r).length <= FITS);
      assert.ok(server.requests.length > answered.length, 'some chunks of pages were cut off');
      for (const r of answered) {
        const m = /^Part: \d+ of \d+ \(pages? (\d+)(?:-(\d+))?\)$/m.exec(r.userText);
        assert.ok(m, r.userText.slice(0, 200));
        const first = Number(m[1]);
        const last = Number(m[2] ?? m[1]);
        assert.equal(docText(r), doc.text.slice(doc.pages![first - 1].start, doc.pages![last - 1].end), `pages ${first}-${last}, whole`);
      }
      assert.deepEqual(
        (out.data as { items: Array<{ code: string }> }).items.map((i) => i.code),
        Array.from({ length: 12 }, (_, i) => `P-${i + 1}`),
      );
    });

    it(`fails with TRUNCATED_OUTPUT only when a piece cannot be split further (after ${MAX_SPLIT_DEPTH} halvings)`, async () => {
      server.setResponder(() => ({ truncated: true }));
      const text = longText();
      const err = await rejectsWith(make({ ...capped, chunkConcurrency: 1 }).extract(input('long.txt', { format: 'text', text })), ErrorCodes.TRUNCATED_OUTPUT);
      assert.match(err.message, /part 1 of \d+ \(characters 0-\d+\) was cut off .* already split 3 times/);
      assert.equal(err.details?.splits, MAX_SPLIT_DEPTH);
      assert.equal(err.retryable, true);
      // the first chunk, then its first half, its first quarter, its first eighth: each about half the one before
      assert.equal(server.requests.length, MAX_SPLIT_DEPTH + 1);
      const spans = server.requests.map(offsets);
      for (let k = 1; k < spans.length; k++) {
        const before = spans[k - 1].end - spans[k - 1].start;
        const now = spans[k].end - spans[k].start;
        assert.equal(spans[k].start, 0);
        assert.ok(now > before * 0.35 && now < before * 0.65, `piece ${k}: ${now} of ${before} characters`);
      }
      assert.equal(err.tokensOut, 4 * 300, 'the tokens of every cut-off answer are on the error');
    });

    it('pieces are checkpointed: the next attempt asks only the failed piece, never a cut-off span again', async () => {
      const cacheDir = path.join(tmp, 'chunks');
      const text = longText();
      let failed: string | undefined;
      let answeredOfPart2 = 0;
      server.setResponder((req) => {
        const step = onlySmall(req);
        // the second piece of chunk 2 that would be answered fails once with a server error
        if (req.part === 2 && !('truncated' in step) && ++answeredOfPart2 === 2) {
          failed = JSON.stringify(offsets(req));
          return { status: 500 };
        }
        return step;
      });
      const opts = { ...capped, chunkCacheDir: cacheDir, chunkConcurrency: 1 };
      await rejectsWith(make(opts).extract(input('long.txt', { format: 'text', text })), ErrorCodes.SERVER_ERROR);
      assert.ok(failed, 'a piece of chunk 2 failed');
      const span = (r: RecordedRequest): string => JSON.stringify(offsets(r));
      const cutBefore = new Set(server.requests.filter((r) => docText(r).length > FITS).map(span));
      const answeredBefore = new Set(server.requests.filter((r) => docText(r).length <= FITS).map(span).filter((k) => k !== failed));
      assert.ok(cutBefore.size >= 2 && answeredBefore.size >= 2, `${cutBefore.size} cut off, ${answeredBefore.size} answered`);
      server.reset();

      // a new extractor (e.g. after a restart) with the same checkpoint folder
      const out = await make(opts).extract(input('long.txt', { format: 'text', text }));
      const asked = server.requests.map(span);
      assert.deepEqual(asked.filter((k) => cutBefore.has(k)), [], 'spans cut off before go straight to their halves');
      assert.deepEqual(asked.filter((k) => answeredBefore.has(k)), [], 'pieces answered before come from their checkpoints');
      assert.equal(asked.filter((k) => k === failed).length, 1, 'the failed piece is asked again');
      assert.equal(out.chunksReused, answeredBefore.size);
      assert.equal((out.data as { items: unknown[] }).items.length, 40);
      assert.deepEqual(
        filesUnder(cacheDir).filter((f) => !f.endsWith('.plan.json')),
        [],
        'answer checkpoints are removed once the document is done (split markers stay, like the document plan)',
      );
    });
  });

  it('a context too small for any document → INVALID_CONFIG before a request', async () => {
    await rejectsWith(make({ contextTokens: 600, maxOutputTokens: 300 }).extract(input('x.txt', { format: 'text', text: 'abc' })), ErrorCodes.INVALID_CONFIG);
    assert.equal(server.requests.length, 0);
  });
});
