import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import { ConvertCache, converterCacheKey, sha256Hex } from '../../src/convert/cache';
import { chunkByChars, chunkByPages, sliceDocument } from '../../src/convert/chunking';
import { convertCsvBytes, createCsvConverter, parseCsv, sniffDelimiter, splitCsv } from '../../src/convert/csv';
import { createDocxConverter } from '../../src/convert/docx';
import { createHtmlConverter, htmlToText } from '../../src/convert/html';
import { createJsonConverter } from '../../src/convert/json';
import { createTextConverter } from '../../src/convert/text';
import type { ConvertedDocument, Converter } from '../../src/convert/types';
import { makeDocx, zipStored } from '../fixtures/convert/docx';
import { tempDir } from '../fixtures/pdf/generate';
import { rejectsWithCode } from '../support/assertions';

const enc = (s: string) => new TextEncoder().encode(s);
function input(bytes: Uint8Array | string, p = 'x') {
  return { path: p, absPath: '/x/' + p, bytes: typeof bytes === 'string' ? enc(bytes) : bytes };
}

describe('convert/html', () => {
  const conv = createHtmlConverter();

  it('keeps visible text only; drops script, style, head, hidden; decodes entities', async () => {
    const html = `<!doctype html><html><head><title>My  Page</title><style>p{color:red}</style>
      <script>var secret = "<p>nope</p>";</script></head>
      <body><h1>Invoice&nbsp;#42</h1>
      <p>Caf&eacute; &amp; Bar &lt;Ltd&gt; &#8364;12 &#x2713; &copy;</p>
      <div hidden>hidden text</div><span style="display: none">also hidden</span>
      <noscript>enable js</noscript><template><p>tpl</p></template>
      <p>Line one<br>Line two</p>
      <ul><li>first</li><li>second</li></ul>
      <table><tr><th>Item</th><th>Price</th></tr><tr><td>Tea</td><td>3.50</td></tr></table>
      <pre>  keep   spaces
  here</pre>
      <p>a    lot   of
      whitespace</p><img src="x.png" alt="Company logo"></body></html>`;
    const doc = await conv.convert(input(html, 'a.html'));
    assert.strictEqual(doc.format, 'html');
    assert.strictEqual(doc.meta?.title, 'My Page');
    const t = doc.text;
    for (const bad of ['secret', 'nope', 'color:red', 'hidden text', 'also hidden', 'enable js', 'tpl', 'My  Page']) {
      assert.ok(!t.includes(bad), `should not contain ${bad}: ${t}`);
    }
    assert.match(t, /^Invoice #42\n\nCafé & Bar <Ltd> €12 ✓ ©\n\nLine one\nLine two\n\n- first\n- second\n\nItem\tPrice\nTea\t3\.50\n\n {2}keep {3}spaces\n {2}here\n\na lot of whitespace\n\nCompany logo$/);
  });

  it('positions carry the source line of each text run', async () => {
    const { text, positions } = await htmlToText('<p>alpha</p>\n<p>\nbeta</p>\n\n<div>gamma</div>');
    assert.strictEqual(text, 'alpha\n\nbeta\n\ngamma');
    const lineOf = (w: string) => positions.find((p) => text.slice(p.start, p.end).includes(w))?.line;
    assert.deepStrictEqual([lineOf('alpha'), lineOf('beta'), lineOf('gamma')], [1, 3, 5]);
  });

  it('malformed HTML still yields its text; empty body → EMPTY_DOCUMENT', async () => {
    const doc = await conv.convert(input('<div><p>unclosed <b>bold <i>both</div> tail', 'a.html'));
    assert.match(doc.text, /unclosed bold both/);
    assert.match(doc.text, /tail/);
    await rejectsWithCode(conv.convert(input('<html><head><title>t</title></head><body> <script>x</script> </body></html>', 'e.html')), ErrorCodes.EMPTY_DOCUMENT);
    await rejectsWithCode(conv.convert(input('', 'e.html')), ErrorCodes.EMPTY_DOCUMENT);
  });

  it('honours a meta charset when bytes are not UTF-8', async () => {
    // windows-1252 bytes: ï = 0xef, € = 0x80
    const b = Buffer.concat([Buffer.from('<meta charset="windows-1252"><p>na\xefve ', 'latin1'), Buffer.from([0x80]), Buffer.from('</p>')]);
    const doc = await conv.convert(input(new Uint8Array(b), 'a.html'));
    assert.strictEqual(doc.text, 'naïve €');
  });
});

describe('convert/csv', () => {
  it('parses RFC 4180: quotes, doubled quotes, delimiters and newlines inside quotes, CRLF', () => {
    const csv = 'name,comment,amount\r\n"Smith, J.","said ""hi""\nthen left",12.5\r\nDoe,,7\r\n';
    const rows = parseCsv(csv);
    assert.deepStrictEqual(
      rows.map((r) => r.fields),
      [
        ['name', 'comment', 'amount'],
        ['Smith, J.', 'said "hi"\nthen left', '12.5'],
        ['Doe', '', '7'],
      ],
    );
    assert.deepStrictEqual(
      rows.map((r) => r.line),
      [1, 2, 4],
    );
    assert.strictEqual(csv.slice(rows[1].start, rows[1].end), '"Smith, J.","said ""hi""\nthen left",12.5');
  });

  it('sniffs tab and semicolon delimiters', () => {
    assert.strictEqual(sniffDelimiter('a\tb\tc\n1\t2\t3'), '\t');
    assert.strictEqual(sniffDelimiter('a;b;c\n1,5;2;3'), ';');
    assert.strictEqual(sniffDelimiter('a,b\n'), ',');
  });

  it('converter: whole file, one span per record, TSV by extension', async () => {
    const doc = await createCsvConverter().convert(input('id\tname\n1\tAda\n2\tGrace\n', 'people.tsv'));
    assert.strictEqual(doc.format, 'tsv');
    assert.strictEqual(doc.meta?.rows, 2);
    assert.deepStrictEqual(doc.meta?.columns, ['id', 'name']);
    assert.deepStrictEqual(
      doc.positions!.map((p) => doc.text.slice(p.start, p.end)),
      ['id\tname', '1\tAda', '2\tGrace'],
    );
    await rejectsWithCode(createCsvConverter().convert(input(' \n \n', 'e.csv')), ErrorCodes.EMPTY_DOCUMENT);
    assert.strictEqual(convertCsvBytes(enc('a,b\n1,2'), undefined).format, 'csv');
  });

  it('splitCsv: N rows per chunk, header repeated, offsets into the original text', () => {
    const text = 'h1,h2\n' + Array.from({ length: 7 }, (_, i) => `r${i + 1},"multi\nline ${i + 1}"`).join('\n') + '\n';
    const chunks = splitCsv(text, 3);
    assert.strictEqual(chunks.length, 3);
    assert.deepStrictEqual(
      chunks.map((c) => [c.firstRow, c.lastRow]),
      [
        [1, 3],
        [4, 6],
        [7, 7],
      ],
    );
    for (const c of chunks) {
      assert.ok(c.text.startsWith('h1,h2\n'));
      assert.strictEqual(c.text, 'h1,h2\n' + text.slice(c.start, c.end));
    }
    assert.ok(chunks[1].text.includes('r4,"multi\nline 4"'));
    assert.strictEqual(splitCsv(text, 0).length, 1);
    assert.strictEqual(splitCsv(text, Infinity)[0].lastRow, 7);
    assert.deepStrictEqual(splitCsv('only,header\n', 5).map((c) => c.text), ['only,header']);
    assert.deepStrictEqual(splitCsv('', 5), []);
  });
});

describe('convert/json', () => {
  it('pretty-prints valid JSON', async () => {
    const doc = await createJsonConverter().convert(input('{"a":1,"b":[true,null,"x"]}', 'a.json'));
    assert.strictEqual(doc.format, 'json');
    assert.strictEqual(doc.text, '{\n  "a": 1,\n  "b": [\n    true,\n    null,\n    "x"\n  ]\n}');
  });

  it('invalid JSON → CORRUPT_INPUT (non-retryable); empty → EMPTY_DOCUMENT', async () => {
    const err = await rejectsWithCode(createJsonConverter().convert(input('{"a":1,', 'a.json')), ErrorCodes.CORRUPT_INPUT);
    assert.strictEqual(err.retryable, false);
    await rejectsWithCode(createJsonConverter().convert(input('   ', 'a.json')), ErrorCodes.EMPTY_DOCUMENT);
    await rejectsWithCode(createJsonConverter().convert(input('{}', 'a.json')), ErrorCodes.EMPTY_DOCUMENT);
  });

  it('accepts a UTF-8 BOM', async () => {
    const doc = await createJsonConverter().convert(input(new Uint8Array([0xef, 0xbb, 0xbf, ...enc('[1]')]), 'a.json'));
    assert.strictEqual(doc.text, '[\n  1\n]');
  });
});

describe('convert/docx (mammoth)', () => {
  it('extracts paragraphs from a DOCX', async () => {
    const doc = await createDocxConverter().convert(input(new Uint8Array(makeDocx(['Invoice 77', 'Total: 12.00 EUR', 'Grüße & <Tags>'])), 'a.docx'));
    assert.strictEqual(doc.format, 'docx');
    assert.strictEqual(doc.text, 'Invoice 77\n\nTotal: 12.00 EUR\n\nGrüße & <Tags>');
  });

  it('corrupt or non-DOCX bytes → CORRUPT_INPUT; empty → EMPTY_DOCUMENT', async () => {
    const conv = createDocxConverter();
    let err = await rejectsWithCode(conv.convert(input('this is not a zip file at all', 'a.docx')), ErrorCodes.CORRUPT_INPUT);
    assert.strictEqual(err.retryable, false);
    // a valid ZIP without word/document.xml
    err = await rejectsWithCode(conv.convert(input(new Uint8Array(zipStored({ 'hello.txt': 'hi' })), 'a.docx')), ErrorCodes.CORRUPT_INPUT);
    // truncated DOCX
    const good = makeDocx(['x']);
    await rejectsWithCode(conv.convert(input(new Uint8Array(good.subarray(0, good.length - 30)), 'a.docx')), ErrorCodes.CORRUPT_INPUT);
    await rejectsWithCode(conv.convert(input(new Uint8Array(0), 'a.docx')), ErrorCodes.EMPTY_DOCUMENT);
    await rejectsWithCode(conv.convert(input(new Uint8Array(makeDocx(['  ', ''])), 'a.docx')), ErrorCodes.EMPTY_DOCUMENT);
  });
});

describe('convert/chunking', () => {
  const doc: ConvertedDocument = {
    format: 'pdf',
    text: 'page one text\n\npage two is here\n\n\n\npage four',
    pages: [
      { page: 1, start: 0, end: 13 },
      { page: 2, start: 15, end: 31 },
      { page: 3, start: 33, end: 33, needsOcr: true },
      { page: 4, start: 35, end: 44 },
    ],
  };

  it('by pages, with overlap, offsets into the original text', () => {
    const one = chunkByPages(doc, 1);
    assert.deepStrictEqual(
      one.map((c) => [c.firstPage, c.lastPage, c.text]),
      [
        [1, 1, 'page one text'],
        [2, 2, 'page two is here'],
        [3, 3, ''],
        [4, 4, 'page four'],
      ],
    );
    const two = chunkByPages(doc, 2, 1);
    assert.deepStrictEqual(
      two.map((c) => [c.firstPage, c.lastPage]),
      [
        [1, 2],
        [2, 3],
        [3, 4],
      ],
    );
    for (const c of [...one, ...two]) assert.strictEqual(doc.text.slice(c.start, c.end), c.text);
    assert.deepStrictEqual(chunkByPages({ format: 'text', text: 'abc' }, 3), [{ index: 0, text: 'abc', start: 0, end: 3 }]);
  });

  it('by characters with overlap: covers the text, respects the limit, prefers breaks', () => {
    const text = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} is here.`).join(' ');
    const chunks = chunkByChars(text, 200, { overlap: 40 });
    assert.strictEqual(chunks[0].start, 0);
    assert.strictEqual(chunks[chunks.length - 1].end, text.length);
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i];
      assert.strictEqual(text.slice(c.start, c.end), c.text);
      assert.ok(c.text.length <= 200);
      if (i > 0) {
        assert.strictEqual(c.start, chunks[i - 1].end - 40, 'overlap of 40');
        assert.ok(c.start > chunks[i - 1].start, 'progress');
      }
      if (i < chunks.length - 1) assert.match(c.text, /[ .]$/, 'ends at a break');
    }
    const hard = chunkByChars('x'.repeat(1000), 300, { overlap: 50 });
    assert.deepStrictEqual(
      hard.map((c) => [c.start, c.end]),
      [
        [0, 300],
        [250, 550],
        [500, 800],
        [750, 1000],
      ],
    );
    assert.deepStrictEqual(chunkByChars('', 10), [{ index: 0, text: '', start: 0, end: 0 }]);
  });

  it('char chunks of a paged document report their page range; sliceDocument re-bases spans', () => {
    const chunks = chunkByChars(doc, 20, { preferBreaks: false });
    assert.deepStrictEqual([chunks[0].firstPage, chunks[0].lastPage], [1, 2]);
    const withPos: ConvertedDocument = { ...doc, positions: [{ start: 15, end: 19, page: 2, bbox: [1, 2, 3, 4] }] };
    const s = sliceDocument(withPos, 15, 31);
    assert.strictEqual(s.text, 'page two is here');
    assert.deepStrictEqual(s.positions, [{ start: 0, end: 4, page: 2, bbox: [1, 2, 3, 4] }]);
    assert.deepStrictEqual(s.pages?.map((p) => p.page), [2]);
  });
});

describe('convert/cache', () => {
  let dir: string;
  before(() => (dir = tempDir('convert-cache-')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('stores by content hash; a rerun does not convert again', async () => {
    const cache = new ConvertCache(dir);
    let calls = 0;
    const inner = createTextConverter();
    const counting: Converter = { id: 'text', extensions: ['.txt'], convert: async (i) => (calls++, inner.convert(i)) };
    const bytes = enc('hello cache');
    const a = await cache.getOrConvert(counting, input(bytes, 'a.txt'));
    const b = await cache.getOrConvert(counting, input(bytes, 'b.txt'));
    assert.strictEqual(calls, 1);
    assert.deepStrictEqual(a, b);
    await cache.getOrConvert(counting, input(enc('other'), 'c.txt'));
    assert.strictEqual(calls, 2);
    const hash = sha256Hex(bytes);
    const files = fs.readdirSync(path.join(dir, hash.slice(0, 2)));
    assert.ok(files.some((f) => f.startsWith(hash) && f.endsWith('.json')));
    assert.ok(!files.some((f) => f.endsWith('.tmp')), 'no temp files left');
    // a new cache instance (next run) reads it back
    const again = await new ConvertCache(dir).get(hash, 'text');
    assert.strictEqual(again?.text, 'hello cache');
  });

  it('plain text, JSON and CSV are converted every time and leave no cache entry (cheaper than a lookup)', async () => {
    const empty = tempDir('convert-cache-plain-');
    const cache = new ConvertCache(empty);
    for (const [converter, name, text] of [
      [createTextConverter(), 'a.txt', 'plain words'],
      [createJsonConverter(), 'a.json', '{"a": 1}'],
      [createCsvConverter(), 'a.csv', 'a,b\n1,2\n'],
    ] as const) {
      assert.strictEqual(converter.cacheable, false, converter.id);
      const a = await cache.getOrConvert(converter, input(enc(text), name));
      assert.deepStrictEqual(await cache.getOrConvert(converter, input(enc(text), name)), a);
    }
    assert.deepStrictEqual(fs.readdirSync(empty), [], 'nothing written');
    assert.deepStrictEqual([cache.hits, cache.misses], [0, 0], 'not even looked up');
  });

  it('a corrupt entry is a miss; converter key separates entries; errors are not cached', async () => {
    const cache = new ConvertCache(dir);
    const hash = sha256Hex('zzz');
    await cache.set(hash, { format: 'text', text: 'zzz' }, 'text');
    assert.strictEqual((await cache.get(hash, 'other'))?.text, undefined);
    const file = path.join(dir, hash.slice(0, 2), fs.readdirSync(path.join(dir, hash.slice(0, 2))).find((f) => f.startsWith(hash))!);
    fs.writeFileSync(file, '{"v":1,"hash":"trunc');
    assert.strictEqual(await cache.get(hash, 'text'), undefined);
    const failing: Converter = {
      id: 'text',
      extensions: ['.txt'],
      convert: async () => {
        throw new ExtractionError(ErrorCodes.EMPTY_DOCUMENT, 'empty');
      },
    };
    await rejectsWithCode(cache.getOrConvert(failing, input(enc('   '))), ErrorCodes.EMPTY_DOCUMENT);
    assert.strictEqual(await cache.get(sha256Hex(enc('   ')), 'text'), undefined);
  });
  it('converterCacheKey: id, version and the set options; order and unset options do not matter', () => {
    assert.strictEqual(converterCacheKey('pdf', 1), 'pdf-v1');
    assert.strictEqual(converterCacheKey('pdf', 1, { maxPages: undefined }), 'pdf-v1');
    assert.notStrictEqual(converterCacheKey('pdf', 2), converterCacheKey('pdf', 1));
    const k = converterCacheKey('csv', 1, { rows: 100, delimiter: ';' });
    assert.match(k, /^csv-v1-[0-9a-f]{16}$/);
    assert.strictEqual(converterCacheKey('csv', 1, { delimiter: ';', rows: 100 }), k);
    assert.notStrictEqual(converterCacheKey('csv', 1, { delimiter: ';', rows: 101 }), k);
    assert.throws(() => converterCacheKey('a/b', 1), /converter id/);
    assert.throws(() => converterCacheKey('pdf', 0), /version/);
  });

  it('an option that changes the output misses the cache; the same option hits (even in a new converter)', async () => {
    const cache = new ConvertCache(tempDir('convert-cache-key-'));
    let calls = 0;
    /** A converter with an output option, keyed like the built-in ones. */
    const upper = (shout: boolean): Converter => ({
      id: 'shout',
      cacheKey: converterCacheKey('shout', 1, { shout }),
      extensions: ['.txt'],
      convert: async (i) => (calls++, { format: 'text', text: shout ? new TextDecoder().decode(i.bytes).toUpperCase() : new TextDecoder().decode(i.bytes) }),
    });
    const bytes = enc('quiet words');
    assert.strictEqual((await cache.getOrConvert(upper(false), input(bytes))).text, 'quiet words');
    assert.strictEqual((await cache.getOrConvert(upper(true), input(bytes))).text, 'QUIET WORDS', 'changed option: converted again, not the stale text');
    assert.strictEqual(calls, 2);
    assert.strictEqual((await cache.getOrConvert(upper(false), input(bytes))).text, 'quiet words');
    assert.strictEqual((await cache.getOrConvert(upper(true), input(bytes))).text, 'QUIET WORDS');
    assert.strictEqual(calls, 2, 'same options: served from the cache');
    assert.deepStrictEqual([cache.hits, cache.misses], [2, 2]);
  });

  describe('size bound (least recently used entries go first)', () => {
    const doc = (n: number): ConvertedDocument => ({ format: 'text', text: `entry ${n} `.padEnd(1000, 'x') });
    /** Entry files with their size, by hash. */
    const entries = (dir: string) => {
      const out = new Map<string, number>();
      for (const sub of fs.readdirSync(dir)) {
        for (const f of fs.readdirSync(path.join(dir, sub))) if (f.endsWith('.json')) out.set(f.split('.')[0], fs.statSync(path.join(dir, sub, f)).size);
      }
      return out;
    };
    const total = (dir: string) => [...entries(dir).values()].reduce((a, b) => a + b, 0);

    it('prune() deletes the least recently used entries down to 80 % of the bound; a hit counts as use', async () => {
      const dir = tempDir('convert-cache-lru-');
      const cache = new ConvertCache(dir, { maxBytes: Infinity });
      const hashes = Array.from({ length: 10 }, (_, i) => sha256Hex(`doc ${i}`));
      for (const [i, h] of hashes.entries()) await cache.set(h, doc(i), 'text');
      const size = entries(dir).get(hashes[0])!;
      // entry i was last used i hours ago… except that entry 9 (the oldest) is read now
      const now = Date.now() / 1000;
      for (const [i, h] of hashes.entries()) {
        const f = path.join(dir, h.slice(0, 2), fs.readdirSync(path.join(dir, h.slice(0, 2))).find((x) => x.startsWith(h))!);
        fs.utimesSync(f, now - 3600 * (i + 1), now - 3600 * (i + 1));
      }
      assert.strictEqual((await cache.get(hashes[9], 'text'))?.text, doc(9).text);
      // a temp file of a write that crashed an hour ago, and one being written now
      const stale = path.join(dir, hashes[0].slice(0, 2), 'x.json.1.abc.tmp');
      const fresh = path.join(dir, hashes[1].slice(0, 2), 'y.json.2.def.tmp');
      fs.writeFileSync(stale, 'partial');
      fs.writeFileSync(fresh, 'partial');
      fs.utimesSync(stale, now - 7200, now - 7200);

      const bounded = new ConvertCache(dir, { maxBytes: 6 * size });
      const r = await bounded.prune();
      const left = entries(dir);
      // 10 entries > 6: pruned to ≤ 4.8 entries' worth, i.e. the 4 most recently used stay
      assert.deepStrictEqual([...left.keys()].sort(), [hashes[9], hashes[0], hashes[1], hashes[2]].sort());
      assert.strictEqual(r.removed, 7, '6 entries and the stale temp file');
      assert.strictEqual(r.totalBytes, total(dir));
      assert.ok(r.totalBytes <= 0.8 * 6 * size);
      assert.ok(!fs.existsSync(stale) && fs.existsSync(fresh), 'stale temp file removed, the one being written kept');
      // under the bound: nothing to do
      assert.strictEqual((await bounded.prune()).removed, 0);
    });

    it('writes beyond the bound prune in the background; the folder stays bounded and the newest entries stay', async () => {
      const dir = tempDir('convert-cache-bound-');
      const probe = new ConvertCache(dir, { maxBytes: Infinity });
      await probe.set(sha256Hex('probe'), doc(0), 'text');
      const size = total(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      const cache = new ConvertCache(dir, { maxBytes: 5 * size });
      const hashes: string[] = [];
      for (let i = 0; i < 40; i++) {
        hashes.push(sha256Hex(`doc ${i}`));
        await cache.set(hashes[i], doc(i), 'text');
        await cache.idle();
        assert.ok(total(dir) <= 5 * size, `after write ${i}: ${total(dir)} bytes > ${5 * size}`);
      }
      const left = entries(dir);
      assert.ok(left.size >= 3 && left.size <= 5, `${left.size} entries left`);
      assert.ok(left.has(hashes[39]) && left.has(hashes[38]), 'the newest entries are kept');
      assert.ok(!left.has(hashes[0]), 'the oldest entry is gone');
      assert.strictEqual((await cache.getOrConvert(createTextConverter(), input(enc('fresh')))).text, 'fresh');
    });

    it('a size bound that is not a positive number of bytes is refused', () => {
      for (const maxBytes of [0, -1, 1.5, NaN]) assert.throws(() => new ConvertCache('/tmp/x', { maxBytes }), RangeError, String(maxBytes));
    });
  });
});
