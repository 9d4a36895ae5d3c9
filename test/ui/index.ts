/**
 * UI test entry point. Bundled to out/test/ui/index.js and called by
 * `node test/harness/run-vscode-tests.js --ui` (npm run test:ui) with a Playwright page showing the
 * workbench, the repo loaded as development extension and a copy of samples/invoices open.
 *
 * Add a scenario: create test/ui/scenarios/<name>.scenario.ts exporting a `Scenario` and list it below.
 * Every `check()` counts as one test; screenshots go to test-results/screenshots/.
 */
import { runScenarios, type UiContext, type UiResults } from './scenario';
import { dashboardScenario } from './scenarios/dashboard.scenario';
import { runScenario } from './scenarios/run.scenario';
import { reviewScenario } from './scenarios/review.scenario';
import { workbenchScenario } from './scenarios/workbench.scenario';

export const scenarios = [workbenchScenario, runScenario, dashboardScenario, reviewScenario];

export function run(ctx: UiContext): Promise<UiResults> {
  return runScenarios(ctx, scenarios);
}
