/**
 * First look at the extension in the workbench, the way a user meets it: the status-bar item shows up
 * (activation through workspaceContains:extraction.config.json), the command is in the command
 * palette, the activity-bar icon opens the "Extraction Workbench" container with its Documents view.
 */
import * as assert from 'assert';
import type { Scenario } from '../scenario';
import { activityBarItem, closeQuickInput, findInCommandPalette, sideBar, sideBarPane, sideBarTitle, statusBarItem } from '../workbench';

export const workbenchScenario: Scenario = {
  name: 'workbench',
  async run(s) {
    const { page } = s;

    await s.check('the status-bar item appears when the extension activates', async () => {
      const item = statusBarItem(page);
      await item.waitFor({ state: 'visible', timeout: 60_000 });
      const text = (await item.innerText()).trim();
      assert.match(text, /^Extraction\b/, `status-bar text "${text}"`);
      await s.screenshot('01-workbench');
    });

    await s.check('F1 lists "Extraction Workbench: Extract Workspace"', async () => {
      const row = await findInCommandPalette(page, 'Extraction Workbench: Extract Workspace');
      const label = (await row.locator('.label-name').first().innerText()).trim();
      assert.strictEqual(label, 'Extraction Workbench: Extract Workspace');
      await s.screenshot('02-command-palette');
      await closeQuickInput(page);
    });

    await s.check('the activity-bar icon opens the "Extraction Workbench" container', async () => {
      const icon = activityBarItem(page, 'Extraction Workbench');
      await icon.waitFor({ state: 'visible', timeout: 15_000 });
      await icon.click();
      await sideBar(page).waitFor({ state: 'visible', timeout: 10_000 });
      await sideBarTitle(page).filter({ hasText: /Extraction Workbench/i }).waitFor({ timeout: 10_000 });
    });

    await s.check('the Documents view is shown and has content from the extension', async () => {
      const pane = sideBarPane(page, 'Documents');
      await pane.waitFor({ state: 'visible', timeout: 15_000 });
      // A container with one view shows "EXTRACTION WORKBENCH: DOCUMENTS" as its title; with more
      // views, "Documents" is the view's own pane header. Either way the name is on screen.
      const visibleNames = `${await sideBarTitle(page).innerText()} ${await pane.locator('.pane-header').innerText().catch(() => '')}`;
      assert.match(visibleNames, /documents/i, `side bar shows the view name (saw "${visibleNames.trim()}")`);
      const body = pane.locator('.pane-body');
      await body.waitFor({ state: 'visible', timeout: 10_000 });
      // Either tree rows or the contributed welcome content - never the "no data provider" placeholder,
      // which is what a view shows when the extension did not register its tree.
      const content = body.locator('.monaco-list-row, .welcome-view-content').first();
      await content.waitFor({ state: 'visible', timeout: 15_000 });
      const text = await body.innerText();
      assert.doesNotMatch(text, /no data provider registered/i, 'the extension registered a tree data provider');
      await s.screenshot('03-documents-view');
    });
  },
};
