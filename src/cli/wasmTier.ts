/**
 * Which WebAssembly tier the CLI gives sql.js (and undici's HTTP parser): V8's baseline compiler (Liftoff)
 * only, or the default dynamic tiering that also optimises hot functions with TurboFan.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { listJournalFiles } from '../store/journal';
import { SNAPSHOT_FILE } from '../store/snapshot';

/**
 * Keeps sql.js (and undici's HTTP parser) on V8's baseline WebAssembly compiler (Liftoff). With the default
 * dynamic tiering, V8 optimises the functions a few queries made hot — SQLite's bytecode interpreter is one
 * very large function — on background threads, and the main thread waits for those compile jobs: at exit, and
 * at times during the work (strace: the main thread in a futex while a background thread compiles).
 * `status` on a 2,000-document state took 0.66 s, of which ~0.27 s after its output; Liftoff-only: 0.41 s.
 * A run of 2,000 small documents: ~0.7 s less CPU on background threads, 0.1–0.25 s less waiting, the same
 * main-thread time (perf, 2 runs each).
 */
export function baselineWasmOnly(): void {
  setFlagsFromString('--liftoff-only');
}

/**
 * A run on a state this large keeps the optimising tier: there Liftoff's slower SQLite shows (store bench,
 * 100,000 documents: crash-resume 858 → 1,036 ms, 170 → 200 µs of store time per document) and the one-time
 * compile pays for itself. 100,000 documents are a ~36 MB snapshot.
 */
export const OPTIMISE_SQLITE_ABOVE_BYTES = 8 * 1024 * 1024;

/** Bytes of a state folder's snapshot and journals (0 when it has none yet). */
export function stateBytes(stateDir: string): number {
  let total = 0;
  for (const file of [path.join(stateDir, SNAPSHOT_FILE), ...listJournalFiles(stateDir).map((j) => j.file)]) {
    try {
      total += fs.statSync(file).size;
    } catch {
      // not there: nothing to count
    }
  }
  return total;
}

/** Whether a process working on `stateDir` should keep the optimising tier (a large state). */
export function optimisesSqlite(stateDir: string): boolean {
  return stateBytes(stateDir) > OPTIMISE_SQLITE_ABOVE_BYTES;
}

/**
 * Before a process opens the state (sql.js is compiled then): the baseline tier, unless the state is large.
 * A state in PostgreSQL (`stateUrl`) keeps none of its rows in sql.js: baseline.
 */
export function baselineWasmUnlessLarge(stateDir: string, stateUrl?: string): void {
  if (stateUrl || !optimisesSqlite(stateDir)) baselineWasmOnly();
}
