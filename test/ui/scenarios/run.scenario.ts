/**
 * A run as a person does it: settings point at a local OpenAI-compatible server, "Extract Workspace" from
 * the command palette, pause and resume from the palette while the status bar follows, the tree reaches
 * Done with one document dead-lettered, and "Retry" from that document's context menu finishes it.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { startModelServer, type ModelServer } from '../../support/modelServer';
import type { Scenario } from '../scenario';
import { runCommand, showDocumentsView, sideBarPane, startRunAgainst, statusBarItem, until as waitFor, writeFolderSettings } from '../workbench';

const BAD_DOC = 'inv-7781-kestrel.txt';

export const runScenario: Scenario = {
  name: 'run',
  async run(s) {
    const { page } = s;
    let server: ModelServer | undefined;
    const results = path.join(s.ctx.workspace, 'extracted');
    try {
      server = await startModelServer({ latencyMs: 700 });
      server.setScript(BAD_DOC, [{ status: 400 }]);
      writeFolderSettings(s.ctx.workspace, { 'extractionWorkbench.baseUrl': server.url, 'extractionWorkbench.concurrency': 1 });
      const srv = server;

      await s.check('"Extract Workspace" from the palette starts a run shown in the status bar', async () => {
        await statusBarItem(page).waitFor({ state: 'visible', timeout: 60_000 });
        // the icon toggles its container: a click on the open one (the workbench scenario left it open) closes it
        await showDocumentsView(page);
        await startRunAgainst(page, () => srv.stats.total > 0);
        const item = statusBarItem(page, /\d+\/\d+/);
        await item.waitFor({ state: 'visible', timeout: 15_000 });
        assert.match(await item.innerText(), /\d+\/\d+/);
        // rows of documents, or (before the first is listed) a word that the run is starting: never the
        // welcome that says no extraction has run and offers to start one
        const pane = page.locator('.part.sidebar');
        assert.doesNotMatch(await pane.innerText(), /No extraction has run in this workspace yet/);
        await s.screenshot('10-run-in-progress');
      });

      await s.check('Pause stops new requests and the status bar says paused; Resume goes on', async () => {
        // the window progress ("Extracting: 1/6", with a spinner) shows while the run goes on, not while paused
        const windowProgress = page.locator('.statusbar [id="status.progress"]', { hasText: /Extracting/ });
        await windowProgress.first().waitFor({ state: 'visible', timeout: 10_000 });
        await runCommand(page, 'Extraction Workbench: Pause');
        await statusBarItem(page, /paused/i).waitFor({ state: 'visible', timeout: 10_000 });
        await windowProgress.first().waitFor({ state: 'detached', timeout: 10_000 });
        await waitFor('in-flight request to finish', () => srv.stats.inFlight === 0, 10_000);
        const n = srv.stats.total;
        await page.waitForTimeout(1500);
        assert.strictEqual(srv.stats.total, n, 'no request while paused');
        await s.screenshot('11-run-paused');
        assert.strictEqual(await windowProgress.count(), 0, 'no spinner while paused');
        await runCommand(page, 'Extraction Workbench: Resume');
        await waitFor('a request after resume', () => srv.stats.total > n, 10_000);
        await windowProgress.first().waitFor({ state: 'visible', timeout: 10_000 });
      });

      await s.check('the tree reaches Done, with the failing document dead-lettered', async () => {
        const pane = sideBarPane(page, 'Documents');
        await pane.locator('.monaco-list-row', { hasText: 'Dead-lettered' }).waitFor({ timeout: 60_000 });
        await waitFor('result files', () => fs.existsSync(results) && fs.readdirSync(results).filter((f) => f.endsWith('.json')).length >= 5, 60_000);
        await statusBarItem(page, /idle|\d+\/\d+/).waitFor({ timeout: 30_000 });
        // the tree converges: nothing left running, five of the six documents done
        await pane.locator('.monaco-list-row', { hasText: /^Running/ }).waitFor({ state: 'detached', timeout: 20_000 });
        const done = pane.locator('.monaco-list-row', { hasText: /^Done/ });
        await done.waitFor({ timeout: 20_000 });
        await waitFor('Done 5', async () => /Done\s*5/.test(await done.innerText()), 10_000);
        const dl = pane.locator('.monaco-list-row', { hasText: 'Dead-lettered' });
        await dl.click();
        await pane.locator('.monaco-list-row', { hasText: BAD_DOC }).waitFor({ timeout: 10_000 });
        await s.screenshot('12-run-done');
      });

      await s.check('"Retry" from the dead-lettered document\'s context menu finishes it', async () => {
        const pane = sideBarPane(page, 'Documents');
        const row = pane.locator('.monaco-list-row', { hasText: BAD_DOC });
        await row.click({ button: 'right' });
        const retry = page.locator('.context-view .action-label', { hasText: /^Retry$/ });
        await retry.waitFor({ timeout: 10_000 });
        await s.screenshot('13-context-menu');
        await retry.click();
        await waitFor(`${BAD_DOC} result`, () => fs.existsSync(path.join(results, `${BAD_DOC}.json`)), 30_000);
        assert.strictEqual(srv.requestsFor(BAD_DOC).length, 2);
        await pane.locator('.monaco-list-row', { hasText: 'Dead-lettered' }).waitFor({ state: 'detached', timeout: 15_000 }).catch(async () => {
          const text = await pane.innerText();
          assert.doesNotMatch(text, /Dead-lettered\s*\n?\s*[1-9]/, 'dead-letter group is empty');
        });
        await s.screenshot('14-after-retry');
      });
    } finally {
      await server?.close();
    }
  },
};
