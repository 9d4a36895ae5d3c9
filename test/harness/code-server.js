'use strict';
/**
 * code-server harness: a real VS Code (code-server 4.100.3 = VS Code 1.100.3) that runs offline.
 *
 * `@vscode/test-electron` needs to download VS Code, which these machines cannot do. code-server is
 * published on the npm registry, runs on the system Node (20.x) and serves the real workbench to a
 * browser, while extensions run in a Node extension host on the server. This module
 *
 *   - installs code-server once into `.vscode-test/code-server-<version>/` (see `ensureCodeServer`),
 *   - starts it on a free 127.0.0.1 port with a throw-away profile (see `startCodeServer`),
 *   - installs a .vsix into an extensions dir (see `installExtension`).
 *
 * The install follows the verified recipe in /work/shared/vscode-harness/install-code-server.sh:
 * `npm pack`, `npm install --omit=dev --ignore-scripts` in lib/vscode, lib/vscode/extensions and the
 * package root, `npm rebuild` of the native modules only, Debian's ripgrep instead of the postinstall
 * download, and a `node_modules.asar -> node_modules` link. It needs `build-essential`, `python3` and
 * `ripgrep` (apt). The install happens in a staging directory that is renamed into place after it has
 * been verified, so an interrupted install is never mistaken for a finished one; a marker file records
 * the Node ABI the natives were built for, and a different Node triggers a reinstall.
 *
 * Environment:
 *   EW_CODE_SERVER_CACHE  directory holding the install (default: <repo>/.vscode-test)
 *   EW_KEEP_RUNS=1        callers keep their temp run directories (see `makeRunDir`)
 */
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const CODE_SERVER_VERSION = '4.100.3';
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const CACHE_DIR = path.resolve(process.env.EW_CODE_SERVER_CACHE || path.join(REPO_ROOT, '.vscode-test'));
const INSTALL_DIR = path.join(CACHE_DIR, `code-server-${CODE_SERVER_VERSION}`);
/** The unpacked npm package; `out/node/entry.js` is the server's entry point. */
const PACKAGE_DIR = path.join(INSTALL_DIR, 'package');
const ENTRY = path.join(PACKAGE_DIR, 'out', 'node', 'entry.js');
const MARKER = path.join(INSTALL_DIR, 'install-complete.json');

/** Native modules of VS Code's server that must be compiled for the local Node (`npm rebuild`). */
const VSCODE_NATIVE_MODULES = ['@parcel/watcher', '@vscode/spdlog', '@vscode/deviceid', 'native-watchdog', 'node-pty'];
/** Native module of code-server itself (password hashing; unused with --auth none, but loaded). */
const CODE_SERVER_NATIVE_MODULES = ['argon2'];

/** Time limit of each install step (a stalled download must not hang CI). */
const STEP_TIMEOUT_MS = 10 * 60_000;

/** User settings for every profile the harness creates: quiet, deterministic, no network. */
const DEFAULT_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.reduceMotion': 'on',
  'window.commandCenter': false,
  'chat.commandCenter.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
};

/**
 * Settings of a profile with workspace trust on: nothing is trusted until the test says so, and the modal
 * "Do you trust the authors?" prompt stays away (the Restricted Mode banner still shows), as for a person
 * who chose "Don't Trust" once.
 */
const TRUST_SETTINGS = {
  'security.workspace.trust.enabled': true,
  'security.workspace.trust.startupPrompt': 'never',
  'security.workspace.trust.untrustedFiles': 'open',
};

function log(msg) {
  console.log(`[code-server] ${msg}`);
}

/* ------------------------------------------------------------------------------------------------ */
/* Install                                                                                           */
/* ------------------------------------------------------------------------------------------------ */

function readMarker() {
  try {
    return JSON.parse(fs.readFileSync(MARKER, 'utf8'));
  } catch {
    return undefined;
  }
}

/** True when a verified install for this version and this Node ABI is present. */
function isInstalled() {
  const m = readMarker();
  return !!m && m.version === CODE_SERVER_VERSION && m.nodeAbi === process.versions.modules && fs.existsSync(ENTRY);
}

/** Locate an executable on PATH (like `which`). */
function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

function checkPrerequisites() {
  const missing = [];
  if (!which('rg')) missing.push('ripgrep (rg)');
  if (!which('make') || !(which('g++') || which('c++'))) missing.push('build-essential (make, g++)');
  if (!which('python3')) missing.push('python3');
  if (missing.length) {
    throw new Error(
      `Cannot install code-server: missing ${missing.join(', ')}.\n` +
        'On Debian/Ubuntu: apt-get install -y ripgrep build-essential python3',
    );
  }
}

/** Environment for the npm/node-gyp calls of the install. */
function npmEnv() {
  const env = {
    ...process.env,
    npm_config_yes: 'true',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_update_notifier: 'false',
    npm_config_loglevel: 'error',
  };
  // node-gyp needs Node's headers. Debian's nodejs ships them in /usr/include/node; elsewhere
  // node-gyp downloads them (which needs internet), unless the caller configured nodedir already.
  if (!env.npm_config_nodedir && fs.existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  return env;
}

/** Remove staging directories left behind by installs whose process is gone. */
function removeStaleStaging() {
  if (!fs.existsSync(CACHE_DIR)) return;
  const prefix = `${path.basename(INSTALL_DIR)}.staging-`;
  for (const name of fs.readdirSync(CACHE_DIR)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = pid !== process.pid;
    } catch {
      /* not running */
    }
    if (!alive) fs.rmSync(path.join(CACHE_DIR, name), { recursive: true, force: true });
  }
}

/**
 * Install code-server unless a verified install is already cached. Returns the package directory.
 * Takes ~40-90 s from scratch on 2 cores (most of it compiling native modules), ~0 s when cached.
 */
function ensureCodeServer() {
  if (isInstalled()) return PACKAGE_DIR;
  checkPrerequisites();
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  removeStaleStaging();

  const t0 = Date.now();
  const staging = `${INSTALL_DIR}.staging-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const logFile = path.join(staging, 'install.log');
  const pkg = path.join(staging, 'package');
  const vscodeDir = path.join(pkg, 'lib', 'vscode');
  const env = npmEnv();
  log(`installing code-server ${CODE_SERVER_VERSION} into ${path.relative(process.cwd(), INSTALL_DIR) || INSTALL_DIR} (log: ${logFile})`);

  /** Run one install step; its output goes to the log file, which is shown if the step fails. */
  const step = (title, cmd, args, cwd, stepEnv = env) => {
    log(`  [${((Date.now() - t0) / 1000).toFixed(0)}s] ${title}`);
    fs.appendFileSync(logFile, `\n$ (cd ${cwd} && ${cmd} ${args.join(' ')})\n`);
    const r = spawnSync(cmd, args, { cwd, env: stepEnv, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'], timeout: STEP_TIMEOUT_MS });
    fs.appendFileSync(logFile, (r.stdout || '') + (r.stderr || ''));
    if (r.status !== 0) {
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
      throw new Error(`code-server install step failed: ${title} (exit ${r.status ?? r.signal ?? r.error})\n${tail}`);
    }
    return r.stdout;
  };
  const npmInstall = ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];

  try {
    step('npm pack', 'npm', ['pack', `code-server@${CODE_SERVER_VERSION}`, '--silent'], staging);
    const tgz = path.join(staging, `code-server-${CODE_SERVER_VERSION}.tgz`);
    step('unpack', 'tar', ['xzf', tgz], staging);
    fs.rmSync(tgz);
    step('npm install (lib/vscode)', 'npm', npmInstall, vscodeDir);
    step('npm rebuild natives (lib/vscode)', 'npm', ['rebuild', ...VSCODE_NATIVE_MODULES, '--loglevel=error'], vscodeDir);

    // @vscode/ripgrep's postinstall downloads rg from GitHub; use the system one instead.
    const rgDir = path.join(vscodeDir, 'node_modules', '@vscode', 'ripgrep', 'bin');
    fs.mkdirSync(rgDir, { recursive: true });
    fs.copyFileSync(which('rg'), path.join(rgDir, 'rg'));
    fs.chmodSync(path.join(rgDir, 'rg'), 0o755);
    // The server resolves some modules through node_modules.asar (the desktop layout).
    fs.symlinkSync('node_modules', path.join(vscodeDir, 'node_modules.asar'));

    step('npm install (lib/vscode/extensions)', 'npm', npmInstall, path.join(vscodeDir, 'extensions'));
    step('npm install (code-server)', 'npm', npmInstall, pkg);
    step('npm rebuild natives (code-server)', 'npm', ['rebuild', ...CODE_SERVER_NATIVE_MODULES, '--loglevel=error'], pkg);

    // (its own config/data dirs: code-server writes a default config.yaml on first start)
    const verifyOut = step('verify', process.execPath, [path.join(pkg, 'out', 'node', 'entry.js'), '--version'], pkg, serverEnv(staging));
    const version = verifyOut.split('\n').find((l) => l.startsWith(CODE_SERVER_VERSION));
    if (!version) throw new Error(`unexpected code-server --version output: ${verifyOut}`);

    const seconds = Math.round((Date.now() - t0) / 1000);
    for (const d of ['xdg-config', 'xdg-data']) fs.rmSync(path.join(staging, d), { recursive: true, force: true });
    fs.writeFileSync(
      path.join(staging, path.basename(MARKER)),
      JSON.stringify({ version: CODE_SERVER_VERSION, versionOutput: version, nodeAbi: process.versions.modules, node: process.version, installedAt: new Date().toISOString(), seconds }, null, 2) + '\n',
    );
    // Swap the verified install into place (replacing an outdated or broken one).
    fs.rmSync(INSTALL_DIR, { recursive: true, force: true });
    fs.renameSync(staging, INSTALL_DIR);
    log(`installed in ${seconds}s: code-server ${version}`);
  } catch (err) {
    if (!isInstalled()) {
      // keep the staging dir's log for diagnosis; the directory itself is removed by the next install
      log(`install failed; log kept at ${logFile}`);
    } else {
      fs.rmSync(staging, { recursive: true, force: true }); // a concurrent install won the race
    }
    throw err;
  }
  return PACKAGE_DIR;
}

/* ------------------------------------------------------------------------------------------------ */
/* Run                                                                                               */
/* ------------------------------------------------------------------------------------------------ */

/** A free TCP port on 127.0.0.1 (there is a small race until code-server binds it). */
function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether `port` on `host` can be bound right now. */
function isPortFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** A fresh temp directory for one run (profile, logs, workspace copy). */
function makeRunDir(prefix = 'ew-vscode-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Write user settings into `<userDataDir>/User/settings.json` (merged over the defaults). */
function seedUserSettings(userDataDir, extra = {}) {
  const dir = path.join(userDataDir, 'User');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'settings.json');
  let existing = {};
  try {
    existing = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    /* new profile */
  }
  fs.writeFileSync(file, JSON.stringify({ ...DEFAULT_SETTINGS, ...existing, ...extra }, null, 2) + '\n');
}

/** Environment for code-server (and thereby the extension host, which inherits it). */
function serverEnv(runDir, extraEnv = {}) {
  const env = {
    ...process.env,
    // Empty gallery: no Open VSX lookups (offline, and deterministic).
    EXTENSIONS_GALLERY: process.env.EXTENSIONS_GALLERY || '{}',
    XDG_CONFIG_HOME: path.join(runDir, 'xdg-config'),
    XDG_DATA_HOME: path.join(runDir, 'xdg-data'),
    ...extraEnv,
  };
  // Never talk to an outer VS Code / code-server this process may be running inside of.
  for (const k of ['VSCODE_IPC_HOOK_CLI', 'VSCODE_IPC_HOOK', 'VSCODE_PID', 'VSCODE_CWD', 'VSCODE_NLS_CONFIG', 'VSCODE_HANDLES_UNCAUGHT_ERRORS', 'ELECTRON_RUN_AS_NODE', 'CODE_SERVER_PARENT_PID', 'PASSWORD', 'HASHED_PASSWORD']) {
    delete env[k];
  }
  return env;
}

function commonArgs(userDataDir, extensionsDir) {
  return ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--disable-telemetry', '--disable-update-check'];
}

let signalHandlersInstalled = false;
/** On SIGINT/SIGTERM/SIGHUP exit (running the 'exit' listeners that stop the servers) instead of dying silently. */
function installSignalHandlers() {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.on(sig, () => {
      console.error(`[code-server] ${sig}: stopping`);
      process.exit(code);
    });
  }
}

/**
 * Start code-server.
 *
 * @param {object} opts
 * @param {string} [opts.workspace]      folder to open by default (tests pass `?folder=` anyway)
 * @param {string} [opts.runDir]         temp dir for profile and logs (default: a new one)
 * @param {string} [opts.userDataDir]    default `<runDir>/user-data`
 * @param {string} [opts.extensionsDir]  default `<runDir>/extensions`
 * @param {object} [opts.settings]       extra user settings
 * @param {object} [opts.env]            extra environment for the server and the extension host
 * @param {number} [opts.port]           default: a free port
 * @param {string} [opts.host]           default 127.0.0.1
 * @param {number} [opts.startTimeoutMs] default 60 s
 * @param {boolean} [opts.echo]          also echo the server output to this process' stdout
 * @param {boolean} [opts.handleSignals] default true: exit on SIGINT/SIGTERM/SIGHUP (stopping the
 *                                       server); pass false to handle signals yourself
 * @param {boolean} [opts.workspaceTrust] default false (trust off: every folder is trusted). true: trust
 *                                       on, nothing trusted yet, no startup prompt - folders open in
 *                                       Restricted Mode until a test trusts them
 * @returns {Promise<CodeServer>}
 *
 * @typedef {object} CodeServer
 * @property {number} port
 * @property {string} authority   host:port
 * @property {string} baseUrl     http://host:port
 * @property {string} runDir
 * @property {string} userDataDir
 * @property {string} extensionsDir
 * @property {string} logFile     the server's stdout/stderr
 * @property {import('child_process').ChildProcess} child
 * @property {(opts?: {folder?: string, workspace?: string, payload?: Array<[string, string]>}) => string} workbenchUrl
 * @property {(p: string) => string} remoteUri  `vscode-remote://authority/abs/path` for payload entries
 * @property {() => Promise<void>} stop
 */
async function startCodeServer(opts = {}) {
  ensureCodeServer();
  const host = opts.host || '127.0.0.1';
  const runDir = opts.runDir || makeRunDir();
  const userDataDir = opts.userDataDir || path.join(runDir, 'user-data');
  const extensionsDir = opts.extensionsDir || path.join(runDir, 'extensions');
  fs.mkdirSync(userDataDir, { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  seedUserSettings(userDataDir, { ...(opts.workspaceTrust ? TRUST_SETTINGS : {}), ...opts.settings });
  const port = opts.port || (await freePort(host));
  const authority = `${host}:${port}`;
  const logFile = path.join(runDir, 'code-server.log');

  const args = [
    ENTRY,
    '--bind-addr', authority,
    '--auth', 'none',
    ...commonArgs(userDataDir, extensionsDir),
    ...(opts.workspaceTrust ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    '--ignore-last-opened',
    '--log', 'info',
  ];
  if (opts.workspace) args.push(opts.workspace);

  // detached: own process group, so stop() can end code-server together with its extension host,
  // pty host and file watcher without touching any other process.
  const child = spawn(process.execPath, args, {
    cwd: opts.workspace || runDir,
    env: serverEnv(runDir, opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const out = fs.createWriteStream(logFile);
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      /* already gone */
    }
  };
  // If this process ends without calling stop() (crash, Ctrl-C, a supervisor's SIGTERM), take the
  // server down with it: it runs in its own process group and would otherwise be left behind.
  const onExit = () => killGroup('SIGKILL');
  process.on('exit', onExit);
  if (opts.handleSignals !== false) installSignalHandlers();

  let exited = false;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => { exited = true; resolve({ code, signal }); }));

  await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      killGroup('SIGKILL');
      reject(new Error(`code-server did not start within ${(opts.startTimeoutMs || 60000) / 1000}s\n${buf}`));
    }, opts.startTimeoutMs || 60000);
    const onData = (d) => {
      out.write(d);
      if (opts.echo) process.stdout.write(d);
      if (buf !== null) {
        buf += d;
        if (/HTTP server listening on/.test(buf)) {
          buf = null;
          clearTimeout(timer);
          resolve();
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exitPromise.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited during startup (code ${code}, signal ${signal})\n${buf}`));
    });
  });

  const remoteUri = (p) => `vscode-remote://${authority}${path.resolve(p).split(path.sep).map(encodeURIComponent).join('/')}`;
  return {
    port,
    authority,
    baseUrl: `http://${authority}`,
    runDir,
    userDataDir,
    extensionsDir,
    logFile,
    child,
    remoteUri,
    workbenchUrl({ folder, workspace, payload } = {}) {
      const q = [];
      if (folder) q.push(`folder=${encodeURIComponent(path.resolve(folder))}`);
      if (workspace) q.push(`workspace=${encodeURIComponent(path.resolve(workspace))}`);
      if (payload && payload.length) q.push(`payload=${encodeURIComponent(JSON.stringify(payload))}`);
      return `http://${authority}/${q.length ? '?' + q.join('&') : ''}`;
    },
    async stop() {
      process.removeListener('exit', onExit);
      if (!exited) {
        killGroup('SIGTERM');
        const timer = setTimeout(() => killGroup('SIGKILL'), 5000);
        await exitPromise;
        clearTimeout(timer);
      }
      killGroup('SIGKILL'); // stragglers of the group (extension host, watchers)
      await new Promise((r) => out.end(r));
    },
  };
}

/**
 * Install a .vsix into `extensionsDir` with `code-server --install-extension` (no gallery access).
 * Returns the command's output; throws if it fails.
 */
function installExtension(vsixPath, { extensionsDir, userDataDir, runDir }) {
  ensureCodeServer();
  runDir = runDir || path.dirname(userDataDir);
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.mkdirSync(userDataDir, { recursive: true });
  const r = spawnSync(process.execPath, [ENTRY, ...commonArgs(userDataDir, extensionsDir), '--install-extension', path.resolve(vsixPath)], {
    env: serverEnv(runDir),
    encoding: 'utf8',
    timeout: 120000,
  });
  const output = `${r.stdout || ''}${r.stderr || ''}`;
  if (r.status !== 0) throw new Error(`code-server --install-extension failed (exit ${r.status ?? r.signal})\n${output}`);
  return output;
}

/** Copy the server-side logs of a run (exthost, remote agent) to `dest` for later inspection. */
function collectLogs(server, dest) {
  try {
    fs.mkdirSync(dest, { recursive: true });
    if (fs.existsSync(server.logFile)) fs.copyFileSync(server.logFile, path.join(dest, 'code-server.log'));
    const logs = path.join(server.userDataDir, 'logs');
    if (fs.existsSync(logs)) fs.cpSync(logs, path.join(dest, 'server-logs'), { recursive: true });
  } catch (e) {
    log(`could not collect logs: ${e.message}`);
  }
}

module.exports = {
  CODE_SERVER_VERSION,
  REPO_ROOT,
  INSTALL_DIR,
  PACKAGE_DIR,
  DEFAULT_SETTINGS,
  ensureCodeServer,
  isInstalled,
  startCodeServer,
  installExtension,
  collectLogs,
  freePort,
  isPortFree,
  makeRunDir,
  seedUserSettings,
};

// `node test/harness/code-server.js` installs (or verifies) the cached code-server.
if (require.main === module) {
  try {
    const cached = isInstalled();
    ensureCodeServer();
    log(`${cached ? 'already installed' : 'ready'}: ${PACKAGE_DIR}`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
