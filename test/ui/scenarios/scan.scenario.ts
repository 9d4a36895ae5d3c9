/**
 * A scanned invoice in the real workbench (issue #12): the sample PDF rasterised by ghostscript into an
 * image-only PDF, as a scanner makes it, is extracted with OCR in the extension's own worker threads
 * (dist/ocrWorker.js, the tesseract.js cores and language data shipped in dist/), with a local model server
 * that answers only what the recognised text contains. "Review Side by Side" then shows the scan, and
 * clicking `total` draws its box where the original's text layer has "250.26" (pdftotext -bbox of the
 * born-digital original: the scan keeps the page geometry).
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { scannedPdf } from '../../fixtures/ocr/scans';
import { startModelServer, type ModelServer } from '../../support/modelServer';
import type { Scenario, ScenarioRun } from '../scenario';
import { activityBarItem, contextMenuItem, runCommand, sideBar, sideBarPane, treeRow, until, whenIdle } from '../workbench';
import { boxInPagePoints, pdftotextWordBox, reviewFrame } from './review.scenario';

const ORIGINAL = 'invoice-single-column.pdf';
const SCAN = 'scans/invoice-scan.pdf';

/** What the model answers when the recognised text holds the invoice number and the total (else nulls). */
export const ANSWER = {
  invoice_number: 'INV-2024-0042',
  invoice_date: '2024-03-15',
  vendor: 'Northwind Office Supplies GmbH',
  total: 250.26,
  currency: 'EUR',
  line_items: [],
};

export const scanScenario: Scenario = {
  name: 'scan',
  async run(s: ScenarioRun) {
    const { page, ctx } = s;
    const ws = ctx.workspace;
    const result = path.join(ws, 'extracted', ...`${SCAN}.json`.split('/'));
    const seen: string[] = [];
    let server: ModelServer | undefined;
    try {
      server = await startModelServer({
        responder: (req) => {
          if (req.document !== SCAN) return { reply: { ...ANSWER, invoice_number: 'OTHER' } };
          const text = req.body?.messages?.map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n') ?? '';
          seen.push(text);
          const readable = text.includes('INV-2024-0042') && text.includes('250.26');
          return { reply: readable ? ANSWER : { ...ANSWER, invoice_number: null, total: null } };
        },
      });
      fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
      fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'extractionWorkbench.baseUrl': server.url, 'extractionWorkbench.concurrency': 2 }, null, 2));
      fs.mkdirSync(path.join(ws, 'scans'), { recursive: true });
      fs.writeFileSync(path.join(ws, ...SCAN.split('/')), scannedPdf(new Uint8Array(fs.readFileSync(path.join(ws, ORIGINAL))), path.join(ws, 'scans'), 200));
      for (const f of fs.readdirSync(path.join(ws, 'scans'))) if (f.startsWith('in-')) fs.rmSync(path.join(ws, 'scans', f));
      const text = execFileSync('pdftotext', [path.join(ws, ...SCAN.split('/')), '-'], { encoding: 'utf8' });
      assert.strictEqual(text.trim(), '', 'the scan has no text layer');

      await s.check('Extract Workspace recognises the scan with OCR; the model reads the invoice number and total from it', async () => {
        await whenIdle(page, ctx.log);
        await runCommand(page, 'Extraction Workbench: Extract Workspace');
        await until('the scan\'s request', () => seen.length > 0, 120_000).catch(async () => {
          ctx.log('    no request for the scan yet: running the command again');
          await runCommand(page, 'Extraction Workbench: Extract Workspace');
          await until('the scan\'s request', () => seen.length > 0, 120_000);
        });
        await until('the scan\'s result file', () => fs.existsSync(result), 60_000);
        const r = JSON.parse(fs.readFileSync(result, 'utf8')) as { data: typeof ANSWER; grounding?: { fields: { pointer: string; status: string; match?: string; ocrConfidence?: number }[] } };
        assert.strictEqual(r.data.invoice_number, 'INV-2024-0042', 'OCR read the invoice number');
        assert.strictEqual(r.data.total, 250.26, 'OCR read the total');
        const total = r.grounding?.fields.find((f) => f.pointer === '/total');
        ctx.log(`    total grounded as ${JSON.stringify(total)}`);
        assert.strictEqual(total?.match, 'exact', 'the total is found in the recognised text');
        assert.ok(typeof total?.ocrConfidence === 'number' && total.ocrConfidence > 0, 'with the OCR confidence of its words');
      }, 300_000);

      const frame = reviewFrame(page);

      await s.check('Review Side by Side shows the scan; clicking total highlights "250.26" where the original has it', async () => {
        if (!(await sideBarPane(page, 'Documents').isVisible().catch(() => false))) await activityBarItem(page, 'Extraction Workbench').click();
        await sideBar(page).waitFor({ state: 'visible' });
        await contextMenuItem(page, await treeRow(page, SCAN), 'Review Side by Side');
        await frame.locator(`#app[data-loaded="${SCAN}"]`).waitFor({ timeout: 30_000 });
        await frame.locator('.page[data-page="1"][data-rendered="true"]').waitFor({ timeout: 30_000 });
        await frame.locator('.field[data-pointer="/total"] .field-name').click();
        const pageEl = frame.locator('.page[data-page="1"]');
        const box = pageEl.locator('.hl.selected').first();
        await box.waitFor({ state: 'visible', timeout: 10_000 });
        const { rel } = await boxInPagePoints(pageEl, box);
        const word = pdftotextWordBox(path.join(ws, ORIGINAL), '250.26');
        assert.ok(word, 'pdftotext finds 250.26 in the original');
        const { x0: wx0, y0: wy0, x1: wx1, y1: wy1 } = word;
        ctx.log(`    box ${JSON.stringify(rel)} vs the original's text layer ${JSON.stringify([wx0, wy0, wx1, wy1])}`);
        const cx = (wx0 + wx1) / 2, cy = (wy0 + wy1) / 2;
        assert.ok(rel.x0 <= cx && rel.x1 >= cx && rel.y0 <= cy && rel.y1 >= cy, 'the box covers the middle of the word on the scan');
        assert.ok(rel.x1 - rel.x0 < (wx1 - wx0) + 15 && rel.y1 - rel.y0 < (wy1 - wy0) + 12, 'the box is about the word\'s size');
        await s.screenshot('29b-review-scan-total-highlighted');
      }, 90_000);
    } finally {
      await server?.close();
    }
  },
};
