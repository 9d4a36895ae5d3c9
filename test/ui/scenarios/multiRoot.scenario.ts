/**
 * A multi-root workspace of two folders, each with its own extraction.config.json: "invoices" (the first
 * window's folder, with the state of its runs) and "archive" (a fresh copy, whose folder settings send
 * results to `results/`). Trusting the workspace turns runs on and its `extractionWorkbench.baseUrl`
 * applies; "Extract Workspace" runs both folders; the tree shows both; every result lands in its folder's
 * own output folder, next to its folder's own checkpoint store; nothing done before is extracted again.
 * A folder whose config is broken is named in an error and does not keep the other folder from running.
 *
 * Runs in the second window after the Restricted Mode scenario (it trusts the workspace itself when run
 * alone). Screenshots: 50-multi-root-*.png.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { startModelServer, type ModelServer } from '../../support/modelServer';
import type { Scenario, ScenarioRun } from '../scenario';
import { runCommand, showDocumentsView, sleep, startRunAgainst, statusBarItem, until, writeFolderSettings } from '../workbench';
import { openTwoFolders, statusBarTooltip, writeWorkspaceFileSettings } from './restricted.scenario';

/** The documents of samples/invoices that its job selects (include **\/*.{txt,md,pdf}, schema/ excluded). */
const SAMPLE_DOCS = ['inv-2024-0117-acme.txt', 'inv-2024-0342-blueharbor.md', 'inv-2024-05-maplepine.md', 'inv-7781-kestrel.txt', 'invoice-single-column.pdf', 'invoice-two-column.pdf'];
const NEW_IN_INVOICES = 'arrived/multi-root-1.txt';

export const multiRootScenario: Scenario = {
  name: 'multi-root',
  async run(s: ScenarioRun) {
    const { ctx } = s; // always s.page: u.open() replaces the page
    const u = ctx.untrusted;
    assert.ok(u, 'runs in the second window (workspace trust on)');
    let server: ModelServer | undefined;
    try {
      server = await startModelServer({ latencyMs: 100 });
      const srv = server;
      writeWorkspaceFileSettings(u.workspaceFile, { 'extractionWorkbench.baseUrl': srv.url, 'extractionWorkbench.concurrency': 2 });
      writeFolderSettings(u.stateFolder, { 'extractionWorkbench.baseUrl': undefined });
      writeFolderSettings(u.freshFolder, { 'extractionWorkbench.outputFolder': 'results' });
      fs.mkdirSync(path.join(u.stateFolder, 'arrived'), { recursive: true });
      fs.writeFileSync(path.join(u.stateFolder, ...NEW_IN_INVOICES.split('/')), 'Invoice M-1\nVendor: Two Roots Ltd\nTotal: 42.00 EUR\n');

      await s.check('trusting the workspace turns runs on, and its baseUrl applies to both folders', async () => {
        if (!(await s.page.title()).includes('two-folders')) await openTwoFolders(s, u);
        await statusBarItem(s.page).waitFor({ state: 'visible', timeout: 60_000 });
        await runCommand(s.page, 'Workspaces: Manage Workspace Trust');
        const trust = s.page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust$/ }).first();
        await trust.waitFor({ state: 'visible', timeout: 20_000 });
        await s.screenshot('50-multi-root-trust-editor');
        await trust.click();
        await s.page.locator('.workspace-trust-editor', { hasText: /trusted/i }).first().waitFor({ timeout: 10_000 });
        await runCommand(s.page, 'View: Close All Editors').catch(() => undefined);
        // the folder settings written above reach the extension host through a file watcher: wait until the
        // tooltip names archive's own output folder, so the run below cannot start before they apply
        const text = await statusBarTooltip(s.page, `archive: runs use gpt-4o-mini at ${srv.url}; results in results/`);
        assert.ok(!text.includes('Restricted Mode'), `no Restricted Mode notice (tooltip: ${text})`);
        assert.ok(text.includes(`invoices: runs use gpt-4o-mini at ${srv.url}; results in extracted/`), `invoices uses the workspace's endpoint and its own output (tooltip: ${text})`);
        await s.page.mouse.move(700, 400);
        const pane = await showDocumentsView(s.page);
        await pane.locator('.message', { hasText: /Restricted Mode/ }).waitFor({ state: 'detached', timeout: 10_000 });
      });

      await s.check('"Extract Workspace" runs both folders; the tree shows both with their counts', async () => {
        await startRunAgainst(s.page, () => srv.stats.total > 0);
        const wanted = [...SAMPLE_DOCS, NEW_IN_INVOICES];
        await until('every document of both folders answered', () => wanted.every((d) => srv.requestsFor(d).some((r) => r.status === 200)), 90_000);
        await statusBarItem(s.page, /idle/).waitFor({ timeout: 30_000 });
        const pane = await showDocumentsView(s.page);
        // collapsed, both folder nodes are on screen whatever earlier scenarios left expanded
        await pane.hover();
        await s.page.locator('.part.sidebar .action-label[aria-label="Collapse All"]').first().click();
        const invoices = pane.locator('.monaco-list-row', { hasText: /^invoices/ }).first();
        const archive = pane.locator('.monaco-list-row', { hasText: /^archive/ }).first();
        await archive.waitFor({ state: 'visible', timeout: 20_000 });
        await until('archive: 6/6 done', async () => /6\/6 done/.test(await archive.innerText()), 20_000);
        assert.match(await invoices.innerText(), /\d+\/\d+ done/);
        // each folder node has its own groups. A click right after "Collapse All" may only select the row
        // while the tree re-renders: expand (again) until the row says it is expanded.
        const expand = async (row: typeof archive) => {
          if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
          return (await row.getAttribute('aria-expanded')) === 'true';
        };
        await until('archive expanded', () => expand(archive), 10_000);
        await until('archive\'s Done group', async () => (await pane.locator('.monaco-list-row', { hasText: /^Done\s*6$/ }).count()) === 1, 10_000);
        await until('invoices expanded', () => expand(invoices), 10_000);
        await until('a Done group under each folder', async () => (await pane.locator('.monaco-list-row', { hasText: /^Done/ }).count()) === 2, 10_000);
        await sleep(300);
        await s.screenshot('51-multi-root-tree');
      }, 150_000);

      await s.check('results land in each folder\'s own output, next to each folder\'s own checkpoint store; nothing is extracted twice', async () => {
        const result = (root: string, out: string, rel: string) => path.join(root, out, ...`${rel}.json`.split('/'));
        for (const d of SAMPLE_DOCS) {
          assert.ok(fs.existsSync(result(u.freshFolder, 'results', d)), `archive/results/${d}.json`);
          const json = JSON.parse(fs.readFileSync(result(u.freshFolder, 'results', d), 'utf8')) as { source: string };
          assert.strictEqual(json.source, d);
        }
        assert.ok(!fs.existsSync(path.join(u.freshFolder, 'extracted')), 'archive has no extracted/ (its folder setting says results/)');
        assert.ok(fs.existsSync(result(u.stateFolder, 'extracted', NEW_IN_INVOICES)), `invoices/extracted/${NEW_IN_INVOICES}.json`);
        assert.ok(!fs.existsSync(result(u.stateFolder, 'results', NEW_IN_INVOICES)), 'invoices keeps its own output folder');
        for (const root of [u.stateFolder, u.freshFolder]) assert.ok(fs.existsSync(path.join(root, '.extraction', 'state.sqlite')), `${root}/.extraction/state.sqlite`);
        // the sample documents exist in both folders: invoices had them done already, so the one request per
        // sample document is archive's; invoices' new document is the only other one
        const perDoc = [...SAMPLE_DOCS, NEW_IN_INVOICES].map((d) => `${d}: ${srv.requestsFor(d).length}`);
        assert.deepStrictEqual(perDoc, [...SAMPLE_DOCS, NEW_IN_INVOICES].map((d) => `${d}: 1`));
        const others = srv.requests.map((r) => r.document).filter((d) => !SAMPLE_DOCS.includes(d) && d !== NEW_IN_INVOICES);
        assert.deepStrictEqual(others, [], 'no document of the first window\'s runs extracted again');
      });

      await s.check('a folder whose config is broken is named in an error, and the other folder still runs', async () => {
        const configFile = path.join(u.freshFolder, 'extraction.config.json');
        const config = fs.readFileSync(configFile, 'utf8');
        const second = 'arrived/multi-root-2.txt';
        fs.writeFileSync(path.join(u.stateFolder, ...second.split('/')), 'Invoice M-2\nVendor: One Root Left\nTotal: 7.00 EUR\n');
        fs.writeFileSync(configFile, '{ "jobs": [ { "name": "broken", ');
        try {
          await runCommand(s.page, 'Notifications: Clear All Notifications').catch(() => undefined);
          await runCommand(s.page, 'Extraction Workbench: Extract Workspace');
          const toast = s.page.locator('.notification-toast', { hasText: /archive: extraction\.config\.json is not valid JSON/ }).first();
          await toast.waitFor({ state: 'visible', timeout: 20_000 });
          await until(`${second} answered`, () => srv.requestsFor(second).some((r) => r.status === 200), 30_000);
          await until(`invoices/extracted/${second}.json`, () => fs.existsSync(path.join(u.stateFolder, 'extracted', ...`${second}.json`.split('/'))), 20_000);
          const pane = await showDocumentsView(s.page);
          await pane.locator('.monaco-list-row', { hasText: /^Last run completed/ }).nth(1).waitFor({ state: 'visible', timeout: 10_000 });
          // the estimate's progress notification closes (VS Code shows one for at least 800 ms)
          await s.page.locator('.notification-toast', { hasText: /Estimating the cost/ }).waitFor({ state: 'detached', timeout: 10_000 });
          await s.screenshot('52-multi-root-broken-config');
          assert.deepStrictEqual(SAMPLE_DOCS.map((d) => srv.requestsFor(d).length), SAMPLE_DOCS.map(() => 1), 'archive sent nothing');
        } finally {
          fs.writeFileSync(configFile, config);
        }
      });
    } finally {
      await server?.close();
    }
  },
};
