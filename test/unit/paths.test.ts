/**
 * Paths from the state (store, journal, dead letters, settings) are joined to a folder only through
 * resolveInside: no absolute path, `..` segment, NUL byte or backslash gets out of the folder.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import { isWithin, linkProblemSync, relPathProblem, resolveInside } from '../../src/core/paths';

describe('paths: resolveInside', () => {
  const root = path.resolve(os.tmpdir(), 'ew-paths-root');

  it('joins root-relative / paths to the root', () => {
    assert.equal(resolveInside(root, 'a.txt'), path.join(root, 'a.txt'));
    assert.equal(resolveInside(root, 'docs/deep/b.pdf'), path.join(root, 'docs', 'deep', 'b.pdf'));
    assert.equal(resolveInside(root, '..hidden/x..y'), path.join(root, '..hidden', 'x..y'), 'dots inside names are names');
  });

  it('throws PATH_OUTSIDE_ROOT (not retryable) for every path that could leave the root', () => {
    const bad = ['../x', '../../etc/passwd', 'a/../../x', 'a/..', '..', '/etc/passwd', 'a\0b', '', '.', 'a//b', './a'];
    if (process.platform !== 'win32') bad.push('a\\..\\..\\x', '..\\x');
    for (const rel of bad) {
      assert.throws(
        () => resolveInside(root, rel),
        (err: unknown) => err instanceof ExtractionError && err.code === ErrorCodes.PATH_OUTSIDE_ROOT && !err.retryable && err.message.includes(JSON.stringify(rel)),
        `accepted ${JSON.stringify(rel)}`,
      );
      assert.ok(relPathProblem(rel), `relPathProblem accepted ${JSON.stringify(rel)}`);
    }
  });

  it('isWithin compares by path segments, not by string prefix', () => {
    assert.equal(isWithin('/a/b', '/a/b'), true);
    assert.equal(isWithin('/a/b', '/a/b/c'), true);
    assert.equal(isWithin('/a/b', '/a/bc'), false);
    assert.equal(isWithin('/a/b', '/a'), false);
    assert.equal(isWithin('/a/b', '/a/b/..foo'), true);
  });

  it('linkProblemSync tells a link out of the root from one inside it (and a missing file from both)', function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-paths-'));
    try {
      const inside = path.join(dir, 'root');
      fs.mkdirSync(inside);
      fs.writeFileSync(path.join(dir, 'secret.txt'), 'secret');
      fs.writeFileSync(path.join(inside, 'a.txt'), 'a');
      fs.symlinkSync('../secret.txt', path.join(inside, 'out.txt'));
      fs.symlinkSync('a.txt', path.join(inside, 'in.txt'));
      assert.match(linkProblemSync(inside, path.join(inside, 'out.txt')) ?? '', /leads out of the folder/);
      assert.equal(linkProblemSync(inside, path.join(inside, 'in.txt')), undefined);
      assert.equal(linkProblemSync(inside, path.join(inside, 'a.txt')), undefined);
      assert.equal(linkProblemSync(inside, path.join(inside, 'missing.txt')), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
