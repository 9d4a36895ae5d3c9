'use strict';
/**
 * Mocha reporter for the unit tests: the usual `spec` output, plus the suite summary that
 * scripts/test-all.js sums (`SUITE unit: N passed, N failed`, test-results/unit/summary.json and
 * $EW_SUMMARY_FILE; see summary.js).
 *
 *   mocha --config .mocharc.json --reporter test/harness/mocha-summary-reporter.js
 */
// mocha 12's package entry is an ES module; its CommonJS build is the same implementation.
const Mocha = require('mocha/lib/mocha.cjs');
const { reportSuite } = require('./summary');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const started = Date.now();
    const failures = [];
    runner.on('fail', (test, err) => failures.push({ title: test.fullTitle(), error: String((err && err.message) || err) }));
    runner.once('end', () => {
      const stats = runner.stats || {};
      reportSuite({ suite: 'unit', passed: stats.passes || 0, failed: failures.length, pending: stats.pending || 0, durationMs: Date.now() - started, failures, quiet: true });
    });
  }
}

module.exports = SummaryReporter;
