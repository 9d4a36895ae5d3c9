/**
 * Results in the state database (ew_results): workers write each result there, fenced under the document's
 * claim, before the document is done; `export --state postgres://…` gives the same dataset without the
 * workers' output folder; a worker whose claim was taken over writes nothing; the reviewer's corrections
 * go back to the database, onto the result they were made on only.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CorrectionsStore } from '../../src/app/corrections';
import { ErrorCodes } from '../../src/core/errors';
import { LeaseLostError } from '../../src/core/workClaims';
import type { ResultFile } from '../../src/export/jsonExporter';
import { PgWorkClaims } from '../../src/store/pg/claims';
import { migratePg, PG_MIGRATIONS, PG_SCHEMA_VERSION, RESULTS_SCHEMA_VERSION } from '../../src/store/pg/migrations';
import { PgCheckpointStore } from '../../src/store/pg/pgStore';
import { rejectsWithCode } from '../support/assertions';
import { ndjson, runCli, startCli } from '../support/cli';
import { pgFleetFixture } from '../support/pgFleet';

const quiet = { warn: () => undefined };

function resultOf(source: string, runId: string, data: unknown): ResultFile {
  return {
    formatVersion: 1,
    source,
    data,
    metadata: {
      runId,
      model: 'm',
      schemaHash: 'h',
      fingerprint: 'f',
      contentHash: 'c',
      converter: 'text',
      attempts: 1,
      requests: 1,
      tokensIn: 1,
      tokensOut: 1,
      cost: 0,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: `2026-01-01T00:00:0${runId.length % 10}.000Z`,
    },
  };
}

describe('results in the PostgreSQL state (ew_results)', function () {
  this.timeout(180_000);
  const pg = pgFleetFixture({
    // answers differ per document: the dataset shows whose result is whose
    server: {
      latencyMs: 5,
      responder: (req) => {
        const m = /Amount (\d+)/.exec(JSON.stringify(req.body?.messages ?? ''));
        const n = Number(m?.[1] ?? -1);
        return { reply: { amount: n, label: `doc ${n}`, items: [{ sku: `S${n}`, qty: n + 1 }] } };
      },
    },
    tmpPrefix: 'ew-pgres-',
    subFolder: (i) => (i % 3 === 0 ? 'sub' : ''),
    digits: 2,
    schema: {
      type: 'object',
      properties: {
        amount: { type: 'number' },
        label: { type: 'string' },
        items: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' }, qty: { type: 'number' } }, required: ['sku', 'qty'] } },
      },
      required: ['amount', 'label', 'items'],
    },
  });


  it('two workers store every result; export without their output folder gives the same dataset', async () => {
    const url = pg.cluster.database('results_export');
    const n = 12;
    const f = pg.folder(n);
    const args = ['run', f.docs, '--schema', f.schema, '--base-url', pg.server.url, '--out', f.out, '--state', url, '--concurrency', '2', '--json'];
    const results = await Promise.all([0, 1].map(() => startCli(args).result));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const completed = results.flatMap((r) => ndjson(r.stdout).filter((e) => e.type === 'doc/completed').map((e) => String(e.path)));
    assert.equal(completed.length, n);

    // the database holds each document's result, the same object as its result file
    const store = await PgCheckpointStore.open({ url, readOnly: true, logger: quiet });
    try {
      const paths = await store.results.paths();
      assert.equal(paths.length, n);
      for (const p of paths) {
        assert.equal(store.getDocument(p)?.stage, 'done');
        const file = JSON.parse(fs.readFileSync(path.join(f.out, `${p}.json`), 'utf8')) as ResultFile;
        assert.deepEqual(await store.results.get(p), file, p);
      }
      assert.equal(await store.results.get('no/such.txt'), undefined);
      // many at once (the export's batches): the same objects, and nothing for a path without a result
      const many = await store.results.getMany([...paths, 'no/such.txt']);
      assert.deepEqual([...many.keys()].sort(), paths);
      for (const p of paths) assert.deepEqual(many.get(p), await store.results.get(p), p);
      assert.equal((await store.results.getMany([])).size, 0);
    } finally {
      await store.closeAndWait();
    }

    // the export from the output folder, then from the database alone (another machine: no output folder)
    const exportArgs = (to: string, extra: string[]) => ['export', '--state', url, '--schema', f.schema, '--to', path.join(pg.root, to), '--json', ...extra];
    const fromFiles = await runCli(exportArgs('files.csv', ['--out', f.out]));
    assert.equal(fromFiles.code, 0, fromFiles.stderr);
    const filesJsonl = await runCli(exportArgs('files.jsonl', ['--out', f.out, '--with-status']));
    assert.equal(filesJsonl.code, 0, filesJsonl.stderr);
    fs.rmSync(f.out, { recursive: true });
    const elsewhere = fs.mkdtempSync(path.join(pg.root, 'machine-b-'));
    const fromDb = await runCli(exportArgs('db.csv', ['--out', f.out]), {}, elsewhere);
    assert.equal(fromDb.code, 0, fromDb.stderr);
    assert.equal(JSON.parse(fromDb.stdout).withResult, n);
    assert.equal(fs.readFileSync(path.join(pg.root, 'db.csv'), 'utf8'), fs.readFileSync(path.join(pg.root, 'files.csv'), 'utf8'));
    assert.equal(fs.readFileSync(path.join(pg.root, 'db.items.csv'), 'utf8'), fs.readFileSync(path.join(pg.root, 'files.items.csv'), 'utf8'));
    // no --out at all, the URL from the environment
    const dbJsonl = await runCli(['export', '--schema', f.schema, '--to', path.join(pg.root, 'db.jsonl'), '--with-status'], { EXTRACTION_STATE_URL: url }, elsewhere);
    assert.equal(dbJsonl.code, 0, dbJsonl.stderr);
    const lines = (file: string) => fs.readFileSync(path.join(pg.root, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { source: string; data: { amount: number } });
    assert.deepEqual(lines('db.jsonl'), lines('files.jsonl'));
    assert.equal(lines('db.jsonl').length, n);
    for (const l of lines('db.jsonl')) assert.equal(`d${String(l.data.amount).padStart(2, '0')}.txt`, path.posix.basename(l.source));
  });

  it('a worker whose claim was taken over cannot store its result; the new owner’s stays', async () => {
    const url = pg.cluster.database('results_fence');
    const a = await PgCheckpointStore.open({ url, workerId: 'worker-a', logger: quiet });
    const b = await PgCheckpointStore.open({ url, workerId: 'worker-b', logger: quiet });
    const claimsA = new PgWorkClaims(a.pool, a.workerId, { leaseSeconds: 0.3 });
    const claimsB = new PgWorkClaims(b.pool, b.workerId, { leaseSeconds: 30 });
    try {
      assert.equal(await claimsA.claim('x.txt', 'v1'), 'granted');
      await claimsA.fence('x.txt', resultOf('x.txt', 'run-a', { who: 'a', n: 1 }));
      assert.deepEqual((await a.results.get('x.txt'))?.data, { who: 'a', n: 1 });
      // A stops renewing (as if cut off); B takes the document over once the lease ran out
      await claimsA.dispose();
      let taken: string[] = [];
      const end = Date.now() + 30_000;
      while (!(taken = await claimsB.takeOver(10)).length) {
        if (Date.now() > end) throw new Error('timed out waiting for the lease of worker A to run out');
        await new Promise((r) => setImmediate(r));
      }
      assert.deepEqual(taken, ['x.txt']);
      await claimsB.fence('x.txt', resultOf('x.txt', 'run-b', { who: 'b', n: 2 }));
      // A comes back late: refused, nothing written
      await assert.rejects(claimsA.fence('x.txt', resultOf('x.txt', 'run-a', { who: 'a', n: 3 })), LeaseLostError);
      const stored = await b.results.get('x.txt');
      assert.deepEqual(stored?.data, { who: 'b', n: 2 });
      assert.equal(stored?.metadata.runId, 'run-b');
      const row = (await b.pool.query<{ writer: string; token: string; run_id: string }>('SELECT writer, token, run_id FROM ew_results WHERE path = $1', ['x.txt'])).rows[0];
      assert.equal(row.writer, 'worker-b');
      assert.equal(row.run_id, 'run-b');
      assert.equal(Number(row.token), 2);
      // a result PostgreSQL cannot hold (a NUL character in a text): EXPORT_FAILED with the reason, nothing stored
      await rejectsWithCode(claimsB.fence('x.txt', resultOf('x.txt', 'run-nul', { who: 'b\u0000' })), ErrorCodes.EXPORT_FAILED, (e) => assert.match(e.message, /x\.txt cannot be stored in the state database/));
      assert.equal((await b.results.get('x.txt'))?.metadata.runId, 'run-b');
      // a document this worker never claimed: refused too
      await assert.rejects(claimsA.fence('y.txt', resultOf('y.txt', 'run-a', {})), LeaseLostError);
      assert.equal(await a.results.get('y.txt'), undefined);
      await claimsB.finish('x.txt', 'done');
      // after it is done, nobody holds the claim: no result can be stored over it
      await assert.rejects(claimsB.fence('x.txt', resultOf('x.txt', 'run-c', {})), LeaseLostError);
      assert.equal((await a.results.get('x.txt'))?.metadata.runId, 'run-b');
    } finally {
      await claimsA.dispose();
      await claimsB.dispose();
      await a.closeAndWait();
      await b.closeAndWait();
    }
  });

  it('corrections made on a machine without the result file go to the database, onto that result only', async () => {
    const url = pg.cluster.database('results_review');
    const s = await PgCheckpointStore.open({ url, workerId: 'w', logger: quiet });
    const claims = new PgWorkClaims(s.pool, s.workerId);
    const docs = path.join(pg.root, 'docs');
    const out = path.join(pg.root, 'out-here'); // this machine's output folder: empty
    fs.mkdirSync(docs);
    try {
      const original = resultOf('inv.txt', 'run-1', { total: 10, vendor: 'ACME' });
      assert.equal(await claims.claim('inv.txt', 'v1'), 'granted');
      await claims.fence('inv.txt', original);
      await claims.finish('inv.txt', 'done');
      const corrections = new CorrectionsStore(path.join(pg.root, 'state'));
      corrections.add('inv.txt', original, 'set', '/total', 12, 10);
      const written = await corrections.exportToResult(docs, out, 'inv.txt', s.results);
      assert.deepEqual(written?.corrected, { total: 12, vendor: 'ACME' });
      assert.equal(fs.existsSync(path.join(out, 'inv.txt.json')), false, 'no result file is made up on this machine');
      const stored = (await s.results.get('inv.txt')) as ResultFile & { corrected?: unknown; review?: { corrections: number } };
      assert.deepEqual(stored.data, original.data, 'the model’s data stays');
      assert.deepEqual(stored.corrected, { total: 12, vendor: 'ACME' });
      assert.equal(stored.review?.corrections, 1);
      // a newer result took its place meanwhile: the correction of the old one is not written over it
      assert.equal(await claims.claim('inv.txt', 'v2'), 'granted');
      const newer = resultOf('inv.txt', 'run-22', { total: 99, vendor: 'ACME' });
      await claims.fence('inv.txt', newer);
      assert.equal(await s.results.replace({ ...original, data: { total: 1 } }), false);
      assert.deepEqual((await s.results.get('inv.txt'))?.data, newer.data);
      // a rejected rerun: the previous result back in place of the newer one (and only of that one)
      assert.equal(await s.results.replace(original, newer), true);
      assert.deepEqual((await s.results.get('inv.txt'))?.data, original.data);
      assert.equal(await s.results.replace(newer, newer), false, 'the newer result is no longer stored');
      assert.deepEqual((await s.results.get('inv.txt'))?.data, original.data);
    } finally {
      await claims.dispose();
      await s.closeAndWait();
    }
  });

  it('a database of schema v5 gets ew_results when a worker opens it; read-only before that, it has no results (no error)', async () => {
    const url = pg.cluster.database('results_v5');
    const old = await PgCheckpointStore.open({ url, readOnly: true, logger: quiet });
    const client = await old.pool.connect();
    try {
      assert.deepEqual(await migratePg(client, PG_MIGRATIONS.filter((m) => m.version < RESULTS_SCHEMA_VERSION)), { from: 0, to: RESULTS_SCHEMA_VERSION - 1 });
    } finally {
      client.release();
      await old.closeAndWait();
    }
    const look = await PgCheckpointStore.open({ url, readOnly: true, logger: quiet });
    try {
      assert.equal(await look.results.get('a.txt'), undefined);
      assert.deepEqual(await look.results.paths(), []);
    } finally {
      await look.closeAndWait();
    }
    const worker = await PgCheckpointStore.open({ url, workerId: 'w', logger: quiet });
    const claims = new PgWorkClaims(worker.pool, worker.workerId);
    try {
      const version = await worker.pool.query<{ v: number }>('SELECT max(version) AS v FROM ew_schema');
      assert.equal(version.rows[0].v, PG_SCHEMA_VERSION);
      assert.equal(await claims.claim('a.txt', 'v1'), 'granted');
      await claims.fence('a.txt', resultOf('a.txt', 'run-a', { n: 1 }));
      assert.deepEqual(await worker.results.paths(), ['a.txt']);
    } finally {
      await claims.dispose();
      await worker.closeAndWait();
    }
  });
});
