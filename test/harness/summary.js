'use strict';
/**
 * The machine-readable end of every harness runner.
 *
 * Each runner finishes by calling `reportSuite()`, which
 *   - prints the failures and the line `SUITE <name>: N passed, N failed`, and
 *   - writes the same counts as JSON to $EW_SUMMARY_FILE when set (scripts/test-all.js sets it) and to
 *     test-results/<name>/summary.json.
 * scripts/test-all.js sums these files; a runner that crashes before writing one counts as failed.
 */
const fs = require('fs');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const RESULTS_ROOT = path.join(REPO_ROOT, 'test-results');

/**
 * @typedef {object} SuiteSummary
 * @property {string} suite
 * @property {number} passed
 * @property {number} failed
 * @property {number} [pending]
 * @property {number} durationMs
 * @property {Array<{ title: string, error: string }>} failures
 * @property {string} [error]   set when the runner itself failed (crash, timeout, missing results)
 * @property {boolean} [quiet]  do not list the failures (the test reporter already did)
 */

/** Playwright's and mocha's messages may carry terminal colour codes; keep the summaries plain. */
function stripAnsi(text) {
  // eslint-disable-next-line no-control-regex
  return String(text ?? '').replace(/\u001b\[[0-9;]*m/g, '');
}

/** Directory for a suite's artifacts (results.json, logs), emptied at the start of a run. */
function suiteResultsDir(suite, { clean = true } = {}) {
  const dir = path.join(RESULTS_ROOT, suite);
  if (clean) fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Print and persist a suite's outcome. A runner error always counts as (at least) one failure, so a
 * crashed suite can never look green.
 * @param {SuiteSummary} s
 */
function reportSuite(s) {
  const { quiet: _quiet, ...rest } = s;
  const summary = { ...rest, failures: (s.failures || []).map((f) => ({ ...f, error: stripAnsi(f.error) })) };
  if (summary.error && summary.failed === 0) {
    summary.failed = 1;
    summary.failures = [...summary.failures, { title: `${s.suite} runner`, error: stripAnsi(summary.error) }];
  }
  const json = JSON.stringify(summary, null, 2) + '\n';
  const dir = path.join(RESULTS_ROOT, s.suite);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'summary.json'), json);
  if (process.env.EW_SUMMARY_FILE) {
    fs.mkdirSync(path.dirname(process.env.EW_SUMMARY_FILE), { recursive: true });
    fs.writeFileSync(process.env.EW_SUMMARY_FILE, json);
  }
  if (summary.failures.length && !s.quiet) {
    console.log(`\n${s.suite}: ${summary.failures.length} failure(s)`);
    summary.failures.forEach((f, i) => console.log(`  ${i + 1}) ${f.title}\n     ${String(f.error).split('\n').join('\n     ')}`));
  }
  console.log(`SUITE ${s.suite}: ${summary.passed} passed, ${summary.failed} failed (${(s.durationMs / 1000).toFixed(1)}s)`);
  return summary;
}

module.exports = { REPO_ROOT, RESULTS_ROOT, suiteResultsDir, reportSuite };
