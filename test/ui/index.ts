/**
 * UI test entry point. Bundled to out/test/ui/index.js and called by
 * `node test/harness/run-vscode-tests.js --ui` (npm run test:ui) with a Playwright page showing the
 * workbench, the repo loaded as development extension and a copy of samples/invoices open.
 *
 * Add a scenario: create test/ui/scenarios/<name>.scenario.ts exporting a `Scenario` and list it below.
 * Every `check()` counts as one test; screenshots go to test-results/screenshots/.
 *
 * `untrustedScenarios` run afterwards in a second window with workspace trust on (test/harness/run-vscode-
 * tests.js starts it when any of them is selected): Restricted Mode, then a multi-root workspace.
 *
 * `EW_UI_SCENARIOS=<regex>` runs only the scenarios whose name matches (quick local runs).
 */
import { runScenarios, type Scenario, type UiContext, type UiResults } from './scenario';
import { dashboardScenario } from './scenarios/dashboard.scenario';
import { datasetScenario } from './scenarios/dataset.scenario';
import { multiRootScenario } from './scenarios/multiRoot.scenario';
import { outageScenario } from './scenarios/outage.scenario';
import { reloadScenario } from './scenarios/reload.scenario';
import { restrictedScenario } from './scenarios/restricted.scenario';
import { needsReviewScenario } from './scenarios/needsReview.scenario';
import { runScenario } from './scenarios/run.scenario';
import { reviewScenario } from './scenarios/review.scenario';
import { scanScenario } from './scenarios/scan.scenario';
import { imageReviewScenario } from './scenarios/imageReview.scenario';
import { workbenchScenario } from './scenarios/workbench.scenario';

export const scenarios = [workbenchScenario, runScenario, dashboardScenario, reviewScenario, scanScenario, imageReviewScenario, datasetScenario, outageScenario, reloadScenario, needsReviewScenario];
export const untrustedScenarios = [restrictedScenario, multiRootScenario];

export function selected(list: readonly Scenario[]): Scenario[] {
  const only = process.env.EW_UI_SCENARIOS ? new RegExp(process.env.EW_UI_SCENARIOS) : undefined;
  return list.filter((s) => !only || only.test(s.name));
}

export function run(ctx: UiContext): Promise<UiResults> {
  return runScenarios(ctx, selected(scenarios));
}

/** Whether the second window (workspace trust on) has scenarios to run. */
export function hasUntrusted(): boolean {
  return selected(untrustedScenarios).length > 0;
}

/** Runs the second window's scenarios; their checks are added to `results`. */
export function runUntrusted(ctx: UiContext, results: UiResults): Promise<UiResults> {
  return runScenarios(ctx, selected(untrustedScenarios), results);
}
