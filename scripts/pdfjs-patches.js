// esbuild plugin: exact source patches of pdf.js for the PDF worker bundle (dist/pdfWorker.js) only.
//
// Why: the worker's time is ~70 % inside pdf.js (see src/convert/pdf/worker.ts). Its text extraction
// computes the text matrix of every glyph (2–4 times per glyph) as two nested `Util.transform` calls:
// three short-lived arrays and a polymorphic call per matrix. Profiled on the benchmark corpus this was
// ~27 % of the worker's CPU time. The patch computes the same products inline (same operations in the
// same order, so the same numbers bit for bit; the converted text, pages and boxes of the corpus and of
// the test fixtures compare equal) with one array: ~20 % more pages per CPU-second.
//
// Each patch must match exactly once, or the build fails: a pdfjs-dist upgrade that changes the code
// cannot silently drop or misapply it — re-check the patch then (or drop it if upstream got faster).
// The review webview's copy of pdf.js is not patched (it renders, it does not extract text).
const fs = require('fs');

const PATCHES = [
  {
    name: 'text matrix of a glyph without temporary arrays',
    file: /pdfjs-dist[\\/]legacy[\\/]build[\\/]pdf\.worker\.mjs$/,
    find: 'return Util.transform(textState.ctm, Util.transform(textState.textMatrix, tsm));',
    replace: [
      // Util.transform(textMatrix, tsm), then Util.transform(ctm, that), written out
      'const m = textState.textMatrix, c = textState.ctm;',
      'const t0 = m[0] * tsm[0] + m[2] * tsm[1], t1 = m[1] * tsm[0] + m[3] * tsm[1], t2 = m[0] * tsm[2] + m[2] * tsm[3], t3 = m[1] * tsm[2] + m[3] * tsm[3], t4 = m[0] * tsm[4] + m[2] * tsm[5] + m[4], t5 = m[1] * tsm[4] + m[3] * tsm[5] + m[5];',
      'return [c[0] * t0 + c[2] * t1, c[1] * t0 + c[3] * t1, c[0] * t2 + c[2] * t3, c[1] * t2 + c[3] * t3, c[0] * t4 + c[2] * t5 + c[4], c[1] * t4 + c[3] * t5 + c[5]];',
    ].join('\n'),
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
