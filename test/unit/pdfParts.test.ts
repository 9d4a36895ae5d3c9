/** Joining page ranges of a PDF (assemble.ts) and the synchronous DecompressionStream of the PDF worker. */
import * as assert from 'assert';
import * as fs from 'fs';
import { createRequire } from 'module';
import * as path from 'path';
import * as zlib from 'zlib';
import { ErrorCodes } from '../../src/core/errors';
import { assembleParts, PAGE_SEPARATOR, SpanWriter, type PartResult } from '../../src/convert/pdf/assemble';
import { MIN_PAGES_GIVEN, pagesToGiveAway } from '../../src/convert/pdf/splitPolicy';
import { SyncDecompressionStream } from '../../src/convert/pdf/syncInflate';
import type { PageInfo } from '../../src/convert/types';
import { rejectsWithCode } from '../support/assertions';
import { REPO_ROOT, WORKER_PATH, requireBuiltWorker, rng } from '../fixtures/pdf/generate';

/** Pages `first..last` with the given texts (empty string: no text on that page, an image unless `blank`), one span per word. */
function part(first: number, texts: string[], o: { numPages?: number; limit?: number; failed?: number[]; blank?: number[]; info?: Record<string, string> } = {}): PartResult {
  const numPages = o.numPages ?? 10;
  let text = '';
  const pages: PageInfo[] = [];
  const spans = new SpanWriter();
  const ocrPages: number[] = [];
  const blankPages: number[] = [];
  const warnings: string[] = [];
  texts.forEach((t, i) => {
    const n = first + i;
    if (i > 0) text += PAGE_SEPARATOR;
    const start = text.length;
    for (const m of t.matchAll(/\S+/g)) spans.add(start + m.index!, start + m.index! + m[0].length, n, [n, m.index! + 0.25, n + 1, m.index! + 1]);
    text += t;
    const info: PageInfo = { page: n, start, end: text.length, width: 612, height: 792 };
    if (o.failed?.includes(n)) warnings.push(`Page ${n}: text extraction failed: broken`);
    else if (t.trim() === '' && o.blank?.includes(n)) blankPages.push(n);
    else if (t.trim() === '') {
      info.needsOcr = true;
      ocrPages.push(n);
    }
    pages.push(info);
  });
  return {
    firstPage: first,
    lastPage: first + texts.length - 1,
    numPages,
    limit: o.limit ?? numPages,
    text,
    pages,
    ...spans.finish(),
    failedPages: o.failed ?? [],
    blankPages,
    ocrPages,
    warnings,
    ...(o.info ? { info: o.info } : {}),
  };
}

const TEXTS = ['alpha one', 'beta two', '', 'gamma three', 'delta four', 'epsilon', 'zeta six', '', 'eta eight', 'theta nine'];

describe('pdf/assemble: joining page ranges', () => {
  it('any split into ranges gives exactly the document of one range (text, pages, positions, warnings, meta)', () => {
    const info = { title: 'T' };
    const whole = assembleParts([part(1, TEXTS, { info })]);
    assert.strictEqual(whole.text, TEXTS.join(PAGE_SEPARATOR));
    const r = rng(42);
    for (let trial = 0; trial < 50; trial++) {
      // random cut points
      const cuts = [...new Set(Array.from({ length: 1 + Math.floor(r() * 4) }, () => 1 + Math.floor(r() * 9)))].sort((a, b) => a - b);
      const bounds = [0, ...cuts, 10];
      const parts: PartResult[] = [];
      for (let k = 0; k + 1 < bounds.length; k++) {
        parts.push(part(bounds[k] + 1, TEXTS.slice(bounds[k], bounds[k + 1]), k === 0 ? { info } : {}));
      }
      // parts arrive in any order
      parts.reverse();
      assert.deepStrictEqual(assembleParts(parts), whole, `cuts ${cuts.join(',')}`);
    }
    assert.deepStrictEqual(whole.meta, { pageCount: 10, title: 'T', needsOcrPages: [3, 8] });
    assert.deepStrictEqual(whole.warnings, ['2 of 10 pages have no text layer (need OCR): 3, 8']);
    // the offsets of a later range point at its text
    const eta = whole.positions!.find((p) => p.page === 9)!;
    assert.deepStrictEqual(eta, { start: eta.start, end: eta.start + 3, page: 9, bbox: [9, 0.25, 10, 1] });
    assert.strictEqual(whole.text.slice(eta.start, eta.end), 'eta');
    assert.strictEqual(whole.positions!.length, TEXTS.join(' ').split(/\s+/).filter(Boolean).length);
  });

  it('page limit and failed pages: warnings in page order, limit warning last', () => {
    const doc = assembleParts([part(1, ['a', 'b', 'c'], { numPages: 20, limit: 6, failed: [2] }), part(4, ['d', '', 'f'], { numPages: 20, limit: 6, failed: [5] })]);
    assert.deepStrictEqual(doc.warnings, ['Page 2: text extraction failed: broken', 'Page 5: text extraction failed: broken', 'Only the first 6 of 20 pages were converted']);
    assert.strictEqual(doc.pages!.length, 6);
    assert.strictEqual(doc.meta!.pageCount, 20);
  });

  it('every page unreadable → PDF_CORRUPT; no text in any range → NEEDS_OCR with all pages', async () => {
    await rejectsWithCode(
      Promise.resolve().then(() => assembleParts([part(1, ['', ''], { numPages: 4, failed: [1, 2] }), part(3, ['', ''], { numPages: 4, failed: [3, 4] })])),
      ErrorCodes.PDF_CORRUPT,
      (e) => assert.deepStrictEqual(e.details?.pages, [1, 2, 3, 4]),
    );
    await rejectsWithCode(
      Promise.resolve().then(() => assembleParts([part(1, ['', ' '], { numPages: 3 }), part(3, [''], { numPages: 3 })])),
      ErrorCodes.NEEDS_OCR,
      (e) => {
        assert.deepStrictEqual(e.details, { pages: [1, 2, 3], pageCount: 3 });
        assert.strictEqual(e.retryable, false);
      },
    );
  });

  it('no text and no page with an image → EMPTY_DOCUMENT; blank pages next to text are no warning', async () => {
    await rejectsWithCode(
      Promise.resolve().then(() => assembleParts([part(1, ['', ''], { numPages: 3, blank: [1, 2] }), part(3, [''], { numPages: 3, blank: [3] })])),
      ErrorCodes.EMPTY_DOCUMENT,
      (e) => assert.deepStrictEqual(e.details, { pages: [1, 2, 3], pageCount: 3 }),
    );
    await rejectsWithCode(
      Promise.resolve().then(() => assembleParts([part(1, ['', ''], { numPages: 2, blank: [1] })])),
      ErrorCodes.NEEDS_OCR,
      (e) => assert.deepStrictEqual(e.details, { pages: [2], pageCount: 2 }),
    );
    const doc = assembleParts([part(1, ['one', '', 'three'], { numPages: 3, blank: [2] })]);
    assert.strictEqual(doc.warnings, undefined);
    assert.deepStrictEqual(doc.meta?.blankPages, [2]);
    assert.ok(doc.pages!.every((p) => !p.needsOcr));
  });

  it('ranges with a gap, an overlap or from another document are an internal error, not a wrong text', async () => {
    const mismatched = part(1, ['a b'], { numPages: 1 });
    mismatched.boxes = new Float64Array(4);
    const bad: [string, PartResult[]][] = [
      ['gap', [part(1, ['a', 'b'], { numPages: 5 }), part(4, ['d', 'e'], { numPages: 5 })]],
      ['overlap', [part(1, ['a', 'b', 'c'], { numPages: 5 }), part(3, ['c', 'd', 'e'], { numPages: 5 })]],
      ['short', [part(1, ['a', 'b'], { numPages: 5 })]],
      ['other document', [part(1, ['a', 'b'], { numPages: 4 }), part(3, ['c', 'd', 'e'], { numPages: 5 })]],
      ['none', []],
      ['spans without boxes', [mismatched]],
    ];
    for (const [name, parts] of bad) {
      await rejectsWithCode(Promise.resolve().then(() => assembleParts(parts)), ErrorCodes.INTERNAL, (e) => assert.ok(e.message.length > 10, name));
    }
  });
});

describe('pdf/splitPolicy: pages given to an idle worker', () => {
  it('balances the finish times, counting the reopen the helper pays', () => {
    // 40 pages left after the current one, 5 ms a page, reopening costs 4 pages' worth: give 18, keep 23
    assert.strictEqual(pagesToGiveAway(40, 5, 20), 18);
    const given = pagesToGiveAway(40, 5, 20);
    const helper = 20 + given * 5;
    const owner = (40 + 1 - given) * 5;
    assert.ok(Math.abs(helper - owner) <= 5, `helper ${helper} ms vs owner ${owner} ms`);
    // free reopen: half of the pages incl. the current one
    assert.strictEqual(pagesToGiveAway(40, 5, 0), 20);
  });

  it('refuses when too few pages are left or the reopen would eat the gain', () => {
    assert.strictEqual(pagesToGiveAway(5, 5, 0), 0, 'below MIN_SPLIT_PAGES');
    assert.strictEqual(pagesToGiveAway(10, 5, 40), 0, 'reopen worth 8 pages of 11');
    assert.ok(pagesToGiveAway(12, 5, 10) >= MIN_PAGES_GIVEN);
  });

  it('never gives more than the pages not started, and copes with unusable timings', () => {
    for (const [pageMs, openMs] of [[0, 10], [Number.NaN, 5], [5, Number.NaN], [1e-9, 1e9], [5, -3]]) {
      const g = pagesToGiveAway(30, pageMs, openMs);
      assert.ok(g === 0 || (g >= MIN_PAGES_GIVEN && g <= 30), `${pageMs}/${openMs} → ${g}`);
    }
    assert.strictEqual(pagesToGiveAway(30, 0, 10), 15, 'no page time yet: half');
  });
});

/** Drives a DecompressionStream the way pdf.js 5.x does (asyncGetBytesFromDecompressionStream). */
type DecompressionStreamLike = new (format: string) => {
  readable: AsyncIterable<Uint8Array>;
  writable: { getWriter(): { ready: Promise<void>; write(b: Uint8Array): Promise<void>; close(): Promise<void> } };
};

async function inflateLikePdfjs(Ctor: DecompressionStreamLike, format: string, bytes: Uint8Array): Promise<Uint8Array | null> {
  try {
    const { readable, writable } = new Ctor(format);
    const writer = writable.getWriter();
    await writer.ready;
    writer
      .write(bytes)
      .then(async () => {
        await writer.ready;
        await writer.close();
      })
      .catch(() => {});
    const chunks: Uint8Array[] = [];
    for await (const chunk of readable) chunks.push(chunk);
    return new Uint8Array(Buffer.concat(chunks));
  } catch {
    return null;
  }
}

describe('pdf/syncInflate: DecompressionStream stand-in', () => {
  const Native = (globalThis as unknown as { DecompressionStream: DecompressionStreamLike }).DecompressionStream;
  const r = rng(7);
  const payload = new Uint8Array(Array.from({ length: 200_000 }, (_, i) => (i % 97 < 50 ? 65 + (i % 26) : Math.floor(r() * 256))));

  it('gives the same bytes as the real DecompressionStream for deflate, raw deflate, gzip and trailing bytes', async () => {
    for (const [format, packed] of [
      ['deflate', zlib.deflateSync(payload)],
      ['deflate-raw', zlib.deflateRawSync(payload)],
      ['gzip', zlib.gzipSync(payload)],
      // PDF streams often carry an end-of-line after the compressed data
      ['deflate', Buffer.concat([zlib.deflateSync(payload), Buffer.from('\r\n')])],
    ] as const) {
      const ours = await inflateLikePdfjs(SyncDecompressionStream, format, new Uint8Array(packed));
      const native = await inflateLikePdfjs(Native, format, new Uint8Array(packed));
      assert.ok(ours && native, format);
      assert.deepStrictEqual(Buffer.from(ours), Buffer.from(native), format);
      assert.deepStrictEqual(Buffer.from(ours), Buffer.from(payload), format);
    }
  });

  it('fails like the real one on truncated or corrupt data (pdf.js then uses its own lenient inflater)', async () => {
    const packed = new Uint8Array(zlib.deflateSync(payload));
    const truncated = packed.slice(0, packed.length >> 1);
    const corrupt = packed.slice();
    corrupt[0] = 0x12; // bad zlib header
    for (const [name, bytes] of [
      ['truncated', truncated],
      ['corrupt', corrupt],
    ] as const) {
      assert.strictEqual(await inflateLikePdfjs(Native, 'deflate', bytes), null, `native ${name}`);
      assert.strictEqual(await inflateLikePdfjs(SyncDecompressionStream, 'deflate', bytes), null, `ours ${name}`);
    }
  });

  it('an unsupported format throws at construction (pdf.js probes brotli)', () => {
    assert.throws(() => new SyncDecompressionStream('brotli'), TypeError);
    assert.throws(() => new Native('brotli'), TypeError);
  });
});

interface PdfjsPatchesModule {
  PATCHES: { name: string; file: RegExp; find: string; replace: string; built?: string }[];
  applyPdfjsPatches(path: string, source: string): string;
}

const countOf = (haystack: string, needle: string) => haystack.split(needle).length - 1;

/** Exact description of a value: -0, NaN, undefined, holes, key order, prototypes and shared references / cycles. */
function exactForm(v: unknown, seen = new Map<object, number>()): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v !== 'object') return `${typeof v}:${String(v)}`;
  const ref = seen.get(v);
  if (ref !== undefined) return `<ref ${ref}>`;
  seen.set(v, seen.size);
  const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
  const tag = proto === null ? 'null-proto' : (proto.constructor?.name ?? '?');
  if (ArrayBuffer.isView(v)) return `${tag}[${Array.from(v as unknown as ArrayLike<number>).join(',')}]`;
  const keys = Reflect.ownKeys(v).filter((k): k is string => typeof k === 'string');
  const body = keys.map((k) => {
    const d = Object.getOwnPropertyDescriptor(v, k)!;
    return `${JSON.stringify(k)}${d.enumerable ? '' : '(hidden)'}:${'value' in d ? exactForm(d.value, seen) : 'accessor'}`;
  });
  return `${tag}{${body.join(',')}}`;
}

describe('pdf.js source patches (scripts/pdfjs-patches.js)', () => {
  const requireFromRepo = createRequire(path.join(REPO_ROOT, 'package.json'));
  const { PATCHES, applyPdfjsPatches } = requireFromRepo('./scripts/pdfjs-patches.js') as PdfjsPatchesModule;
  const workerSource = requireFromRepo.resolve('pdfjs-dist/legacy/build/pdf.worker.mjs');
  const apiSource = requireFromRepo.resolve('pdfjs-dist/legacy/build/pdf.mjs');
  const original = fs.readFileSync(workerSource, 'utf8');
  const originalApi = fs.readFileSync(apiSource, 'utf8');

  it('every patch matches the installed pdf.js exactly once, and the built worker carries it', () => {
    const sources = new Map([
      [workerSource, { original, patched: applyPdfjsPatches(workerSource, original) }],
      [apiSource, { original: originalApi, patched: applyPdfjsPatches(apiSource, originalApi) }],
    ]);
    requireBuiltWorker();
    const built = fs.readFileSync(WORKER_PATH, 'utf8').replace(/\s+/g, ' ');
    for (const p of PATCHES) {
      const targets = [...sources.keys()].filter((f) => p.file.test(f));
      assert.strictEqual(targets.length, 1, `${p.name}: patches one pdf.js file`);
      const { original: before, patched } = sources.get(targets[0])!;
      assert.strictEqual(countOf(before, p.find), 1, p.name);
      // the code found is gone, except where the replacement keeps it (code inserted before it)
      assert.ok(countOf(patched, p.replace) >= 1 && countOf(patched, p.find) === countOf(p.replace, p.find), p.name);
      // the bundler reformats, so look for a distinctive piece of the patched code as the bundle prints it
      const piece = (p.built ?? p.replace.split('\n')[1]).trim().replace(/\s+/g, ' ');
      assert.ok(built.includes(piece), `dist/pdfWorker.js lacks "${p.name}"`);
    }
  });

  it('a pdf.js whose code changed fails the build instead of being patched wrong', () => {
    const p = PATCHES[0];
    assert.throws(() => applyPdfjsPatches(workerSource, original.replace(p.find, '/* changed upstream */')), /found it 0 times.*pdfjs-dist upgraded/);
    assert.throws(() => applyPdfjsPatches(workerSource, `${p.find}\n${p.find}`), /found it 2 times/);
    assert.strictEqual(applyPdfjsPatches('/elsewhere/other.mjs', 'unrelated'), 'unrelated', 'other files are left alone');
  });

  it('the glyph matrix patch computes exactly what pdf.js computes (bit for bit, incl. -0, NaN, Infinity, Float32Array ctm)', () => {
    // pdf.js' own Util.transform, taken from the installed file
    const body = /static transform\(m1, m2\) \{\s*(return \[.*\];)\n/.exec(original)?.[1];
    assert.ok(body, 'Util.transform found in pdf.worker.mjs');
    const utilTransform = new Function('m1', 'm2', body) as (a: ArrayLike<number>, b: ArrayLike<number>) => number[];
    const p = PATCHES.find((x) => x.find.includes('Util.transform(textState.ctm'))!;
    const patched = new Function('textState', 'tsm', p.replace) as (s: { ctm: ArrayLike<number>; textMatrix: ArrayLike<number> }, tsm: number[]) => number[];
    const r = rng(99);
    const special = [0, -0, 1, -1, Number.NaN, Infinity, -Infinity, 1e-300, 1e300, 0.1];
    const pick = () => (r() < 0.15 ? special[Math.floor(r() * special.length)] : (r() - 0.5) * 10 ** Math.floor(r() * 8 - 3));
    for (let i = 0; i < 20_000; i++) {
      const ctm = i % 2 ? Float32Array.from({ length: 6 }, pick) : Array.from({ length: 6 }, pick);
      const textMatrix = Array.from({ length: 6 }, pick);
      const tsm = [pick(), 0, 0, pick(), 0, pick()];
      const want = utilTransform(ctm, utilTransform(textMatrix, tsm));
      const got = patched({ ctm, textMatrix }, tsm);
      assert.strictEqual(got.length, 6);
      for (let k = 0; k < 6; k++) assert.ok(Object.is(got[k], want[k]), `case ${i}, element ${k}: ${got[k]} vs ${want[k]}`);
    }
  });

  it('a copied text state reads like pdf.js\' copy (own fields, same values, through copies of copies)', () => {
    // pdf.js' TextState class, unpatched and patched, taken from the installed file
    const classOf = (source: string) => {
      const text = /\nclass TextState \{[\s\S]*?\n\}\n/.exec(source)?.[0];
      assert.ok(text, 'class TextState found in pdf.worker.mjs');
      return new Function('IDENTITY_MATRIX', 'FONT_IDENTITY_MATRIX', `${text}\nreturn TextState;`)([1, 0, 0, 1, 0, 0], [0.001, 0, 0, 0.001, 0, 0]) as new () => Record<string, unknown> & { clone(): Record<string, unknown> };
    };
    const Before = classOf(original);
    const After = classOf(applyPdfjsPatches(workerSource, original));
    const run = (C: typeof Before) => {
      const states = [new C()];
      const r = rng(7);
      for (let i = 0; i < 40; i++) {
        const s = states[Math.floor(r() * states.length)];
        const c = s.clone() as typeof s;
        c.fontSize = Math.floor(r() * 20);
        (c.textMatrix as number[])[4] = i;
        if (i % 3 === 0) c.font = { name: `F${i}` };
        if (i % 5 === 0) s.charSpacing = i; // the source changes after the copy
        states.push(c);
      }
      return states;
    };
    const a = run(Before), b = run(After);
    const names = [...new Set([...Object.keys(new Before()), ...Object.getOwnPropertyNames(Before.prototype)])];
    a.forEach((s, i) => {
      assert.ok(b[i] instanceof After);
      assert.deepStrictEqual(Object.keys(b[i]), Object.keys(s), `state ${i}: own fields`);
      for (const k of names) {
        const x = s[k], y = b[i][k];
        assert.strictEqual(typeof y, typeof x, `state ${i}.${k}`);
        if (typeof x !== 'function') assert.strictEqual(exactForm(y), exactForm(x), `state ${i}.${k}`);
      }
    });
  });

  it('the port copies what structuredClone copies, and hands everything else to structuredClone', () => {
    const p = PATCHES.find((x) => x.replace.includes('function cloneMessage('))!;
    const helpers = p.replace.slice(0, p.replace.lastIndexOf('class LoopbackPort {'));
    const cloneMessage = new Function(`${helpers}\nreturn cloneMessage;`)() as (v: unknown) => unknown;
    const styles = Object.create(null) as Record<string, unknown>;
    styles.g_d0_f1 = { fontFamily: 'serif', ascent: 0.891, descent: -0.216, vertical: false };
    const shared = [12, 0, 0, 12, 72, -0];
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    const deep: Record<string, unknown> = {};
    let d = deep;
    for (let i = 0; i < 80; i++) d = (d.next = {}) as Record<string, unknown>;
    const holes: (number | undefined)[] = new Array(3);
    holes[0] = 1;
    holes[2] = 3;
    const withUndefined = [1, undefined, 3];
    const protoKey = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as unknown;
    class Item {
      str = 'x';
    }
    const values: unknown[] = [
      { sourceName: 'worker', targetName: 'main', stream: 4, streamId: 7, chunk: { items: [{ str: 'ﬁne ß – 日本', dir: 'ltr', width: 1e-7, height: NaN, transform: shared, fontName: 'g_d0_f1', hasEOL: false }, { str: ' ', transform: shared, x: undefined, inf: -Infinity }], styles, lang: null } },
      { isReply: true, callbackId: 3, data: { rotate: 0, ref: { num: 4, gen: 0 }, view: [0, 0, 612, 792] } },
      cyclic,
      withUndefined,
      [[], {}, '', 0, -0, true],
      'text',
      42,
      null,
      undefined,
      // not plain data: structuredClone's copy
      { bytes: new Uint8Array([1, 2, 3]), map: new Map([[1, 'a']]), date: new Date(0) },
      { items: [new Item()] },
      holes,
      deep,
      protoKey,
    ];
    for (const v of values) {
      const got = cloneMessage(v);
      assert.strictEqual(exactForm(got), exactForm(structuredClone(v)), exactForm(v).slice(0, 80));
      if (v !== null && typeof v === 'object') assert.notStrictEqual(got, v, 'a copy');
    }
    // shared references stay shared, cycles stay cycles
    const c = cloneMessage({ a: shared, b: shared, cyclic }) as { a: unknown; b: unknown; cyclic: { self: unknown } };
    assert.ok(c.a === c.b && c.a !== shared && c.cyclic.self === c.cyclic);
    // what structuredClone refuses, the copy refuses the same way
    assert.throws(() => cloneMessage({ f() {} }), (e: Error) => e.name === 'DataCloneError');
    assert.throws(() => cloneMessage({ s: Symbol('s') }), (e: Error) => e.name === 'DataCloneError');
  });
});
