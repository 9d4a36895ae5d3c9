import * as assert from 'assert';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import { createConverterRegistry, normalizeExtension } from '../../src/convert/index';
import { convertTextBytes, createMarkdownConverter, createTextConverter, decodeText, linePositions } from '../../src/convert/text';
import { rejectsWithCode } from '../support/assertions';

function input(bytes: Uint8Array, path = 'a.txt', signal?: AbortSignal) {
  return { path, absPath: '/x/' + path, bytes, ...(signal ? { signal } : {}) };
}

function utf16(s: string, be: boolean): Uint8Array {
  const le = Buffer.from(s, 'utf16le');
  if (be) le.swap16();
  return new Uint8Array(Buffer.concat([Buffer.from(be ? [0xfe, 0xff] : [0xff, 0xfe]), le]));
}


describe('convert/text: decoding', () => {
  const sample = 'Grüße, Zürich — 10 € ✓ 日本語 😀';

  it('decodes UTF-8 without BOM', () => {
    const d = decodeText(new TextEncoder().encode(sample));
    assert.deepStrictEqual(d, { text: sample, encoding: 'utf-8' });
  });

  it('strips a UTF-8 BOM', () => {
    const d = decodeText(new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(sample)]));
    assert.deepStrictEqual(d, { text: sample, encoding: 'utf-8-bom' });
  });

  it('decodes UTF-16 LE and BE with BOM (incl. surrogate pairs)', () => {
    assert.deepStrictEqual(decodeText(utf16(sample, false)), { text: sample, encoding: 'utf-16le' });
    assert.deepStrictEqual(decodeText(utf16(sample, true)), { text: sample, encoding: 'utf-16be' });
  });

  it('falls back to Latin-1 when the bytes are not valid UTF-8', () => {
    const latin1 = new Uint8Array(Buffer.from('Café crème, señor, Straße £5', 'latin1'));
    assert.deepStrictEqual(decodeText(latin1), { text: 'Café crème, señor, Straße £5', encoding: 'latin1' });
    // windows-1252 specials in the 0x80–0x9f range (curly quotes, euro) come out right
    assert.strictEqual(decodeText(new Uint8Array([0x93, 0x61, 0x94, 0x20, 0x80])).text, '\u201ca\u201d \u20ac');
  });

  it('a truncated UTF-8 sequence is treated as Latin-1, not silently replaced', () => {
    const bytes = new TextEncoder().encode('abc é');
    const d = decodeText(bytes.subarray(0, bytes.length - 1));
    assert.strictEqual(d.encoding, 'latin1');
    assert.ok(!d.text.includes('\ufffd'));
  });

  it('line positions: one span per line, 1-based, newline excluded', () => {
    assert.deepStrictEqual(linePositions('ab\n\ncd'), [
      { start: 0, end: 2, line: 1 },
      { start: 3, end: 3, line: 2 },
      { start: 4, end: 6, line: 3 },
    ]);
  });
});

describe('convert/text: converters', () => {
  it('converts text with CRLF / CR normalised and line positions', async () => {
    const doc = await createTextConverter().convert(input(new TextEncoder().encode('first\r\nsecond\rthird\n')));
    assert.strictEqual(doc.format, 'text');
    assert.strictEqual(doc.text, 'first\nsecond\nthird\n');
    assert.deepStrictEqual(doc.positions!.slice(0, 3), [
      { start: 0, end: 5, line: 1 },
      { start: 6, end: 12, line: 2 },
      { start: 13, end: 18, line: 3 },
    ]);
    for (const p of doc.positions!) assert.strictEqual(doc.text.slice(p.start, p.end).includes('\n'), false);
    assert.strictEqual(doc.meta?.encoding, 'utf-8');
  });

  it('UTF-16 files convert with positions on the decoded text', async () => {
    const doc = await createTextConverter().convert(input(utf16('Zeile eins\nZeile zwei', true)));
    assert.strictEqual(doc.text, 'Zeile eins\nZeile zwei');
    assert.strictEqual(doc.meta?.encoding, 'utf-16be');
    assert.strictEqual(doc.text.slice(doc.positions![1].start, doc.positions![1].end), 'Zeile zwei');
  });

  it('markdown keeps the source as is, format markdown', async () => {
    const md = '# Title\n\n- item **bold**\n';
    const doc = await createMarkdownConverter().convert(input(new TextEncoder().encode(md), 'a.md'));
    assert.strictEqual(doc.format, 'markdown');
    assert.strictEqual(doc.text, md);
  });

  it('empty and whitespace-only files → EMPTY_DOCUMENT (non-retryable)', async () => {
    const conv = createTextConverter();
    for (const bytes of [new Uint8Array(0), new TextEncoder().encode(' \n\t\r\n  '), new Uint8Array([0xef, 0xbb, 0xbf]), utf16('   ', false)]) {
      const err = await rejectsWithCode(conv.convert(input(bytes)), ErrorCodes.EMPTY_DOCUMENT);
      assert.strictEqual(err.retryable, false);
    }
    assert.throws(() => convertTextBytes(new Uint8Array(0), 'text'), /no text/);
  });

  it('an aborted signal cancels', async () => {
    const ac = new AbortController();
    ac.abort();
    await rejectsWithCode(createTextConverter().convert(input(new TextEncoder().encode('x'), 'a.txt', ac.signal)), ErrorCodes.CANCELLED);
  });
});

describe('convert/index: registry', () => {
  it('maps extensions (any case, with or without dot, or a file name) to converters', async () => {
    const reg = createConverterRegistry();
    try {
      assert.strictEqual(reg.get('.txt')?.id, 'text');
      assert.strictEqual(reg.get('TXT')?.id, 'text');
      assert.strictEqual(reg.get('notes/README.MD')?.id, 'markdown');
      assert.strictEqual(reg.get('.pdf')?.id, 'pdf');
      assert.strictEqual(reg.get('a.b/c.HTML')?.id, 'html');
      assert.strictEqual(reg.get('.tsv')?.id, 'csv');
      assert.strictEqual(reg.get('.json')?.id, 'json');
      assert.strictEqual(reg.get('data.NDJSON')?.id, 'jsonl');
      assert.strictEqual(reg.get('.xls')?.id, 'xls');
      assert.strictEqual(reg.get('.docx')?.id, 'docx');
      assert.strictEqual(reg.get('scan.TIFF')?.id, 'image');
      assert.strictEqual(reg.get('.exe'), undefined);
      assert.strictEqual(reg.get('.doc'), undefined);
      assert.deepStrictEqual(
        [...reg.supportedExtensions],
        ['.bmp', '.csv', '.docx', '.eml', '.htm', '.html', '.jpeg', '.jpg', '.json', '.jsonl', '.markdown', '.md', '.ndjson', '.pdf', '.png', '.text', '.tif', '.tiff', '.tsv', '.txt', '.webp', '.xhtml', '.xls', '.xlsm', '.xlsx'],
      );
    } finally {
      await reg.dispose();
      await reg.dispose(); // idempotent
    }
  });

  it('normalizeExtension', () => {
    assert.strictEqual(normalizeExtension('.PDF'), '.pdf');
    assert.strictEqual(normalizeExtension('pdf'), '.pdf');
    assert.strictEqual(normalizeExtension('dir/file.tar.gz'), '.gz');
    assert.strictEqual(normalizeExtension('C:\\x\\y.Docx'), '.docx');
  });

  it('PDF limits out of range fail at creation with INVALID_CONFIG naming the option and the value', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ maxPages: 0 }, /maxPages must be at least 1 \(got 0\)/],
      [{ maxPages: 2.5 }, /maxPages must be a whole number \(got 2\.5\)/],
      [{ timeoutMs: -1 }, /timeoutMs must be 0 \(no limit\) or more \(got -1\)/],
      [{ maxWorkerMemoryMb: 8 }, /maxWorkerMemoryMb must be at least 32 \(MB\) \(got 8\)/],
      [{ poolSize: 0 }, /poolSize must be at least 1 \(got 0\)/],
      [{ maxPages: '10' }, /maxPages .*number.* \(got "10"\)/],
    ];
    for (const [options, message] of bad) {
      assert.throws(
        () => createConverterRegistry(options),
        (e: unknown) => e instanceof ExtractionError && e.code === ErrorCodes.INVALID_CONFIG && message.test(e.message),
        JSON.stringify(options),
      );
    }
    const ok = createConverterRegistry({ maxPages: 5, timeoutMs: 0, maxWorkerMemoryMb: 256, poolSize: 1 });
    await ok.dispose();
  });

  it('every converter has its own cache key; the PDF key changes with the page limit only', async () => {
    const a = createConverterRegistry();
    const b = createConverterRegistry({ maxPages: 10, timeoutMs: 5000, poolSize: 1 });
    const c = createConverterRegistry({ timeoutMs: 1000, maxWorkerMemoryMb: 512 });
    try {
      const keys = a.converters.map((x) => x.cacheKey);
      assert.ok(keys.every((k) => typeof k === 'string' && k.length > 0), String(keys));
      assert.strictEqual(new Set(keys).size, keys.length, `distinct: ${keys.join(', ')}`);
      assert.notStrictEqual(b.get('.pdf')!.cacheKey, a.get('.pdf')!.cacheKey);
      assert.strictEqual(c.get('.pdf')!.cacheKey, a.get('.pdf')!.cacheKey, 'time and memory limits do not change the output');
    } finally {
      await Promise.all([a.dispose(), b.dispose(), c.dispose()]);
    }
  });

  it('does not start PDF workers or load pdf.js until a PDF is converted', async () => {
    const reg = createConverterRegistry({ pdfWorkerPath: '/nonexistent/pdfWorker.js' });
    const doc = await reg.get('.txt')!.convert(input(new TextEncoder().encode('hello')));
    assert.strictEqual(doc.text, 'hello');
    const pdf = reg.get('.pdf') as unknown as { pool: unknown };
    assert.strictEqual(pdf.pool, undefined);
    await reg.dispose();
  });
});
