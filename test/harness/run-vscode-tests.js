#!/usr/bin/env node
'use strict';
/**
 * Run the extension's tests inside real VS Code (code-server 4.100.3 = VS Code 1.100.3), offline.
 *
 *   node test/harness/run-vscode-tests.js          integration: out/test/integration/**\/*.suite.js in the extension host
 *   node test/harness/run-vscode-tests.js --ui     UI scenarios: out/test/ui/index.js drives the workbench with Playwright
 *
 * (npm run test:vscode / test:ui build the extension first.) Steps:
 *   1. bundle the tests (`node esbuild.js --tests`), install code-server if it is not cached yet;
 *   2. copy samples/invoices to a temp dir (tests never dirty the repo) and start code-server on it
 *      with a throw-away profile;
 *   3. open the workbench in headless Chromium with the repo as development extension. Integration
 *      mode also passes extensionTestsPath: VS Code runs test/integration/index.ts's run() and calls
 *      codeAutomationExit; the results file it writes (path in $EW_TEST_RESULTS, which the extension
 *      host inherits) is what counts - missing or 0 passes fails the run;
 *   4. UI mode, second window: a second code-server with workspace trust on (nothing trusted) serves
 *      the Restricted Mode and multi-root scenarios: a fresh copy of samples/invoices, then a
 *      .code-workspace of that copy and the first window's workspace (with the state its runs left);
 *   5. print `SUITE vscode|ui: N passed, N failed` and write test-results/<suite>/summary.json
 *      (and $EW_SUMMARY_FILE).
 *
 * Options:
 *   --workspace DIR  open DIR in place instead of a copy of samples/invoices
 *   --keep           keep the temp run dir (profile, logs, workspace copy) even when everything passed
 *   --no-build       do not run `node esbuild.js --tests`
 *   --timeout SEC    overall time limit (default 600; also $EW_TEST_TIMEOUT)
 * Environment is passed through to code-server and the extension host (e.g. URLs of local servers a
 * test starts). Artifacts: test-results/<suite>/ (results.json, logs/, and logs-untrusted/ for the UI
 * mode's second window), screenshots in test-results/screenshots/ (UI mode).
 */
const fs = require('fs');
const path = require('path');
const { ensureCodeServer, startCodeServer, collectLogs, makeRunDir } = require('./code-server');
const { launchBrowser, openWorkbench } = require('./browser');
const { REPO_ROOT, buildTests, assertExtensionBuilt, copySampleWorkspace, startWatchdog, withTimeout, parseArgs } = require('./project');
const { suiteResultsDir, reportSuite, RESULTS_ROOT } = require('./summary');

const args = parseArgs(process.argv.slice(2), { flags: ['ui', 'keep', 'no-build'], options: ['workspace', 'timeout'] });
const MODE = args.ui ? 'ui' : 'vscode';
const TIME_LIMIT_MS = 1000 * Number(args.timeout || process.env.EW_TEST_TIMEOUT || 600);
const T0 = Date.now();
const elapsed = () => `${((Date.now() - T0) / 1000).toFixed(1)}s`;
const say = (msg) => console.log(`[${MODE} ${elapsed()}] ${msg}`);

/** Routine workbench log lines not worth echoing to the terminal. */
const WORKBENCH_NOISE = /^(Resolving connection token|Resolved connection token|Creating a socket|Ignoring fetching additional builtin extensions|\[Service Worker\]|ChatSessionStore:|Updating additional builtin extensions cache)/;

/** Everything that must be torn down, whatever happens. */
const state = { server: undefined, browser: undefined, runDir: undefined, resultsDir: undefined, logsDir: 'logs', failed: true };

async function cleanup() {
  // a SIGTERM's cleanup and main's may overlap: each takes what it finds, so only one stops and collects
  const browser = state.browser;
  state.browser = undefined;
  if (browser) await browser.close().catch(() => {});
  const server = state.server;
  state.server = undefined;
  if (server) {
    await server.stop().catch(() => {});
    collectLogs(server, path.join(state.resultsDir, state.logsDir));
  }
  if (state.runDir) {
    if (state.failed || args.keep) say(`temp run dir kept: ${state.runDir}`);
    else fs.rmSync(state.runDir, { recursive: true, force: true });
  }
  state.runDir = undefined;
}

/** Write the extension host logs VS Code hands to codeAutomationExit. */
function saveAutomationLogs(logs, dest) {
  for (const l of logs || []) {
    const p = path.join(dest, l.relativePath);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, l.contents);
  }
}

/** Integration mode: wait for run() to settle, then trust only the results file. */
async function runIntegration(exited, resultsFile) {
  const outcome = await withTimeout(exited, remainingMs(), 'the integration tests to finish (codeAutomationExit)');
  say(`codeAutomationExit(${outcome.code})`);
  saveAutomationLogs(outcome.logs, path.join(state.resultsDir, 'logs', 'vscode'));
  if (!fs.existsSync(resultsFile)) {
    throw new Error(`no results file at ${resultsFile}: the tests did not run to the end (extension host crash? see ${path.relative(REPO_ROOT, state.resultsDir)}/logs)`);
  }
  fs.copyFileSync(resultsFile, path.join(state.resultsDir, 'results.json'));
  const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  let error;
  if (results.stats.passes === 0) error = 'the integration suite reported 0 passing tests';
  else if (outcome.code !== 0 && results.stats.failures === 0) error = `VS Code reported exit code ${outcome.code} although no test failed`;
  return { results, error };
}

/** UI mode: hand the page to the scenarios in out/test/ui/index.js. */
async function runUi(page, server, workspace) {
  const screenshotsDir = path.join(RESULTS_ROOT, 'screenshots');
  fs.rmSync(screenshotsDir, { recursive: true, force: true });
  fs.mkdirSync(screenshotsDir, { recursive: true });
  const ui = require(path.join(REPO_ROOT, 'out', 'test', 'ui', 'index.js'));
  const results = await withTimeout(
    ui.run({ page, baseUrl: server.baseUrl, workspace, screenshotsDir, log: (m) => say(m) }),
    remainingMs(),
    'the UI scenarios to finish',
  );
  if (ui.hasUntrusted()) {
    await withTimeout(runUntrustedWindow(ui, page, workspace, screenshotsDir, results), remainingMs(), 'the Restricted Mode and multi-root scenarios to finish');
  }
  fs.writeFileSync(path.join(state.resultsDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  return { results, error: results.stats.passes === 0 ? 'the UI scenarios reported 0 passing checks' : undefined };
}

/**
 * The second window: workspace trust on, in a profile of its own (trust decisions live in the profile).
 * Its scenarios get a fresh copy of samples/invoices and a .code-workspace of that copy ("archive") and the
 * first window's workspace ("invoices", with the state its runs left), and navigate between them.
 */
async function runUntrustedWindow(ui, firstPage, workspace, screenshotsDir, results) {
  await firstPage.close().catch(() => {});
  await state.server.stop().catch(() => {});
  collectLogs(state.server, path.join(state.resultsDir, state.logsDir));
  state.server = undefined;
  state.logsDir = 'logs-untrusted';

  const fresh = copySampleWorkspace(state.runDir, 'invoices', 'workspace-b');
  const workspaceFile = path.join(state.runDir, 'two-folders.code-workspace');
  fs.writeFileSync(workspaceFile, JSON.stringify({ folders: [{ path: workspace, name: 'invoices' }, { path: fresh, name: 'archive' }], settings: {} }, null, 2) + '\n');
  state.server = await startCodeServer({ runDir: path.join(state.runDir, 'untrusted'), workspace: fresh, workspaceTrust: true, handleSignals: false });
  say(`code-server ${state.server.baseUrl} with workspace trust on`);
  const payload = [['extensionDevelopmentPath', state.server.remoteUri(REPO_ROOT)], ['skipWelcome', 'true']];
  const workbenchLog = fs.createWriteStream(path.join(state.resultsDir, 'workbench-untrusted.log'));
  const first = await openWorkbench(state.browser, state.server.workbenchUrl({ folder: fresh, payload }), { onLog: (line, type) => workbenchLog.write(`[${type}] ${line}\n`) });
  const logConsole = (p) => p.on('console', (m) => workbenchLog.write(`[${new Date().toISOString()} console.${m.type()}] ${m.text()}\n`));
  logConsole(first.page);
  const ctx = { page: first.page, baseUrl: state.server.baseUrl, workspace: fresh, screenshotsDir, log: (m) => say(m) };
  const open = async (target) => {
    await ctx.page.goto(state.server.workbenchUrl({ ...target, payload }));
    await ctx.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  };
  say('second workbench loaded (Restricted Mode)');
  ctx.untrusted = { stateFolder: workspace, freshFolder: fresh, workspaceFile, open };
  await ui.runUntrusted(ctx, results);
}

/** Time left for the tests themselves, keeping 20 s for teardown before the watchdog fires. */
let deadline = Infinity;
const remainingMs = () => Math.max(5_000, deadline - Date.now() - 20_000);

async function main() {
  state.resultsDir = suiteResultsDir(MODE);
  let results;
  let error;
  let stopWatchdog = () => {};
  try {
    // Setup first: a first-time code-server install (~1 min) does not eat into the time limit, and
    // the install's npm steps have time limits of their own.
    if (!args['no-build']) buildTests();
    assertExtensionBuilt();
    ensureCodeServer();

    deadline = Date.now() + TIME_LIMIT_MS;
    stopWatchdog = startWatchdog(TIME_LIMIT_MS, async () => {
      reportSuite({ suite: MODE, passed: 0, failed: 1, durationMs: Date.now() - T0, failures: [], error: `time limit of ${TIME_LIMIT_MS / 1000}s exceeded` });
      await cleanup();
    });

    state.runDir = makeRunDir(`ew-${MODE}-`);
    const workspace = args.workspace ? path.resolve(args.workspace) : copySampleWorkspace(state.runDir);
    const resultsFile = path.join(state.runDir, 'results.json');
    state.server = await startCodeServer({
      runDir: state.runDir,
      workspace,
      env: { EW_TEST_RESULTS: resultsFile, EW_TEST_RUN_DIR: state.runDir },
      handleSignals: false, // ours below collect the logs before exiting
    });
    say(`code-server ${state.server.baseUrl} (run dir ${state.runDir})`);

    const payload = [['extensionDevelopmentPath', state.server.remoteUri(REPO_ROOT)]];
    if (MODE === 'vscode') payload.push(['extensionTestsPath', state.server.remoteUri(path.join(REPO_ROOT, 'out', 'test', 'integration'))]);
    payload.push(['skipWelcome', 'true']);

    state.browser = await launchBrowser({ dataDir: path.join(state.runDir, 'chromium') });
    const workbenchLog = fs.createWriteStream(path.join(state.resultsDir, 'workbench.log'));
    const { page, exited } = await openWorkbench(state.browser, state.server.workbenchUrl({ folder: workspace, payload }), {
      onLog: (line, type) => {
        workbenchLog.write(`[${type}] ${line}\n`);
        // Show the extension host's console (mocha's spec reporter) and real problems, not the
        // workbench's routine connection chatter (all of it is in test-results/<suite>/workbench.log).
        if (MODE === 'vscode' && !WORKBENCH_NOISE.test(line)) console.log(line);
      },
    });
    say('workbench loaded');

    ({ results, error } = MODE === 'vscode' ? await runIntegration(exited, resultsFile) : await runUi(page, state.server, workspace));
  } catch (e) {
    error = e && e.stack ? e.stack : String(e);
  }

  const passed = results ? results.stats.passes : 0;
  const failures = results ? results.failures.map((f) => ({ title: f.fullTitle || f.title, error: f.error })) : [];
  state.failed = !!error || failures.length > 0 || passed === 0;
  await cleanup();
  stopWatchdog();
  const summary = reportSuite({ suite: MODE, passed, failed: failures.length, pending: results ? results.stats.pending : 0, durationMs: Date.now() - T0, failures, error });
  process.exitCode = summary.failed > 0 || summary.passed === 0 ? 1 : 0;
}

// Stopped from outside (scripts/test-all.js at the suite's time limit sends SIGTERM): keep the logs of this
// run (code-server's, and the extension hosts' with the extension's own log) for the diagnosis.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    say(`${sig}: stopping, keeping the logs in ${state.resultsDir ? path.relative(REPO_ROOT, state.resultsDir) : 'test-results'}`);
    state.failed = true;
    void cleanup().finally(() => process.exit(1));
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
