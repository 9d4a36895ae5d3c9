#!/usr/bin/env node
'use strict';
/**
 * The system (apt) packages that `npm start`, `npm test` and CI need, in one place, and the code that
 * installs the missing ones the way `.ci/run` always did: as root, or with passwordless sudo; otherwise it
 * stops with the exact one-line command to run.
 *
 *   node scripts/system-packages.js start|test          install what is missing (or print the command, exit 1)
 *   node scripts/system-packages.js test --list         print the package names, one line (for .ci/run)
 *   node scripts/system-packages.js test --check        only say what is missing (exit 1 if anything is)
 *
 * `npm start` and `npm test` call {@link ensureSystemPackages} before anything else. Set
 * EW_NO_SYSTEM_INSTALL=1 to never run apt-get (the command is printed instead). A package counts as present
 * when dpkg says it is installed, or, on machines without dpkg, when the program it provides is on PATH.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

/**
 * name: the Debian/Ubuntu package; bin: a program it provides (presence check without dpkg); why: what
 * needs it. `start` is what `npm start` needs; `test` adds what the test suites and CI need.
 */
const START = [
  { name: 'ripgrep', bin: 'rg', why: 'code-server (search)' },
  { name: 'build-essential', bin: 'make', why: "code-server's native modules" },
  { name: 'python3', bin: 'python3', why: "code-server's native modules (node-gyp)" },
];
const TEST = [
  ...START,
  { name: 'chromium', bin: 'chromium', why: 'UI tests (driven by playwright-core)' },
  { name: 'poppler-utils', bin: 'pdftotext', why: 'PDF fixtures and the text-extraction reference' },
  { name: 'qpdf', bin: 'qpdf', why: 'PDF fixtures' },
  { name: 'ghostscript', bin: 'gs', why: 'PDF fixtures' },
  { name: 'webp', bin: 'cwebp', why: 'WebP image fixtures (cwebp; ghostscript writes no WebP)' },
  { name: 'groff', bin: 'groff', why: 'PDF fixtures' },
  { name: 'libtasn1-doc', file: '/usr/share/doc/libtasn1-doc', why: 'a real PDF manual (conversion tests, bench)' },
  { name: 'shared-mime-info', bin: 'update-mime-database', why: 'a real PDF manual (conversion tests, bench)' },
  { name: 'postgresql', file: '/usr/lib/postgresql', why: 'the PostgreSQL store and fleet tests (a throwaway cluster), bench part fleet' },
];
const PURPOSES = { start: START, test: TEST };

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
      return true;
    } catch {
      /* keep looking */
    }
  }
  return false;
}

/** Whether `name` is installed according to dpkg; undefined when dpkg is not there to ask. */
function dpkgInstalled(name) {
  if (!which('dpkg-query')) return undefined;
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return r.status === 0 && /install ok installed/.test(r.stdout);
}

function present(pkg) {
  const byDpkg = dpkgInstalled(pkg.name);
  if (byDpkg !== undefined) return byDpkg;
  if (pkg.bin) return which(pkg.bin);
  return pkg.file ? fs.existsSync(pkg.file) : false;
}

/** The packages of `purpose` that are not installed. */
function missingPackages(purpose) {
  const list = PURPOSES[purpose];
  if (!list) throw new Error(`unknown purpose "${purpose}" (known: ${Object.keys(PURPOSES).join(', ')})`);
  return list.filter((p) => !present(p));
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function passwordlessSudo() {
  return which('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
}

/** The one line a person runs to install `names`. */
function installCommand(names) {
  const sudo = isRoot() ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y ${names.join(' ')}`;
}

/**
 * Installs the missing packages of `purpose` (`start` or `test`) with apt-get when this process may (root or
 * passwordless sudo, and EW_NO_SYSTEM_INSTALL is not set). Returns normally when everything is present;
 * throws an Error whose message holds the exact install command otherwise.
 * @param {'start'|'test'} purpose
 * @param {{ log?: (line: string) => void }} [opts]
 */
function ensureSystemPackages(purpose, opts = {}) {
  const log = opts.log || ((line) => console.log(line));
  const missing = missingPackages(purpose);
  if (missing.length === 0) return;
  const names = missing.map((p) => p.name);
  const why = missing.map((p) => `  ${p.name}: ${p.why}`).join('\n');
  const canApt = which('apt-get') && process.env.EW_NO_SYSTEM_INSTALL !== '1';
  const prefix = isRoot() ? [] : passwordlessSudo() ? ['sudo', '-n'] : undefined;
  if (!canApt || !prefix) {
    const how = which('apt-get')
      ? `Install them with:\n  ${installCommand(names)}`
      : `Install them with your system's package manager (Debian/Ubuntu names: ${names.join(' ')}).`;
    throw new Error(`Missing system packages for \`npm ${purpose}\`:\n${why}\n${how}`);
  }
  log(`[setup] installing system packages for \`npm ${purpose}\`: ${names.join(' ')}`);
  const apt = (args) => {
    const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
    const r = spawnSync(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`\`${[...prefix, 'apt-get', ...args].join(' ')}\` failed (exit ${r.status}). Run it yourself:\n  ${installCommand(names)}`);
  };
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', ...names]);
  const still = missingPackages(purpose).map((p) => p.name);
  if (still.length) throw new Error(`apt-get did not install ${still.join(' ')}. Run:\n  ${installCommand(still)}`);
}

module.exports = { ensureSystemPackages, missingPackages, installCommand, PURPOSES };

if (require.main === module) {
  const [purpose = 'test', flag] = process.argv.slice(2);
  try {
    if (flag === '--list') console.log(PURPOSES[purpose].map((p) => p.name).join(' '));
    else if (flag === '--check') {
      const missing = missingPackages(purpose).map((p) => p.name);
      console.log(missing.length ? `missing: ${missing.join(' ')}` : `present: ${PURPOSES[purpose].map((p) => p.name).join(' ')}`);
      process.exitCode = missing.length ? 1 : 0;
    } else {
      ensureSystemPackages(purpose);
      console.log(`[setup] system packages present for \`npm ${purpose}\``);
    }
  } catch (e) {
    console.error(e.message);
    process.exitCode = 1;
  }
}
