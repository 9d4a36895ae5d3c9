/**
 * A provider outage as a person meets it: a run over new documents against a local model server that
 * answers every request with 503. The run does not stop: the status bar and the Documents view say
 * "waiting for the provider" (since when, next try), nothing is dead-lettered and no document uses up its
 * attempts. When the server answers again, the run goes on and finishes by itself.
 * Screenshots: 15-outage-waiting.png, 16-outage-recovered.png.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { startModelServer, type ModelServer } from '../../support/modelServer';
import type { Scenario } from '../scenario';
import { groupCount, runCommand, scrollTreeToTop, showDocumentsView, startRunAgainst, statusBarItem, until, writeFolderSettings } from '../workbench';

const FOLDER = 'outage';
const DOCS = 4;

export const outageScenario: Scenario = {
  name: 'outage',
  async run(s) {
    const { page, ctx } = s;
    const ws = ctx.workspace;
    const docs = Array.from({ length: DOCS }, (_, i) => `${FOLDER}/inv-${i + 1}.txt`);
    let server: ModelServer | undefined;
    let down = true;
    try {
      server = await startModelServer({ latencyMs: 50 });
      const srv = server;
      srv.setResponder((req) => (down ? { status: 503 } : { reply: { invoice_number: req.document || 'probe', invoice_date: '2024-06-01', vendor: 'Outage Ltd', total: 1, currency: 'EUR', line_items: [] } }));
      for (const [i, rel] of docs.entries()) {
        fs.mkdirSync(path.join(ws, FOLDER), { recursive: true });
        fs.writeFileSync(path.join(ws, ...rel.split('/')), `Invoice O-${i + 1}\nVendor: Outage Ltd\nTotal: ${i + 1}.00 EUR\n`);
      }
      writeFolderSettings(ws, { 'extractionWorkbench.baseUrl': srv.url, 'extractionWorkbench.concurrency': 2 });
      let deadBefore = 0;

      await s.check('during an outage the status bar and the Documents view say "waiting for the provider"; nothing is dead-lettered', async () => {
        await statusBarItem(page).waitFor({ state: 'visible', timeout: 60_000 });
        await runCommand(page, 'View: Close All Editors');
        const pane = await showDocumentsView(page);
        deadBefore = await groupCount(pane, 'Dead-lettered');
        await startRunAgainst(page, () => srv.stats.total > 0);
        const item = statusBarItem(page, /waiting for the provider/);
        await item.waitFor({ state: 'visible', timeout: 30_000 });
        await scrollTreeToTop(page); // the summary row is the first; an earlier scenario may have scrolled away
        await pane.locator('.monaco-list-row', { hasText: /Waiting for the provider/ }).waitFor({ timeout: 20_000 });
        const row = await pane.locator('.monaco-list-row', { hasText: /Waiting for the provider/ }).innerText();
        assert.match(row, /since \d\d:\d\d:\d\d, (next try at \d\d:\d\d:\d\d|trying now)/);
        await s.screenshot('15-outage-waiting');
        assert.strictEqual(await groupCount(pane, 'Dead-lettered'), deadBefore, 'nothing dead-lettered during the outage');
        // the outage is waited out by probing, not by sending every document: a handful of requests at most
        assert.ok(srv.stats.total <= 10, `${srv.stats.total} requests reached the failing server`);
      });

      await s.check('when the provider answers again the run goes on and finishes', async () => {
        down = false;
        const results = path.join(ws, 'extracted', FOLDER);
        await until('every result', () => docs.every((d) => fs.existsSync(path.join(results, `${path.basename(d)}.json`))), 90_000);
        await statusBarItem(page, /idle/).waitFor({ timeout: 30_000 });
        const pane = await showDocumentsView(page);
        await pane.locator('.monaco-list-row', { hasText: /Waiting for the provider/ }).waitFor({ state: 'detached', timeout: 20_000 });
        // the tree converges: nothing pending or running any more
        for (const group of ['Pending', 'Running']) await until(`no ${group} group`, async () => (await groupCount(pane, group)) === 0, 20_000);
        assert.strictEqual(await groupCount(pane, 'Dead-lettered'), deadBefore);
        for (const d of docs) assert.strictEqual(srv.requestsFor(d).filter((r) => r.status === 200).length, 1, `${d}: answered once`);
        await s.screenshot('16-outage-recovered');
      });
    } finally {
      await server?.close();
    }
  },
};
