/**
 * Integration test entry point (`extensionTestsPath`).
 *
 * VS Code loads the bundled form of this file (out/test/integration/index.js) inside the extension
 * host - the real one, with the real `vscode` API - calls `run()`, and reports the settled promise to
 * the test launcher (`codeAutomationExit` in code-server, the process exit code in Electron).
 *
 * `run()` executes every `out/test/integration/**\/*.suite.js` with mocha (bdd, 60 s timeout) and writes
 * a results file, because an exit code alone cannot be trusted: when the extension host crashes, VS
 * Code still reports success. Launchers require this file and fail when it is missing or has 0 passes.
 *
 * Environment (inherited from the launcher through code-server / Electron):
 *   EW_TEST_RESULTS  where to write the results JSON (default: <repo>/test-results/integration-results.json)
 *   EW_TEST_GREP     only run tests whose full title matches this regular expression
 *   EW_TEST_FILES    only load suite files whose path matches this regular expression
 */
import * as fs from 'fs';
import * as path from 'path';
import type MochaType from 'mocha';

// mocha 12's main entry is an ES module; its CommonJS build loads everywhere, including extension
// hosts on Node versions without require(esm) (VS Code desktop's Electron).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Mocha: typeof MochaType = require('mocha/lib/mocha.cjs');

/** Shape of the results file; the launchers (test/harness/*.js) read it. */
export interface TestResults {
  suite: string;
  startedAt: string;
  finishedAt: string;
  node: string;
  pid: number;
  files: string[];
  passes: Array<{ title: string; fullTitle: string; file?: string; durationMs?: number }>;
  failures: Array<{ title: string; fullTitle: string; file?: string; error: string; stack?: string }>;
  pending: Array<{ title: string; fullTitle: string }>;
  stats: { suites: number; tests: number; passes: number; failures: number; pending: number; durationMs: number };
}

/** All suite files below `dir`, sorted for a stable order. */
function findSuites(dir: string, filter?: RegExp): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.suite.js') && (!filter || filter.test(p))) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

function writeResults(file: string, results: TestResults): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
}

export function run(): Promise<void> {
  const resultsFile = process.env.EW_TEST_RESULTS || path.resolve(__dirname, '../../../test-results/integration-results.json');
  const started = Date.now();
  const results: TestResults = {
    suite: 'integration',
    startedAt: new Date(started).toISOString(),
    finishedAt: '',
    node: process.version,
    pid: process.pid,
    files: [],
    passes: [],
    failures: [],
    pending: [],
    stats: { suites: 0, tests: 0, passes: 0, failures: 0, pending: 0, durationMs: 0 },
  };
  const finish = (): void => {
    results.finishedAt = new Date().toISOString();
    results.stats.passes = results.passes.length;
    results.stats.failures = results.failures.length;
    results.stats.pending = results.pending.length;
    results.stats.tests = results.passes.length + results.failures.length + results.pending.length;
    results.stats.durationMs = Date.now() - started;
    writeResults(resultsFile, results);
    console.log(`[integration] ${results.stats.passes} passed, ${results.stats.failures} failed, ${results.stats.pending} pending -> ${resultsFile}`);
  };

  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 60_000,
    color: false,
    reporter: 'spec',
    ...(process.env.EW_TEST_GREP ? { grep: process.env.EW_TEST_GREP } : {}),
  });

  return new Promise<void>((resolve, reject) => {
    try {
      const fileFilter = process.env.EW_TEST_FILES ? new RegExp(process.env.EW_TEST_FILES) : undefined;
      results.files = findSuites(__dirname, fileFilter);
      for (const f of results.files) mocha.addFile(f);
      const runner = mocha.run((failures) => {
        results.stats.suites = runner.stats?.suites ?? 0;
        finish();
        if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
        else if (results.passes.length === 0) reject(new Error('no integration tests ran'));
        else resolve();
      });
      const file = (t: MochaType.Runnable): string | undefined => (t.file ? path.relative(__dirname, t.file) : undefined);
      runner.on('pass', (t) => results.passes.push({ title: t.title, fullTitle: t.fullTitle(), file: file(t), durationMs: t.duration }));
      runner.on('fail', (t, err: Error) =>
        results.failures.push({ title: t.title, fullTitle: t.fullTitle(), file: file(t), error: String(err?.message ?? err), stack: err?.stack }),
      );
      runner.on('pending', (t) => results.pending.push({ title: t.title, fullTitle: t.fullTitle() }));
    } catch (err) {
      // e.g. a suite file that throws while loading: record it, so the launcher reports it as a failure
      const e = err as Error;
      results.failures.push({ title: 'load test suites', fullTitle: 'load test suites', error: String(e?.message ?? e), stack: e?.stack });
      finish();
      reject(e);
    }
  });
}
