/**
 * Review routing in the workbench: a document whose answer has a value the document does not contain is
 * listed under "Needs review" in the Documents view (and still under Done); "Next to check" in the Review
 * panel selects that value.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { startModelServer, type ModelServer } from '../../support/modelServer';
import type { Scenario } from '../scenario';
import { contextMenuItem, runCommand, scrollTreeToTop, showDocumentsView, sleep, startRunAgainst, statusBarItem, treeRow, until, writeFolderSettings } from '../workbench';

const DOC = 'needs-review/harbour-lights.txt';
const TEXT = ['Harbour Lights Ltd', 'Invoice no. H-12', 'Date: 2024-06-01', '', 'Lamp oil      4    40.00', '', 'Total due: EUR 40.00', ''].join('\n');
// the vendor is not in the document: ungrounded, below the default threshold
const ANSWER = { invoice_number: 'H-12', invoice_date: '2024-06-01', vendor: 'Quayside Trading GmbH', total: 40, currency: 'EUR', line_items: [{ description: 'Lamp oil', quantity: 4, amount: 40 }] };

export const needsReviewScenario: Scenario = {
  name: 'needsReview',
  async run(s) {
    const { page } = s;
    let server: ModelServer | undefined;
    try {
      server = await startModelServer();
      const srv = server;
      server.setScript(DOC, [{ reply: ANSWER }]);
      writeFolderSettings(s.ctx.workspace, { 'extractionWorkbench.baseUrl': server.url });
      fs.mkdirSync(path.join(s.ctx.workspace, 'needs-review'), { recursive: true });
      fs.writeFileSync(path.join(s.ctx.workspace, ...DOC.split('/')), TEXT);
      const result = path.join(s.ctx.workspace, 'extracted', ...`${DOC}.json`.split('/'));

      await s.check('a done document with an ungrounded value is listed under "Needs review"', async () => {
        // alone (EW_UI_SCENARIOS), the extension may still be activating
        await statusBarItem(page).waitFor({ state: 'visible', timeout: 60_000 });
        const pane = await showDocumentsView(page);
        await startRunAgainst(page, () => srv.requestsFor(DOC).length > 0);
        await until(`${DOC} result`, () => fs.existsSync(result), 60_000);
        await scrollTreeToTop(page);
        await pane.locator('.monaco-list-row', { hasText: /^Needs review/ }).first().waitFor({ state: 'visible', timeout: 20_000 });
        // earlier scenarios leave other documents in the group: the row may be further down the (virtual) list
        const row = await treeRow(page, DOC, 'Needs review');
        assert.match(await row.innerText(), /needs review/);
        await row.click();
        await sleep(300); // let the selection paint before the screenshot
        await s.screenshot('30-needs-review-group');
      });

      await s.check('the Review panel opens on the value to check; "Next to check" stays on the only one', async () => {
        const row = await treeRow(page, DOC, 'Needs review');
        await contextMenuItem(page, row, 'Review Side by Side');
        const frame = page.locator('iframe.webview.ready').last().contentFrame().locator('#active-frame').contentFrame();
        await frame.locator(`#app[data-loaded="${DOC}"]`).waitFor({ timeout: 30_000 });
        const info = frame.locator('.selection-info');
        await until('the vendor selected', async () => /vendor: UNGROUNDED.*confidence 0\.20/.test(await info.innerText()), 10_000);
        const next = frame.locator('button.next-check');
        assert.match(await next.innerText(), /Next to check \(1\)/);
        await next.click();
        assert.match(await info.innerText(), /vendor: UNGROUNDED/);
        await s.screenshot('31-review-next-to-check');
      }, 90_000);
    } finally {
      await server?.close();
      await runCommand(page, 'Notifications: Clear All Notifications').catch(() => undefined);
    }
  },
};
