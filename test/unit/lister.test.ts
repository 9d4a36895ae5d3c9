/**
 * The lister's rules, and that the single-file check (watch mode) and the folder listing (Extract Folder,
 * a folder created while watching) apply exactly the rules of a full listing: the same .gitignore files
 * (root, nested, negations, folder patterns), always-skipped folders, skipped output/state folders and globs.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inAlwaysSkippedFolder, isListed, listFiles, type ListOptions } from '../../src/core/lister';

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
