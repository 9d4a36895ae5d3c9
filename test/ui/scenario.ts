/**
 * A minimal scenario runner for UI tests. A scenario drives one workbench page step by step; each
 * `check()` is one test (pass or fail) in the summary. Checks of a scenario run in order, and a failed
 * check does not stop the later ones (each starts by closing any open quick pick), so one broken
 * feature does not hide the state of the others. A failing check leaves a FAILED-*.png screenshot.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';

/** What the launcher (test/harness/run-vscode-tests.js --ui) hands to `run()`. */
export interface UiContext {
  page: Page;
  /** http://127.0.0.1:PORT of the code-server instance */
  baseUrl: string;
  /** the workspace folder open in the workbench (a temp copy of samples/invoices) */
  workspace: string;
  /** where screenshots go (test-results/screenshots) */
  screenshotsDir: string;
  log(message: string): void;
  /** Only in the second window (workspace trust on, nothing trusted): see {@link UntrustedContext}. */
  untrusted?: UntrustedContext;
}

/**
 * The second window of the UI run: a code-server profile with workspace trust on and nothing trusted, so
 * every folder opens in Restricted Mode until a scenario trusts it. It starts on `freshFolder`.
 */
export interface UntrustedContext {
  /** The first window's workspace, with the state (checkpoint store, results) its runs left. */
  stateFolder: string;
  /** A fresh copy of samples/invoices: a config, no state. */
  freshFolder: string;
  /** A .code-workspace of both: `stateFolder` named "invoices", `freshFolder` named "archive". */
  workspaceFile: string;
  /** Opens a folder or a workspace in the page (as File > Open would) and waits for the workbench. */
  open(target: { folder: string } | { workspace: string }): Promise<void>;
}

/** Same shape as the integration results file, so the launcher treats both alike. */
export interface UiResults {
  suite: 'ui';
  startedAt: string;
  finishedAt: string;
  passes: Array<{ title: string; fullTitle: string; durationMs: number }>;
  failures: Array<{ title: string; fullTitle: string; error: string; stack?: string; screenshot?: string }>;
  pending: Array<{ title: string; fullTitle: string }>;
  screenshots: string[];
  stats: { suites: number; tests: number; passes: number; failures: number; pending: number; durationMs: number };
}

export interface Scenario {
  name: string;
  run(s: ScenarioRun): Promise<void>;
}

export class ScenarioRun {
  constructor(
    readonly ctx: UiContext,
    readonly scenario: string,
    private readonly results: UiResults,
  ) {}

  get page(): Page {
    return this.ctx.page;
  }

  /** Save a screenshot of the whole workbench as `<screenshotsDir>/<name>.png`. */
  async screenshot(name: string): Promise<string> {
    const file = path.join(this.ctx.screenshotsDir, `${name}.png`);
    await this.page.screenshot({ path: file });
    this.results.screenshots.push(file);
    this.ctx.log(`    screenshot ${path.relative(process.cwd(), file)}`);
    return file;
  }

  /** Run one check, recording it as a passed or failed test. */
  async check(title: string, fn: () => Promise<void>, timeoutMs = 60_000): Promise<boolean> {
    const fullTitle = `${this.scenario} > ${title}`;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.page.keyboard.press('Escape').catch(() => undefined); // close leftovers of a failed check
      await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`check timed out after ${timeoutMs / 1000}s`)), timeoutMs);
        }),
      ]);
      const durationMs = Date.now() - started;
      this.results.passes.push({ title, fullTitle, durationMs });
      this.ctx.log(`  ✔ ${title} (${durationMs} ms)`);
      return true;
    } catch (err) {
      const e = err as Error;
      const n = this.results.failures.length + 1;
      const screenshot = await this.screenshot(`FAILED-${n}-${slug(this.scenario)}`).catch(() => undefined);
      this.results.failures.push({ title, fullTitle, error: e?.message ?? String(e), stack: e?.stack, screenshot });
      this.ctx.log(`  ✘ ${title}: ${(e?.message ?? String(e)).split('\n')[0]}`);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/** Run scenarios one after another on the same page and collect the results (added to `into` when given). */
export async function runScenarios(ctx: UiContext, scenarios: Scenario[], into?: UiResults): Promise<UiResults> {
  const started = into ? Date.parse(into.startedAt) : Date.now();
  fs.mkdirSync(ctx.screenshotsDir, { recursive: true });
  const results: UiResults = into ?? {
    suite: 'ui',
    startedAt: new Date(started).toISOString(),
    finishedAt: '',
    passes: [],
    failures: [],
    pending: [],
    screenshots: [],
    stats: { suites: scenarios.length, tests: 0, passes: 0, failures: 0, pending: 0, durationMs: 0 },
  };
  for (const scenario of scenarios) {
    ctx.log(`scenario: ${scenario.name}`);
    const run = new ScenarioRun(ctx, scenario.name, results);
    try {
      await scenario.run(run);
    } catch (err) {
      // code between checks threw: count it, so the scenario cannot pass silently
      const e = err as Error;
      results.failures.push({ title: 'scenario', fullTitle: `${scenario.name} > scenario`, error: e?.message ?? String(e), stack: e?.stack });
      ctx.log(`  ✘ scenario aborted: ${e?.message ?? e}`);
    }
  }
  results.finishedAt = new Date().toISOString();
  results.stats = {
    suites: results.stats.suites + (into ? scenarios.length : 0),
    tests: results.passes.length + results.failures.length,
    passes: results.passes.length,
    failures: results.failures.length,
    pending: 0,
    durationMs: Date.now() - started,
  };
  return results;
}
