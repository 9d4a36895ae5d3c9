import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCodes } from '../../src/core/errors';
import { readDocument, sha256 } from '../../src/core/reader';
import { rejectsWithCode } from '../support/assertions';

describe('readDocument', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-reader-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the whole file and hashes its bytes (empty, small, larger than one read)', async () => {
    for (const size of [0, 46, 3 * 1024 * 1024 + 7]) {
      const file = path.join(dir, `f${size}`);
      const bytes = Buffer.alloc(size, 0).map((_, i) => (i * 31) % 251);
      fs.writeFileSync(file, bytes);
      const r = await readDocument(file, 50 * 1024 * 1024);
      assert.equal(Buffer.compare(Buffer.from(r.bytes), bytes), 0, `${size} bytes read back`);
      assert.equal(r.contentHash, sha256(bytes));
    }
  });

  it('refuses a file over the limit with TOO_LARGE, and one exactly at it is read', async () => {
    const file = path.join(dir, 'big.txt');
    fs.writeFileSync(file, 'x'.repeat(1001));
    await rejectsWithCode(readDocument(file, 1000), ErrorCodes.TOO_LARGE);
    assert.equal((await readDocument(file, 1001)).bytes.length, 1001);
  });

  it('a FIFO put where a document was listed is refused at once (FILE_UNREADABLE), not waited on', async () => {
    const fifo = path.join(dir, 'pipe.txt');
    execFileSync('mkfifo', [fifo]);
    await rejectsWithCode(readDocument(fifo, 1000), ErrorCodes.FILE_UNREADABLE);
  });

  it('a folder or a missing file is an error with a code, not a crash', async () => {
    await rejectsWithCode(readDocument(dir, 1000), ErrorCodes.FILE_UNREADABLE);
    await rejectsWithCode(readDocument(path.join(dir, 'missing.txt'), 1000), ErrorCodes.FILE_MISSING);
  });
});
