/**
 * The Review panel in the real workbench, the way a reviewer uses it:
 *
 *  - a local OpenAI-compatible model server (test/support/modelServer.ts, started in this process) answers
 *    with the invoice's real values; the workspace's settings point `extractionWorkbench.baseUrl` at it;
 *    "Extract Workspace" runs from the command palette;
 *  - "Review Side by Side" from the Documents tree opens the sample PDF rendered by pdf.js; clicking the
 *    `total` field draws a box over "250.26" on the page (position checked against `pdftotext -bbox`,
 *    and the canvas under the box has ink);
 *  - an invalid edit shows a message and saves nothing; a valid one lands in the result file as
 *    `corrected` (the model's `data` unchanged); undo; mark reviewed (the tree shows it);
 *  - the panel keeps its selection when hidden and shown again;
 *  - j / k navigate between documents;
 *  - "Rerun" with an extra instruction shows the field-level diff; "Keep new result" writes it;
 *  - a text document full of HTML / script / Markdown payloads (and a model answer quoting them) renders
 *    as inert text: no such elements in the webview DOM, no dialog, the text shown literally;
 *  - after a reload of the window the serializer restores the panel on the same document.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { cjkPdf } from '../../fixtures/pdf/generate';
import { startModelServer, type ModelServer } from '../../support/modelServer';
import type { Scenario, ScenarioRun } from '../scenario';
import { activityBarItem, closeQuickInput, contextMenuItem, docRow, focusWorkbench, quickInput, runCommand, sideBar, sideBarPane, sleep, treeRow, until, whenIdle } from '../workbench';

/** A copy of the sample PDF in a subfolder: a new document (the run scenario already extracted the sample). */
const PDF_NAME = 'invoice-single-column.pdf';
const PDF = `review/${PDF_NAME}`;
const XSS = 'xss-payloads.txt';
/** Japanese text in a non-embedded CID font: drawing it needs pdf.js' packed cMaps. */
const CJK = 'cjk-notice.pdf';

const INVOICE = {
  invoice_number: 'INV-2024-0042',
  invoice_date: '2024-03-15',
  vendor: 'Northwind Office Supplies GmbH',
  total: 250.26,
  currency: 'EUR',
  line_items: [
    { description: 'A4 copy paper, 80 g/m2, box of 5 reams', quantity: 4, amount: 94 },
    { description: 'Ballpoint pens, blue, pack of 50', quantity: 2, amount: 25.8 },
    { description: 'Desk organiser, bamboo', quantity: 3, amount: 54 },
    { description: 'Stapler, heavy duty', quantity: 1, amount: 34.75 },
  ],
};

/** What the rerun answers: a different total, one line item fewer. */
const RERUN = { ...INVOICE, total: 208.55, line_items: INVOICE.line_items.slice(0, 3) };

const PAYLOADS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '<svg onload=alert(1)><a href="javascript:alert(1)">click me</a></svg>',
  '<style>body { display: none }</style>',
  '**bold** _em_ [link](javascript:alert(1)) ![img](x) <b>html</b> &lt;escaped&gt;',
];

const XSS_TEXT = ['Invoice number: <script>alert(1)</script>', 'Vendor: <img src=x onerror=alert(1)>', ...PAYLOADS.slice(2), 'Total: 12.00 EUR', ''].join('\n');

const XSS_DATA = {
  invoice_number: '<script>alert(1)</script>',
  invoice_date: '2024-01-31',
  vendor: '<img src=x onerror=alert(1)>',
  total: 12,
  currency: 'EUR',
  line_items: [{ description: '**bold** _em_ [link](javascript:alert(1)) ![img](x) <b>html</b> &lt;escaped&gt;', quantity: 1, amount: 12 }],
};

interface ResultJson {
  data: typeof INVOICE;
  corrected?: typeof INVOICE;
  review?: { reviewed: boolean; corrections: number; correctedFields: string[] };
  grounding?: { summary: { ungrounded: number } };
}

function readJson(file: string): ResultJson | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ResultJson;
  } catch {
    return undefined;
  }
}

/** A PDF page box [x0, y0, x1, y1] in points, origin top left (pdftotext -bbox and the review's pages). */
export interface PageBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Where the review panel draws `box` on the rendered page `pageEl`, in points of a US-letter page (612 wide); and the scale. */
export async function boxInPagePoints(pageEl: Locator, box: Locator): Promise<{ rel: PageBox; scale: number }> {
  const pb = (await pageEl.boundingBox())!;
  const bb = (await box.boundingBox())!;
  const scale = pb.width / 612;
  return { rel: { x0: (bb.x - pb.x) / scale, y0: (bb.y - pb.y) / scale, x1: (bb.x + bb.width - pb.x) / scale, y1: (bb.y + bb.height - pb.y) / scale }, scale };
}

/** The box pdftotext gives the word `word` in the text layer of `pdf` (undefined when it finds none). */
export function pdftotextWordBox(pdf: string, word: string): PageBox | undefined {
  const html = execFileSync('pdftotext', ['-bbox', pdf, '-'], { encoding: 'utf8' });
  const m = new RegExp(`<word xMin="([\\d.]+)" yMin="([\\d.]+)" xMax="([\\d.]+)" yMax="([\\d.]+)">${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</word>`).exec(html);
  if (!m) return undefined;
  const [x0, y0, x1, y1] = m.slice(1).map(Number);
  return { x0, y0, x1, y1 };
}

/** The review webview's document (the iframe VS Code puts inside its own webview iframe). */
export function reviewFrame(page: Page): FrameLocator {
  return page.locator('iframe.webview.ready').last().contentFrame().locator('#active-frame').contentFrame();
}

async function quickOpen(page: Page, file: string): Promise<void> {
  await focusWorkbench(page);
  await page.keyboard.press('Control+P');
  const input = quickInput(page);
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(file);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: file }).first();
  await row.waitFor({ state: 'visible', timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.locator('.tabs-container .tab', { hasText: file }).first().waitFor({ timeout: 15_000 });
}

export const reviewScenario: Scenario = {
  name: 'review',
  async run(s: ScenarioRun) {
    const { page, ctx } = s;
    const ws = ctx.workspace;
    const pdfResult = path.join(ws, 'extracted', ...`${PDF}.json`.split('/'));
    const xssResult = path.join(ws, 'extracted', `${XSS}.json`);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });

    let server: ModelServer | undefined;
    try {
      server = await startModelServer({
        responder: (req) => {
          if (req.document === PDF) return { reply: req.attempt > 1 ? RERUN : INVOICE };
          if (req.document.endsWith(XSS)) return { reply: XSS_DATA };
          return { reply: { ...INVOICE, invoice_number: 'OTHER', line_items: [] } };
        },
      });
      fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
      fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'extractionWorkbench.baseUrl': server.url, 'extractionWorkbench.concurrency': 2 }, null, 2));
      fs.writeFileSync(path.join(ws, XSS), XSS_TEXT);
      fs.mkdirSync(path.join(ws, 'review'), { recursive: true });
      fs.copyFileSync(path.join(ws, PDF_NAME), path.join(ws, ...PDF.split('/')));

      await s.check('Extract Workspace (against the local model server) writes results for the PDF and the payload document', async () => {
        await whenIdle(page, ctx.log);
        await runCommand(page, 'Extraction Workbench: Extract Workspace');
        await until('the first request', () => server!.stats.total > 0, 20_000).catch(async () => {
          ctx.log('    no request yet: running the command again');
          await runCommand(page, 'Extraction Workbench: Extract Workspace');
        });
        await until('the result files', () => fs.existsSync(pdfResult) && fs.existsSync(xssResult) && readJson(pdfResult) && readJson(xssResult), 90_000);
        const r = readJson(pdfResult)!;
        assert.deepStrictEqual(r.data, INVOICE);
        assert.strictEqual(r.grounding?.summary.ungrounded, 0, 'every value of the invoice is grounded');
      }, 120_000);

      const frame = reviewFrame(page);
      const field = (pointer: string) => frame.locator(`.field[data-pointer="${pointer}"]`);

      await s.check('"Review Side by Side" on the PDF in the Documents tree opens the review with pdf.js pages', async () => {
        // the run scenario may have left the container open: clicking its icon again would close it
        if (!(await sideBarPane(page, 'Documents').isVisible().catch(() => false))) await activityBarItem(page, 'Extraction Workbench').click();
        await sideBar(page).waitFor({ state: 'visible' });
        const row = await treeRow(page, PDF);
        await contextMenuItem(page, row, 'Review Side by Side');
        await page.locator('.tabs-container .tab', { hasText: `Review: ${PDF_NAME}` }).first().waitFor({ timeout: 20_000 });
        await frame.locator(`#app[data-loaded="${PDF}"]`).waitFor({ timeout: 30_000 });
        await frame.locator('.page[data-page="1"][data-rendered="true"]').waitFor({ timeout: 30_000 });
        assert.strictEqual(await frame.locator('.field').count(), 5 + 4 * 3, 'one row per leaf of the result');
        assert.strictEqual(await frame.locator('.field[data-status="ungrounded"]').count(), 0);
        await s.screenshot('20-review-pdf');
      }, 90_000);

      await s.check('clicking a field highlights its place on the rendered page (box over "250.26", ink under it)', async () => {
        await field('/total').locator('.field-name').click();
        const pageEl = frame.locator('.page[data-page="1"]');
        const box = pageEl.locator('.hl.selected').first();
        await box.waitFor({ state: 'visible', timeout: 10_000 });
        await box.hover();
        assert.match((await box.getAttribute('title')) ?? '', /Supports total \(exact match\)/);
        const { rel, scale } = await boxInPagePoints(pageEl, box);
        const word = pdftotextWordBox(path.join(ws, PDF_NAME), '250.26');
        assert.ok(word, 'pdftotext finds 250.26');
        const { x0: wx0, y0: wy0, x1: wx1, y1: wy1 } = word;
        ctx.log(`    box ${JSON.stringify(rel)} vs pdftotext ${JSON.stringify([wx0, wy0, wx1, wy1])} (scale ${scale.toFixed(3)})`);
        assert.ok(rel.x0 <= wx0 + 2 && rel.x1 >= wx1 - 2, `box spans the word horizontally: ${rel.x0.toFixed(1)}-${rel.x1.toFixed(1)} vs ${wx0}-${wx1}`);
        assert.ok(rel.x1 - rel.x0 < (wx1 - wx0) + 12, 'box is not much wider than the word');
        const cy = (wy0 + wy1) / 2;
        assert.ok(rel.y0 <= cy && rel.y1 >= cy, `box covers the word's line: ${rel.y0.toFixed(1)}-${rel.y1.toFixed(1)} vs ${wy0}-${wy1}`);
        // the canvas under the box has dark pixels: the page is rendered and the box sits on the text
        const ink = await pageEl.locator('canvas').evaluate((c: HTMLCanvasElement, r: { x0: number; y0: number; x1: number; y1: number; scale: number }) => {
          const k = c.width / c.getBoundingClientRect().width;
          const g = c.getContext('2d')!;
          const x = Math.round(r.x0 * r.scale * k), y = Math.round(r.y0 * r.scale * k);
          const w = Math.max(1, Math.round((r.x1 - r.x0) * r.scale * k)), hh = Math.max(1, Math.round((r.y1 - r.y0) * r.scale * k));
          const d = g.getImageData(x, y, w, hh).data;
          let dark = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] < 300) dark++;
          return dark;
        }, { ...rel, scale });
        assert.ok(ink > 20, `the page has ink under the box (${ink} dark pixels)`);
        assert.match(await frame.locator('.selection-info').innerText(), /total: exact match on page 1: "250\.26"/);
        await s.screenshot('21-review-pdf-total-highlighted');
      });

      await s.check('an invalid edit shows a clear message and is not saved', async () => {
        const input = field('/total').locator('input');
        await input.fill('12,5 EUR');
        await input.press('Enter');
        await assert.doesNotReject(field('/total').locator('.field-error', { hasText: /expected a number/ }).waitFor({ timeout: 5_000 }));
        assert.strictEqual(await input.getAttribute('aria-invalid'), 'true');
        await sleep(500);
        assert.strictEqual(readJson(pdfResult)?.corrected, undefined, 'nothing saved');
        await s.screenshot('22-review-invalid-edit');
        await input.press('Escape');
      });

      await s.check('a valid correction is written to the result file as "corrected"; data stays the model\'s; undo removes it', async () => {
        const input = field('/total').locator('input');
        await input.fill('250.62');
        await input.press('Enter');
        const r = await until('the corrected result', () => readJson(pdfResult)?.corrected?.total === 250.62 && readJson(pdfResult));
        assert.strictEqual(r.data.total, 250.26, 'the model output is unchanged');
        assert.strictEqual(r.review?.corrections, 1);
        assert.deepStrictEqual(r.review?.correctedFields, ['/total']);
        await field('/total').locator('.badge.corrected').waitFor({ timeout: 10_000 });
        assert.strictEqual(await field('/total').getAttribute('data-status'), 'ungrounded', '250.62 is not in the document');
        const stored = JSON.parse(fs.readFileSync(path.join(ws, '.extraction', 'corrections', ...`${PDF}.json`.split('/')), 'utf8'));
        assert.strictEqual(stored.corrections[0].pointer, '/total');
        assert.ok(stored.corrections[0].by && stored.corrections[0].at, 'versioned with author and time');
        await s.screenshot('23-review-corrected');
        await frame.locator('button.undo').click();
        await until('the correction to be undone', () => readJson(pdfResult) && readJson(pdfResult)!.corrected === undefined);
        await field('/total').locator('.badge.exact').waitFor({ timeout: 10_000 });
        // correct a line item instead, and keep it
        const amount = field('/line_items/1/amount').locator('input');
        await amount.fill('25.9');
        await amount.press('Enter');
        await until('the line item correction', () => readJson(pdfResult)?.corrected?.line_items[1].amount === 25.9);
      });

      await s.check('Mark reviewed is stored in the result and shown in the Documents tree', async () => {
        await frame.locator('button.reviewed-toggle').click();
        await until('review.reviewed in the result file', () => readJson(pdfResult)?.review?.reviewed === true);
        await frame.locator('button.reviewed-toggle[aria-pressed="true"]').waitFor({ timeout: 10_000 });
        const row = docRow(page, PDF);
        await until('the tree description', async () => /reviewed · 1 correction/.test(await row.innerText()));
      });

      await s.check('the panel keeps the selected field when it is hidden and shown again (getState/setState)', async () => {
        await field('/total').locator('.field-name').click();
        await frame.locator('.field.selected[data-pointer="/total"]').waitFor();
        await sleep(400);
        await quickOpen(page, 'inv-2024-0117-acme.txt');
        await sleep(500);
        await page.locator('.tabs-container .tab', { hasText: `Review: ${PDF_NAME}` }).first().click();
        await frame.locator(`#app[data-loaded="${PDF}"]`).waitFor({ timeout: 20_000 });
        await frame.locator('.field.selected[data-pointer="/total"]').waitFor({ timeout: 10_000 });
        await frame.locator('.page .hl.selected').first().waitFor({ timeout: 20_000 });
      });

      await s.check('j / k move to the next / previous document', async () => {
        await frame.locator('.source').click({ position: { x: 5, y: 5 } });
        await page.keyboard.press('j');
        await frame.locator(`#app[data-loaded="${XSS}"]`).waitFor({ timeout: 20_000 });
        await page.keyboard.press('k');
        await frame.locator(`#app[data-loaded="${PDF}"]`).waitFor({ timeout: 20_000 });
        await frame.locator('.page[data-page="1"][data-rendered="true"]').waitFor({ timeout: 30_000 });
      });

      await s.check('Rerun with an extra instruction shows the field-level diff; "Keep new result" writes it', async () => {
        await frame.locator('.rerun summary').click();
        await frame.locator('.rerun-instruction').fill('Use the subtotal as the total.');
        await frame.locator('button.rerun-go').click();
        const diff = frame.locator('.rerun-diff');
        await diff.waitFor({ timeout: 60_000 });
        const text = await diff.innerText();
        assert.match(text, /The rerun changed \d+ fields?/);
        assert.match(text, /total[\s\S]*250\.26[\s\S]*208\.55/, 'the total change with before and after');
        const removed = frame.locator('tr.change.removed');
        assert.strictEqual(await removed.count(), 1, 'the removed line item');
        assert.match(await removed.innerText(), /line_items\[3\][\s\S]*Stapler, heavy duty/);
        assert.ok(server!.requestsFor(PDF).some((r) => r.userText.includes('Use the subtotal as the total.')), 'the extra instruction reached the model');
        assert.strictEqual(await field('/total').locator('input').isDisabled(), true, 'no editing while the decision is pending');
        await s.screenshot('24-review-rerun-diff');
        await frame.locator('button.rerun-accept').click();
        await until('the new result', () => readJson(pdfResult)?.data.total === 208.55);
        await diff.waitFor({ state: 'detached', timeout: 20_000 });
        const r = readJson(pdfResult)!;
        assert.strictEqual(r.data.line_items.length, 3);
        assert.strictEqual(r.corrected?.line_items[1].amount, 25.9, 'the reviewer\'s correction still applies to the new result');
        assert.ok(!fs.existsSync(path.join(ws, '.extraction', 'review-reruns', ...`${PDF}.json`.split('/'))), 'the backup of the previous result is gone');
      }, 90_000);

      await s.check('a text document full of HTML, script and Markdown payloads renders as inert text', async () => {
        await quickOpen(page, XSS);
        await runCommand(page, 'Extraction Workbench: Open Review');
        await frame.locator(`#app[data-loaded="${XSS}"]`).waitFor({ timeout: 30_000 });
        await frame.locator('.text-view .line').first().waitFor();
        const counts = await frame.locator('body').evaluate(() => ({
          // the panel's own script; VS Code adds a script (#_vscodeApiScript) and a style element (#_defaultStyles) of its own
          script: document.querySelectorAll('script:not(#_vscodeApiScript)').length,
          foreignScript: Array.from(document.querySelectorAll('script'))
            .filter((e) => !/\/review\.js$/.test(e.getAttribute('src') ?? '') && e.id !== '_vscodeApiScript')
            .map((e) => e.outerHTML.slice(0, 200)),
          img: document.querySelectorAll('img').length,
          iframe: document.querySelectorAll('iframe').length,
          svg: document.querySelectorAll('svg').length,
          a: document.querySelectorAll('a').length,
          b: document.querySelectorAll('b').length,
          style: document.querySelectorAll('style:not(#_defaultStyles)').length,
          handlers: document.querySelectorAll('[onerror],[onload],[onclick]').length,
        }));
        ctx.log(`    elements in the webview: ${JSON.stringify(counts)}`);
        assert.deepStrictEqual(counts, { script: 1, foreignScript: [], img: 0, iframe: 0, svg: 0, a: 0, b: 0, style: 0, handlers: 0 }, 'only the panel\'s own script; no element from the payloads');
        const shown = await frame.locator('.text-view').innerText();
        for (const p of PAYLOADS) assert.ok(shown.includes(p), `shown literally: ${p}`);
        assert.strictEqual(await field('/invoice_number').locator('input').inputValue(), '<script>alert(1)</script>');
        assert.strictEqual(await field('/vendor').locator('input').inputValue(), '<img src=x onerror=alert(1)>');
        await field('/vendor').locator('.field-name').click();
        await frame.locator('mark.hl.selected', { hasText: '<img src=x onerror=alert(1)>' }).waitFor({ timeout: 10_000 });
        assert.match((await frame.locator('.selection-info').innerText()) ?? '', /vendor: exact match on line 2/);
        assert.deepStrictEqual(dialogs, [], 'no alert() ran');
        await s.screenshot('25-review-text-payloads');
      });

      await s.check('after a window reload the review panel comes back on the same document', async () => {
        await sleep(1000);
        await page.evaluate(() => ((window as unknown as { __beforeReload?: boolean }).__beforeReload = true));
        // "Developer: Reload Window" shuts the workbench down properly (its state, the panel's included, is
        // saved before the page reloads); a bare page.reload() may lose the last second of state
        await runCommand(page, 'Developer: Reload Window').catch(() => undefined);
        await page.waitForEvent('load', { timeout: 30_000 }).catch(() => undefined);
        await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
        await until('a fresh page', async () => !(await page.evaluate(() => (window as unknown as { __beforeReload?: boolean }).__beforeReload)), 30_000);
        await page.locator('.tabs-container .tab', { hasText: `Review: ${XSS}` }).first().waitFor({ timeout: 60_000 });
        await page.locator('.tabs-container .tab', { hasText: `Review: ${XSS}` }).first().click();
        await reviewFrame(page).locator(`#app[data-loaded="${XSS}"]`).waitFor({ timeout: 60_000 });
        await reviewFrame(page).locator('.field.selected[data-pointer="/vendor"]').waitFor({ timeout: 20_000 });
        await s.screenshot('26-review-restored-after-reload');
        assert.deepStrictEqual(dialogs, [], 'no alert() ran');
      }, 120_000);

      await s.check('the panel follows the color theme (dark, high contrast)', async () => {
        const settingsFile = path.join(ws, '.vscode', 'settings.json');
        const base = JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as Record<string, unknown>;
        const frame2 = reviewFrame(page);
        try {
          await frame2.locator('.source').click({ position: { x: 5, y: 5 } });
          await page.keyboard.press('k');
          await frame2.locator(`#app[data-loaded="${PDF}"]`).waitFor({ timeout: 20_000 });
          await frame2.locator('.page[data-page="1"][data-rendered="true"]').waitFor({ timeout: 30_000 });
          await frame2.locator('.field[data-pointer="/vendor"] .field-name').click();
          for (const [theme, shot, kind] of [
            ['Default Dark Modern', '27-review-dark-theme', 'vscode-dark'],
            ['Default High Contrast', '28-review-high-contrast', 'vscode-high-contrast'],
          ] as const) {
            fs.writeFileSync(settingsFile, JSON.stringify({ ...base, 'workbench.colorTheme': theme }, null, 2));
            await until(`the ${theme} theme in the webview`, async () => (await frame2.locator('body').getAttribute('class'))?.split(' ').includes(kind), 20_000);
            await sleep(500);
            const bg = await frame2.locator('body').evaluate((b) => getComputedStyle(b).backgroundColor);
            ctx.log(`    ${theme}: body background ${bg}`);
            assert.notStrictEqual(bg, 'rgb(255, 255, 255)', 'a dark background');
            await s.screenshot(shot);
          }
        } finally {
          fs.writeFileSync(settingsFile, JSON.stringify(base, null, 2));
        }
      }, 90_000);

      await s.check('a PDF in a non-embedded CJK font renders with the cMaps shipped with the extension (no network)', async () => {
        fs.writeFileSync(path.join(ws, CJK), cjkPdf());
        await quickOpen(page, CJK);
        await runCommand(page, 'Extraction Workbench: Open Review');
        const cjk = reviewFrame(page);
        await cjk.locator(`#app[data-loaded="${CJK}"]`).waitFor({ timeout: 30_000 });
        const pageEl = cjk.locator('.page[data-page="1"][data-rendered="true"]');
        await pageEl.waitFor({ timeout: 30_000 });
        // the three glyphs sit at x 20-92, baseline 100 of a 300 × 200 page (PDF units, origin bottom left)
        const ink = await pageEl.locator('canvas').evaluate((c: HTMLCanvasElement) => {
          const k = c.width / 300;
          const d = c.getContext('2d')!.getImageData(Math.round(15 * k), Math.round(70 * k), Math.round(85 * k), Math.round(40 * k)).data;
          let dark = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] < 300) dark++;
          return dark;
        });
        ctx.log(`    dark pixels where the text is: ${ink}`);
        assert.ok(ink > 50, `the CJK text is drawn (${ink} dark pixels); without cMaps pdf.js draws nothing`);
        await s.screenshot('29-review-cjk-pdf');
      }, 90_000);
    } finally {
      await closeQuickInput(page).catch(() => undefined);
      await server?.close();
    }
  },
};
