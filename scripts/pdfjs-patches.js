// esbuild plugin: exact source patches of pdf.js for the PDF worker bundle (dist/pdfWorker.js) only.
//
// Why: most of the worker's time is inside pdf.js (see src/convert/pdf/worker.ts), and this bundle only
// ever extracts text (getTextContent, getMetadata): it never renders. Measured on the benchmark corpus,
// old and new bundles alternated: pages/s of the in-thread conversion loop (medians of 9–21 runs) text
// state copy +14 %, font programs +10–14 %, port copy +2–7 % (small next to the noise; its share of the
// profile fell from ~8 % to ~6 %), all four patches +31 % over the glyph matrix patch alone; the
// benchmark itself (`BENCH_ONLY=convert npm run bench`, 12 alternated runs each, medians) 260 → 322
// pages/s, 0.47× → 0.60× pdftotext, 135 → 165 pages per CPU-second. With the patches, the converted
// text, page boundaries and position spans of the benchmark corpus, of more Debian PDFs (TrueType, Type1C,
// CID fonts, re-embedded by cairo / ghostscript) and of the test fixtures (standard 14 fonts, CJK,
// vertical, Type3, rotated) compare equal, and so does pdf.js' own text content (every item, style and
// number, -0 included).
//
//  - glyph text matrix: computed 2–4 times per glyph as two nested `Util.transform` calls (three
//    short-lived arrays, a polymorphic call); written out inline with the same operations in the same
//    order (the same numbers bit for bit) and one array.
//  - text state copy: every `q` (save) copied the text state with `Object.create(this)`, which turns
//    the old state into a prototype: a new hidden class per copy, and every access to the state in the
//    glyph loop went megamorphic. The copy now has the class prototype; all fields are own fields, so
//    every read gives the same value.
//  - font programs: for every font pdf.js parsed the font program and then compiled it into an OpenType
//    file (Type1 → CFF, CFF recompiled, OpenType tables, TrueType rebuilt) for a browser font face or
//    glyph paths, ~40 % of the font time. Text extraction reads only what parsing sets: the unicode
//    mapping (toUnicode, adjusted in `convert` before the file is built), widths, vertical metrics,
//    font matrix, ascent/descent (hhea of TrueType files), bbox, the glyph mapping. Those steps still
//    run; only the file is not written, so `font.data` stays undefined as for a font without a file
//    (which pdf.js handles). One difference, outside the corpus: a font program that parses but whose
//    compilation throws no longer falls back to a standard font; its parsed mapping and metrics are used.
//  - port copy: pdf.js' "worker" runs in this thread and every message (a text chunk per ≤100 items,
//    pull requests, replies) went through `structuredClone`, ~10 % of the time. A copy is needed (pdf.js
//    reuses the object it sends). For plain data (objects, arrays, primitives) a JS copy makes the same
//    result ~3× faster: own enumerable keys in order, a null-prototype object becomes a plain one, shared
//    references and cycles are kept; anything else (typed arrays, class instances, holes, functions,
//    `__proto__` keys, nesting deeper than 64, a transfer list) goes to `structuredClone` as before. Over
//    the corpus the copy equalled structuredClone's for every one of 48,626 messages (arrays with extra
//    named properties would lose them; pdf.js sends none).
//  - decoded stream bytes within the memory limit: pdf.js keeps decoded streams in typed arrays, outside
//    the V8 heap that the worker's `resourceLimits` bound, so a flate bomb (a 1 MB PDF inflating to GBs)
//    took gigabytes of RSS. `DecodeStream.ensureBuffer`, through which every JavaScript decoder (and the
//    concatenation of a page's content streams) grows its buffer, asks the worker's decode budget first
//    (src/convert/pdf/decodeBudget.ts); over the limit it throws, and the worker fails the document with
//    TOO_LARGE. Nothing else changes: the check is a call that returns.
//  - images noted, not decoded: this bundle never renders, but `getOperatorList` (used only to tell a
//    scanned page — images, no text — from a blank one) decoded every image it met. It now records a
//    `paintImageXObject` op with the image's size and returns before decoding. `getTextContent` never
//    reaches this code for page images (it skips them); glyphs of Type3 fonts that are images no longer
//    get a compiled image, which text extraction does not read. While OCR reads a scanned page's
//    operator list (`globalThis.__extractionWorkbenchDecodeImages` = its pixel limit), images within the
//    limit are decoded as upstream does.
//
// Each patch must match exactly once, or the build fails: a pdfjs-dist upgrade that changes the code
// cannot silently drop or misapply it — re-check the patch then (or drop it if upstream got faster).
// `built` is a piece of the patched code as it reads in dist/pdfWorker.js (test/unit/pdfParts.test.ts
// checks that the bundle carries every patch). The review webview's copy of pdf.js is not patched (it
// renders, it does not extract text).
const fs = require('fs');

const WORKER = /pdfjs-dist[\\/]legacy[\\/]build[\\/]pdf\.worker\.mjs$/;
const API = /pdfjs-dist[\\/]legacy[\\/]build[\\/]pdf\.mjs$/;

const PATCHES = [
  {
    name: 'text matrix of a glyph without temporary arrays',
    file: WORKER,
    find: 'return Util.transform(textState.ctm, Util.transform(textState.textMatrix, tsm));',
    replace: [
      // Util.transform(textMatrix, tsm), then Util.transform(ctm, that), written out
      'const m = textState.textMatrix, c = textState.ctm;',
      'const t0 = m[0] * tsm[0] + m[2] * tsm[1], t1 = m[1] * tsm[0] + m[3] * tsm[1], t2 = m[0] * tsm[2] + m[2] * tsm[3], t3 = m[1] * tsm[2] + m[3] * tsm[3], t4 = m[0] * tsm[4] + m[2] * tsm[5] + m[4], t5 = m[1] * tsm[4] + m[3] * tsm[5] + m[5];',
      'return [c[0] * t0 + c[2] * t1, c[1] * t0 + c[3] * t1, c[0] * t2 + c[2] * t3, c[1] * t2 + c[3] * t3, c[0] * t4 + c[2] * t5 + c[4], c[1] * t4 + c[3] * t5 + c[5]];',
    ].join('\n'),
  },
  {
    name: 'text state copy without a prototype chain',
    file: WORKER,
    find: ['  clone() {', '    const clone = Object.assign(Object.create(this), this);', '    clone.textMatrix = this.textMatrix.slice();'].join('\n'),
    replace: ['  clone() {', '    const clone = Object.assign(Object.create(Object.getPrototypeOf(this)), this);', '    clone.textMatrix = this.textMatrix.slice();'].join('\n'),
  },
  {
    name: 'CFF font program parsed, not recompiled',
    file: WORKER,
    find: [
      '    const compiler = new CFFCompiler(this.cff);',
      '    this.seacs = this.cff.seacs;',
      '    try {',
      '      this.data = compiler.compile();',
      '    } catch {',
      '      warn("Failed to compile font " + properties.loadedName);',
      '      this.data = file;',
      '    }',
    ].join('\n'),
    replace: ['    this.seacs = this.cff.seacs;', '    this.data = undefined;'].join('\n'),
    built: 'this.seacs = this.cff.seacs; this.data = void 0; this._createBuiltInEncoding();',
  },
  {
    name: 'Type1 font program parsed, not compiled to CFF',
    file: WORKER,
    find: [
      '    const type2Charstrings = this.getType2Charstrings(charstrings);',
      '    const subrs = this.getType2Subrs(data.subrs);',
      '    this.charstrings = charstrings;',
      '    this.data = this.wrap(name, type2Charstrings, this.charstrings, subrs, properties);',
    ].join('\n'),
    replace: ['    this.charstrings = charstrings;', '    this.data = undefined;'].join('\n'),
    built: 'this.charstrings = charstrings; this.data = void 0; this.seacs = this.getSeacs(data.charstrings);',
  },
  {
    // Font.convert: the glyph mapping, toUnicode adjustment and seac map above this line still run
    name: 'no OpenType file built for a CFF/Type1 font',
    file: WORKER,
    find: '    const unitsPerEm = properties.fontMatrix ? 1 / Math.max(...properties.fontMatrix.slice(0, 4).map(Math.abs)) : 1000;\n',
    replace: '    return undefined;\n    const unitsPerEm = properties.fontMatrix ? 1 / Math.max(...properties.fontMatrix.slice(0, 4).map(Math.abs)) : 1000;\n',
    built: 'return void 0; const unitsPerEm = properties.fontMatrix ?',
  },
  {
    // Font.checkAndRepair: everything it reads and sets (metrics, glyph names, mapping, toUnicode) still runs
    name: 'no TrueType file written',
    file: WORKER,
    find: '    const builder = new OpenTypeFileBuilder(header.version);\n',
    replace: '    return undefined;\n    const builder = new OpenTypeFileBuilder(header.version);\n',
    built: 'return void 0; const builder = new OpenTypeFileBuilder(header.version);',
  },
  {
    name: 'in-thread port: plain data copied without structuredClone (the copy)',
    file: API,
    find: 'class LoopbackPort {\n',
    replace: [
      'const CLONE_UNSUPPORTED = {};',
      'function cloneData(v, seen, depth) {',
      '  if (typeof v !== "object" || v === null) {',
      '    if (typeof v === "function" || typeof v === "symbol") throw CLONE_UNSUPPORTED;',
      '    return v;',
      '  }',
      '  let c = seen.get(v);',
      '  if (c !== undefined) return c;',
      '  if (depth > 64) throw CLONE_UNSUPPORTED;',
      '  if (Array.isArray(v)) {',
      '    if (Object.getPrototypeOf(v) !== Array.prototype) throw CLONE_UNSUPPORTED;',
      '    c = [];',
      '    seen.set(v, c);',
      '    for (let i = 0, n = v.length; i < n; i++) {',
      '      const x = v[i];',
      '      if (x === undefined && !Object.hasOwn(v, i)) throw CLONE_UNSUPPORTED;',
      '      c.push(cloneData(x, seen, depth + 1));',
      '    }',
      '    return c;',
      '  }',
      '  const proto = Object.getPrototypeOf(v);',
      '  if (proto !== Object.prototype && proto !== null) throw CLONE_UNSUPPORTED;',
      '  c = {};',
      '  seen.set(v, c);',
      '  for (const k of Object.keys(v)) {',
      '    if (k === "__proto__") throw CLONE_UNSUPPORTED;',
      '    c[k] = cloneData(v[k], seen, depth + 1);',
      '  }',
      '  return c;',
      '}',
      'function cloneMessage(obj) {',
      '  try {',
      '    return cloneData(obj, new Map(), 0);',
      '  } catch (e) {',
      '    if (e !== CLONE_UNSUPPORTED) throw e;',
      '    return structuredClone(obj);',
      '  }',
      '}',
      'class LoopbackPort {\n',
    ].join('\n'),
  },
  {
    name: 'in-thread port: plain data copied without structuredClone (the call)',
    file: API,
    find: '      data: structuredClone(obj, transfer ? {',
    replace: '      data: !transfer ? cloneMessage(obj) : structuredClone(obj, transfer ? {',
    built: 'data: !transfer ? cloneMessage(obj) : structuredClone(obj, transfer ?',
  },
  {
    name: 'decoded stream bytes checked against the memory limit',
    file: WORKER,
    find: ['    const buffer2 = new Uint8Array(size);', '    buffer2.set(buffer);', '    return this.buffer = buffer2;'].join('\n'),
    replace: [
      '    globalThis.__extractionWorkbenchCheckDecode?.(size);',
      '    const buffer2 = new Uint8Array(size);',
      '    buffer2.set(buffer);',
      '    return this.buffer = buffer2;',
    ].join('\n'),
    built: 'globalThis.__extractionWorkbenchCheckDecode?.(size); const buffer2 = new Uint8Array(size);',
  },
  {
    name: 'images noted in the operator list, not decoded',
    file: WORKER,
    find: '    if (maxImageSize !== -1 && w * h > maxImageSize) {\n',
    // OCR (src/convert/pdf/pageImage.ts) sets __extractionWorkbenchDecodeImages to a pixel limit while it
    // reads a scanned page's operator list: images within it are decoded as pdf.js would, larger ones are
    // noted with their size only (the worker reports them TOO_LARGE)
    replace:
      '    if (!(globalThis.__extractionWorkbenchDecodeImages >= w * h)) {\n      operatorList.addOp(OPS.paintImageXObject, [null, w, h]);\n      return;\n    }\n    if (maxImageSize !== -1 && w * h > maxImageSize) {\n',
    built: 'if (!(globalThis.__extractionWorkbenchDecodeImages >= w * h)) { operatorList.addOp(OPS.paintImageXObject, [null, w, h]); return; }',
  },
];

/** Applies the patches whose `file` matches `path` to `source`; throws unless each matches exactly once. */
function applyPdfjsPatches(path, source) {
  let out = source;
  for (const p of PATCHES) {
    if (!p.file.test(path)) continue;
    const count = out.split(p.find).length - 1;
    if (count !== 1) {
      throw new Error(`pdf.js patch "${p.name}": expected the code once in ${path}, found it ${count} times — was pdfjs-dist upgraded? Re-check scripts/pdfjs-patches.js.`);
    }
    out = out.replace(p.find, () => p.replace);
  }
  return out;
}

const pdfjsPatchPlugin = {
  name: 'pdfjs-patches',
  setup(build) {
    const filter = new RegExp(PATCHES.map((p) => p.file.source).join('|'));
    build.onLoad({ filter }, async (args) => ({ contents: applyPdfjsPatches(args.path, await fs.promises.readFile(args.path, 'utf8')), loader: 'js' }));
  },
};

module.exports = { pdfjsPatchPlugin, applyPdfjsPatches, PATCHES };
