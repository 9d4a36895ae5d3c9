/**
 * Page helpers for the VS Code 1.100 workbench (code-server). Selectors are the workbench's own DOM
 * classes; keep them here so a VS Code upgrade touches one file.
 */
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
