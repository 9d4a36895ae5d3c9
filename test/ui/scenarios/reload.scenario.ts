/**
 * A run survives a window reload, as a person meets it: a run over new documents against a slow local
 * model server, "Developer: Reload Window" from the palette while some documents are done and others are
 * not, then
 *   - the Documents tree shows the last state at once, from the checkpoint store (no run, no request),
 *   - the interrupted run is offered for resuming (notification and the view's title action),
 *   - Resume finishes it, and no document is extracted twice: every document got exactly one answered
 *     model request, and the documents done before the reload got no request at all after it (requests
 *     cancelled by the reload itself are never answered, see RecordedRequest.status).
 * Screenshots: 30-reload-*.png.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { startModelServer, type ModelServer } from '../../support/modelServer';
import type { Scenario, ScenarioRun } from '../scenario';
import { groupCount, reloadWindow, runCommand, showDocumentsView, sleep, startRunAgainst, statusBarItem, until, writeFolderSettings } from '../workbench';

const DOCS = 8;
const FOLDER = 'reloaded';

export const reloadScenario: Scenario = {
  name: 'reload',
  async run(s: ScenarioRun) {
    const { page, ctx } = s;
    const ws = ctx.workspace;
    const docs = Array.from({ length: DOCS }, (_, i) => `${FOLDER}/inv-${String(i + 1).padStart(2, '0')}.txt`);
    let server: ModelServer | undefined;
    try {
      server = await startModelServer({ latencyMs: 1500 });
      const srv = server;
      const answered = (doc: string) => srv.requestsFor(doc).filter((r) => r.status === 200).length;
      const answeredDocs = () => docs.filter((d) => answered(d) > 0);
      /** Every document this server answered (on a fresh workspace the sample documents run too). */
      const answeredAll = () => new Set(srv.requests.filter((r) => r.status === 200).map((r) => r.document)).size;
      for (const [i, rel] of docs.entries()) {
        fs.mkdirSync(path.join(ws, FOLDER), { recursive: true });
        fs.writeFileSync(path.join(ws, ...rel.split('/')), `Invoice R-${i + 1}\nVendor: Reload GmbH\nTotal: ${(i + 1) * 10}.00 EUR\n`);
      }
      writeFolderSettings(ws, { 'extractionWorkbench.baseUrl': srv.url, 'extractionWorkbench.concurrency': 2 });

      let doneBefore = 0; // the tree's Done count before this scenario's run
      let doneAtReload: string[] = [];
      let answeredAtReload = 0;
      let requestsAtReload = 0;

      await s.check('a run over new documents is under way against a slow model server', async () => {
        await statusBarItem(page).waitFor({ state: 'visible', timeout: 60_000 });
        // editors of earlier scenarios (a review panel) would come back with the reload and take the focus
        await runCommand(page, 'View: Close All Editors');
        const bar = page.locator('.part.statusbar');
        if (!/Extraction: idle/.test(await bar.innerText())) {
          ctx.log('    a run is still active: stopping it');
          await runCommand(page, 'Extraction Workbench: Stop');
          await statusBarItem(page, /idle/).waitFor({ timeout: 30_000 });
        }
        const pane = await showDocumentsView(page);
        doneBefore = await groupCount(pane, 'Done');
        await startRunAgainst(page, () => srv.stats.total > 0);
        // some documents done and some not: the reload interrupts the run in the middle
        await until('two documents answered', () => answeredDocs().length >= 2, 60_000);
        await statusBarItem(page, /\d+\/\d+/).waitFor({ timeout: 15_000 });
        await s.screenshot('30-reload-before');
        assert.ok(answeredDocs().length < DOCS, 'documents are left when the window reloads');
      }, 120_000);

      await s.check('after "Developer: Reload Window" the tree shows the last state at once, from the checkpoint store', async () => {
        const requestsBefore = srv.stats.total;
        await reloadWindow(page);
        // what the old window finished is final now: nothing runs until Resume
        doneAtReload = answeredDocs();
        answeredAtReload = answeredAll();
        requestsAtReload = srv.requests.length;
        ctx.log(`    reloaded with ${doneAtReload.length} of ${DOCS} documents done (${srv.stats.total - requestsBefore} request(s) during the reload)`);
        const pane = await showDocumentsView(page);
        await until(`Done ${doneBefore + answeredAtReload} in the tree`, async () => (await groupCount(pane, 'Done')) === doneBefore + answeredAtReload, 30_000);
        assert.strictEqual(await groupCount(pane, 'Pending'), DOCS - doneAtReload.length, 'the rest is pending');
        assert.strictEqual(await groupCount(pane, 'Running'), 0, 'nothing shows as running');
        assert.strictEqual(srv.requests.length, requestsAtReload, 'the tree came from the store: no request since the reload');
        await statusBarItem(page, /idle/).waitFor({ timeout: 10_000 });
      }, 150_000);

      await s.check('the interrupted run is offered for resuming: a notification and the view\'s Resume action', async () => {
        const left = new RegExp(`interrupted with ${DOCS - doneAtReload.length} documents? left`);
        // the toast hides after a while; the notification stays in the notification center
        const toast = page.locator('.notification-toast', { hasText: left }).first();
        if (!(await toast.isVisible().catch(() => false))) await runCommand(page, 'Notifications: Show Notifications');
        const item = page.locator('.notification-list-item', { hasText: left }).first();
        await item.waitFor({ state: 'visible', timeout: 30_000 });
        await item.locator('.monaco-button', { hasText: /^Resume$/ }).waitFor({ state: 'visible', timeout: 5_000 });
        const title = page.locator('.part.sidebar .title-actions .action-label[aria-label="Resume"], .part.sidebar .pane-header .actions .action-label[aria-label="Resume"]').first();
        await title.waitFor({ state: 'visible', timeout: 10_000 });
        await s.screenshot('31-reload-resume-offered');
      });

      await s.check('Resume finishes the run, and no document is extracted twice', async () => {
        // the notification's own button (each check starts by pressing Escape, which closed the center)
        const resume = page.locator('.notification-list-item .monaco-button', { hasText: /^Resume$/ }).first();
        if (!(await resume.isVisible().catch(() => false))) await runCommand(page, 'Notifications: Show Notifications');
        await resume.click();
        await until('every document answered', () => answeredDocs().length === DOCS, 90_000);
        const pane = await showDocumentsView(page);
        await until(`Done ${doneBefore + answeredAll()} in the tree`, async () => (await groupCount(pane, 'Done')) === doneBefore + answeredAll(), 30_000);
        await statusBarItem(page, /idle/).waitFor({ timeout: 30_000 });
        const twice = docs.filter((d) => answered(d) !== 1).map((d) => `${d}: ${answered(d)}`);
        assert.deepStrictEqual(twice, [], 'one answered request per document');
        for (const d of doneAtReload) assert.strictEqual(srv.requestsFor(d).length, 1, `${d} was done before the reload and not requested again`);
        const again = srv.requests.slice(requestsAtReload).filter((r) => !docs.includes(r.document) || doneAtReload.includes(r.document));
        assert.deepStrictEqual(again.map((r) => r.document), [], 'after the reload only the documents left were requested');
        for (const d of docs) assert.ok(fs.existsSync(path.join(ws, 'extracted', ...`${d}.json`.split('/'))), `result of ${d}`);
        await sleep(300);
        await s.screenshot('32-reload-resumed-done');
      }, 150_000);
    } finally {
      await server?.close();
    }
  },
};
