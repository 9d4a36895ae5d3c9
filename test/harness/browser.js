'use strict';
/**
 * Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) showing the code-server
 * workbench, wired for VS Code's browser test automation hooks:
 *
 *   window.codeAutomationLog(type, args)  VS Code forwards every log line to it, including the
 *                                         extension host's console.* (so mocha's output shows up here)
 *   window.codeAutomationExit(code, logs) called once the extensionTestsPath module's run() settled
 *
 * Environment: CHROMIUM (path to the browser, default /usr/bin/chromium), EW_HEADED=1 (show the window),
 * EW_SHOW_CONSOLE=1 (echo every browser console message).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const util = require('util');
const { chromium } = require('playwright-core');

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function chromiumPath() {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`Chromium not found (tried ${candidates.join(', ')}). Install it (apt-get install chromium) or set CHROMIUM=/path/to/chrome.`);
  return found;
}

/**
 * @param {object} [opts]
 * @param {string} [opts.dataDir]  where Chromium may write (config, cache, crash reports) instead of
 *                                 the user's home; pass a dir inside the run's temp dir
 * @returns {Promise<import('playwright-core').Browser>}
 */
async function launchBrowser(opts = {}) {
  const dataDir = opts.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'ew-chromium-'));
  fs.mkdirSync(dataDir, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: !process.env.EW_HEADED,
    args: CHROMIUM_ARGS,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(dataDir, 'config'), XDG_CACHE_HOME: path.join(dataDir, 'cache') },
  });
}

/**
 * Open the workbench at `url` in a new page of `browser`.
 *
 * @param {import('playwright-core').Browser} browser
 * @param {string} url
 * @param {object} [opts]
 * @param {(line: string) => void} [opts.onLog]  receives formatted codeAutomationLog lines
 * @param {number} [opts.timeoutMs]               how long to wait for `.monaco-workbench` (default 60 s)
 * @returns {Promise<{ page: import('playwright-core').Page, context: import('playwright-core').BrowserContext, exited: Promise<{ code: number, logs?: Array<{ relativePath: string, contents: string }> }> }>}
 */
async function openWorkbench(browser, url, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, reducedMotion: 'reduce' });
  const page = await context.newPage();
  let resolveExit;
  const exited = new Promise((r) => (resolveExit = r));
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    if (opts.onLog) opts.onLog(util.format(...(Array.isArray(args) ? args : [args])), type);
  });
  await page.exposeFunction('codeAutomationExit', (code, logs) => resolveExit({ code, logs }));
  page.on('pageerror', (e) => console.log(`[browser] page error: ${e.message}`));
  if (process.env.EW_SHOW_CONSOLE) page.on('console', (m) => console.log(`[browser console.${m.type()}] ${m.text()}`));
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ timeout: opts.timeoutMs || 60_000 });
  return { page, context, exited };
}

module.exports = { launchBrowser, openWorkbench, chromiumPath };
