/**
 * One contract, every checkpoint store: the same cases run against the sql.js store (a state folder) and
 * the PostgreSQL store (a throwaway cluster, test/support/postgres.ts). A store passes when what it
 * answers after writes, and after closing and opening it again, is what the port promises.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AttemptRecord, DeadLetter, DocumentState, RunRecord } from '../../src/core/types';
import { SqlJsCheckpointStore, StoreReadOnlyError, StoreSchemaError } from '../../src/store';
import { PgCheckpointStore } from '../../src/store/pg/pgStore';
import { StoreDatabaseError } from '../../src/store/pg/errors';
import { PG_MIGRATIONS } from '../../src/store/pg/migrations';
import type { CheckpointStore } from '../../src/store/types';
import { freePort, startPostgres, type PgCluster } from '../support/postgres';

const quiet = { warn: () => undefined, info: () => undefined, error: () => undefined };

function mkDoc(p: string, over: Partial<DocumentState> = {}): DocumentState {
  return { path: p, size: 100, mtimeMs: 1_700_000_000_000, readiness: 'ready', stage: 'pending', attempts: 0, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 1, ...over };
}
function mkRun(id: string, startedAt: number, over: Partial<RunRecord> = {}): RunRecord {
  return { id, startedAt, trigger: 'test', root: '/ws', status: 'running', fingerprint: 'fp', ...over };
}
function mkAttempt(runId: string, p: string, attempt: number, over: Partial<AttemptRecord> = {}): AttemptRecord {
  return { runId, path: p, attempt, stageReached: 'done', startedAt: 10, endedAt: 20, durationMs: 10, outcome: 'done', tokensIn: 5, tokensOut: 7, cost: 0.25, ...over };
}
function mkLetter(p: string, over: Partial<DeadLetter> = {}): DeadLetter {
  return { path: p, runId: 'r1', stage: 'extracting', code: 'MODEL_ERROR', message: 'boom', attempts: 4, at: 50, ...over };
}

/** A store kind under test: `open` a store on the same state each time (after `reset`, an empty one). */
interface Backend {
  name: string;
  reset(): Promise<void>;
  open(): Promise<CheckpointStore>;
  /** Makes everything written durable and closes (the next open must see it). */
  close(store: CheckpointStore): Promise<void>;
}

function sqlJsBackend(): Backend {
  let dir = '';
  return {
    name: 'sql.js',
    async reset() {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-conf-'));
    },
    open: () => SqlJsCheckpointStore.open({ dir, logger: quiet }),
    async close(store) {
      await store.flush();
      store.close();
    },
  };
}

function pgBackend(cluster: () => PgCluster): Backend {
  let n = 0;
  let url = '';
  return {
    name: 'PostgreSQL',
    async reset() {
      url = cluster().database(`conf_${++n}`);
    },
    open: () => PgCheckpointStore.open({ url, logger: quiet }),
    async close(store) {
      await (store as PgCheckpointStore).closeAndWait();
    },
  };
}

function contract(backend: Backend): void {
  let store: CheckpointStore;
  beforeEach(async () => {
    await backend.reset();
    store = await backend.open();
  });
  afterEach(async () => {
    if (!(store as { isClosed?: boolean }).isClosed) await backend.close(store);
  });
  const reopen = async () => {
    await backend.close(store);
    store = await backend.open();
  };

  it('puts, patches, lists, counts and removes documents; all of it survives a reopen', async () => {
    store.putDocument(mkDoc('b.txt'));
    store.putDocument(mkDoc('a.txt', { stage: 'done', resultPath: 'a.json', tokensIn: 3, cost: 0.125 }), { durable: true });
    store.putDocument(mkDoc('sub/c.txt', { readiness: 'rejected', rejectReason: 'too large' }));
    const patched = store.patchDocument('b.txt', { stage: 'extracting', attempts: 1, lastError: { code: 'X', message: 'm', stage: 'reading', retryable: true } });
    assert.equal(patched.stage, 'extracting');
    store.patchDocument('b.txt', { lastError: undefined });
    store.putDocument(mkDoc('gone.txt'));
    store.removeDocument('gone.txt');
    const check = () => {
      assert.deepEqual(
        store.listDocuments().map((d) => d.path),
        ['a.txt', 'b.txt', 'sub/c.txt'],
      );
      assert.deepEqual(store.getDocument('a.txt'), mkDoc('a.txt', { stage: 'done', resultPath: 'a.json', tokensIn: 3, cost: 0.125 }));
      assert.equal(store.getDocument('b.txt')?.lastError, undefined);
      assert.equal(store.getDocument('b.txt')?.attempts, 1);
      assert.equal(store.getDocument('gone.txt'), undefined);
      assert.equal(store.countDocuments({ pathPrefix: 'sub/' }), 1);
      assert.deepEqual(
        store.listDocuments({ stages: ['done'] }).map((d) => d.path),
        ['a.txt'],
      );
      assert.equal(store.countDocuments({ readiness: ['rejected'] }), 1);
      const c = store.counts();
      assert.equal(c.total, 3);
      assert.equal(c.done, 1);
      assert.equal(c.running, 1);
    };
    check();
    await reopen();
    check();
  });

  it('keeps the job chosen for a document (name and classification key), patches and clears it; survives a reopen', async () => {
    store.putDocument(mkDoc('inbox/a.txt', { job: 'invoice', jobKey: 'k1' }));
    store.putDocument(mkDoc('inbox/b.txt'));
    store.patchDocument('inbox/b.txt', { job: 'none', jobKey: 'k2', readiness: 'rejected', rejectReason: '[NO_MATCHING_JOB] no job fits' });
    store.putDocument(mkDoc('inbox/c.txt', { job: 'receipt' }));
    store.patchDocument('inbox/c.txt', { stage: 'done' });
    const check = () => {
      assert.deepEqual(store.getDocument('inbox/a.txt'), mkDoc('inbox/a.txt', { job: 'invoice', jobKey: 'k1' }));
      assert.equal(store.getDocument('inbox/b.txt')?.job, 'none');
      assert.equal(store.getDocument('inbox/b.txt')?.jobKey, 'k2');
      // chosen by globs: a job without a key; a patch that does not name the job keeps it
      assert.deepEqual(store.getDocument('inbox/c.txt'), mkDoc('inbox/c.txt', { job: 'receipt', stage: 'done' }));
      assert.deepEqual(
        store.listDocuments({ pathPrefix: 'inbox/' }).map((d) => d.job),
        ['invoice', 'none', 'receipt'],
      );
    };
    check();
    await reopen();
    check();
    store.patchDocument('inbox/a.txt', { job: undefined, jobKey: undefined });
    assert.throws(() => store.patchDocument('inbox/a.txt', { job: 7 as never }));
    await reopen();
    assert.deepEqual(store.getDocument('inbox/a.txt'), mkDoc('inbox/a.txt'));
  });

  it('refuses an unknown document, a rename and an invalid state, changing nothing', async () => {
    assert.throws(() => store.patchDocument('nope.txt', { stage: 'done' }));
    store.putDocument(mkDoc('a.txt'));
    assert.throws(() => store.patchDocument('a.txt', { path: 'b.txt' }));
    assert.throws(() => store.putDocument({ ...mkDoc('c.txt'), stage: 'bogus' as never }));
    await reopen();
    assert.deepEqual(
      store.listDocuments().map((d) => d.path),
      ['a.txt'],
    );
  });

  it('resets in-flight documents to pending', async () => {
    store.putDocument(mkDoc('a.txt', { stage: 'extracting' }));
    store.putDocument(mkDoc('b.txt', { stage: 'done' }));
    assert.equal(store.resetInFlight(), 1);
    await reopen();
    assert.equal(store.getDocument('a.txt')?.stage, 'pending');
    assert.equal(store.getDocument('b.txt')?.stage, 'done');
    assert.equal(store.resetInFlight(), 0);
  });

  it('keeps runs newest first', async () => {
    store.putRun(mkRun('r1', 100), { durable: true });
    store.putRun(mkRun('r2', 200));
    store.putRun(mkRun('r1', 100, { status: 'completed', endedAt: 150 }));
    await reopen();
    assert.deepEqual(
      store.listRuns().map((r) => r.id),
      ['r2', 'r1'],
    );
    assert.equal(store.latestRun()?.id, 'r2');
    assert.equal(store.getRun('r1')?.status, 'completed');
    assert.equal(store.listRuns(1).length, 1);
  });

  it('records attempts and answers the metrics queries from them', async () => {
    store.recordAttempt(mkAttempt('r1', 'a.txt', 1, { outcome: 'retry', errorCode: 'TIMEOUT', stageReached: 'extracting' }));
    store.recordAttempt(mkAttempt('r1', 'a.txt', 2));
    store.recordAttempt(mkAttempt('r2', 'b.txt', 1, { rawReply: 'not json', outcome: 'failed', errorCode: 'MALFORMED_OUTPUT' }));
    await reopen();
    assert.deepEqual(
      store.listAttempts({ path: 'a.txt' }).map((a) => a.outcome),
      ['retry', 'done'],
    );
    assert.equal(store.listAttempts({ runId: 'r2' })[0].rawReply, undefined);
    assert.equal(store.listAttempts({ runId: 'r2', rawReply: true })[0].rawReply, 'not json');
    const first = store.readAttempts!({ limit: 2 });
    assert.equal(first.attempts.length, 2);
    assert.equal(store.readAttempts!({ after: first.cursor }).attempts.length, 1);
    const stats = store.attemptStats!({ runId: 'r1' });
    assert.equal(stats.attempts, 2);
    assert.equal(stats.tokensIn, 10);
    // finished attempts only (done, failed, dead-lettered), newest first
    assert.deepEqual(
      store.recentDocumentOutcomes!(10).map((o) => o.outcome),
      ["failed", "done"],
    );
  });

  it('keeps a dead-letter queue with reprocessing history', async () => {
    store.putDocument(mkDoc('a.txt', { stage: 'dead-lettered' }));
    store.putDeadLetter(mkLetter('a.txt'), { durable: true });
    store.putDeadLetter(mkLetter('b.txt', { at: 60 }));
    store.markDeadLetterReprocessed('a.txt', 70, 'fixed the schema');
    store.putDeadLetter(mkLetter('a.txt', { at: 80, attempts: 2 }));
    store.putDeadLetter(mkLetter('c.txt', { at: 90 }));
    store.removeDeadLetter('c.txt');
    await reopen();
    assert.deepEqual(
      store.listDeadLetters().map((l) => [l.path, l.at]),
      [
        ['b.txt', 60],
        ['a.txt', 80],
      ],
    );
    assert.equal(store.getDeadLetter('a.txt')?.attempts, 2);
    const history = store.listDeadLetterHistory!('a.txt');
    assert.equal(history.length, 1);
    assert.equal(history[0].reprocessedAt, 70);
    assert.equal(history[0].note, 'fixed the schema');
  });

  it('throws after close', async () => {
    await backend.close(store);
    assert.throws(() => store.getDocument('a.txt'), /closed/);
    assert.throws(() => store.putDocument(mkDoc('a.txt')), /closed/);
  });

  it('opened read-only, shows the state and refuses writes', async () => {
    store.putDocument(mkDoc('a.txt', { stage: 'done' }));
    await backend.close(store);
    const ro = backend.name === 'sql.js' ? await SqlJsCheckpointStore.open({ dir: (store as SqlJsCheckpointStore).dir, readOnly: true, logger: quiet }) : await PgCheckpointStore.open({ url: (store as PgCheckpointStore).url, readOnly: true, logger: quiet });
    try {
      assert.equal(ro.getDocument('a.txt')?.stage, 'done');
      assert.throws(() => ro.putDocument(mkDoc('b.txt')), StoreReadOnlyError);
    } finally {
      await backend.close(ro);
    }
  });
}

describe('store conformance: sql.js', () => contract(sqlJsBackend()));

describe('store conformance: PostgreSQL', function () {
  this.timeout(60_000);
  let cluster: PgCluster;
  before(async () => {
    cluster = await startPostgres();
  });
  after(() => cluster?.destroy());
  contract(pgBackend(() => cluster));

  it('workers share one database: each sees the others’ changes after refresh()', async () => {
    const url = cluster.database('shared_refresh');
    const a = await PgCheckpointStore.open({ url, logger: quiet, workerId: 'a' });
    const b = await PgCheckpointStore.open({ url, logger: quiet, workerId: 'b' });
    try {
      a.putDocument(mkDoc('x.txt', { stage: 'done' }));
      b.putDocument(mkDoc('y.txt'));
      await a.flush();
      await b.flush();
      assert.equal(b.getDocument('x.txt'), undefined);
      assert.equal(await b.refresh(), 1);
      assert.equal(b.getDocument('x.txt')?.stage, 'done');
      await a.refresh();
      assert.deepEqual(
        a.listDocuments().map((d) => d.path),
        ['x.txt', 'y.txt'],
      );
      assert.equal(a.counts().total, 2);
    } finally {
      await a.closeAndWait();
      await b.closeAndWait();
    }
  });

  it('a late change of a worker whose document was taken over does not undo the newer state', async () => {
    const url = cluster.database('late_writer');
    const a = await PgCheckpointStore.open({ url, logger: quiet, workerId: 'a' });
    const b = await PgCheckpointStore.open({ url, logger: quiet, workerId: 'b' });
    try {
      // b took x.txt over and finished it; a (cut off meanwhile) sends its older state afterwards
      b.putDocument(mkDoc('x.txt', { stage: 'done', updatedAt: 20 }));
      await b.flush();
      a.putDocument(mkDoc('x.txt', { stage: 'extracting', updatedAt: 10 }));
      // within one writer, order decides (a clock that went back does not matter)
      a.putDocument(mkDoc('y.txt', { stage: 'done', updatedAt: 30 }));
      a.patchDocument('y.txt', { stage: 'pending', updatedAt: 25 });
      await a.flush();
      await b.refresh();
      assert.equal(b.getDocument('x.txt')?.stage, 'done');
      assert.equal(b.getDocument('y.txt')?.stage, 'pending');
    } finally {
      await a.closeAndWait();
      await b.closeAndWait();
    }
    const fresh = await PgCheckpointStore.open({ url, logger: quiet, readOnly: true });
    try {
      assert.equal(fresh.getDocument('x.txt')?.stage, 'done');
      assert.equal(fresh.getDocument('y.txt')?.stage, 'pending');
    } finally {
      await fresh.closeAndWait();
    }
  });

  it('refuses a database written by a newer schema version, with a message that says so, and changes nothing', async () => {
    const url = cluster.database('newer_schema');
    const s = await PgCheckpointStore.open({ url, logger: quiet });
    s.putDocument(mkDoc('a.txt'));
    await s.closeAndWait();
    const next = PG_MIGRATIONS[PG_MIGRATIONS.length - 1].version + 1;
    const raw = await PgCheckpointStore.open({ url, logger: quiet, readOnly: true });
    await raw.pool.query('INSERT INTO ew_schema (version) VALUES ($1)', [next]);
    await raw.closeAndWait();
    for (const readOnly of [false, true]) {
      await assert.rejects(PgCheckpointStore.open({ url, logger: quiet, readOnly }), (e: Error) => {
        assert.ok(e instanceof StoreSchemaError, String(e));
        assert.match(e.message, new RegExp(`schema version ${next}, written by a newer version`));
        assert.match(e.message, /Upgrade Extraction Workbench/);
        return true;
      });
    }
  });

  it('a database that cannot be reached: StoreDatabaseError naming the URL without its password', async () => {
    const port = await freePort();
    await assert.rejects(PgCheckpointStore.open({ url: `postgres://ew:s3cret@127.0.0.1:${port}/x`, logger: quiet }), (e: Error) => {
      assert.ok(e instanceof StoreDatabaseError, String(e));
      assert.match(e.message, new RegExp(`Cannot open the state database postgres://ew@127.0.0.1:${port}/x`));
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
  });
});
