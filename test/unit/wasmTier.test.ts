/**
 * The CLI's choice of WebAssembly tier for sql.js (src/cli/wasmTier.ts): baseline only for a small or new
 * state, the optimising tier kept for a large one (its snapshot and journals counted).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OPTIMISE_SQLITE_ABOVE_BYTES, optimisesSqlite, stateBytes } from '../../src/cli/wasmTier';
import { journalFileName } from '../../src/store/journal';
import { SNAPSHOT_FILE } from '../../src/store/snapshot';

describe('CLI: WebAssembly tier for sql.js', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-wasmtier-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  /** A sparse file of `bytes`. */
  const sized = (name: string, bytes: number) => {
    fs.writeFileSync(path.join(dir, name), '');
    fs.truncateSync(path.join(dir, name), bytes);
  };

  it('a missing or new state is small: baseline only', () => {
    assert.equal(stateBytes(path.join(dir, 'none')), 0);
    assert.equal(optimisesSqlite(path.join(dir, 'none')), false);
    assert.equal(optimisesSqlite(dir), false);
  });

  it('counts the snapshot and the journals, nothing else', () => {
    sized(SNAPSHOT_FILE, 1000);
    sized(journalFileName(1), 200);
    sized(journalFileName(501), 30);
    sized('settings.json', 5_000_000);
    assert.equal(stateBytes(dir), 1230);
  });

  it('a state over the bound keeps the optimising tier', () => {
    sized(SNAPSHOT_FILE, OPTIMISE_SQLITE_ABOVE_BYTES - 100);
    assert.equal(optimisesSqlite(dir), false);
    sized(journalFileName(1), 200); // the journals since the snapshot tip it over
    assert.equal(optimisesSqlite(dir), true);
  });
});
