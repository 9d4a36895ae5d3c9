#!/usr/bin/env node
'use strict';
/**
 * Standard @vscode/test-electron runner: downloads VS Code desktop and runs the same integration suite
 * (out/test/integration) as `npm run test:vscode`, for machines that can reach
 * update.code.visualstudio.com. On machines without internet (like the project's dev VMs) use
 * `npm run test:vscode` (code-server) instead; this runner then fails with a clear message.
 *
 *   npm run test:electron                   (Linux without a display: xvfb-run -a npm run test:electron)
 *
 * Environment: EW_VSCODE_VERSION (default 1.100.3, the engines.vscode floor; "stable" for the latest),
 * EW_TEST_GREP / EW_TEST_FILES (see test/integration/index.ts), EW_SUMMARY_FILE (see summary.js).
 * Downloads are cached in .vscode-test/.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { downloadAndUnzipVSCode, runTests } = require('@vscode/test-electron');
const { REPO_ROOT, buildTests, assertExtensionBuilt, copySampleWorkspace, startWatchdog } = require('./project');
const { suiteResultsDir, reportSuite } = require('./summary');

const SUITE = 'electron';
const VERSION = process.env.EW_VSCODE_VERSION || '1.100.3';
const TIME_LIMIT_MS = 1000 * Number(process.env.EW_TEST_TIMEOUT || 600); // includes the download
const T0 = Date.now();

async function main() {
  const resultsDir = suiteResultsDir(SUITE);
  let runDir;
  const stopWatchdog = startWatchdog(TIME_LIMIT_MS, () => {
    reportSuite({ suite: SUITE, passed: 0, failed: 1, durationMs: Date.now() - T0, failures: [], error: `time limit of ${TIME_LIMIT_MS / 1000}s exceeded` });
  });

  let error;
  let results;
  try {
    buildTests();
    assertExtensionBuilt();

    let vscodeExecutablePath;
    try {
      vscodeExecutablePath = await downloadAndUnzipVSCode({ version: VERSION, cachePath: path.join(REPO_ROOT, '.vscode-test'), timeout: 30_000 });
    } catch (e) {
      throw new Error(
        `Could not download VS Code ${VERSION}: ${e && e.message ? e.message : e}\n` +
          'This runner needs internet access (update.code.visualstudio.com). Without it, run the same suite\n' +
          'in code-server, which installs from the npm registry: npm run test:vscode',
      );
    }

    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-electron-'));
    const resultsFile = path.join(runDir, 'results.json');
    const workspace = copySampleWorkspace(runDir);
    let exitError;
    try {
      await runTests({
        vscodeExecutablePath,
        extensionDevelopmentPath: REPO_ROOT,
        extensionTestsPath: path.join(REPO_ROOT, 'out', 'test', 'integration'),
        extensionTestsEnv: { EW_TEST_RESULTS: resultsFile },
        launchArgs: [
          workspace,
          '--disable-extensions', // other installed extensions stay out of the way
          '--disable-workspace-trust',
          '--skip-welcome',
          '--skip-release-notes',
          '--disable-telemetry',
          `--user-data-dir=${path.join(runDir, 'user-data')}`,
          `--extensions-dir=${path.join(runDir, 'extensions')}`,
        ],
      });
    } catch (e) {
      exitError = e; // the exit code is only a hint; the results file decides
    }
    if (!fs.existsSync(resultsFile)) {
      throw new Error(`no results file at ${resultsFile}: the tests did not run to the end${exitError ? ` (${exitError.message || exitError})` : ''}`);
    }
    fs.copyFileSync(resultsFile, path.join(resultsDir, 'results.json'));
    results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
    if (results.stats.passes === 0) error = 'the integration suite reported 0 passing tests';
  } catch (e) {
    error = e && e.message ? e.message : String(e);
  } finally {
    stopWatchdog();
  }

  const failures = results ? results.failures.map((f) => ({ title: f.fullTitle || f.title, error: f.error })) : [];
  const summary = reportSuite({ suite: SUITE, passed: results ? results.stats.passes : 0, failed: failures.length, durationMs: Date.now() - T0, failures, error });
  if (runDir && summary.failed === 0) fs.rmSync(runDir, { recursive: true, force: true });
  else if (runDir) console.log(`[electron] temp run dir kept: ${runDir}`);
  process.exitCode = summary.failed > 0 || summary.passed === 0 ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
