/**
 * The lister's rules, and that the single-file check (watch mode) and the folder listing (Extract Folder,
 * a folder created while watching) apply exactly the rules of a full listing: the same .gitignore files
 * (root, nested, negations, folder patterns), always-skipped folders, skipped output/state folders and globs.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inAlwaysSkippedFolder, isListed, listFiles, type ListOptions, type ListWarning } from '../../src/core/lister';

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-lister-'));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return root;
}

async function list(root: string, options: ListOptions = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const f of listFiles(root, options)) out.push(f.path);
  return out;
}

/** Every file on disk under root (nothing filtered), `/`-separated. */
function allFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...allFiles(root, child));
    else out.push(child);
  }
  return out.sort();
}

const FILES = {
  '.gitignore': '*.log\nbuild/\n/top-only.txt\n',
  'a.txt': 'a',
  'debug.log': 'log',
  'top-only.txt': 'ignored at the root only',
  'build/out.txt': 'build output',
  'docs/top-only.txt': 'not ignored here: the pattern is anchored to the root',
  'docs/b.md': 'b',
  'docs/trace.log': 'ignored by the root .gitignore',
  'docs/.gitignore': 'drafts/\nsecret-*.txt\n!secret-ok.txt\n',
  'docs/drafts/c.txt': 'ignored folder of a nested .gitignore',
  'docs/secret-1.txt': 'ignored by the nested .gitignore',
  'docs/secret-ok.txt': 'negated: listed',
  'docs/deep/d.txt': 'd',
  'docs/deep/.gitignore': '*.tmp\n',
  'docs/deep/e.tmp': 'ignored by the deepest .gitignore',
  'node_modules/pkg/index.txt': 'always skipped',
  '.git/HEAD': 'always skipped',
  'extracted/a.txt.json': 'output folder',
  'other/z.csv': 'outside the globs',
};

describe('lister', () => {
  let root: string;
  before(() => {
    root = tree(FILES);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const options = (): ListOptions => ({ include: ['**/*.{txt,md,log,tmp}'], skipDirs: [path.join(root, 'extracted')] });

  it('lists with root and nested .gitignore files, negations, always-skipped and skipped folders, and globs', async () => {
    assert.deepEqual(await list(root, options()), ['a.txt', 'docs/b.md', 'docs/deep/d.txt', 'docs/secret-ok.txt', 'docs/top-only.txt']);
  });

  it('isListed agrees with the full listing on every file of the tree', async () => {
    const listed = new Set(await list(root, options()));
    const disagree: string[] = [];
    for (const rel of allFiles(root)) if ((await isListed(root, rel, options())) !== listed.has(rel)) disagree.push(rel);
    assert.deepEqual(disagree, []);
  });

  it('isListed honours .gitignore files that a single-file check would miss without the walk from the root', async () => {
    assert.equal(await isListed(root, 'docs/trace.log', options()), false, 'root *.log applies in sub-folders');
    assert.equal(await isListed(root, 'docs/drafts/c.txt', options()), false, 'a folder ignored by a nested .gitignore');
    assert.equal(await isListed(root, 'build/out.txt', options()), false, 'a folder ignored by the root .gitignore');
    assert.equal(await isListed(root, 'docs/drafts/new/later.txt', options()), false, 'files that do not exist yet are judged by their path');
    assert.equal(await isListed(root, 'docs/deep/new.txt', options()), true);
    assert.equal(await isListed(root, 'docs/trace.log', { ...options(), gitignore: false }), true, 'gitignore: false turns the rules off');
  });

  it('lists a sub-folder (within) with the rules of the folders above it, paths relative to the root', async () => {
    const full = await list(root, options());
    assert.deepEqual(await list(root, { ...options(), within: 'docs' }), full.filter((p) => p.startsWith('docs/')));
    assert.deepEqual(await list(root, { ...options(), within: 'docs/deep' }), ['docs/deep/d.txt']);
    assert.deepEqual(await list(root, { ...options(), within: 'docs/drafts' }), [], 'an ignored folder lists nothing');
    assert.deepEqual(await list(root, { ...options(), within: 'extracted' }), [], 'a skipped folder lists nothing');
    assert.deepEqual(await list(root, { ...options(), within: 'node_modules/pkg' }), [], 'inside an always-skipped folder');
  });

  it('tells paths inside always-skipped folders', () => {
    assert.equal(inAlwaysSkippedFolder('.git/index'), true);
    assert.equal(inAlwaysSkippedFolder('a/node_modules/x.txt'), true);
    assert.equal(inAlwaysSkippedFolder('.extraction/state.sqlite'), true);
    assert.equal(inAlwaysSkippedFolder('docs/git/notes.txt'), false);
    assert.equal(inAlwaysSkippedFolder('my.git.txt'), false);
  });
});

describe('lister: links, special files and names it cannot list', () => {
  let dir: string;
  let root: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-lister-links-'));
    root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
    fs.writeFileSync(path.join(root, 'a.txt'), 'a');
    fs.writeFileSync(path.join(root, 'docs', 'b.txt'), 'b');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function listWithWarnings(options: ListOptions = {}): Promise<{ paths: string[]; warnings: ListWarning[] }> {
    const warnings: ListWarning[] = [];
    const paths = await list(root, { ...options, onWarning: (w) => warnings.push(w) });
    return { paths, warnings };
  }

  it('follows no folder twice: a link loop is listed once, with a LINK_LOOP warning', async () => {
    fs.symlinkSync('.', path.join(root, 'self'));
    fs.symlinkSync('..', path.join(root, 'docs', 'up'));
    const { paths, warnings } = await listWithWarnings();
    assert.deepEqual(paths, ['a.txt', 'docs/b.txt']);
    assert.deepEqual(warnings.map((w) => [w.path, w.code]).sort(), [
      ['docs/up', 'LINK_LOOP'],
      ['self', 'LINK_LOOP'],
    ]);
  });

  it('lists a folder reached twice under its real name, and one reached only through a link under the link', async () => {
    fs.symlinkSync('docs', path.join(root, 'a-link'));
    fs.mkdirSync(path.join(root, 'ignored'));
    fs.writeFileSync(path.join(root, 'ignored', 'c.txt'), 'c');
    fs.writeFileSync(path.join(root, '.gitignore'), 'ignored/\n');
    fs.symlinkSync('ignored', path.join(root, 'via'));
    const { paths, warnings } = await listWithWarnings();
    assert.deepEqual(paths, ['a.txt', 'docs/b.txt', 'via/c.txt']);
    assert.deepEqual(
      warnings.map((w) => [w.path, w.code]),
      [['a-link', 'LINK_LOOP']],
    );
    // listing one folder (Extract Folder, a folder created while watching) yields what the full listing yields there
    fs.symlinkSync('.', path.join(root, 'self'));
    fs.mkdirSync(path.join(root, 'new'));
    fs.symlinkSync('../docs', path.join(root, 'new', 'docs-again'));
    for (const within of ['a-link', 'via', 'self', 'new', 'docs']) {
      const full = (await list(root)).filter((p) => p.startsWith(`${within}/`));
      assert.deepEqual((await listWithWarnings({ within })).paths, full, `within ${within}`);
    }
    assert.deepEqual((await listWithWarnings({ within: 'self' })).warnings.map((w) => [w.path, w.code]), [['self', 'LINK_LOOP']]);
  });

  it('never lists the output and state folders, also through a link to them', async () => {
    const out = path.join(root, 'extracted');
    const state = path.join(root, 'state');
    fs.mkdirSync(out);
    fs.mkdirSync(state);
    fs.writeFileSync(path.join(out, 'a.txt.json'), '{}');
    fs.writeFileSync(path.join(state, 'x.txt'), 'state');
    fs.symlinkSync('extracted', path.join(root, 'results'));
    fs.symlinkSync('../state', path.join(root, 'docs', 'st'));
    const { paths } = await listWithWarnings({ skipDirs: [out, state] });
    assert.deepEqual(paths, ['a.txt', 'docs/b.txt']);
  });

  it('skips links whose real path is outside the root with LINK_OUTSIDE, unless followExternalLinks', async () => {
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, 'e.txt'), 'outside');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'SECRET');
    fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(root, 'secret.txt'));
    fs.symlinkSync('../elsewhere', path.join(root, 'linked'));
    if (fs.existsSync('/proc/self/environ')) fs.symlinkSync('/proc/self/environ', path.join(root, 'environ.txt'));
    const { paths, warnings } = await listWithWarnings();
    assert.deepEqual(paths, ['a.txt', 'docs/b.txt']);
    const outside = warnings.filter((w) => w.code === 'LINK_OUTSIDE').map((w) => w.path);
    assert.deepEqual(outside, [...(fs.existsSync('/proc/self/environ') ? ['environ.txt'] : []), 'linked', 'secret.txt']);
    const followed = await listWithWarnings({ followExternalLinks: true, include: ['**/*.txt'], exclude: ['environ.txt'] });
    assert.deepEqual(followed.paths, ['a.txt', 'docs/b.txt', 'secret.txt', 'linked/e.txt']);
  });

  it('lists only regular files: a FIFO is left out with a FILE_UNREADABLE warning', async function () {
    if (process.platform === 'win32') this.skip();
    execFileSync('mkfifo', [path.join(root, 'pipe.txt')]);
    const { paths, warnings } = await listWithWarnings();
    assert.deepEqual(paths, ['a.txt', 'docs/b.txt']);
    assert.deepEqual(
      warnings.map((w) => [w.path, w.code]),
      [['pipe.txt', 'FILE_UNREADABLE']],
    );
    assert.match(warnings[0].message, /FIFO/);
  });

  it('reports a name that is not valid UTF-8 (NAME_NOT_UTF8) instead of skipping it silently', async function () {
    const raw = Buffer.concat([Buffer.from(path.join(root, 'docs') + path.sep), Buffer.from([0x66, 0xff, 0x2e, 0x74, 0x78, 0x74])]);
    try {
      fs.writeFileSync(raw, 'latin-1 name');
    } catch {
      this.skip(); // a file system that only takes UTF-8 names (APFS, NTFS): such names cannot exist there
    }
    const { paths, warnings } = await listWithWarnings();
    assert.deepEqual(paths, ['a.txt', 'docs/b.txt']);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].code, 'NAME_NOT_UTF8');
    assert.equal(warnings[0].path, 'docs/f\ufffd.txt');
    assert.match(warnings[0].message, /66ff2e747874/);
    const globbed = await listWithWarnings({ include: ['**/*.md'] });
    assert.deepEqual(globbed.warnings, [], 'a name the globs leave out anyway is not reported');
  });

  it('reports a folder it cannot read (FILE_UNREADABLE) instead of skipping it silently', async function () {
    if (process.platform === 'win32' || process.getuid?.() === 0) this.skip(); // root reads any folder: the CLI test (confinement.test.ts) checks this as another user
    const locked = path.join(root, 'locked');
    fs.mkdirSync(locked);
    fs.writeFileSync(path.join(locked, 'c.txt'), 'c');
    fs.chmodSync(locked, 0o000);
    try {
      const { paths, warnings } = await listWithWarnings();
      assert.deepEqual(paths, ['a.txt', 'docs/b.txt']);
      assert.deepEqual(
        warnings.map((w) => [w.path, w.code]),
        [['locked', 'FILE_UNREADABLE']],
      );
    } finally {
      fs.chmodSync(locked, 0o755);
    }
  });
});
