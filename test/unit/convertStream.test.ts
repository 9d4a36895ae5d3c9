/**
 * Large CSV / TSV / JSONL files converted from a stream (csvStream.ts, jsonl.ts, textStream.ts): the same
 * text and positions as the whole-file conversion, bounded by the size limit (the rest cut with a
 * warning), and a code for each bad input. The 200 MB file is sparse: its bytes after the written rows are
 * NUL bytes, so a converter that read past the limit would show them (or fail on them).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCodes } from '../../src/core/errors';
import { readSource, sha256 } from '../../src/core/reader';
import { isTooLarge, rejectionOf } from '../../src/core/admission';
import { createConverterRegistry, type ConvertedDocument, type ConverterRegistry } from '../../src/convert';
import { convertCsvBytes } from '../../src/convert/csv';
import { convertCsvStream } from '../../src/convert/csvStream';
import { convertJsonlBytes, convertJsonlStream } from '../../src/convert/jsonl';
import { convertSource } from '../../src/convert/source';
import { rejectsWithCode } from '../support/assertions';

const MB = 1024 * 1024;
const message = (re: RegExp) => (e: Error) => assert.match(e.message, re);

describe('convert: CSV, TSV and JSONL read as a stream', () => {
  let dir: string;
  let registry: ConverterRegistry;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-stream-'));
    registry = createConverterRegistry({ streamAboveBytes: 1024 });
  });
  after(async () => {
    await registry.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, data: string | Uint8Array): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, data);
    return p;
  };
  const stream = (name: string, maxBytes = 50 * MB) => {
    const absPath = path.join(dir, name);
    return name.endsWith('.jsonl') || name.endsWith('.ndjson') ? convertJsonlStream({ path: name, absPath, maxBytes }) : convertCsvStream({ path: name, absPath, maxBytes }, name.endsWith('.tsv') ? '\t' : undefined);
  };
  const spanTexts = (doc: ConvertedDocument) => doc.positions!.map((p) => doc.text.slice(p.start, p.end));

  it('gives the text, record positions, rows and columns of the whole-file conversion (quotes, CRLF, blank lines, read in many pieces)', async () => {
    const rows = ['id,name,"note, with comma"'];
    for (let i = 1; i <= 20_000; i++) rows.push(i % 97 === 0 ? `${i},"Name ${i}","line one\r\nline ""two"""` : i % 50 === 0 ? `${i},Ünïcödé ${i},€\r\n` : `${i},Name ${i},plain`);
    const csv = rows.join('\r\n') + '\r\n';
    write('big.csv', csv);
    assert.ok(csv.length > 3 * 64 * 1024, 'several read chunks');
    const whole = convertCsvBytes(new TextEncoder().encode(csv), undefined, 'big.csv');
    const streamed = await stream('big.csv');
    assert.equal(streamed.text, whole.text);
    assert.deepEqual(streamed.positions, whole.positions);
    for (const k of ['rows', 'columns', 'delimiter', 'encoding'] as const) assert.deepEqual(streamed.meta?.[k], whole.meta?.[k], k);
    assert.equal(streamed.meta?.rows, 20_000);
    assert.equal(streamed.warnings, undefined);
    assert.equal(streamed.meta?.streamed, true);
    assert.match(spanTexts(streamed)[97], /^97,"Name 97","line one\nline ""two"""$/);
  });

  it('TSV and a semicolon CSV: the delimiter as for the whole file; UTF-16 with a byte order mark is decoded', async () => {
    write('t.tsv', 'a\tb\n1\t"x\ty"\n');
    const tsv = await stream('t.tsv');
    assert.equal(tsv.format, 'tsv');
    assert.deepEqual(tsv.meta?.columns, ['a', 'b']);
    write('s.csv', 'a;b\n1;2\n');
    assert.equal((await stream('s.csv')).meta?.delimiter, ';');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,city\nZoë,Köln\n', 'utf16le')]);
    write('u.csv', utf16);
    const doc = await stream('u.csv');
    assert.equal(doc.meta?.encoding, 'utf-16le');
    assert.deepEqual(spanTexts(doc), ['name,city', 'Zoë,Köln']);
  });

  it('a 200 MB file over the size limit: only the limit is read, the rest cut with a warning naming the flag, the cut record dropped', async () => {
    const rows = ['n,text'];
    for (let i = 1; i <= 60_000; i++) rows.push(i % 10 === 0 ? `${i},"multi\nline ${i}"` : `${i},row ${i}`);
    const p = write('huge.csv', rows.join('\n') + '\n');
    const written = fs.statSync(p).size;
    fs.truncateSync(p, 200 * MB); // sparse: NUL bytes after the rows
    const maxBytes = Math.floor(written / 2) + 7; // somewhere inside a record
    const doc = await stream('huge.csv', maxBytes);
    assert.equal(doc.meta?.fileBytes, 200 * MB);
    assert.ok((doc.meta?.readBytes as number) <= maxBytes);
    assert.ok(!doc.text.includes('\0'), 'nothing past the limit was read');
    const texts = spanTexts(doc);
    assert.equal(texts[0], 'n,text');
    const n = doc.meta?.rows as number;
    assert.ok(n > 1000 && n < 60_000);
    texts.slice(1).forEach((t, k) => assert.equal(t, rows[k + 1], `row ${k + 1} whole`));
    assert.ok(doc.text.length <= maxBytes);
    assert.equal(doc.warnings?.length, 1);
    assert.match(doc.warnings![0], /Only the first .* of the 200\.0 MB file were read \(\d+ rows, up to line \d+\).*--max-file-size-mb/);
    // cut inside a quoted field: dropped as well, no "unterminated quote"
    const inQuote = rows.slice(0, 10).join('\n').length + '\n10,"multi\nli'.length;
    const cutInQuote = await stream('huge.csv', inQuote);
    assert.equal(cutInQuote.meta?.rows, 9);
  });

  it('bad input gets a code naming the place: unterminated quote, invalid UTF-8 further on, binary, empty', async () => {
    const pad = 'x,y\n' + '1,2\n'.repeat(5000);
    write('quote.csv', pad + '3,"never closed\n4,5\n');
    await rejectsWithCode(stream('quote.csv'), ErrorCodes.CORRUPT_INPUT, message(/unterminated quote: a quoted field of the record starting on line 5002/));
    // an open quote in a file cut at the limit: the record runs on past 1 MB, not to the cut
    write('runaway.csv', 'a,b\n1,"open\n' + '2,3\n'.repeat(700_000));
    await rejectsWithCode(stream('runaway.csv', 2 * MB), ErrorCodes.CORRUPT_INPUT, message(/unterminated quote\? The record starting on line 2 is longer than 1 MB/));
    // (past the first read chunk: a head with invalid UTF-8 is read as windows-1252, below)
    write('utf8.csv', Buffer.concat([Buffer.from(pad.repeat(5) + 'é,ok\n'), Buffer.from([0x31, 0x2c, 0xff, 0xfe, 0x0a])]));
    await rejectsWithCode(stream('utf8.csv'), ErrorCodes.CORRUPT_INPUT, message(/not valid UTF-8 after byte \d+/));
    write('bin.csv', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 3]));
    await rejectsWithCode(stream('bin.csv'), ErrorCodes.UNSUPPORTED_CONTENT, message(/ELF/));
    write('empty.csv', '\n\n');
    await rejectsWithCode(stream('empty.csv'), ErrorCodes.EMPTY_DOCUMENT);
    // windows-1252 from the start is decoded as such, as for a whole file
    write('latin.csv', Buffer.from('name\nM\xfcller \x80\n', 'latin1'));
    assert.deepEqual(spanTexts(await stream('latin.csv')), ['name', 'Müller €']);
  });

  it('one verdict per file whatever its size: an unterminated quote fails both ways, rows of another width are kept with the same warning', async () => {
    const whole = (name: string) => convertCsvBytes(fs.readFileSync(path.join(dir, name)), undefined, name);
    // a quoted field never closed: CORRUPT_INPUT naming the record's line, read whole or streamed
    write('open.csv', 'x,y\n1,2\n3,"never closed\n4,5\n');
    const quote = message(/open\.csv: unterminated quote: a quoted field of the record starting on line 3 is never closed \(the file ends on line 4\)/);
    assert.throws(
      () => whole('open.csv'),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, ErrorCodes.CORRUPT_INPUT);
        quote(e);
        return true;
      },
    );
    await rejectsWithCode(stream('open.csv'), ErrorCodes.CORRUPT_INPUT, quote);
    // ragged rows: kept, the same text and spans, one warning naming the first
    write('ragged.csv', 'a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n');
    const small = whole('ragged.csv');
    const big = await stream('ragged.csv');
    assert.deepEqual(spanTexts(big), spanTexts(small));
    assert.deepEqual(spanTexts(small), ['a,b,c', '1,2,3', '4,5', '6,7,8,9', '10,11,12']);
    assert.deepEqual(small.warnings, ["2 rows have another number of fields than the header's 3 (first: line 3, 2 fields); kept as they are"]);
    assert.deepEqual(big.warnings, small.warnings);
    // a well-formed file has no warning either way
    write('even.csv', 'a,b\n1,2\n');
    assert.equal(whole('even.csv').warnings, undefined);
    assert.equal((await stream('even.csv')).warnings, undefined);
  });

  it('JSONL: the lines as they are, one span per value; a line that is not JSON is named; the stream matches the whole read', async () => {
    const lines = ['{"id":1,"name":"a"}', '', '  {"id":2, "tags":["x","y"]}', '[1,2]', '"text"'];
    const jsonl = lines.join('\r\n') + '\n';
    write('a.jsonl', jsonl);
    const whole = convertJsonlBytes(new TextEncoder().encode(jsonl), 'a.jsonl');
    assert.equal(whole.format, 'jsonl');
    assert.deepEqual(spanTexts(whole), lines.filter(Boolean));
    assert.deepEqual(whole.positions!.map((p) => p.line), [1, 3, 4, 5]);
    const streamed = await stream('a.jsonl');
    assert.equal(streamed.text, whole.text);
    assert.deepEqual(streamed.positions, whole.positions);
    write('bad.ndjson', '{"a":1}\n{"a":2}\n{"a":\n');
    await rejectsWithCode(stream('bad.ndjson'), ErrorCodes.CORRUPT_INPUT, message(/line 3 is not JSON/));
    await rejectsWithCode(registry.get('.ndjson')!.convert({ path: 'bad.ndjson', absPath: '', bytes: fs.readFileSync(path.join(dir, 'bad.ndjson')) }), ErrorCodes.CORRUPT_INPUT, message(/line 3 is not JSON/));
    await rejectsWithCode(registry.get('.jsonl')!.convert({ path: 'e.jsonl', absPath: '', bytes: new TextEncoder().encode('\n \n') }), ErrorCodes.EMPTY_DOCUMENT);
    // cut at the limit: the partial last line is dropped, not reported as bad JSON
    const many = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, pad: 'p'.repeat(i % 40) })).join('\n');
    write('many.jsonl', many);
    const cut = await stream('many.jsonl', Math.floor(many.length / 3) + 5);
    assert.equal(cut.warnings?.length, 1);
    assert.ok((cut.meta?.records as number) < 3000);
    assert.deepEqual(spanTexts(cut), many.split('\n').slice(0, cut.meta?.records as number));
  });

  it('reading: above the stream threshold or the size limit a streaming type is hashed as a stream, not read, and not rejected for its size', async () => {
    const p = write('r.csv', 'a,b\n' + '1,2\n'.repeat(1000));
    const bytes = fs.readFileSync(p);
    const csv = registry.get('.csv')!;
    const streamedRead = await readSource(p, 50 * MB, csv.stream?.aboveBytes);
    assert.equal(streamedRead.bytes, undefined);
    assert.equal(streamedRead.contentHash, sha256(bytes));
    const small = await readSource(p, 50 * MB, 1 * MB);
    assert.deepEqual(Buffer.from(small.bytes!), bytes);
    const overLimit = await readSource(p, 100, 1 * MB);
    assert.equal(overLimit.bytes, undefined, 'over the size limit: streamed, not rejected');
    assert.equal(overLimit.contentHash, sha256(bytes), 'the hash covers the whole file, not only what is converted');
    const doc = await convertSource(csv, overLimit, { path: 'r.csv', absPath: p }, 100);
    assert.equal(doc.meta?.rows, 24, 'the limit falls right after the 24th row: it is kept');
    assert.equal(doc.warnings?.length, 1);
    await rejectsWithCode(readSource(p, 100), ErrorCodes.TOO_LARGE);
    // admission: only types read whole are rejected for their size
    assert.equal(isTooLarge({ path: 'r.csv', size: 5000 }, registry, 100), false);
    assert.equal(rejectionOf({ path: 'r.jsonl', size: 5000 }, registry, 100), undefined);
    assert.match(rejectionOf({ path: 'r.txt', size: 5000 }, registry, 100) ?? '', /Too large/);
  });
});
