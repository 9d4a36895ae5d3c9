/**
 * scripts/system-packages.js decides what `npm start`, `npm test` and CI install. These tests run the script
 * as `npm test` does, with a PATH of stand-in `dpkg-query`, `apt-get` and `sudo` programs that record their calls
 * in a folder (the real apt-get would change this machine), so each decision — present, install as root, install
 * with sudo, print the exact command — is seen from outside.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SCRIPT = path.resolve('scripts', 'system-packages.js');
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

interface Machine {
  bin: string;
  /** packages dpkg reports installed (one file each) */
  installed: string;
  /** one line per apt-get call */
  aptLog: string;
}

/** A folder of stand-in programs: dpkg-query answers from `installed/`, apt-get "installs" into it. */
function machine(opts: { dpkg?: boolean; apt?: boolean; sudo?: boolean; installed?: string[] } = {}): Machine {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-syspkg-'));
  const m: Machine = { bin: path.join(dir, 'bin'), installed: path.join(dir, 'installed'), aptLog: path.join(dir, 'apt.log') };
  fs.mkdirSync(m.bin);
  fs.mkdirSync(m.installed);
  for (const p of opts.installed ?? []) fs.writeFileSync(path.join(m.installed, p), '');
  const script = (name: string, body: string): void => fs.writeFileSync(path.join(m.bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  if (opts.dpkg !== false) {
    script('dpkg-query', `eval pkg=\\$$#\nif [ -e "${m.installed}/$pkg" ]; then printf 'install ok installed'; else exit 1; fi`);
  }
  if (opts.apt !== false) {
    script('apt-get', `echo "$*" >> "${m.aptLog}"\nfor a in "$@"; do case "$a" in -*|install|update) ;; *) : > "${m.installed}/$a";; esac; done`);
  }
  if (opts.sudo) script('sudo', `[ "$1" = -n ] && shift\nexec "$@"`);
  return m;
}

function run(m: Machine, purpose: string, env: Record<string, string> = {}): { code: number | null; out: string; aptCalls: string[] } {
  const r = spawnSync(process.execPath, [SCRIPT, purpose], { encoding: 'utf8', env: { PATH: m.bin, ...env } });
  const aptCalls = fs.existsSync(m.aptLog) ? fs.readFileSync(m.aptLog, 'utf8').trim().split('\n') : [];
  return { code: r.status, out: r.stdout + r.stderr, aptCalls };
}

describe('system packages for npm start / npm test', () => {
  const START = ['ripgrep', 'build-essential', 'python3'];

  it('does nothing when dpkg reports every package installed', () => {
    const m = machine({ installed: START });
    const r = run(m, 'start');
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.aptCalls, []);
  });

  it('installs only the missing packages with apt-get, then finds them installed', function () {
    if (!IS_ROOT) this.skip(); // as root: apt-get without sudo (CI runs as root)
    const m = machine({ installed: ['python3'] });
    const r = run(m, 'start');
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.aptCalls, ['update -qq', 'install -y -qq ripgrep build-essential']);
    assert.match(r.out, /installing system packages for `npm start`: ripgrep build-essential/);
  });

  it('the test purpose includes chromium and the PDF tools on top of what start needs', () => {
    const m = machine({ installed: START });
    const r = run(m, 'test', { EW_NO_SYSTEM_INSTALL: '1' });
    assert.equal(r.code, 1);
    assert.match(r.out, /chromium: UI tests/);
    assert.match(r.out, /apt-get install -y chromium poppler-utils qpdf ghostscript webp groff libtasn1-doc shared-mime-info postgresql\n/);
    assert.doesNotMatch(r.out, /ripgrep:/);
  });

  it('with EW_NO_SYSTEM_INSTALL=1 prints the exact one-line command and installs nothing', () => {
    const m = machine({ sudo: true });
    const r = run(m, 'start', { EW_NO_SYSTEM_INSTALL: '1' });
    assert.equal(r.code, 1);
    const sudo = IS_ROOT ? '' : 'sudo ';
    assert.ok(r.out.includes(`${sudo}apt-get update && ${sudo}apt-get install -y ripgrep build-essential python3`), r.out);
    assert.deepEqual(r.aptCalls, []);
  });

  it('without dpkg or apt-get, names the packages and the programs are looked up on PATH', () => {
    const m = machine({ dpkg: false, apt: false });
    fs.writeFileSync(path.join(m.bin, 'rg'), '#!/bin/sh\n', { mode: 0o755 });
    const r = run(m, 'start');
    assert.equal(r.code, 1);
    assert.match(r.out, /package manager \(Debian\/Ubuntu names: build-essential python3\)/);
    assert.doesNotMatch(r.out, /ripgrep/);
  });
});
