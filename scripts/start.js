#!/usr/bin/env node
'use strict';
/**
 * `npm start`: try the extension in a real VS Code in your browser, without installing anything
 * globally. Builds the extension, installs code-server 4.100.3 (VS Code 1.100.3) into .vscode-test/
 * if needed, and serves a workbench with samples/invoices open and this repo installed as the
 * extension (a symlink in a fresh extensions dir, so it runs what `node esbuild.js` / `npm run watch`
 * last built: after a rebuild, run "Developer: Reload Window" in the browser).
 *
 *   npm start                         then open the printed http://127.0.0.1:PORT/?folder=... URL
 *   npm start -- --port 9000          fixed port (default: 8765, or a free one if that is taken)
 *   npm start -- --workspace DIR      open another folder (default: samples/invoices, used in place)
 *   npm start -- --fresh              forget the saved profile (settings, secrets such as API keys)
 *   npm start -- --no-build           skip `node esbuild.js`
 *
 * The profile (settings, secrets, state) lives in .vscode-test/start/user-data and survives restarts.
 * Runs until Ctrl-C. Listens on 127.0.0.1 only and without a password: do not expose the port.
 */
const fs = require('fs');
const path = require('path');
const { ensureCodeServer, startCodeServer, isPortFree, freePort } = require('../test/harness/code-server');
const { REPO_ROOT, EXTENSION_ID, esbuild, parseArgs } = require('../test/harness/project');

const DEFAULT_PORT = 8765;

async function main() {
  const args = parseArgs(process.argv.slice(2), { flags: ['fresh', 'no-build', 'help'], options: ['port', 'workspace'] });
  if (args.help) {
    console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
    return;
  }
  const workspace = path.resolve(args.workspace || path.join(REPO_ROOT, 'samples', 'invoices'));
  if (!fs.existsSync(workspace)) throw new Error(`workspace ${workspace} does not exist`);

  if (!args['no-build']) {
    console.log('[start] building the extension (node esbuild.js)');
    esbuild();
  }
  ensureCodeServer();

  // Profile: user data persists; the extensions dir is recreated so it holds exactly this repo.
  const home = path.join(REPO_ROOT, '.vscode-test', 'start');
  const userDataDir = path.join(home, 'user-data');
  const extensionsDir = path.join(home, 'extensions');
  if (args.fresh) fs.rmSync(userDataDir, { recursive: true, force: true });
  fs.rmSync(extensionsDir, { recursive: true, force: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  fs.symlinkSync(REPO_ROOT, path.join(extensionsDir, `${EXTENSION_ID}-${version}`), 'dir');

  let port = Number(args.port || process.env.PORT || 0);
  if (!port) port = (await isPortFree(DEFAULT_PORT)) ? DEFAULT_PORT : await freePort();
  else if (!(await isPortFree(port))) throw new Error(`port ${port} is in use`);

  const server = await startCodeServer({ runDir: home, userDataDir, extensionsDir, workspace, port, handleSignals: false });
  const url = server.workbenchUrl({ folder: workspace });

  let stopping = false;
  const stop = async (why) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[start] ${why}: stopping code-server`);
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => stop('Ctrl-C'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  server.child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`[start] code-server exited unexpectedly (code ${code}, signal ${signal}); log: ${server.logFile}`);
    process.exit(1);
  });

  console.log('');
  console.log(`Open ${url}`);
  console.log(`  extension: ${REPO_ROOT} (rebuild with \`npm run watch\`, then "Developer: Reload Window")`);
  console.log(`  logs: ${server.logFile} (server), ${path.join(userDataDir, 'logs')} (extension host: */exthost1/remoteexthost.log)`);
  console.log('  Ctrl-C to stop');
}

main().catch((e) => {
  console.error(`[start] ${e && e.message ? e.message : e}`);
  process.exit(1);
});
