import { strict as assert } from 'node:assert';
import type { ConvertedDocument, PageInfo } from '../../src/convert/types';
import { canSplit, planChunks } from '../../src/extract/chunkPlan';
import { mergeChunkResults, normalizedKey, toPartialSchema } from '../../src/extract/merge';
import { createValidator } from '../../src/extract/schema';
import { charsPerToken, countTokens, estimateTokens, fitsTokens } from '../../src/extract/tokens';
import type { JsonSchema } from '../../src/extract/types';

describe('mergeChunkResults', () => {
  it('scalars: first non-null value in chunk order; differing later values are conflicts', () => {
    const r = mergeChunkResults([
      { a: null, b: 'x', c: 1 },
      { a: 'A', b: 'y', c: 1 },
      { a: 'A2', b: null, c: 1 },
    ]);
    assert.deepEqual(r.data, { a: 'A', b: 'x', c: 1 });
    assert.deepEqual(r.conflicts, [
      { path: '/a', values: ['A', 'A2'], chunks: [1, 2] },
      { path: '/b', values: ['x', 'y'], chunks: [0, 1] },
    ]);
  });

  it('equal values after normalisation are no conflict; a value repeated later is listed per chunk', () => {
    const r = mergeChunkResults([{ name: 'ACME  Corp ' }, { name: 'ACME Corp' }, { name: 'Other' }, { name: 'ACME Corp' }]);
    assert.equal((r.data as { name: string }).name, 'ACME  Corp ');
    assert.deepEqual(r.conflicts, [{ path: '/name', values: ['ACME  Corp ', 'ACME Corp', 'Other', 'ACME Corp'], chunks: [0, 1, 2, 3] }]);
  });

  it('objects merge recursively; pointers escape ~ and /', () => {
    const r = mergeChunkResults([{ customer: { name: 'N', 'a/b~c': 1 } }, { customer: { address: 'Street 1', 'a/b~c': 2 } }]);
    assert.deepEqual(r.data, { customer: { name: 'N', 'a/b~c': 1, address: 'Street 1' } });
    assert.deepEqual(r.conflicts, [{ path: '/customer/a~1b~0c', values: [1, 2], chunks: [0, 1] }]);
  });

  it('arrays are concatenated and de-duplicated by normalised deep equality (key order, nulls, white space)', () => {
    const r = mergeChunkResults([
      { items: [{ code: 'A', qty: 1 }, { code: 'B', qty: 2 }] },
      { items: [{ qty: 2, code: 'B', note: null }, { code: ' C ', qty: 3 }] },
      { items: [{ code: 'C', qty: 3 }, { code: 'A', qty: 10 }] },
      { items: [] },
    ]);
    assert.deepEqual((r.data as { items: unknown[] }).items, [
      { code: 'A', qty: 1 },
      { code: 'B', qty: 2 },
      { code: ' C ', qty: 3 },
      { code: 'A', qty: 10 },
    ]);
    assert.deepEqual(r.conflicts, []);
    assert.deepEqual(mergeChunkResults([{ tags: ['x', 'y'] }, { tags: ['y', 'z'] }]).data, { tags: ['x', 'y', 'z'] });
  });

  it('null objects and arrays give way to values; kinds that differ are a conflict (first wins)', () => {
    const r = mergeChunkResults([{ o: null, l: null, k: 'text' }, { o: { x: 1 }, l: [1], k: { x: 1 } }]);
    assert.deepEqual(r.data, { o: { x: 1 }, l: [1], k: 'text' });
    assert.deepEqual(r.conflicts.map((c) => c.path), ['/k']);
  });

  it('skipped chunks (undefined) and all-null fields', () => {
    const r = mergeChunkResults([undefined, { a: null }, { a: null, b: 2 }]);
    assert.deepEqual(r.data, { a: null, b: 2 });
    assert.deepEqual(mergeChunkResults([]).data, undefined);
  });

  it('normalizedKey: key order, nulls and white space do not matter; types do', () => {
    assert.equal(normalizedKey({ b: 1, a: ' x  y ', c: null }), normalizedKey({ a: 'x y', b: 1 }));
    assert.notEqual(normalizedKey({ a: 1 }), normalizedKey({ a: '1' }));
    assert.notEqual(normalizedKey([1, 2]), normalizedKey([2, 1]));
  });
});

describe('toPartialSchema', () => {
  const schema: JsonSchema = {
    type: 'object',
    properties: {
      title: { type: 'string', minLength: 1 },
      customer: { type: 'object', properties: { name: { type: 'string' }, id: { type: 'string' } }, required: ['name', 'id'] },
      lines: { type: 'array', minItems: 1, maxItems: 3, items: { type: 'object', properties: { code: { type: 'string' } }, required: ['code'] } },
    },
    required: ['title', 'customer', 'lines'],
  };

  it('makes the root and nested objects optional, drops counts, keeps array items whole; input untouched', () => {
    const before = JSON.stringify(schema);
    const p = toPartialSchema(schema) as { required?: unknown; properties: Record<string, Record<string, unknown>> };
    assert.equal(JSON.stringify(schema), before);
    assert.equal(p.required, undefined);
    assert.equal(p.properties.customer.required, undefined);
    assert.equal(p.properties.lines.minItems, undefined);
    assert.equal(p.properties.lines.maxItems, undefined);
    assert.deepEqual((p.properties.lines.items as { required: string[] }).required, ['code']);
    assert.equal(p.properties.title.minLength, 1, 'value constraints stay');
    const v = createValidator(p);
    assert.equal(v({ title: null, customer: { name: 'N', id: null }, lines: [] }).ok, true);
    assert.equal(v({ lines: [{}] }).ok, false, 'an item must still be complete');
    assert.equal(createValidator(schema)({ title: 'T', customer: { name: 'N' }, lines: [] }).ok, false);
  });
});

describe('planChunks', () => {
  const para = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. ';

  function paged(sizes: number[]): ConvertedDocument {
    let text = '';
    const pages: PageInfo[] = [];
    sizes.forEach((n, i) => {
      const start = text.length;
      text += `Page ${i + 1}\n${para.repeat(n)}`;
      pages.push({ page: i + 1, start, end: text.length });
      text += '\n\n';
    });
    return { format: 'pdf', text, pages };
  }

  it('by pages: whole pages per chunk, every chunk within the budget, in order, covering every page', () => {
    const doc = paged([10, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
    const plan = planChunks(doc, { maxTokens: 700 });
    assert.equal(plan.by, 'pages');
    assert.ok(plan.chunks.length > 1 && plan.chunks.length < 10, `chunks ${plan.chunks.length}`);
    for (const c of plan.chunks) {
      assert.ok(countTokens(c.text) <= 700);
      assert.equal(c.text, doc.text.slice(c.start, c.end));
      assert.ok(c.text.startsWith(`Page ${c.firstPage}\n`));
    }
    assert.equal(plan.chunks[0].firstPage, 1);
    assert.equal(plan.chunks.at(-1)!.lastPage, 10);
    for (let i = 1; i < plan.chunks.length; i++) assert.equal(plan.chunks[i].firstPage, plan.chunks[i - 1].lastPage! + 1);
  });

  it('by pages with a minimum number of chunks', () => {
    const plan = planChunks(paged([2, 2, 2, 2, 2, 2, 2, 2]), { maxTokens: 100_000, minChunks: 4 });
    assert.equal(plan.by, 'pages');
    assert.equal(plan.chunks.length, 4);
  });

  it('a single page larger than the budget → by characters (page numbers kept)', () => {
    const doc = paged([2, 60, 2]);
    const plan = planChunks(doc, { maxTokens: 400 });
    assert.equal(plan.by, 'chars');
    assert.ok(plan.chunks.every((c) => countTokens(c.text) <= 400));
    assert.ok(plan.chunks.every((c) => c.firstPage !== undefined));
  });

  it('by characters: within the budget, overlapping, covering the whole text', () => {
    const text = para.repeat(200);
    const plan = planChunks({ format: 'text', text }, { maxTokens: 500, overlapChars: 100 });
    assert.equal(plan.by, 'chars');
    assert.ok(plan.chunks.length >= 8);
    assert.equal(plan.chunks[0].start, 0);
    assert.equal(plan.chunks.at(-1)!.end, text.length);
    for (let i = 0; i < plan.chunks.length; i++) {
      const c = plan.chunks[i];
      assert.ok(countTokens(c.text) <= 500);
      if (i > 0) assert.ok(c.start < plan.chunks[i - 1].end, 'overlap with the previous chunk');
    }
  });

  it('canSplit: two pages or enough text', () => {
    assert.equal(canSplit({ format: 'text', text: 'short' }), false);
    assert.equal(canSplit({ format: 'text', text: 'x'.repeat(5000) }), true);
    assert.equal(canSplit(paged([1, 1])), true);
  });
});

describe('tokens (o200k_base)', () => {
  it('counts like the OpenAI tokenizer, special tokens as plain text', () => {
    assert.equal(countTokens(''), 0);
    assert.equal(countTokens('hello world'), 2);
    assert.ok(countTokens('<|endoftext|>') > 1, 'not one special token, and no throw');
    assert.equal(estimateTokens('abcdefgh'), 2);
  });

  it('fitsTokens: fast path by bytes, exact near the limit', () => {
    assert.equal(fitsTokens('abc', 3), true);
    const text = 'word '.repeat(1000);
    const n = countTokens(text);
    assert.equal(fitsTokens(text, n), true);
    assert.equal(fitsTokens(text, n - 1), false);
    assert.equal(fitsTokens('日本語のテキスト'.repeat(50), 30), false);
  });

  it('charsPerToken is about 4 for English prose', () => {
    const r = charsPerToken('The quick brown fox jumps over the lazy dog. '.repeat(100));
    assert.ok(r > 3 && r < 7, String(r));
  });
});
