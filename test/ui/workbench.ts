/**
 * Page helpers for the VS Code 1.100 workbench (code-server). Selectors are the workbench's own DOM
 * classes; keep them here so a VS Code upgrade touches one file.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Locator, Page } from 'playwright-core';

/** The extension's status-bar item; its text renders as "Extraction: idle" (codicon + label). */
export function statusBarItem(page: Page, text: string | RegExp = /Extraction/): Locator {
  return page.locator('.statusbar .statusbar-item', { hasText: text }).first();
}

/** Give keyboard focus to the workbench (F1 and other shortcuts need it). */
export async function focusWorkbench(page: Page): Promise<void> {
  const editorArea = page.locator('.monaco-workbench .part.editor');
  const box = await editorArea.boundingBox();
  if (box) await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  else await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } });
}

/** The command palette's input, if it is open. */
export function quickInput(page: Page): Locator {
  return page.locator('.quick-input-widget input.input');
}

/**
 * Open the command palette with F1, type `query` and return the row whose label contains `label`
 * (waits until it is visible). The palette stays open; press Enter to run or Escape to close.
 */
export async function findInCommandPalette(page: Page, query: string, label: string = query): Promise<Locator> {
  await focusWorkbench(page);
  await page.keyboard.press('F1');
  const input = quickInput(page);
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${query}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
  await row.waitFor({ state: 'visible', timeout: 15_000 });
  return row;
}

/** Close the command palette (or any quick pick) if open. */
export async function closeQuickInput(page: Page): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  if (await widget.isVisible()) {
    await page.keyboard.press('Escape');
    await widget.waitFor({ state: 'hidden', timeout: 5_000 });
  }
}

/** An activity-bar entry (view container icon) by its title. */
export function activityBarItem(page: Page, title: string): Locator {
  return page.locator(`.part.activitybar .action-item a.action-label[aria-label^="${title}"]`).first();
}

/** The primary side bar. */
export function sideBar(page: Page): Locator {
  return page.locator('.part.sidebar');
}

/** Title text of the view container shown in the side bar (e.g. "EXTRACTION WORKBENCH"). */
export function sideBarTitle(page: Page): Locator {
  return sideBar(page).locator('.composite.title .title-label h2').first();
}

/**
 * A view inside the side bar by name: its pane (header + body). For a container holding a single
 * view VS Code may merge the header into the container title, so this matches either form.
 */
export function sideBarPane(page: Page, viewName: string): Locator {
  return sideBar(page).locator('.pane', { has: page.locator('.pane-header', { hasText: viewName }) }).first();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value (errors count as "not yet"); throws after `timeoutMs`, naming `what`. */
export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(200);
  }
}

/** Runs a command from the palette: waits for the list to settle, then picks the row with exactly that label. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await findInCommandPalette(page, title, title);
  await sleep(400);
  const row = page.locator('.quick-input-list .monaco-list-row').filter({ has: page.locator('.label-name').getByText(title, { exact: true }) }).first();
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await row.click();
  await quickInput(page).waitFor({ state: 'hidden', timeout: 10_000 });
}

/**
 * Waits until the extension's status bar item shows, and stops a run an earlier scenario left (e.g. paused),
 * which would keep a new one from starting; then waits for the workspace settings file to be picked up.
 */
export async function whenIdle(page: Page, log: (line: string) => void): Promise<void> {
  const bar = page.locator('.part.statusbar');
  // the extension's item shows "Extraction: idle", or a run's progress ("3/6 · paused")
  await until('the extension\'s status bar item', async () => /Extraction: idle|\d+\/\d+/.test(await bar.innerText()), 60_000);
  if (!/Extraction: idle/.test(await bar.innerText())) {
    log('    a run is still active: stopping it');
    await runCommand(page, 'Extraction Workbench: Stop');
    await until('the status bar to say idle', async () => /Extraction: idle/.test(await bar.innerText()), 30_000);
  }
  await statusBarItem(page, /idle/).waitFor({ state: 'visible', timeout: 10_000 });
  await sleep(1500); // the workspace settings file is picked up
}

/** Merges `settings` into `<folder>/.vscode/settings.json` (a value of undefined removes the key). */
export function writeFolderSettings(folder: string, settings: Record<string, unknown>): void {
  const file = path.join(folder, '.vscode', 'settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const current = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  fs.writeFileSync(file, JSON.stringify({ ...current, ...settings }, null, 2));
}

/**
 * Runs `command` (default "Extract Workspace") until `reached()` says the run got to the local model server.
 * A settings file written by the test reaches the extension host through a file watcher, which takes a
 * moment on a busy machine: until it has, a run goes to the default (hosted) endpoint and stops at once for
 * want of an API key. A person would dismiss that message and try again, and so does this.
 */
export async function startRunAgainst(page: Page, reached: () => boolean, command = 'Extraction Workbench: Extract Workspace', attempts = 6): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await runCommand(page, command);
    const t0 = Date.now();
    while (!reached() && Date.now() - t0 < 5000) await sleep(100);
    if (reached()) return;
    if (attempt >= attempts) throw new Error(`"${command}" never reached the local model server (${attempts} attempts)`);
    await runCommand(page, 'Notifications: Clear All Notifications').catch(() => undefined);
    await sleep(2000);
  }
}

/**
 * Shows the Documents view. The activity-bar icon toggles its container (a click on an open one closes it),
 * and a click while the window is still restoring may get lost: click, look, and click again if needed.
 */
export async function showDocumentsView(page: Page): Promise<Locator> {
  const pane = sideBarPane(page, 'Documents');
  const icon = activityBarItem(page, 'Extraction Workbench');
  for (let attempt = 1; !(await pane.isVisible().catch(() => false)); attempt++) {
    if (attempt > 5) throw new Error('the Documents view does not show (activity-bar icon clicked 5 times)');
    await icon.waitFor({ state: 'visible', timeout: 30_000 });
    await icon.click();
    await pane.waitFor({ state: 'visible', timeout: 3_000 }).catch(() => undefined);
  }
  return pane;
}

/** The count a status group row ("Done", "Pending", …) of the Documents tree shows; 0 when the group is not shown. */
export async function groupCount(pane: Locator, label: string): Promise<number> {
  const row = pane.locator('.monaco-list-row', { hasText: new RegExp(`^${label}`) }).first();
  if (!(await row.isVisible().catch(() => false))) return 0;
  const m = new RegExp(`^${label}\\s*(\\d+)`).exec((await row.innerText()).trim());
  return m ? Number(m[1]) : 0;
}

/** The Documents tree row whose label is exactly `label`. */
export function docRow(page: Page, label: string): Locator {
  return sideBarPane(page, 'Documents')
    .locator('.monaco-list-row')
    .filter({ has: page.locator('.label-name').getByText(label, { exact: true }) })
    .first();
}

/**
 * Brings the Documents tree back to its top, where the run summary row is: the list is virtual (rows scrolled
 * out of view are not in the page at all), and an earlier scenario may have left it scrolled down a long
 * group, with the selection keeping it there. "Collapse All" folds the groups; the summary row shows.
 */
export async function scrollTreeToTop(page: Page): Promise<void> {
  const list = sideBarPane(page, 'Documents').locator('.monaco-list').first();
  await list.waitFor({ state: 'visible', timeout: 20_000 });
  await page.locator('.part.sidebar .action-label[aria-label="Collapse All"]').first().click();
  await sleep(300); // a click right after Collapse All may only select the row (multiRoot scenario)
  const box = (await list.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -100_000);
}

/**
 * The row of a document in the Documents tree: opens its group ("Done" unless said) and scrolls the (virtual)
 * list to it.
 */
export async function treeRow(page: Page, label: string, group = 'Done'): Promise<Locator> {
  const pane = sideBarPane(page, 'Documents');
  const row = docRow(page, label);
  if (await row.isVisible().catch(() => false)) return row;
  // scrolled up by the wheel, not folded with Collapse All: in a multi-root workspace that hides the groups
  // inside their folder nodes
  const list = pane.locator('.monaco-list').first();
  await list.waitFor({ state: 'visible', timeout: 20_000 });
  const box = (await list.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + 20);
  await page.mouse.wheel(0, -100_000);
  const done = pane.locator('.monaco-list-row', { hasText: new RegExp(`^${group}`) }).first();
  await done.waitFor({ state: 'visible', timeout: 20_000 });
  if ((await done.getAttribute('aria-expanded')) !== 'true') await done.click();
  for (let i = 0; i < 60 && !(await row.isVisible().catch(() => false)); i++) {
    await page.mouse.wheel(0, 200);
    await sleep(100);
  }
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  return row;
}

/** Reloads the window the way a person does, and waits for the new page's workbench. */
export async function reloadWindow(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { __beforeReload?: boolean }).__beforeReload = true));
  // the palette closes with the page, so the command's own wait for it to close may fail
  await runCommand(page, 'Developer: Reload Window').catch(() => undefined);
  await until('a fresh page', async () => !(await page.evaluate(() => (window as unknown as { __beforeReload?: boolean }).__beforeReload).catch(() => true)), 60_000);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
}

/** Right-clicks a row and picks a context-menu item by its exact label. */
export async function contextMenuItem(page: Page, row: Locator, label: string): Promise<void> {
  await row.click({ button: 'right' });
  const item = page.locator('.context-view .action-label', { hasText: new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).first();
  await item.waitFor({ state: 'visible', timeout: 10_000 });
  await sleep(300); // the menu ignores a click that comes right after it opened
  await item.click();
  if (await item.isVisible().catch(() => false)) await page.keyboard.press('Enter');
}
