/**
 * Export Dataset… the way a person uses it (issue #16): from the command palette, the save dialog (VS Code's
 * own, as code-server shows it) proposes `extraction-dataset.csv` in the folder; Enter writes one row per
 * document with the schema's columns, line items in a table of their own, and a notification says so. The
 * file is read back with csv-parse. Runs after the review and scan scenarios, whose results it exports.
 */
import * as assert from 'assert';
import { parse } from 'csv-parse/sync';
import * as fs from 'fs';
import * as path from 'path';
import type { Scenario, ScenarioRun } from '../scenario';
import { closeQuickInput, findInCommandPalette, quickInput, sleep, until } from '../workbench';

const TITLE = 'Extraction Workbench: Export Dataset…';

export const datasetScenario: Scenario = {
  name: 'dataset',
  async run(s: ScenarioRun) {
    const { page, ctx } = s;
    const ws = ctx.workspace;
    const target = path.join(ws, 'extraction-dataset.csv');
    const items = path.join(ws, 'extraction-dataset.line_items.csv');
    fs.rmSync(target, { force: true });
    fs.rmSync(items, { force: true });
    const done = fs.readdirSync(path.join(ws, 'extracted'), { recursive: true }).filter((f) => String(f).endsWith('.json')).length;

    await s.check('Export Dataset… from the command palette proposes extraction-dataset.csv in the folder; Enter writes it', async () => {
      await findInCommandPalette(page, TITLE, TITLE);
      await sleep(400);
      const row = page.locator('.quick-input-list .monaco-list-row').filter({ has: page.locator('.label-name').getByText(TITLE, { exact: true }) }).first();
      await row.waitFor({ state: 'visible', timeout: 10_000 });
      await row.click();
      // the save dialog: a quick input holding the proposed path
      const input = quickInput(page);
      await until('the save dialog with the proposed file', async () => (await input.isVisible().catch(() => false)) && (await input.inputValue().catch(() => '')).endsWith('extraction-dataset.csv'), 20_000);
      ctx.log(`    save dialog proposes ${await input.inputValue()}`);
      await s.screenshot('60-export-dataset-save-dialog');
      await page.keyboard.press('Enter');
      await until('the dataset file', () => fs.existsSync(target), 30_000);
      await page.locator('.notifications-toasts .notification-toast', { hasText: /Exported \d+ documents? to extraction-dataset\.csv/ }).first().waitFor({ timeout: 15_000 });
      await s.screenshot('61-export-dataset-done');
    }, 60_000);

    await s.check('the CSV has one row per document with a result, the schema\'s columns in order, line items apart', async () => {
      const rows = parse(fs.readFileSync(target, 'utf8'), { columns: false }) as string[][];
      const [header, ...data] = rows;
      assert.deepStrictEqual(header.slice(0, 6), ['source', 'invoice_number', 'invoice_date', 'vendor', 'total', 'currency']);
      assert.ok(!header.includes('line_items'), 'line items are not a column of the documents table');
      assert.strictEqual(data.length, done, `one row per result file (${done})`);
      const scan = data.find((r) => r[0] === 'scans/invoice-scan.pdf');
      assert.ok(scan, 'the scanned invoice is a row');
      assert.deepStrictEqual(scan.slice(1, 6), ['INV-2024-0042', '2024-03-15', 'Northwind Office Supplies GmbH', '250.26', 'EUR']);
      const lineItems = parse(fs.readFileSync(items, 'utf8'), { columns: true }) as Record<string, string>[];
      const review = lineItems.filter((r) => r.source === 'review/invoice-single-column.pdf');
      assert.ok(review.length >= 3, `the reviewed invoice's line items are rows of the line-item table (${review.length})`);
      assert.deepStrictEqual(Object.keys(lineItems[0]).slice(0, 2), ['source', 'index']);
    });
    await closeQuickInput(page).catch(() => undefined);
  },
};
