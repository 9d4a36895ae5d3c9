// Build script: bundles the extension, the CLI, the PDF worker and the webview scripts, and copies the
// runtime assets that a bundle cannot inline (sql.js WASM, pdf.js standard fonts and cMaps).
//   node esbuild.js               development build (inline source maps)
//   node esbuild.js --production  minified, no source maps (what the .vsix ships)
//   node esbuild.js --watch       rebuild on change
//   node esbuild.js --tests       bundle test files to out/ (node_modules stay external)
//   node esbuild.js --bench       bundle benchmarks to dist-bench/
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');
const { pdfjsPatchPlugin } = require('./scripts/pdfjs-patches');

const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const watch = args.has('--watch');
const root = __dirname;

/** pdf.js and other ESM code read import.meta.url; in a CommonJS bundle it must be defined. */
const importMetaShim = {
  banner: { js: "var __import_meta_url = require('url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__import_meta_url' },
};

const nodeCommon = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // linked (a .map file beside the bundle, left out of the .vsix): inline maps made each bundle 25 MB that
  // node read and scanned at every start
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  // jsonc-parser's main (UMD) loads its parts with a require() a bundle cannot follow: bundle its ESM build
  alias: { 'jsonc-parser': './node_modules/jsonc-parser/lib/esm/main.js' },
  ...importMetaShim,
};

function exists(p) {
  return fs.existsSync(path.join(root, p));
}

function walk(dir, pred, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, pred, out);
    else if (pred(p)) out.push(p);
  }
  return out;
}

function copyDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const s = path.join(from, e.name), d = path.join(to, e.name);
    if (e.isDirectory()) copyDir(s, d);
    else fs.copyFileSync(s, d);
  }
}

function copyAssets() {
  const dist = path.join(root, 'dist');
  fs.mkdirSync(dist, { recursive: true });
  fs.copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), path.join(dist, 'sql-wasm.wasm'));
  const pdfjs = path.dirname(require.resolve('pdfjs-dist/package.json'));
  copyDir(path.join(pdfjs, 'standard_fonts'), path.join(dist, 'pdfjs', 'standard_fonts'));
  copyDir(path.join(pdfjs, 'cmaps'), path.join(dist, 'pdfjs', 'cmaps'));
  // pdf.js for the webview (rendering pages in the review panel)
  fs.mkdirSync(path.join(dist, 'webview'), { recursive: true });
  fs.copyFileSync(path.join(pdfjs, 'legacy/build/pdf.min.mjs'), path.join(dist, 'webview', 'pdf.min.mjs'));
  fs.copyFileSync(path.join(pdfjs, 'legacy/build/pdf.worker.min.mjs'), path.join(dist, 'webview', 'pdf.worker.min.mjs'));
  // OCR: tesseract.js' WebAssembly cores (LSTM-only builds, the ones dist/ocrWorker.js loads; each reads
  // its .wasm from beside the bundle) and the English language data (more languages: README, OCR)
  const core = path.dirname(require.resolve('tesseract.js-core/package.json'));
  for (const v of ['tesseract-core-relaxedsimd-lstm', 'tesseract-core-simd-lstm', 'tesseract-core-lstm']) {
    fs.copyFileSync(path.join(core, `${v}.wasm`), path.join(dist, `${v}.wasm`));
  }
  fs.mkdirSync(path.join(dist, 'tessdata'), { recursive: true });
  const eng = path.dirname(require.resolve('@tesseract.js-data/eng/package.json'));
  fs.copyFileSync(path.join(eng, '4.0.0_best_int', 'eng.traineddata.gz'), path.join(dist, 'tessdata', 'eng.traineddata.gz'));
}

/**
 * Large libraries used by some documents only, each a bundle of its own beside the others (module → file in
 * dist/). V8 compiles a whole file when it is first required: kept inline, gpt-tokenizer's rank table alone
 * (2.7 MB of a 4 MB bundle) made `extraction-workbench --help` and the extension's activation pay ~200 ms for
 * code they never run. The sources require them on first use only (src/extract/tokens.ts, the DOCX, XLSX, XLS and
 * e-mail converters, the PostgreSQL connection, the HTTP client of model requests); this plugin turns those requires into requires of the separate bundles.
 */
const APART = {
  'gpt-tokenizer/encoding/o200k_base': 'tokenizer.js',
  '@e965/xlsx': 'xls.js',
  exceljs: 'exceljs.js',
  mailparser: 'mailparser.js',
  mammoth: 'mammoth.js',
  pg: 'pg.js',
  undici: 'undici.js',
};
const apartFilter = new RegExp(`^(${Object.keys(APART).map((m) => m.replace(/[/.]/g, (c) => '\\' + c)).join('|')})$`);
const librariesApart = {
  name: 'libraries-apart',
  setup(build) {
    build.onResolve({ filter: apartFilter }, (args) => ({ path: `./${APART[args.path]}`, external: true }));
  },
};

/**
 * The extension is two bundles (issue #15): dist/extension.js, which the host loads and activates — command
 * and view shells only — and dist/workbench.js with the run machinery, required on first use
 * (src/extension.ts). This plugin turns the entry's `require('./vscode/workbench')` into a require of the bundle
 * beside it.
 */
const workbenchApart = {
  name: 'workbench-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\/vscode\/workbench$/ }, () => ({ path: './workbench.js', external: true }));
  },
};

/**
 * What dist/extension.js may contain: the activation shells only. A source file of the run machinery (or any
 * npm package) that an import pulls into it fails the build, with the chain of imports that brought it, so
 * activation stays fast (#15). Everything else belongs in dist/workbench.js.
 */
const FIRST_LOAD_FORBIDDEN = /^(node_modules\/|src\/(core|app|extract|convert|store|export|cli)\/|src\/vscode\/workbench\.ts$)/;

function checkFirstLoad(metafile) {
  const inputs = metafile.inputs;
  const importers = new Map();
  for (const [file, info] of Object.entries(inputs)) {
    for (const imp of info.imports) if (!imp.external && !importers.has(imp.path)) importers.set(imp.path, file);
  }
  const bad = Object.keys(inputs).filter((f) => FIRST_LOAD_FORBIDDEN.test(f.replace(/\\/g, '/')));
  if (!bad.length) return;
  const chain = (file) => {
    const out = [file];
    for (let f = importers.get(file); f && out.length < 20; f = importers.get(f)) out.unshift(f);
    return out.join(' → ');
  };
  throw new Error(
    `dist/extension.js (the first-load bundle) must not contain the run machinery or npm packages; import them from src/vscode/workbench.ts instead:\n` +
      bad.slice(0, 5).map((f) => `  ${chain(f)}`).join('\n'),
  );
}

const firstLoadGuard = {
  name: 'first-load-guard',
  setup(build) {
    build.onEnd((result) => {
      if (result.metafile) checkFirstLoad(result.metafile);
    });
  },
};

function productConfigs() {
  const configs = [
    {
      ...nodeCommon,
      entryPoints: ['src/extension.ts'],
      outfile: 'dist/extension.js',
      external: ['vscode'],
      // the first statement of the bundle: when the host began loading it (src/vscode/activationTime.ts)
      banner: { js: `globalThis[Symbol.for('extractionWorkbench.loadStart')] = performance.now();\n${importMetaShim.banner.js}` },
      // and its last: evaluating it took the difference (the rest of "loading" is the host's)
      footer: { js: "globalThis[Symbol.for('extractionWorkbench.loadEnd')] = performance.now();" },
      metafile: true,
      plugins: [workbenchApart, firstLoadGuard],
    },
    {
      ...nodeCommon,
      entryPoints: ['src/vscode/workbench.ts'],
      outfile: 'dist/workbench.js',
      external: ['vscode'],
      plugins: [librariesApart],
    },
    {
      ...nodeCommon,
      entryPoints: ['src/cli/main.ts'],
      outfile: 'dist/cli.js',
      banner: { js: '#!/usr/bin/env node\n' + importMetaShim.banner.js },
      plugins: [librariesApart],
    },
    ...Object.entries(APART).map(([mod, file]) => ({ ...nodeCommon, entryPoints: [require.resolve(mod)], outfile: `dist/${file}` })),
  ];
  if (exists('src/convert/pdf/worker.ts')) {
    // pdf.js with the text-extraction patches of scripts/pdfjs-patches.js (exact, fail the build if stale)
    configs.push({ ...nodeCommon, entryPoints: ['src/convert/pdf/worker.ts'], outfile: 'dist/pdfWorker.js', plugins: [pdfjsPatchPlugin] });
  }
  configs.push({ ...nodeCommon, entryPoints: ['src/extract/groundingWorker.ts'], outfile: 'dist/groundingWorker.js' });
  configs.push({ ...nodeCommon, entryPoints: ['src/convert/ocr/ocrWorker.ts'], outfile: 'dist/ocrWorker.js' });
  const webviews = walk(path.join(root, 'media'), (p) => /[\\/]main\.ts$/.test(p));
  for (const w of webviews) {
    const name = path.basename(path.dirname(w));
    configs.push({
      entryPoints: [w],
      outfile: `dist/webview/${name}.js`,
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      sourcemap: production ? false : 'inline',
      minify: production,
      logLevel: 'warning',
    });
  }
  return configs;
}

function testConfigs() {
  const entries = walk(path.join(root, 'test'), (p) => /\.(test|suite)\.ts$/.test(p) || /[\\/]test[\\/](integration|ui)[\\/]index\.ts$/.test(p));
  return [
    {
      ...nodeCommon,
      sourcemap: 'inline',
      minify: false,
      entryPoints: entries,
      outdir: 'out',
      outbase: '.',
      packages: 'external',
      external: ['vscode'],
    },
  ];
}

function benchConfigs() {
  const entries = walk(path.join(root, 'bench'), (p) => /\.ts$/.test(p) && !/\.d\.ts$/.test(p));
  return [{ ...nodeCommon, sourcemap: false, entryPoints: entries, outdir: 'dist-bench', outbase: '.', packages: 'external' }];
}

async function main() {
  let configs;
  if (args.has('--tests')) configs = testConfigs();
  else if (args.has('--bench')) configs = benchConfigs();
  else {
    copyAssets();
    // a production build writes no source maps: remove those a dev build left, so none is packaged
    if (production) for (const map of walk(path.join(root, 'dist'), (p) => p.endsWith('.map'))) fs.rmSync(map);
    configs = productConfigs();
  }
  if (watch) {
    const ctxs = await Promise.all(configs.map((c) => esbuild.context(c)));
    await Promise.all(ctxs.map((c) => c.watch()));
    console.log('[watch] build started');
    return;
  }
  await Promise.all(configs.map((c) => esbuild.build(c)));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
