/**
 * The CLI under faults, as a user runs it (the bundled dist/cli.js as a child process): rate limits, a
 * provider that stays down, errors no waiting fixes, a full disk, a closed terminal, a closed pipe. A run
 * never ends with exit 0 while work is unfinished, and a rerun resumes.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, ndjson, runCli, startCli } from '../support/cli';
import { until } from '../support/assertions';
import { startModelServer, type ModelServer } from '../support/modelServer';

const SCHEMA = { type: 'object', properties: { invoice_number: { type: 'string' } }, required: ['invoice_number'] };

function workspace(n: number, dir?: string): { root: string; schema: string; state: string } {
  const root = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ew-clifault-'));
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(root, `inv${String(i).padStart(3, '0')}.txt`), `Invoice INV-${i}\n`);
  const schema = path.join(root, 'invoice.schema.json');
  fs.writeFileSync(schema, JSON.stringify(SCHEMA));
  return { root, schema, state: path.join(root, '.extraction') };
}

async function status(state: string): Promise<Record<string, unknown>> {
  const r = await runCli(['status', '--state', state, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** A small tmpfs at a new folder (root only); unmounted by the returned function. */
function tmpfs(sizeKb: number): { dir: string; unmount: () => void } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir]);
  return { dir, unmount: () => execFileSync('umount', ['-l', dir]) };
}

/** Fills the file system of `dir` up to `leaveBytes` free, with one file; returns its path. */
function fill(dir: string, leaveBytes: number): string {
  const filler = path.join(dir, 'filler.bin');
  const { bavail, bsize } = fs.statfsSync(dir);
  const size = Math.max(0, bavail * bsize - leaveBytes);
  fs.writeFileSync(filler, Buffer.alloc(size));
  return filler;
}

describe('CLI under faults', function () {
  this.timeout(90_000);
  let server: ModelServer;
  beforeEach(async () => {
    server = await startModelServer({ latencyMs: 2 });
  });
  afterEach(async () => server.close());

  const args = (w: { root: string; schema: string }, ...extra: string[]) => ['run', w.root, '--schema', w.schema, '--base-url', server.url, '--include', '*.txt', ...extra];

  it('40 % of requests answered 429: the run finishes every document, prints its summary and exits 0 (never mid-run)', async () => {
    let n = 0;
    server.setResponder((req) => (n++ % 5 < 2 ? { status: 429, retryAfterMs: 20 } : { reply: { invoice_number: req.document } }));
    const w = workspace(30);
    const r = await runCli(args(w, '--concurrency', '4', '--max-attempts', '2'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Run \S+ completed\n\s+30 done/);
    const s = await status(w.state);
    assert.equal(s.done, 30);
    assert.equal(s.deadLettered, 0);
    assert.equal(s.runStatus, 'completed');
  });

  it('insufficient_quota at the start: exit 2 after one request, with what to do', async () => {
    server.setResponder(() => ({ status: 429, code: 'insufficient_quota' }));
    const w = workspace(8);
    const r = await runCli(args(w, '--concurrency', '4'));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /\[QUOTA_EXCEEDED\] The API account has run out of quota/);
    assert.ok(server.stats.total <= 2, `${server.stats.total} requests`);
  });

  it('a provider down for longer than --max-outage-minutes: exit 2, documents pending with no attempt used; a rerun finishes', async () => {
    server.setResponder(() => ({ status: 503 }));
    const w = workspace(6);
    const r = await runCli(args(w, '--max-outage-minutes', '0.01', '--concurrency', '2'));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the provider is failing \(\[SERVER_ERROR\]/);
    assert.match(r.stderr, /\[PROVIDER_UNAVAILABLE\] The provider at http:\/\/127\.0\.0\.1:\d+\/v1 has failed for 0 minutes/);
    const s = await status(w.state);
    assert.equal(s.deadLettered, 0);
    assert.equal(s.done, 0);
    server.setResponder(undefined);
    const again = await runCli(args(w));
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await status(w.state)).done, 6);
  });

  it('the output folder on a full disk: exit 2 with DISK_FULL, nothing dead-lettered; with room again a rerun finishes', async function () {
    const fs1 = tmpfs(512);
    if (!fs1) return this.skip(); // needs root to mount a small file system
    try {
      const w = workspace(20);
      const out = path.join(fs1.dir, 'out');
      fs.mkdirSync(out);
      const filler = fill(fs1.dir, 8 * 1024);
      const r = await runCli(args(w, '--out', out, '--concurrency', '2'));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /\[DISK_FULL\] The disk is full/);
      assert.match(r.stderr, /Free some space .* then run again/);
      const s = await status(w.state);
      assert.equal(s.deadLettered, 0);
      assert.ok((s.done as number) < 20);
      fs.rmSync(filler);
      const again = await runCli(args(w, '--out', out));
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await status(w.state)).done, 20);
      assert.equal(fs.readdirSync(out).filter((f) => f.endsWith('.txt.json')).length, 20);
    } finally {
      fs1.unmount();
    }
  });

  it('the state folder on a full disk: exit 2 with DISK_FULL (no stack trace); with room again a rerun finishes', async function () {
    const fs1 = tmpfs(8 * 1024);
    if (!fs1) return this.skip();
    try {
      const w = workspace(200);
      const state = path.join(fs1.dir, 'state');
      const filler = fill(fs1.dir, 150 * 1024);
      const r = await runCli(args(w, '--state', state, '--concurrency', '4'));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /DISK_FULL/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      const s = await status(state);
      assert.ok((s.done as number) > 0 && (s.done as number) < 200, `the disk filled up mid-run (${s.done} done)`);
      assert.equal(s.deadLettered, 0);
      fs.rmSync(filler);
      const again = await runCli(args(w, '--state', state));
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await status(state)).done, 200);
    } finally {
      fs1.unmount();
    }
  });

  it('SIGHUP (a closed terminal) stops the run cleanly: state saved, lock given back, a rerun resumes', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    server.setResponder(async (req) => {
      if (req.document !== 'inv000.txt') await held;
      return { reply: { invoice_number: req.document } };
    });
    const w = workspace(5);
    const { child, result } = startCli([...args(w, '--concurrency', '1'), '--json']);
    // documents read ahead race for the model slot: whichever held one is asked first, the signal comes while it waits
    await until(() => server.requests.some((q) => q.document !== 'inv000.txt'), 'a request held by the server', 30_000);
    child.kill('SIGHUP');
    const r = await result;
    release();
    const events = ndjson(r.stdout);
    assert.equal(r.code, 130, r.stderr);
    assert.ok(events.some((e) => e.type === 'run/finished'));
    assert.equal(fs.existsSync(path.join(w.state, 'store.lock')), false, 'the lock was given back');
    server.setResponder(undefined);
    const again = await runCli(args(w));
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await status(w.state)).done, 5);
  });

  it('`dlq list | head -1`: the closed pipe ends the listing quietly, no EPIPE crash', async () => {
    server.setResponder(() => ({ status: 400 }));
    const w = workspace(400);
    const r = await runCli(args(w, '--concurrency', '8'));
    assert.equal(r.code, 1, r.stderr);
    const piped = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" dlq list --state "${w.state}" | head -1; exit \${PIPESTATUS:-0}`], { encoding: 'utf8' });
    assert.equal(piped.stdout.split('\n').filter(Boolean).length, 1);
    assert.doesNotMatch(piped.stderr, /EPIPE|Error|at /, piped.stderr);
  });
  it('pause, resume and stop from another process act on a CLI run, and say so', async () => {
    // answers of inv001 and inv005 wait until the test has acted: the run is certainly under way meanwhile
    const gates = new Map<string, { open: () => void; opened: Promise<void> }>();
    for (const d of ['inv001.txt', 'inv005.txt']) {
      let open!: () => void;
      const opened = new Promise<void>((r) => (open = r));
      gates.set(d, { open, opened });
    }
    server.setResponder(async (req) => {
      await gates.get(req.document)?.opened;
      return { reply: { invoice_number: req.document } };
    });
    const requested = (doc: string): Promise<void> => until(() => server.requestsFor(doc).length > 0, `${doc} to be requested`, 30_000);
    const w = workspace(12);
    const { result } = startCli(args(w, '--concurrency', '1'));
    const exited = { done: false };
    void result.then(() => (exited.done = true));
    await requested('inv001.txt');

    // concurrency 1 and inv001's answer held: no other request can start before the pause. (Documents read
    // ahead race for the model slot, so inv000 may or may not have been asked before inv001.)
    const askedAtPause = server.stats.total;
    const paused = await runCli(['pause', '--state', w.state]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /^Paused run \S+ \(process \d+/);
    gates.get('inv001.txt')!.open();
    let s = await status(w.state);
    for (const end = Date.now() + 10_000; s.running !== 0 && Date.now() < end; ) s = await status(w.state);
    assert.equal(s.runStatus, 'paused');
    assert.equal(s.running, 0, 'the document in flight finished');
    assert.match((await runCli(['pause', '--state', w.state])).stdout, /already paused/);
    assert.equal(server.stats.total, askedAtPause, 'nothing new started while paused');
    assert.equal(exited.done, false, 'a paused headless run waits for its resume');

    const resumed = await runCli(['resume', '--state', w.state]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^Resumed run /);
    await requested('inv005.txt');

    const stopped = await runCli(['stop', '--state', w.state]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /^Stopped run /);
    gates.get('inv005.txt')!.open();
    const r = await result;
    assert.equal(r.code, 1, r.stderr); // stopped with documents left
    assert.match(r.stderr, /pause requested from \d+@/);
    assert.match(r.stderr, /Run \S+ stopped: Stopped from \d+@/);
    assert.equal(fs.existsSync(path.join(w.state, 'store.lock')), false);
    const none = await runCli(['stop', '--state', w.state]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no run is active in .*: nothing to stop/);
    // the rest finishes in a new run, and nothing done is extracted again
    const again = await runCli(args(w));
    assert.equal(again.code, 0, again.stderr);
    for (let i = 0; i < 5; i++) assert.equal(server.requestsFor(`inv${String(i).padStart(3, '0')}.txt`).length, 1);
  });
  it('--log-requests keeps every request and reply (key scrubbed); history shows the raw reply of a failed attempt', async () => {
    server.setScript('inv000.txt', [{ malformed: true }]);
    const w = workspace(2);
    const key = 'sk-test-0123456789abcdefSECRET';
    const r = await runCli([...args(w, '--log-requests', '--max-attempts', '2')], { OPENAI_API_KEY: key });
    assert.equal(r.code, 0, r.stderr);
    const dir = path.join(w.state, 'requests');
    const files = fs.readdirSync(dir);
    assert.equal(files.length, 1);
    const text = fs.readFileSync(path.join(dir, files[0]), 'utf8');
    assert.doesNotMatch(text, /SECRET/, 'the key never reaches the log');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3, 'two documents, one of them twice');
    const first = lines.find((l) => l.path === 'inv000.txt' && l.attempt === 1);
    assert.match(String(first?.reply), /"unterminated": "oops/);
    assert.ok(Array.isArray(first?.messages) && (first.messages as unknown[]).length === 2);
    const history = await runCli(['history', 'inv000.txt', '--state', w.state, '--json']);
    assert.equal(history.code, 0, history.stderr);
    const h = JSON.parse(history.stdout) as { attempts: Array<{ outcome: string; errorCode?: string; rawReply?: string; requests?: number }> };
    const failed = h.attempts.find((a) => a.errorCode === 'MALFORMED_OUTPUT');
    assert.match(failed?.rawReply ?? '', /"unterminated": "oops/);
    assert.equal(failed?.requests, 1);
    assert.equal(h.attempts.find((a) => a.outcome === 'done')?.requests, 1);
  });
  it('a second run on the folder while one runs: another state folder is refused at once (the output folder is in use, one line); the same state folder waits for it', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    server.setResponder(async (req) => {
      await held;
      return { reply: { invoice_number: req.document } };
    });
    const w = workspace(3);
    const first = startCli(args(w, '--concurrency', '1'));
    await until(() => server.stats.total > 0, 'the first run to reach the server', 30_000);
    const other = await runCli(args(w, '--state', path.join(w.root, 'other-state')));
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /^extraction-workbench: The output folder .*extracted is in use by process \d+ .*Another run writes its results there/m);
    assert.doesNotMatch(other.stderr, /\n\s+at /, 'no stack trace');
    // the same state folder: it waits (a window holds it for a moment after each change) and goes on once free
    const same = startCli(args(w));
    let said = '';
    same.child.stderr!.on('data', (d: Buffer | string) => (said += d.toString()));
    for (const end = Date.now() + 30_000; !/the state folder is in use by process \d+; waiting up to 10 s/.test(said); ) {
      assert.ok(Date.now() < end, `the second run did not wait: ${said}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    release();
    const r = await first.result;
    assert.equal(r.code, 0, r.stderr);
    const second = await same.result;
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /3 unchanged/);
    assert.equal(server.stats.total, 3, 'only the first run sent requests');
    assert.equal(fs.existsSync(path.join(w.root, 'extracted', '.extraction-output.lock')), false, 'the output folder is given back');
  });

  it('a document too large to read makes the run exit 1 and say so (it was exit 0)', async () => {
    const w = workspace(1);
    const big = path.join(w.root, 'huge.txt');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 60 * 1024 * 1024); // sparse: no 60 MB written
    const r = await runCli(args(w));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /rejected huge\.txt: Too large: 60\.0 MB is over the 50\.0 MB limit/);
    assert.match(r.stderr, /1 document\(s\) too large to read/);
    assert.equal(server.requestsFor('huge.txt').length, 0);
  });
});
