#!/usr/bin/env node
'use strict';
/**
 * `npm test`: every test suite, in order, with one total at the end.
 *
 *   unit     npm run test:unit      mocha over out/test/unit (spec output + summary reporter)
 *   vscode   npm run test:vscode    integration suite in the real extension host (code-server)
 *   ui       npm run test:ui        Playwright scenarios against the workbench
 *   vsix     node test/harness/run-vsix-test.js   package, install and activate the .vsix
 *
 * Each suite's output streams through unchanged. Suites keep running after a failure. Every suite
 * reports its counts in a summary file (test/harness/summary.js); a suite that crashes, times out or
 * leaves no summary counts as at least 1 failed. The last line is exactly `N passed, N failed`. The
 * exit code is non-zero if anything failed, a suite crashed, a suite other than `unit` ran 0 tests, or
 * nothing passed at all. (`unit` may legitimately have no test files yet: that is 0 tests, not a crash.)
 *
 * System packages (chromium, ripgrep, poppler-utils…, see scripts/system-packages.js) are installed first
 * when missing (as root or with passwordless sudo), or the exact apt-get command is printed.
 *
 * Quick local runs:  node scripts/test-all.js vscode ui      only these suites
 *                    EW_SKIP=ui,vsix npm test                 skip suites (also EW_SKIP_UI=1 etc.)
 */
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { ensureSystemPackages } = require('./system-packages');

const ROOT = path.resolve(__dirname, '..');
const SUMMARY_DIR = path.join(ROOT, 'test-results', 'summary');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** name, command, and a backstop time limit (the runners have their own, shorter ones). */
const SUITES = [
  {
    name: 'unit',
    cmd: NPM,
    args: ['run', '--silent', 'test:unit', '--', '--reporter', path.join('test', 'harness', 'mocha-summary-reporter.js')],
    limitMin: 10,
    zeroTestsOk: true,
  },
  { name: 'vscode', cmd: NPM, args: ['run', '--silent', 'test:vscode'], limitMin: 8 },
  { name: 'ui', cmd: NPM, args: ['run', '--silent', 'test:ui'], limitMin: 8 },
  { name: 'vsix', cmd: process.execPath, args: [path.join('test', 'harness', 'run-vsix-test.js')], limitMin: 10 },
];

function selectedSuites() {
  const only = process.argv.slice(2);
  const unknown = only.filter((n) => !SUITES.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${SUITES.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  const skip = new Set((process.env.EW_SKIP || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  return SUITES.map((s) => ({
    ...s,
    skipped: (only.length > 0 && !only.includes(s.name)) || skip.has(s.name) || process.env[`EW_SKIP_${s.name.toUpperCase()}`] === '1',
  }));
}

let current; // the running child, for Ctrl-C

/**
 * Run a suite with output passed through (and kept, to recognise "no test files"). Resolves with
 * { code, signal, output, timedOut }.
 */
function runSuite(suite, summaryFile) {
  return new Promise((resolve) => {
    const env = { ...process.env, EW_SUMMARY_FILE: summaryFile };
    if (process.stdout.isTTY && !env.NO_COLOR) env.FORCE_COLOR = env.FORCE_COLOR || '1';
    // own process group, so a time-out can stop the suite with everything it started
    const child = spawn(suite.cmd, suite.args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    current = child;
    let output = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      output = (output + d).slice(-20000);
    });
    child.stderr.on('data', (d) => {
      process.stderr.write(d);
      output = (output + d).slice(-20000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\n[test-all] ${suite.name}: no result after ${suite.limitMin} min - stopping it`);
      killTree(child, 'SIGTERM'); // lets the runners stop their code-server
      setTimeout(() => killTree(child, 'SIGKILL'), 10_000).unref();
    }, suite.limitMin * 60_000);
    child.on('error', (err) => {
      output += String(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      resolve({ code, signal, output, timedOut });
    });
  });
}

function killTree(child, signal = 'SIGKILL') {
  try {
    if (process.platform === 'win32') child.kill(signal);
    else process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

function readSummary(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Turn a finished suite into { passed, failed, note }, treating every kind of breakage as failure. */
function evaluate(suite, run, summary) {
  if (!summary && suite.zeroTestsOk && /No test files found/i.test(run.output)) {
    return { passed: 0, failed: 0, note: 'no test files' };
  }
  if (run.timedOut) return { passed: summary ? summary.passed : 0, failed: Math.max(1, summary ? summary.failed : 0), note: `timed out after ${suite.limitMin} min` };
  if (!summary) return { passed: 0, failed: 1, note: `crashed (exit ${run.code ?? run.signal}) without reporting results` };
  if (run.code !== 0 && summary.failed === 0) return { passed: summary.passed, failed: 1, note: `exit ${run.code ?? run.signal} although no test failed` };
  if (summary.passed + summary.failed === 0 && !suite.zeroTestsOk) return { passed: 0, failed: 1, note: 'ran 0 tests' };
  return { passed: summary.passed, failed: summary.failed, note: summary.error ? 'runner error' : '' };
}

async function main() {
  const t0 = Date.now();
  try {
    ensureSystemPackages('test', { log: (line) => console.log(line) });
  } catch (e) {
    console.error(e.message);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
    return;
  }
  fs.rmSync(SUMMARY_DIR, { recursive: true, force: true });
  fs.mkdirSync(SUMMARY_DIR, { recursive: true });
  const rows = [];

  for (const suite of selectedSuites()) {
    if (suite.skipped) {
      rows.push({ name: suite.name, skipped: true });
      continue;
    }
    console.log(`\n━━━ ${suite.name} ━━━ ${[path.basename(suite.cmd), ...suite.args].join(' ')}`);
    const started = Date.now();
    const summaryFile = path.join(SUMMARY_DIR, `${suite.name}.json`);
    const run = await runSuite(suite, summaryFile);
    const result = evaluate(suite, run, readSummary(summaryFile));
    rows.push({ name: suite.name, ...result, seconds: (Date.now() - started) / 1000 });
  }

  const total = rows.reduce((acc, r) => ({ passed: acc.passed + (r.passed || 0), failed: acc.failed + (r.failed || 0) }), { passed: 0, failed: 0 });
  console.log('\n━━━ summary ━━━');
  for (const r of rows) {
    if (r.skipped) console.log(`  ${r.name.padEnd(7)} skipped`);
    else console.log(`  ${r.name.padEnd(7)} ${String(r.passed).padStart(4)} passed, ${String(r.failed).padStart(3)} failed  ${r.seconds.toFixed(1).padStart(6)}s${r.note ? `  (${r.note})` : ''}`);
  }
  console.log(`  total time ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  if (total.passed === 0) console.log('  no test passed at all - failing the run');
  console.log(`${total.passed} passed, ${total.failed} failed`);
  process.exitCode = total.failed > 0 || total.passed === 0 ? 1 : 0;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (current) killTree(current, 'SIGTERM');
    process.exit(130);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
