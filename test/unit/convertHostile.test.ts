/**
 * Hostile inputs for the text-like converters (issue #17, 8.3 and 8.4): binary data under a text
 * extension fails once with UNSUPPORTED_CONTENT; deeply nested JSON and HTML fail with CORRUPT_INPUT
 * instead of overflowing the stack or running for minutes. Inputs are generated here.
 */
import * as assert from 'assert';
import * as crypto from 'crypto';
import { ErrorCodes } from '../../src/core/errors';
import { sniffBinary } from '../../src/convert/binary';
import { docxUnpackLimitBytes } from '../../src/convert/docx';
import { createConverterRegistry, type ConverterRegistry } from '../../src/convert/index';
import { htmlToText } from '../../src/convert/html';
import { MAX_JSON_DEPTH } from '../../src/convert/json';
import { decodeText } from '../../src/convert/text';
import { seededRandom } from '../support/random';
import { docxBomb, makeDocx } from '../fixtures/convert/docx';
import { rejectsWithCode } from '../support/assertions';

function input(bytes: Uint8Array, path: string) {
  return { path, absPath: '/x/' + path, bytes };
}


/** A minimal ELF header followed by code-like bytes (NUL bytes included, as in every real ELF file). */
function elfLike(): Uint8Array {
  const r = seededRandom(17);
  const b = new Uint8Array(20_000);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3e, 0]);
  return b;
}

/** Random bytes without a single NUL byte (the NUL test alone does not catch these). */
function randomWithoutNul(n: number): Uint8Array {
  const r = seededRandom(99);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = 1 + Math.floor(r() * 255);
  return b;
}

const TEXT_EXTENSIONS = ['a.txt', 'a.md', 'a.csv', 'a.tsv', 'a.json', 'a.html'];

describe('convert: binary content under a text extension → UNSUPPORTED_CONTENT', () => {
  let registry: ConverterRegistry;
  before(() => (registry = createConverterRegistry()));
  after(() => registry.dispose());

  const cases: [string, () => Uint8Array, RegExp][] = [
    ['an ELF executable', elfLike, /NUL byte.*ELF executable/],
    ['random bytes', () => new Uint8Array(crypto.randomBytes(10_000)), /NUL byte|control bytes/],
    ['random bytes without any NUL', () => randomWithoutNul(10_000), /control bytes/],
    ['a NUL flood', () => new Uint8Array(50_000), /50000 NUL bytes|8000 NUL bytes/],
    ['text followed by NULs in the first 8000 bytes', () => new Uint8Array(Buffer.concat([Buffer.from('Invoice 42\n'), Buffer.alloc(100)])), /100 NUL bytes/],
  ];
  for (const [name, make, seen] of cases) {
    it(`${name}: every text-like converter refuses it (non-retryable, says what was seen)`, async () => {
      const bytes = make();
      for (const file of TEXT_EXTENSIONS) {
        const err = await rejectsWithCode(registry.get(file)!.convert(input(bytes, file)), ErrorCodes.UNSUPPORTED_CONTENT);
        assert.strictEqual(err.retryable, false);
        assert.strictEqual(err.stage, 'converting');
        assert.match(err.message, seen, `${file}: ${err.message}`);
        assert.ok(err.message.includes(file), err.message);
      }
    });
  }

  it('UTF-16 text with a BOM (LE and BE), and UTF-16 LE without a BOM, is text', async () => {
    const text = '{"note": "Grüße aus Zürich — 10 €", "id": "INV-1"}\n';
    const le = Buffer.from(text, 'utf16le');
    const be = Buffer.from(le).swap16();
    const variants: [string, Buffer][] = [
      ['utf-16le', Buffer.concat([Buffer.from([0xff, 0xfe]), le])],
      ['utf-16be', Buffer.concat([Buffer.from([0xfe, 0xff]), be])],
      ['utf-16le', le],
      ['utf-16be', be],
    ];
    for (const [encoding, bytes] of variants) {
      assert.strictEqual(sniffBinary(bytes), undefined, encoding);
      for (const file of ['a.txt', 'a.json', 'a.csv']) {
        const doc = await registry.get(file)!.convert(input(new Uint8Array(bytes), file));
        assert.match(doc.text, /Grüße aus Zürich — 10 €/, `${file} ${encoding}`);
        assert.strictEqual(doc.meta?.encoding, encoding);
      }
    }
    assert.deepStrictEqual(decodeText(new Uint8Array(le)), { text, encoding: 'utf-16le' });
  });

  it('UTF-16 with a BOM that holds NUL characters is binary', () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('ab\0\0\0cd', 'utf16le')]);
    assert.match(sniffBinary(bytes) ?? '', /3 NUL characters/);
  });

  it('ordinary text stays text: Latin-1, UTF-8, tabs, form feeds, ANSI colour codes, a few stray controls', async () => {
    const latin1 = Buffer.from('Café crème, Größe: 10 €\n'.repeat(50), 'latin1');
    const utf8 = Buffer.from('日本語のテキスト\tand tabs\f\n\x1b[31mred\x1b[0m\n'.repeat(100));
    const stray = Buffer.from('line with a stray \x01 control and \x7f\n' + 'normal text line\n'.repeat(200));
    for (const b of [latin1, utf8, stray]) assert.strictEqual(sniffBinary(b), undefined, b.toString('latin1').slice(0, 40));
    const doc = await registry.get('a.txt')!.convert(input(new Uint8Array(latin1), 'a.txt'));
    assert.match(doc.text, /Café crème/);
  });

  it('binary data beyond the first 8000 bytes does not make a text file binary (as for git)', async () => {
    const bytes = Buffer.concat([Buffer.from('plain text line\n'.repeat(600)), Buffer.alloc(100)]);
    const doc = await registry.get('a.txt')!.convert(input(new Uint8Array(bytes), 'a.txt'));
    assert.match(doc.text, /^plain text line/);
  });
});

describe('convert: deep nesting → CORRUPT_INPUT, not a stack overflow', () => {
  let registry: ConverterRegistry;
  before(() => (registry = createConverterRegistry()));
  after(() => registry.dispose());

  it('JSON nested 100,000 levels deep (arrays and objects) fails with CORRUPT_INPUT', async () => {
    const deepArrays = '['.repeat(100_000) + ']'.repeat(100_000);
    const deepObjects = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    for (const json of [deepArrays, deepObjects, '['.repeat(100_000)]) {
      const err = await rejectsWithCode(registry.get('.json')!.convert(input(Buffer.from(json), 'deep.json')), ErrorCodes.CORRUPT_INPUT);
      assert.strictEqual(err.retryable, false);
      assert.match(err.message, /nested deeper than 1000 levels/);
    }
  });

  it('JSON at the depth limit converts; brackets inside strings do not count', async () => {
    const atLimit = '['.repeat(MAX_JSON_DEPTH) + '"x"' + ']'.repeat(MAX_JSON_DEPTH);
    const doc = await registry.get('.json')!.convert(input(Buffer.from(atLimit), 'ok.json'));
    assert.match(doc.text, /"x"/);
    const inString = JSON.stringify({ text: '['.repeat(50_000) + '\\"{' });
    const doc2 = await registry.get('.json')!.convert(input(Buffer.from(inString), 's.json'));
    assert.ok(doc2.text.includes('['.repeat(50_000)));
  });

  it('HTML nested 100,000 elements deep fails with CORRUPT_INPUT; ordinary nesting converts', async () => {
    const deep = '<div>'.repeat(100_000) + 'x' + '</div>'.repeat(100_000);
    const err = await rejectsWithCode(registry.get('.html')!.convert(input(Buffer.from(deep), 'deep.html')), ErrorCodes.CORRUPT_INPUT);
    assert.match(err.message, /nested deeper than 4096 elements.*deep\.html/);
    const fine = '<div>'.repeat(500) + '<p>inner text</p>' + '</div>'.repeat(500);
    assert.strictEqual((await registry.get('.html')!.convert(input(Buffer.from(fine), 'ok.html'))).text, 'inner text');
  });
});

describe('convert/html: output built without rescanning the text', () => {
  it('40,000 paragraphs and long runs of spaces convert to the same text the rules give', async () => {
    const html = '<p>a</p>'.repeat(40_000) + '<pre>' + ' '.repeat(100_000) + 'x</pre><ul><li>one</li><li>two</li></ul>';
    const { text, positions } = await htmlToText(html);
    const paragraphs = text.split('\n\n');
    assert.strictEqual(paragraphs.length, 40_002);
    assert.ok(paragraphs.slice(0, 40_000).every((p) => p === 'a'));
    assert.strictEqual(paragraphs[40_000], ' '.repeat(100_000) + 'x');
    assert.strictEqual(paragraphs[40_001], '- one\n- two');
    for (const p of positions) assert.ok(p.end > p.start && p.end <= text.length);
  });

  it('a span whose trailing spaces are trimmed at a block break ends where its text ends', async () => {
    // `<pre>abc   </pre>`: the spaces go at the paragraph break; the span must not reach into the break
    const { text, positions } = await htmlToText('<pre>abc   </pre><p>next</p>');
    assert.strictEqual(text, 'abc\n\nnext');
    assert.deepStrictEqual(
      positions.map((p) => text.slice(p.start, p.end)),
      ['abc', 'next'],
    );
  });
});

describe('convert/docx: zip bombs are refused before mammoth inflates them', () => {
  let registry: ConverterRegistry;
  before(() => (registry = createConverterRegistry({ maxWorkerMemoryMb: 64 })));
  after(() => registry.dispose());
  const docx = () => registry.get('.docx')!;

  it('the bound is a 128th of the memory limit, at least 4 MB', () => {
    assert.strictEqual(docxUnpackLimitBytes(1024), 8 * 1024 * 1024);
    assert.strictEqual(docxUnpackLimitBytes(64), 4 * 1024 * 1024);
    assert.strictEqual(docxUnpackLimitBytes(4096), 32 * 1024 * 1024);
  });

  it('a small DOCX declaring 50 MB of XML → TOO_LARGE naming the limit and how to raise it, without inflating it', async () => {
    const bomb = docxBomb(1_000_000); // ~52 MB of XML in ~100 KB
    assert.ok(bomb.length < 400_000, String(bomb.length));
    const err = await rejectsWithCode(docx().convert(input(new Uint8Array(bomb), 'bomb.docx')), ErrorCodes.TOO_LARGE);
    assert.strictEqual(err.retryable, false);
    assert.match(err.message, /bomb\.docx declares 49\.\d MB unpacked \(largest: word\/document\.xml/);
    assert.match(err.message, /4 MB of XML allowed under the memory limit of 64 MB/);
    assert.match(err.message, /pdf\.maxMemoryMb.*--pdf-max-memory-mb/);
    assert.deepStrictEqual(err.details, { limitMb: 4, memoryMb: 64, declared: true });
  });

  it('an archive that understates its sizes is cut off while inflating (TOO_LARGE, not 50 MB unpacked)', async () => {
    const lying = docxBomb(1_000_000, { declaredXmlSize: 1000 });
    const err = await rejectsWithCode(docx().convert(input(new Uint8Array(lying), 'lying.docx')), ErrorCodes.TOO_LARGE);
    assert.match(err.message, /unpacks to more than 4\.0 MB \(at word\/document\.xml, which declares 1000 B\)/);
    assert.strictEqual(err.details?.declared, false);
  });

  it('within the bound a deflated DOCX converts; a large image part is not unpacked and does not count', async () => {
    const doc = await docx().convert(input(new Uint8Array(docxBomb(3, { mediaMb: 40, text: 'Invoice INV-7 total 12.50' })), 'ok.docx'));
    assert.strictEqual(doc.text, 'Invoice INV-7 total 12.50\n\nInvoice INV-7 total 12.50\n\nInvoice INV-7 total 12.50');
    const stored = await docx().convert(input(new Uint8Array(makeDocx(['Plain   ', '  stored'])), 'stored.docx'));
    assert.strictEqual(stored.text, 'Plain\n\n  stored');
  });

  it('a non-ZIP, a truncated directory or an unknown compression method → CORRUPT_INPUT', async () => {
    const good = makeDocx(['x']);
    for (const bytes of [Buffer.from('PK\x03\x04 but not really a zip'), good.subarray(0, good.length - 10)]) {
      await rejectsWithCode(docx().convert(input(new Uint8Array(bytes), 'bad.docx')), ErrorCodes.CORRUPT_INPUT);
    }
    const bzip2 = Buffer.from(docxBomb(1));
    // set the method of every entry to 12 (bzip2) in the local and central headers
    for (let i = 0; i + 4 <= bzip2.length; i++) {
      const sig = bzip2.readUInt32LE(i);
      if (sig === 0x04034b50) bzip2.writeUInt16LE(12, i + 8);
      if (sig === 0x02014b50) bzip2.writeUInt16LE(12, i + 10);
    }
    const err = await rejectsWithCode(docx().convert(input(new Uint8Array(bzip2), 'bzip2.docx')), ErrorCodes.CORRUPT_INPUT);
    assert.match(err.message, /compression method 12/);
  });
});
