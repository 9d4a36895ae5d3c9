import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCodes } from '../../src/core/errors';
import { readSource, sha256 } from '../../src/core/reader';
import { rejectsWithCode } from '../support/assertions';

describe('readSource', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-reader-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the whole file and hashes its bytes (empty, small, larger than one read)', async () => {
    for (const size of [0, 46, 3 * 1024 * 1024 + 7]) {
      const file = path.join(dir, `f${size}`);
      const bytes = Buffer.alloc(size, 0).map((_, i) => (i * 31) % 251);
      fs.writeFileSync(file, bytes);
      const r = await readSource(file, 50 * 1024 * 1024);
      assert.equal(Buffer.compare(Buffer.from(r.bytes!), bytes), 0, `${size} bytes read back`);
      assert.equal(r.contentHash, sha256(bytes));
      // a converter that streams files above 1 KB: the file is hashed as a stream, not read
      const streamed = await readSource(file, 50 * 1024 * 1024, 1024);
      assert.equal(streamed.contentHash, sha256(bytes));
      assert.equal(streamed.size, size);
      assert.equal(streamed.bytes === undefined, size > 1024);
    }
  });

  it('refuses a file over the limit with TOO_LARGE, and one exactly at it is read', async () => {
    const file = path.join(dir, 'big.txt');
    fs.writeFileSync(file, 'x'.repeat(1001));
    await rejectsWithCode(readSource(file, 1000), ErrorCodes.TOO_LARGE);
    assert.equal((await readSource(file, 1001)).bytes?.length, 1001);
  });

  it('a FIFO put where a document was listed is refused at once (FILE_UNREADABLE), not waited on', async () => {
    const fifo = path.join(dir, 'pipe.txt');
    execFileSync('mkfifo', [fifo]);
    await rejectsWithCode(readSource(fifo, 1000), ErrorCodes.FILE_UNREADABLE);
  });

  it('a folder or a missing file is an error with a code, not a crash', async () => {
    await rejectsWithCode(readSource(dir, 1000), ErrorCodes.FILE_UNREADABLE);
    await rejectsWithCode(readSource(path.join(dir, 'missing.txt'), 1000), ErrorCodes.FILE_MISSING);
  });
});
