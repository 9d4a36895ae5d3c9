'use strict';
/**
 * Project-specific helpers shared by the harness runners: where things are, building, sample
 * workspaces and time limits.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const EXTENSION_ID = 'extraction-workbench.extraction-workbench';
const SAMPLES_DIR = path.join(REPO_ROOT, 'samples');

/** Run `node esbuild.js <args>` in the repo; throws when the build fails. */
function esbuild(...args) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'esbuild.js'), ...args], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`node esbuild.js ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** Bundle the test sources (test/**\/*.suite.ts, test/ui/index.ts, ...) into out/. */
function buildTests() {
  esbuild('--tests');
}

/** The extension itself must have been built (`node esbuild.js`, which the npm scripts run first). */
function assertExtensionBuilt() {
  const main = path.join(REPO_ROOT, 'dist', 'extension.js');
  if (!fs.existsSync(main)) throw new Error(`${path.relative(REPO_ROOT, main)} is missing: run \`node esbuild.js\` first (npm run test:vscode does)`);
}

/**
 * Copy samples/<name> to <runDir>/<copyName>/<name>, so tests can write (e.g. .extraction/) without
 * dirtying the repository. Returns the copy's path.
 */
function copySampleWorkspace(runDir, name = 'invoices', copyName = 'workspace') {
  const src = path.join(SAMPLES_DIR, name);
  if (!fs.existsSync(src)) throw new Error(`sample workspace ${src} does not exist`);
  const dest = path.join(runDir, copyName, name);
  fs.cpSync(src, dest, {
    recursive: true,
    // never carry over a previous run's state or outputs
    filter: (p) => !/(^|[\\/])(\.extraction|extracted)([\\/]|$)/.test(path.relative(src, p)),
  });
  return dest;
}

/**
 * A last-resort watchdog: if the run is not finished after `ms`, call `onTimeout` (which should
 * report and clean up) and exit with code 1 - a hang can never block CI longer than this.
 */
function startWatchdog(ms, onTimeout) {
  const timer = setTimeout(async () => {
    console.error(`\n[harness] time limit of ${Math.round(ms / 1000)}s exceeded - aborting`);
    const hardStop = setTimeout(() => process.exit(1), 15_000);
    try {
      await onTimeout();
    } finally {
      clearTimeout(hardStop);
      process.exit(1);
    }
  }, ms);
  return () => clearTimeout(timer);
}

/** Resolve with `promise`, or reject after `ms` with a message naming `what`. */
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(ms / 1000)}s: ${what}`)), ms);
    }),
  ]);
}

/** Minimal `--flag` / `--name value` parser. */
function parseArgs(argv, { flags = [], options = [] } = {}) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.replace(/^--/, '');
    if (flags.includes(name)) out[name] = true;
    else if (options.includes(name)) out[name] = argv[++i];
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else out._.push(a);
  }
  return out;
}

module.exports = {
  REPO_ROOT,
  EXTENSION_ID,
  SAMPLES_DIR,
  esbuild,
  buildTests,
  assertExtensionBuilt,
  copySampleWorkspace,
  startWatchdog,
  withTimeout,
  parseArgs,
};
