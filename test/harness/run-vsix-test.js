#!/usr/bin/env node
'use strict';
/**
 * Packaging test: what users install is the .vsix, not the repo. This runner
 *
 *   1. runs `npm run package` (production build + vsce) -> dist-vsix/extraction-workbench.vsix;
 *   2. installs it with `code-server --install-extension` into a temp extensions dir;
 *   3. checks the installed folder: runtime assets present (bundles, sql.js WASM, pdf.js fonts and
 *      cMaps), nothing that must not ship (sources, tests, node_modules, source maps);
 *   4. starts code-server WITHOUT the repo as development extension on a copy of samples/invoices,
 *      checks in the UI that the packaged extension activates (status-bar item) and contributes its
 *      UI, and runs the activation integration suite against the installed extension;
 *   5. rebuilds the development bundle (`node esbuild.js`), since step 1 left a minified one in dist/.
 *
 * Each check is one test in `SUITE vsix: N passed, N failed`. Options: --keep (keep the temp dir),
 * --no-package (reuse an existing .vsix). Screenshot: test-results/screenshots/vsix-*.png.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { ensureCodeServer, installExtension, startCodeServer, collectLogs, makeRunDir } = require('./code-server');
const { launchBrowser, openWorkbench } = require('./browser');
const { REPO_ROOT, EXTENSION_ID, esbuild, buildTests, copySampleWorkspace, startWatchdog, withTimeout, parseArgs } = require('./project');
const { suiteResultsDir, reportSuite, RESULTS_ROOT } = require('./summary');

const SUITE = 'vsix';
const args = parseArgs(process.argv.slice(2), { flags: ['keep', 'no-package'] });
const TIME_LIMIT_MS = 1000 * Number(process.env.EW_TEST_TIMEOUT || 420);
const VSIX = path.join(REPO_ROOT, 'dist-vsix', 'extraction-workbench.vsix');
const T0 = Date.now();
const say = (msg) => console.log(`[vsix ${((Date.now() - T0) / 1000).toFixed(1)}s] ${msg}`);

/** Files the installed extension needs at runtime (relative to its folder). Directories must be non-empty. */
const RUNTIME_ASSETS = ['package.json', 'dist/extension.js', 'dist/workbench.js', 'dist/cli.js', 'dist/sql-wasm.wasm', 'dist/pdfjs/standard_fonts', 'dist/pdfjs/cmaps'];

const results = { passes: [], failures: [] };
const state = { server: undefined, browser: undefined, runDir: undefined };

/** Run one check; a failure is recorded (with a screenshot of `page`, if given) and the next checks still run. */
async function check(title, fn, page) {
  const t = Date.now();
  try {
    await fn();
    results.passes.push({ title });
    say(`  ✔ ${title} (${Date.now() - t} ms)`);
    return true;
  } catch (e) {
    if (page) {
      const shot = path.join(RESULTS_ROOT, 'screenshots', `vsix-FAILED-${results.failures.length + 1}.png`);
      fs.mkdirSync(path.dirname(shot), { recursive: true });
      await page.screenshot({ path: shot }).catch(() => {});
    }
    results.failures.push({ title, error: e && e.message ? e.message : String(e) });
    say(`  ✘ ${title}: ${String(e && e.message ? e.message : e).split('\n')[0]}`);
    return false;
  }
}

/** All files below `dir`, relative to it. */
function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

async function cleanup(failed) {
  if (state.browser) await state.browser.close().catch(() => {});
  state.browser = undefined;
  if (state.server) {
    await state.server.stop().catch(() => {});
    collectLogs(state.server, path.join(RESULTS_ROOT, SUITE, 'logs'));
  }
  state.server = undefined;
  if (state.runDir) {
    if (failed || args.keep) say(`temp run dir kept: ${state.runDir}`);
    else fs.rmSync(state.runDir, { recursive: true, force: true });
  }
  state.runDir = undefined;
}

async function main() {
  const resultsDir = suiteResultsDir(SUITE);
  try {
    ensureCodeServer(); // before the time limit starts: a first install takes a minute or two
  } catch (e) {
    reportSuite({ suite: SUITE, passed: 0, failed: 1, durationMs: Date.now() - T0, failures: [], error: e.message });
    process.exitCode = 1;
    return;
  }
  const stopWatchdog = startWatchdog(TIME_LIMIT_MS, async () => {
    reportSuite({ suite: SUITE, passed: results.passes.length, failed: results.failures.length + 1, durationMs: Date.now() - T0, failures: [...results.failures, { title: 'vsix runner', error: `time limit of ${TIME_LIMIT_MS / 1000}s exceeded` }] });
    await cleanup(true);
  });
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  let error;

  try {
    state.runDir = makeRunDir('ew-vsix-');
    const extensionsDir = path.join(state.runDir, 'extensions');
    const userDataDir = path.join(state.runDir, 'user-data');
    const installedDir = path.join(extensionsDir, `${EXTENSION_ID}-${manifest.version}`);

    const packageTitle = args['no-package'] ? 'an existing dist-vsix/extraction-workbench.vsix is used (--no-package)' : 'npm run package produces dist-vsix/extraction-workbench.vsix';
    const packaged = await check(packageTitle, async () => {
      if (args['no-package']) {
        if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} does not exist (--no-package)`);
        return;
      }
      fs.rmSync(VSIX, { force: true });
      fs.mkdirSync(path.dirname(VSIX), { recursive: true }); // vsce does not create the --out directory
      const r = spawnSync('npm', ['run', 'package'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
      if (r.status !== 0) throw new Error(`npm run package failed (exit ${r.status ?? r.signal})`);
      if (!fs.existsSync(VSIX)) throw new Error(`npm run package did not write ${VSIX}`);
    });
    if (!packaged) throw new Error('no .vsix to test');

    const installed = await check('code-server --install-extension installs the .vsix', async () => {
      const out = installExtension(VSIX, { extensionsDir, userDataDir, runDir: state.runDir });
      if (!/successfully installed/i.test(out)) throw new Error(`unexpected output:\n${out}`);
      if (!fs.existsSync(path.join(installedDir, 'package.json'))) throw new Error(`${installedDir} was not created; extensions dir has: ${fs.readdirSync(extensionsDir).join(', ')}`);
    });
    if (!installed) throw new Error('the .vsix could not be installed');

    for (const asset of RUNTIME_ASSETS) {
      await check(`the installed extension contains ${asset}`, async () => {
        const p = path.join(installedDir, asset);
        if (!fs.existsSync(p)) throw new Error(`missing: ${p}`);
        const st = fs.statSync(p);
        if (st.isDirectory() ? fs.readdirSync(p).length === 0 : st.size === 0) throw new Error(`empty: ${p}`);
      });
    }
    await check('the package ships no sources, tests, node_modules or source maps', async () => {
      const unwanted = listFiles(installedDir).filter((f) => /^(src|test|out|samples|node_modules|\.vscode-test)[\\/]|\.map$|\.ts$/.test(f) && !f.endsWith('.d.ts'));
      if (unwanted.length) throw new Error(`unexpected files in the package (fix .vscodeignore): ${unwanted.slice(0, 20).join(', ')}${unwanted.length > 20 ? ', ...' : ''}`);
    });

    const workspace = copySampleWorkspace(state.runDir);
    const resultsFile = path.join(state.runDir, 'integration-results.json');
    state.server = await startCodeServer({ runDir: state.runDir, workspace, extensionsDir, userDataDir, env: { EW_TEST_RESULTS: resultsFile, EW_TEST_FILES: 'activation\\.suite\\.js$' } });
    say(`code-server ${state.server.baseUrl} (the packaged extension, not the repo)`);
    state.browser = await launchBrowser({ dataDir: path.join(state.runDir, 'chromium') });
    const workbenchLog = fs.createWriteStream(path.join(resultsDir, 'workbench.log'));
    const onLog = (line, type) => workbenchLog.write(`[${type}] ${line}\n`);

    // 1. A plain workbench, as a user gets it after installing the .vsix: no development extension.
    const plain = await openWorkbench(state.browser, state.server.workbenchUrl({ folder: workspace }), { onLog });
    await check('the packaged extension activates in the workbench (status-bar item visible)', async () => {
      const item = plain.page.locator('.statusbar .statusbar-item', { hasText: /Extraction/ }).first();
      await item.waitFor({ state: 'visible', timeout: 60_000 });
      fs.mkdirSync(path.join(RESULTS_ROOT, 'screenshots'), { recursive: true });
      await plain.page.screenshot({ path: path.join(RESULTS_ROOT, 'screenshots', 'vsix-01-installed.png') });
    }, plain.page);
    await check('the packaged extension shows its activity-bar container', async () => {
      await plain.page.locator('.part.activitybar .action-item a.action-label[aria-label^="Extraction Workbench"]').first().waitFor({ state: 'visible', timeout: 15_000 });
    }, plain.page);
    await plain.context.close();

    // 2. The activation suite against the installed extension. VS Code runs extensionTestsPath only
    // together with an extensionDevelopmentPath, so the development extension is an empty stand-in
    // with another id: the suite looks up extraction-workbench.extraction-workbench, i.e. the package.
    // A new page (when run() settles, VS Code shuts that page's extension host down, so the UI checks
    // above could not share it) on a second copy of the workspace: the first page's extension host
    // lives on for a while after its page closed and may still hold the workspace's .extraction/ lock.
    const testWorkspace = copySampleWorkspace(state.runDir, 'invoices', 'workspace-tests');
    const testHost = path.join(state.runDir, 'test-host-extension');
    fs.mkdirSync(testHost, { recursive: true });
    fs.writeFileSync(
      path.join(testHost, 'package.json'),
      JSON.stringify({ name: 'vsix-test-host', publisher: 'extraction-workbench-tests', version: '0.0.0', engines: { vscode: '*' }, description: 'Empty development extension that lets VS Code run extensionTestsPath.' }, null, 2),
    );
    buildTests();
    const payload = [
      ['extensionDevelopmentPath', state.server.remoteUri(testHost)],
      ['extensionTestsPath', state.server.remoteUri(path.join(REPO_ROOT, 'out', 'test', 'integration'))],
      ['skipWelcome', 'true'],
    ];
    const { exited } = await openWorkbench(state.browser, state.server.workbenchUrl({ folder: testWorkspace, payload }), { onLog });

    // The activation suite, run against the installed extension: each of its tests counts here.
    const outcome = await withTimeout(exited, 120_000, 'the activation suite against the installed extension');
    if (!fs.existsSync(resultsFile)) {
      results.failures.push({ title: 'activation suite against the installed extension', error: `no results file (codeAutomationExit(${outcome.code})); see test-results/vsix/logs` });
    } else {
      const suite = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
      fs.copyFileSync(resultsFile, path.join(resultsDir, 'integration-results.json'));
      for (const p of suite.passes) results.passes.push({ title: `installed: ${p.fullTitle}` });
      for (const f of suite.failures) results.failures.push({ title: `installed: ${f.fullTitle}`, error: f.error });
      say(`activation suite against the installed extension: ${suite.stats.passes} passed, ${suite.stats.failures} failed`);
      if (suite.stats.passes === 0) results.failures.push({ title: 'activation suite against the installed extension', error: '0 tests passed' });
    }
  } catch (e) {
    error = e && e.stack ? e.stack : String(e);
  }

  const failed = !!error || results.failures.length > 0;
  await cleanup(failed);
  // `npm run package` left a minified, map-less bundle in dist/; put the development build back.
  if (!args['no-package']) {
    try {
      esbuild();
    } catch (e) {
      say(`could not restore the development build: ${e.message}`);
    }
  }
  stopWatchdog();
  const summary = reportSuite({ suite: SUITE, passed: results.passes.length, failed: results.failures.length, durationMs: Date.now() - T0, failures: results.failures, error });
  process.exitCode = summary.failed > 0 || summary.passed === 0 ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
