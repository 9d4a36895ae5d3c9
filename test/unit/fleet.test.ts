/**
 * A fleet on PostgreSQL: three `extraction-workbench run` workers share one folder's state in a database;
 * one is killed with SIGKILL in the middle. The other two take its documents over once its lease ran out,
 * and every document ends done exactly once: one result file, one done attempt, one completion event, and
 * no document asked from the model again except those the killed worker had in flight.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PgCheckpointStore } from '../../src/store/pg/pgStore';
import { until } from '../support/assertions';
import { ndjson, runCli, startCli } from '../support/cli';
import { pgFleetFixture } from '../support/pgFleet';
import { freePort } from '../support/postgres';

const DOCS = 90;
const CONCURRENCY = 2;

describe('fleet on PostgreSQL (CLI workers)', function () {
  this.timeout(180_000);
  const pg = pgFleetFixture({ server: { latencyMs: 40, recordBodies: false }, tmpPrefix: 'ew-fleet-' });


  it('three workers, one killed with SIGKILL mid-run: every document done exactly once', async () => {
    const url = pg.cluster.database('fleet_kill');
    const f = pg.folder(DOCS);
    // a lease long enough that a survivor on a loaded machine still renews in time (renewal every third of it):
    // with 2 s, a renewal held up 1.3 s lets another worker take a live claim and ask the model again — the
    // likely cause of a failure seen once at load average 15+
    const args = ['run', f.docs, '--schema', f.schema, '--base-url', pg.server.url, '--out', f.out, '--state', url, '--lease-seconds', '8', '--concurrency', String(CONCURRENCY), '--json', '-v'];
    const workers = [0, 1, 2].map(() => startCli(args));
    // kill the first worker once it is under way: it has finished documents and holds claims in flight
    const victim = workers[0];
    let victimStdout = '';
    victim.child.stdout!.on('data', (d: string) => (victimStdout += d));
    await until(() => ndjson(victimStdout).filter((e) => e.type === 'doc/completed').length >= 3 || victim.child.exitCode !== null, 'the first worker to complete documents', 60_000);
    victim.child.kill('SIGKILL');
    const results = await Promise.all(workers.map((w) => w.result));
    assert.equal(results[0].signal, 'SIGKILL', 'the first worker was killed');
    for (const r of results.slice(1)) assert.equal(r.code, 0, r.stderr);
    // The killed worker's claims in flight end with their leases and the survivors take them: by the sweep at
    // the end ("Taking over …"), or — when a survivor's listing reaches such a document after its lease ran
    // out, as happens on a slow machine — by the ordinary claim. Either way every document ends done once,
    // which the checks below show (the message alone was a race on when the listing got there).

    // completion events: each document once, across all workers
    const completed = results.flatMap((r) => ndjson(r.stdout).filter((e) => e.type === 'doc/completed').map((e) => String(e.path)));
    assert.equal(new Set(completed).size, completed.length, 'no document completed twice');
    // the shared state: every document done, one done attempt each
    const status = JSON.parse((await runCli(['status', '--state', url, '--json'])).stdout);
    assert.equal(status.total, DOCS);
    assert.equal(status.done, DOCS);
    const store = await PgCheckpointStore.open({ url, readOnly: true, logger: { warn: () => undefined } });
    try {
      const doneAttempts = store.listAttempts().filter((a) => a.outcome === 'done');
      const perPath = new Map<string, number>();
      for (const a of doneAttempts) perPath.set(a.path, (perPath.get(a.path) ?? 0) + 1);
      for (const [p, n] of perPath) assert.equal(n, 1, `${p} has ${n} done attempts`);
      // the killed worker's last done attempts may not have reached the database; none is missing elsewhere
      assert.ok(perPath.size >= DOCS - CONCURRENCY * 2, `${perPath.size} done attempts`);
    } finally {
      await store.closeAndWait();
    }
    // one result file per document
    const files = fs.readdirSync(f.out).filter((x) => x.endsWith('.json'));
    assert.equal(files.length, DOCS);
    for (const x of files) assert.equal(`${JSON.parse(fs.readFileSync(path.join(f.out, x), 'utf8')).source}.json`, x);
    // model requests: each document asked, and asked again only when the killed worker had it in flight
    const asked = pg.server.stats.perDocument;
    assert.equal(asked.size, DOCS);
    const again = [...asked].filter(([, n]) => n > 1);
    assert.ok(again.length <= CONCURRENCY, `asked more than once: ${again.map(([p, n]) => `${p}×${n}`).join(', ')}`);
  });

  it('a worker that starts while another is under way joins its run: one run id in status, events and every attempt', async () => {
    const url = pg.cluster.database('fleet_join');
    const n = 40; // more than the first worker claims ahead (16 at concurrency 1): the second gets a share
    const f = pg.folder(n);
    // the answers wait until the second worker has started its run: the first one's claims stay live meanwhile
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    pg.server.setResponder(() => ({ reply: { amount: 1 }, holdUntil: gate }));
    try {
      const args = ['run', f.docs, '--schema', f.schema, '--base-url', pg.server.url, '--out', f.out, '--state', url, '--concurrency', '1', '--json'];
      const first = startCli(args);
      await until(() => pg.server.stats.documentsInFlight >= 1 || first.child.exitCode !== null, 'the first worker to ask the model', 60_000);
      const second = startCli(args);
      let out2 = '';
      second.child.stdout!.on('data', (d: string) => (out2 += d));
      await until(() => ndjson(out2).some((e) => e.type === 'run/started') || second.child.exitCode !== null, 'the second worker to start', 60_000);
      open();
      const results = await Promise.all([first.result, second.result]);
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      const [id1, id2] = results.map((r) => ndjson(r.stdout).find((e) => e.type === 'run/started')?.runId);
      assert.ok(id1);
      assert.equal(id2, id1, 'the second worker took part in the first one’s run');
      const completed = results.flatMap((r) => ndjson(r.stdout).filter((e) => e.type === 'doc/completed').map((e) => String(e.path)));
      assert.equal(completed.length, n);
      assert.equal(new Set(completed).size, n);
      assert.ok(results.every((r) => ndjson(r.stdout).some((e) => e.type === 'doc/completed')), 'both workers extracted some');

      const status = JSON.parse((await runCli(['status', '--state', url, '--json'])).stdout) as { runId: string; runStatus: string; done: number };
      assert.equal(status.runId, id1);
      assert.equal(status.runStatus, 'completed');
      assert.equal(status.done, n);
      const store = await PgCheckpointStore.open({ url, readOnly: true, logger: { warn: () => undefined } });
      try {
        assert.deepEqual(store.listRuns().map((r) => r.id), [id1], 'one run');
        const attempts = store.listAttempts();
        assert.equal(attempts.length, n);
        assert.deepEqual([...new Set(attempts.map((a) => a.runId))], [id1]);
      } finally {
        await store.closeAndWait();
      }
      // a worker started after the fleet finished starts a run of its own
      const late = await runCli(args);
      assert.equal(late.code, 0, late.stderr);
      assert.notEqual(ndjson(late.stdout).find((e) => e.type === 'run/started')?.runId, id1);
    } finally {
      open?.();
      pg.server.setResponder(undefined);
    }
  });

  it('watch started beside a worker under way joins its run too', async () => {
    const url = pg.cluster.database('fleet_watch_join');
    const f = pg.folder(20);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    pg.server.setResponder(() => ({ reply: { amount: 1 }, holdUntil: gate }));
    const common = [f.docs, '--schema', f.schema, '--base-url', pg.server.url, '--out', f.out, '--state', url, '--concurrency', '1', '--json'];
    const first = startCli(['run', ...common]);
    let watcher: ReturnType<typeof startCli> | undefined;
    try {
      await until(() => pg.server.stats.documentsInFlight >= 1 || first.child.exitCode !== null, 'the first worker to ask the model', 60_000);
      watcher = startCli(['watch', ...common]);
      let out = '';
      watcher.child.stdout!.on('data', (d: string) => (out += d));
      await until(() => ndjson(out).some((e) => e.type === 'run/started') || watcher!.child.exitCode !== null, 'watch to start its run', 60_000);
      open();
      const r1 = await first.result;
      assert.equal(r1.code, 0, r1.stderr);
      const id1 = ndjson(r1.stdout).find((e) => e.type === 'run/started')?.runId;
      assert.ok(id1);
      assert.equal(ndjson(out).find((e) => e.type === 'run/started')?.runId, id1, 'watch took part in the worker’s run');
    } finally {
      open?.();
      pg.server.setResponder(undefined);
      watcher?.child.kill('SIGINT');
      await watcher?.result;
    }
  });

  it('the database goes away mid-run and comes back: workers wait, then finish; nothing lost or done twice', async () => {
    const url = pg.cluster.database('fleet_outage');
    const n = 60;
    const f = pg.folder(n);
    const args = ['run', f.docs, '--schema', f.schema, '--base-url', pg.server.url, '--out', f.out, '--state', url, '--lease-seconds', '30', '--concurrency', String(CONCURRENCY), '--json'];
    const workers = [0, 1].map(() => startCli(args));
    const out = ['', ''];
    const err = ['', ''];
    workers.forEach((w, i) => {
      w.child.stdout!.on('data', (d: string) => (out[i] += d));
      w.child.stderr!.on('data', (d: string) => (err[i] += d));
    });
    const completed = () => out.flatMap((o) => ndjson(o).filter((e) => e.type === 'doc/completed')).length;
    await until(() => completed() >= 10 || workers.some((w) => w.child.exitCode !== null), 'ten documents done', 60_000);
    assert.ok(completed() < n, 'the run is under way when the database goes');
    pg.cluster.stop();
    try {
      await until(() => err.some((e) => /state database is unreachable/.test(e)) || workers.some((w) => w.child.exitCode !== null), 'a worker to notice the outage', 60_000);
    } finally {
      pg.cluster.start();
    }
    const results = await Promise.all(workers.map((w) => w.result));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    assert.ok(results.some((r) => /state database is unreachable/.test(r.stderr)), 'a worker noticed the outage');
    assert.ok(results.some((r) => /reachable again/.test(r.stderr)), 'and went on when it was back');
    const done = results.flatMap((r) => ndjson(r.stdout).filter((e) => e.type === 'doc/completed').map((e) => String(e.path)));
    assert.equal(done.length, n);
    assert.equal(new Set(done).size, n);
    const status = JSON.parse((await runCli(['status', '--state', url, '--json'])).stdout);
    assert.equal(status.done, n);
    assert.equal(status.total, n);
    assert.equal(fs.readdirSync(f.out).filter((x) => x.endsWith('.json')).length, n);
    for (const [p, k] of pg.server.stats.perDocument) assert.equal(k, 1, `${p} asked ${k} times`);
    assert.equal(pg.server.stats.perDocument.size, n);
  });

  it('pause, resume and stop reach every worker; status, dlq list and history read the database; a late worker finishes the folder', async () => {
    const url = pg.cluster.database('fleet_control');
    const n = 40;
    const f = pg.folder(n);
    // slow answers: the run lasts longer than the three commands take to start (a loaded machine)
    pg.server.setLatency(2000);
    const args = ['run', f.docs, '--schema', f.schema, '--base-url', pg.server.url, '--out', f.out, '--state', url, '--concurrency', '1', '--json'];
    const workers = [0, 1].map(() => startCli(args));
    const out = ['', ''];
    workers.forEach((w, i) => w.child.stdout!.on('data', (d: string) => (out[i] += d)));
    const completed = () => out.flatMap((o) => ndjson(o).filter((e) => e.type === 'doc/completed')).length;
    try {
      await until(() => completed() >= 2, 'two documents done', 60_000);
      // each worker registered when it started; the command waits until every one has carried it out
      const paused = await runCli(['pause', '--state', url]);
      assert.equal(paused.code, 0, paused.stderr);
      assert.match(paused.stdout, /Paused 2 worker\(s\)/);
      const resumed = await runCli(['resume', '--state', url]);
      assert.equal(resumed.code, 0, resumed.stderr);
      const stopped = await runCli(['stop', '--state', url]);
      assert.equal(stopped.code, 0, stopped.stderr);
    } finally {
      pg.server.setLatency(40);
    }
    const results = await Promise.all(workers.map((w) => w.result));
    for (const r of results) {
      assert.match(r.stderr, /pause requested from/);
      assert.match(r.stderr, /stop requested from/);
    }
    const mid = JSON.parse((await runCli(['status', '--state', url, '--json'])).stdout);
    assert.equal(mid.done, completed());
    assert.ok(mid.done < n, `stopped before the end (${mid.done} done)`);
    const dlq = await runCli(['dlq', 'list', '--state', url]);
    assert.equal(dlq.code, 0, dlq.stderr);
    assert.match(dlq.stdout, /dead-letter queue is empty/);
    const firstDone = ndjson(out.join('')).find((e) => e.type === 'doc/completed')!.path as string;
    const history = await runCli(['history', firstDone, '--state', url, '--json'], {});
    assert.equal(history.code, 0, history.stderr);
    assert.ok(JSON.parse(history.stdout).attempts.some((a: { outcome: string }) => a.outcome === 'done'));

    // a late worker: takes over what the stopped ones gave back and finishes the folder
    const late = await runCli(args);
    assert.equal(late.code, 0, late.stderr);
    const all = [...out, late.stdout].flatMap((o) => ndjson(o).filter((e) => e.type === 'doc/completed').map((e) => String(e.path)));
    assert.equal(new Set(all).size, all.length, 'no document completed twice');
    assert.equal(all.length, n);
    const end = JSON.parse((await runCli(['status', '--state', url, '--json'])).stdout);
    assert.equal(end.done, n);
  });

  it('dlq remove on the database gives a dead-lettered document back to the fleet: the next run extracts it', async () => {
    const url = pg.cluster.database('fleet_dlq');
    const f = pg.folder(3);
    // answers that never match the schema: d001 is dead-lettered, its claim finished as dead
    pg.server.setScript('d001.txt', Array.from({ length: 6 }, () => ({ reply: { amount: 'not a number' } })));
    const args = ['run', f.docs, '--schema', f.schema, '--base-url', pg.server.url, '--out', f.out, '--state', url, '--max-attempts', '1', '--json'];
    const first = await runCli(args);
    assert.notEqual(first.code, 2, first.stderr);
    const before = JSON.parse((await runCli(['status', '--state', url, '--json'])).stdout);
    assert.deepEqual([before.done, before.deadLettered], [2, 1]);

    const removed = await runCli(['dlq', 'remove', 'd001.txt', '--state', url]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^removed d001\.txt$/m);
    assert.match((await runCli(['dlq', 'list', '--state', url])).stdout, /dead-letter queue is empty/);

    pg.server.reset(); // good answers from now on
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(
      ndjson(second.stdout)
        .filter((e) => e.type === 'doc/completed')
        .map((e) => e.path),
      ['d001.txt'],
      'the document is taken up again, the done ones are not',
    );
    const after = JSON.parse((await runCli(['status', '--state', url, '--json'])).stdout);
    assert.deepEqual([after.done, after.deadLettered], [3, 0]);
  });

  it('a database that is down at start: a clear error and exit 2', async () => {
    const f = pg.folder(2);
    const port = await freePort();
    const r = await runCli(['run', f.docs, '--schema', f.schema, '--base-url', pg.server.url, '--out', f.out, '--state', `postgres://ew:secret@127.0.0.1:${port}/x`]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`Cannot open the state database postgres://ew@127.0.0.1:${port}/x`));
    assert.doesNotMatch(r.stderr, /secret/);
    assert.equal(pg.server.stats.total, 0);
  });
});
