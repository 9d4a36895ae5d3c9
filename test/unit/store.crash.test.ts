/**
 * Real-process tests of the checkpoint store: a child Node process (the store bundled by esbuild from
 * src/store) marks documents done durably and prints each path only after the durable call returned; it is
 * killed with SIGKILL at random moments and every document it reported done must be done after reopening.
 * The child compacts every 2 or 10 documents, so some kills land inside a compaction (every compaction step
 * is also crashed deterministically in store.test.ts). Also: a lock held by another live process, and a
 * missing/corrupt wasm in a fresh process (clear error, no crash).
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { SqlJsCheckpointStore, StoreLockedError, countsOf, type StoreLogger } from '../../src/store';
import { until } from '../support/assertions';

function repoRoot(): string {
  let d = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(d, 'src', 'store', 'sqlStore.ts')) && fs.existsSync(path.join(d, 'package.json'))) return d;
    const up = path.dirname(d);
    if (up === d) throw new Error('repository root not found');
    d = up;
  }
}

const CHILD_SOURCE = `
const { SqlJsCheckpointStore } = require(STORE_ENTRY);
const [mode, dir, wasmPath, compactEvery] = process.argv.slice(2);
const logger = { warn: (m) => process.stderr.write('WARN ' + m + '\\n'), error: (m) => process.stderr.write('ERROR ' + m + '\\n') };
(async () => {
  let store;
  try {
    store = await SqlJsCheckpointStore.open({ dir: dir === '-' ? undefined : dir, wasmPath, compactEvery: Number(compactEvery) || undefined, compactRatio: 0, logger });
  } catch (e) {
    process.stdout.write('OPEN-FAILED ' + JSON.stringify({ name: e.name, message: e.message }) + '\\n');
    process.exitCode = 0;
    return;
  }
  if (mode === 'hold') {
    process.stdout.write('READY\\n');
    setInterval(() => {}, 1000);
    return;
  }
  store.resetInFlight();
  let i = store.countDocuments();
  process.stdout.write('READY\\n');
  for (;;) {
    const p = 'batch/doc-' + String(i).padStart(7, '0') + '.pdf';
    store.putDocument({ path: p, size: i, mtimeMs: 1, readiness: 'ready', stage: 'pending', attempts: 0, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: Date.now() });
    store.patchDocument(p, { stage: 'extracting', attempts: 1 });
    store.recordAttempt({ runId: 'crash', path: p, attempt: 1, stageReached: 'done', startedAt: 1, endedAt: 2, durationMs: 1, outcome: 'done', tokensIn: 1, tokensOut: 1, cost: 0 });
    store.patchDocument(p, { stage: 'done', resultPath: p + '.json', tokensIn: 1, tokensOut: 1 }, { durable: true });
    process.stdout.write('DONE ' + p + '\\n');
    i++;
  }
})();
`;

interface Child {
  proc: ChildProcess;
  lines: string[];
  stderr: string[];
  exited: Promise<number | null>;
  waitFor(prefix: string, timeoutMs: number): Promise<string>;
}

function startChild(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const stderr: string[] = [];
  let buf = '';
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line); // only complete lines count
      for (let k = waiters.length - 1; k >= 0; k--) {
        if (line.startsWith(waiters[k].prefix)) {
          waiters[k].resolve(line);
          waiters.splice(k, 1);
        }
      }
    }
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (c: string) => stderr.push(c));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    lines,
    stderr,
    exited,
    waitFor(prefix, timeoutMs) {
      const seen = lines.find((l) => l.startsWith(prefix));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`child did not print ${prefix} within ${timeoutMs} ms; stderr: ${stderr.join('')}; stdout: ${lines.join('|')}`)), timeoutMs);
        waiters.push({
          prefix,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
        void exited.then(() => {
          setTimeout(() => reject(new Error(`child exited before ${prefix}; stderr: ${stderr.join('')}; stdout: ${lines.join('|')}`)), 50);
        });
      });
    },
  };
}

/** Documents each child reports done before the kill's random delay starts. */
const PROGRESS_PER_ROUND = 3;

const quiet: StoreLogger = { warn: () => undefined, error: () => undefined };

describe('store: real processes', function () {
  this.timeout(120_000);
  let tmp: string;
  let script: string;
  let wasmPath: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-store-crash-'));
    const root = repoRoot();
    const entry = path.join(tmp, 'child-src.js');
    fs.writeFileSync(entry, CHILD_SOURCE.replace('STORE_ENTRY', JSON.stringify(path.join(root, 'src', 'store', 'index.ts'))));
    script = path.join(tmp, 'bundle', 'child.js');
    // Everything bundled (sql.js too): the child resolves nothing from node_modules, like the shipped bundle.
    await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: script, logLevel: 'error', absWorkingDir: root });
    wasmPath = require.resolve('sql.js/dist/sql-wasm.wasm');
  });

  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('loses no document reported done across repeated kill -9 at random moments (compacting every 2 or 10 documents)', async () => {
    const dir = path.join(tmp, 'crash-store');
    const reported = new Set<string>();
    const rounds = 8;
    let rnd = 12345;
    const next = () => (rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const warnings: string[] = [];
    let killedMidSnapshot = 0; // rounds killed while a snapshot was being written (evidence only: timing is random)
    for (let round = 0; round < rounds; round++) {
      // compaction every 8 changes (2 documents: most of the time is spent compacting) or every 40 (10 documents)
      const child = startChild(script, ['work', dir, wasmPath, round % 2 ? '40' : '8']);
      await child.waitFor('READY', 30_000);
      // progress first (a loaded machine may give the child little time), then a kill at a random moment
      await until(() => child.lines.filter((l) => l.startsWith('DONE ')).length >= PROGRESS_PER_ROUND, `round ${round}: ${PROGRESS_PER_ROUND} documents done`, 60_000);
      await new Promise((r) => setTimeout(r, Math.floor(next() * 400)));
      child.proc.kill('SIGKILL');
      await child.exited;
      if (fs.existsSync(path.join(dir, 'state.sqlite.tmp'))) killedMidSnapshot++;
      const done = child.lines.filter((l) => l.startsWith('DONE ')).map((l) => l.slice(5));
      for (const p of done) reported.add(p);

      const logger: StoreLogger = { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
      const s = await SqlJsCheckpointStore.open({ dir, wasmPath, logger });
      try {
        for (const p of reported) {
          const d = s.getDocument(p);
          assert.ok(d, `round ${round}: ${p} reported done but missing`);
          assert.equal(d.stage, 'done', `round ${round}: ${p} reported done but is ${d.stage}`);
          assert.equal(d.resultPath, `${p}.json`);
        }
        assert.deepEqual(s.counts(), countsOf(s.listDocuments()), `round ${round}: counters match a recount`);
        assert.ok(s.counts().total >= reported.size);
      } finally {
        s.close();
      }
    }
    if (process.env.STORE_TEST_DEBUG) console.log({ reported: reported.size, killedMidSnapshot, warnings });
    assert.ok(reported.size >= rounds * PROGRESS_PER_ROUND, `the children made progress (${reported.size} documents reported done)`);
    // Only torn tails or the stale lock may be reported; never corrupt lines or lost snapshots.
    for (const w of warnings) assert.match(w, /stale lock|torn\/incomplete line/, w);
  });

  it('refuses a folder another live process has open, and takes it over after that process is killed', async () => {
    const dir = path.join(tmp, 'lock-store');
    const child = startChild(script, ['hold', dir, wasmPath, '0']);
    await child.waitFor('READY', 30_000);
    try {
      await assert.rejects(SqlJsCheckpointStore.open({ dir, wasmPath, logger: quiet }), (e: unknown) => {
        assert.ok(e instanceof StoreLockedError);
        assert.equal(e.ownerPid, child.proc.pid);
        return true;
      });
    } finally {
      child.proc.kill('SIGKILL');
    }
    await child.exited;
    const s = await SqlJsCheckpointStore.open({ dir, wasmPath, logger: quiet });
    assert.equal(s.openReport.staleLockTakenOver, true);
    s.close();
  });

  it('a missing or corrupt sql-wasm.wasm gives a clear error in a fresh process, not a crash', async () => {
    const bad = path.join(tmp, 'corrupt.wasm');
    fs.writeFileSync(bad, Buffer.from('\0asm garbage garbage'));
    for (const wp of [path.join(tmp, 'missing', 'sql-wasm.wasm'), bad]) {
      const child = startChild(script, ['work', '-', wp, '0']);
      const line = await child.waitFor('OPEN-FAILED', 30_000);
      const code = await child.exited;
      assert.equal(code, 0, `exit code (stderr: ${child.stderr.join('')})`);
      const err = JSON.parse(line.slice('OPEN-FAILED '.length)) as { name: string; message: string };
      assert.equal(err.name, 'StoreWasmError');
      assert.match(err.message, /sql-wasm\.wasm was not found or is unusable/);
      assert.ok(err.message.includes(wp), err.message);
    }
  });
});
