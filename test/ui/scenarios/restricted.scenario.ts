/**
 * Restricted Mode (an untrusted workspace) keeps what the manifest promises (`untrustedWorkspaces:
 * limited`): the Documents view explains why runs are off, the state of earlier runs stays visible and
 * results open, nothing starts a run (a command that would says why, with a way to trust the workspace),
 * and the workspace's `extractionWorkbench.baseUrl` is not used (a restricted setting: the model endpoint
 * is where an untrusted repository would send the documents and the API key).
 *
 * Runs in the second window (workspace trust on, nothing trusted): first a fresh folder without state,
 * then a workspace of that folder and the first window's folder, whose workspace settings point the model
 * endpoint at a local server that must never see a request. Screenshots: 40-restricted-*.png.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { startModelServer, type ModelServer } from '../../support/modelServer';
import type { Scenario, ScenarioRun, UntrustedContext } from '../scenario';
import { closeQuickInput, findInCommandPalette, reloadWindow, runCommand, showDocumentsView, sleep, statusBarItem, treeRow, until, writeFolderSettings } from '../workbench';

const DEFAULT_ENDPOINT = 'https://api.openai.com/v1';

/** Merges `settings` into the `settings` of a .code-workspace file. */
export function writeWorkspaceFileSettings(file: string, settings: Record<string, unknown>): void {
  const ws = JSON.parse(fs.readFileSync(file, 'utf8')) as { settings?: Record<string, unknown> };
  ws.settings = { ...ws.settings, ...settings };
  fs.writeFileSync(file, JSON.stringify(ws, null, 2));
}

/** The text of the status-bar item's hover (its tooltip). */
export async function statusBarTooltip(page: Page, mustContain: string): Promise<string> {
  const item = statusBarItem(page);
  await item.waitFor({ state: 'visible', timeout: 30_000 });
  return until(`a status bar tooltip that mentions "${mustContain}"`, async () => {
    await page.mouse.move(0, 0);
    await item.hover();
    const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: /Extraction/ }).first();
    await hover.waitFor({ state: 'visible', timeout: 5_000 });
    const text = await hover.innerText();
    return text.includes(mustContain) ? text : undefined;
  }, 20_000);
}

/**
 * Opens the two-folder workspace and waits for the Documents tree to show the "invoices" folder (which has
 * state). The first time a browser profile opens a .code-workspace, VS Code (web) may start the extension
 * host before it has read the file; it then hands the folders over only when the window goes away, so the
 * extension sees an empty workspace. Reloading the window, as a person would, gives one that knows its
 * folders from the start; this does it once and says so.
 */
export async function openTwoFolders(s: ScenarioRun, u: UntrustedContext): Promise<void> {
  await u.open({ workspace: u.workspaceFile });
  for (let attempt = 1; ; attempt++) {
    const pane = await showDocumentsView(s.page);
    const shown = await pane.locator('.monaco-list-row', { hasText: /^invoices/ }).first().waitFor({ state: 'visible', timeout: 20_000 }).then(() => true, () => false);
    if (shown) return;
    if (attempt >= 2) throw new Error('the Documents tree does not show the "invoices" folder, even after a reload of the window');
    s.ctx.log('    the window started without its workspace folders (VS Code web, first open of a .code-workspace): reloading it');
    await reloadWindow(s.page);
  }
}

export const restrictedScenario: Scenario = {
  name: 'restricted',
  async run(s: ScenarioRun) {
    const { ctx } = s; // always s.page: u.open() replaces the page
    const u = ctx.untrusted;
    assert.ok(u, 'runs in the second window (workspace trust on)');
    let server: ModelServer | undefined;
    try {
      server = await startModelServer();
      const srv = server;

      await s.check('a folder without state opens in Restricted Mode: the welcome view explains why runs are off', async () => {
        await statusBarItem(s.page).waitFor({ state: 'visible', timeout: 60_000 });
        const pane = await showDocumentsView(s.page);
        const welcome = pane.locator('.welcome-view-content');
        await welcome.waitFor({ state: 'visible', timeout: 20_000 });
        const text = await welcome.innerText();
        assert.match(text, /Runs are disabled in Restricted Mode/);
        assert.match(text, /Manage Workspace Trust/);
        assert.doesNotMatch(text, /Extract Workspace/, 'no run button in Restricted Mode');
        await s.screenshot('40-restricted-welcome');
      });

      await s.check('the run commands are not offered (command palette, view title)', async () => {
        // the list is complete once a command allowed in Restricted Mode shows up
        await findInCommandPalette(s.page, 'Extraction Workbench:', 'Extraction Workbench: Show Log');
        const labels = await s.page.locator('.quick-input-list .monaco-list-row .label-name').allInnerTexts();
        await closeQuickInput(s.page);
        for (const hidden of ['Extract Workspace', 'Extract Folder…', 'Retry Failed', 'Reprocess Dead Letters', 'Resume']) {
          assert.ok(!labels.some((l) => l.endsWith(`: ${hidden}`)), `"${hidden}" is not in the palette (saw ${labels.join(', ')})`);
        }
        const title = s.page.locator('.part.sidebar .title-actions .action-label[aria-label="Extract Workspace"], .part.sidebar .pane-header .actions .action-label[aria-label="Extract Workspace"]');
        assert.strictEqual(await title.count(), 0, 'no Extract Workspace action in the view title');
      });

      // the workspace of both folders points runs at the local server; the first window's folder has its own
      // endpoint setting removed, so the workspace's applies there too once trusted
      writeWorkspaceFileSettings(u.workspaceFile, { 'extractionWorkbench.baseUrl': srv.url });
      writeFolderSettings(u.stateFolder, { 'extractionWorkbench.baseUrl': undefined });

      await s.check('in a workspace of two folders the tree shows the last state, with the Restricted Mode notice above it', async () => {
        await openTwoFolders(s, u);
        const pane = await showDocumentsView(s.page);
        const folderRow = pane.locator('.monaco-list-row', { hasText: /^invoices/ }).first();
        await folderRow.waitFor({ state: 'visible', timeout: 30_000 });
        assert.match(await folderRow.innerText(), /\d+\/\d+ done/);
        assert.strictEqual(await pane.locator('.monaco-list-row', { hasText: /^archive/ }).count(), 0, 'the folder without state has no node');
        await pane.locator('.message', { hasText: /Restricted Mode: runs are off until you trust this workspace/ }).waitFor({ state: 'visible', timeout: 10_000 });
        await s.screenshot('41-restricted-tree');
      });

      await s.check('a result opens from the tree ("Open Result")', async () => {
        const doc = 'inv-2024-0117-acme.txt';
        const row = await treeRow(s.page, doc); // opens the Done group and scrolls to the document
        await row.click({ button: 'right' });
        const items = s.page.locator('.context-view .action-label');
        await items.first().waitFor({ state: 'visible', timeout: 10_000 });
        const labels = await items.allInnerTexts();
        assert.ok(!labels.includes('Retry'), `no Retry in Restricted Mode (menu: ${labels.join(', ')})`);
        await sleep(300); // the menu ignores a click that comes right after it opened
        await s.page.locator('.context-view .action-label', { hasText: /^Open Result$/ }).click();
        await s.page.locator('.tabs-container .tab', { hasText: `${doc}.json` }).first().waitFor({ timeout: 20_000 });
        await s.page.locator('.editor-instance .view-lines', { hasText: '"source"' }).first().waitFor({ timeout: 10_000 });
        await s.screenshot('42-restricted-open-result');
      });

      await s.check('the workspace\'s extractionWorkbench.baseUrl is not used: the status bar names the default endpoint', async () => {
        const text = await statusBarTooltip(s.page, 'Restricted Mode');
        assert.match(text, /runs are off until this workspace is trusted/);
        assert.ok(text.includes(`would use gpt-4o-mini at ${DEFAULT_ENDPOINT}`), `the default endpoint applies (tooltip: ${text})`);
        assert.ok(!text.includes(srv.url), `not the workspace's ${srv.url}`);
        await s.screenshot('43-restricted-endpoint');
        await s.page.mouse.move(700, 400);
      });

      await s.check('"Extract Workspace" from the walkthrough starts no run and says why, offering to trust the workspace', async () => {
        const requests = srv.stats.total;
        // the command opens a second quick pick (the walkthroughs) in place of the palette
        await findInCommandPalette(s.page, 'Welcome: Open Walkthrough', 'Welcome: Open Walkthrough...');
        await s.page.keyboard.press('Enter');
        const pick = s.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Get started with Extraction Workbench' }).first();
        await pick.waitFor({ state: 'visible', timeout: 15_000 });
        await pick.click();
        const step = s.page.locator('.getting-started-step', { hasText: 'Extract the workspace' }).first();
        await step.waitFor({ state: 'visible', timeout: 20_000 });
        await step.click();
        const button = step.locator('.monaco-button, a', { hasText: /^Extract Workspace$/ }).first();
        await button.waitFor({ state: 'visible', timeout: 10_000 });
        await button.click();
        const toast = s.page.locator('.notification-toast', { hasText: /runs are disabled in Restricted Mode/i }).first();
        await toast.waitFor({ state: 'visible', timeout: 15_000 });
        await toast.locator('.monaco-button', { hasText: 'Manage Workspace Trust' }).waitFor({ state: 'visible', timeout: 5_000 });
        await s.screenshot('44-restricted-run-refused');
        await sleep(1000);
        assert.strictEqual(srv.stats.total, requests, 'no model request');
        await statusBarItem(s.page, /idle/).waitFor({ timeout: 5_000 });
        assert.ok(!fs.existsSync(path.join(u.freshFolder, '.extraction')), 'the folder without state still has none');
        await runCommand(s.page, 'View: Close All Editors').catch(() => undefined);
      });
      assert.strictEqual(srv.stats.total, 0, 'the workspace\'s endpoint never saw a request in Restricted Mode');
    } finally {
      await server?.close();
    }
  },
};
