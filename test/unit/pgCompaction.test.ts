/**
 * Compaction of the PostgreSQL change log (src/store/pg/snapshots.ts): an opening worker snapshots a long
 * log and deletes the changes it covers, later opens start from the snapshot, and a worker that was running
 * across another's compaction loads the state again without losing its own or others' changes. Real
 * PostgreSQL (a throwaway cluster).
 */
import { strict as assert } from 'node:assert';
import type { AttemptRecord, DeadLetter, DocumentState, RunRecord } from '../../src/core/types';
import { PgCheckpointStore, type PgStoreOptions } from '../../src/store/pg/pgStore';
import { startPostgres, type PgCluster } from '../support/postgres';

const quiet = { warn: () => undefined, info: () => undefined, error: () => undefined };

function mkDoc(p: string, over: Partial<DocumentState> = {}): DocumentState {
  return { path: p, size: 100, mtimeMs: 1_700_000_000_000, readiness: 'ready', stage: 'pending', attempts: 0, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 1, ...over };
}
function mkRun(id: string, over: Partial<RunRecord> = {}): RunRecord {
  return { id, startedAt: 100, trigger: 'test', root: '/ws', status: 'running', fingerprint: 'fp', ...over };
}
function mkAttempt(runId: string, p: string, over: Partial<AttemptRecord> = {}): AttemptRecord {
  return { runId, path: p, attempt: 1, stageReached: 'done', startedAt: 10, endedAt: 20, durationMs: 10, outcome: 'done', tokensIn: 5, tokensOut: 7, cost: 0.25, ...over };
}
function mkLetter(p: string): DeadLetter {
  return { path: p, runId: 'r1', stage: 'extracting', code: 'MODEL_ERROR', message: 'boom', attempts: 4, at: 50 };
}

/** Everything a reader sees, comparable. */
function stateOf(s: PgCheckpointStore): unknown {
  return {
    runs: s.listRuns(),
    docs: s.listDocuments(),
    counts: s.counts(),
    attempts: s.listAttempts().map((a) => ({ ...a })),
    letters: s.listDeadLetters(),
  };
}

describe('PostgreSQL change log compaction', function () {
  this.timeout(60_000);
  let cluster: PgCluster;
  const open: PgCheckpointStore[] = [];
  before(async () => {
    cluster = await startPostgres();
  });
  afterEach(async () => {
    for (const s of open.splice(0).reverse()) await s.closeAndWait();
  });
  after(() => cluster?.destroy());

  async function store(url: string, workerId: string, o: Partial<PgStoreOptions> = {}): Promise<PgCheckpointStore> {
    const s = await PgCheckpointStore.open({ url, workerId, logger: quiet, compactSettleSeconds: 0, ...o });
    open.push(s);
    return s;
  }
  async function rows(s: PgCheckpointStore, table: 'ew_changes' | 'ew_snapshots'): Promise<number> {
    return Number((await s.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  }
  /** A worker's share of a run: documents through their stages, attempts, a dead letter. */
  function work(s: PgCheckpointStore, prefix: string, n: number): void {
    s.putRun(mkRun(`run-${prefix}`));
    for (let i = 0; i < n; i++) {
      const p = `${prefix}/d${i}.txt`;
      s.putDocument(mkDoc(p, { updatedAt: 10 }));
      s.patchDocument(p, { stage: 'extracting', updatedAt: 11 });
      if (i % 7 === 3) {
        s.patchDocument(p, { stage: 'dead-lettered', updatedAt: 12 });
        s.putDeadLetter(mkLetter(p));
      } else {
        s.recordAttempt(mkAttempt(`run-${prefix}`, p));
        s.patchDocument(p, { stage: 'done', tokensIn: 5, tokensOut: 7, cost: 0.25, updatedAt: 12 });
      }
    }
  }

  it('an open compacts a long log; the next open starts from the snapshot and reads the same state', async () => {
    const url = cluster.database('compact_open');
    const a = await store(url, 'a', { compactAfter: 1_000_000 });
    work(a, 'a', 60);
    await a.flush();
    const expected = stateOf(a);
    const logged = await rows(a, 'ew_changes');
    assert.ok(logged > 200, `${logged} changes`);

    const b = await store(url, 'b', { compactAfter: 100 });
    assert.equal(b.openReport.compacted, true, 'b compacted at open');
    assert.equal(b.openReport.replayed, logged);
    assert.deepEqual(stateOf(b), expected);
    assert.equal(await rows(b, 'ew_changes'), 0, 'the covered changes are deleted');
    assert.equal(await rows(b, 'ew_snapshots'), 1);

    const c = await store(url, 'c', { compactAfter: 100 });
    assert.equal(c.openReport.compacted, false);
    assert.equal(c.openReport.replayed, 0, 'nothing to replay after the snapshot');
    assert.ok(c.openReport.snapshotSeq >= logged);
    assert.deepEqual(stateOf(c), expected);

    // after the snapshot the log goes on as before
    b.putDocument(mkDoc('b/new.txt', { updatedAt: 20 }));
    await b.flush();
    assert.equal(await c.refresh(), 1);
    assert.equal(c.getDocument('b/new.txt')?.stage, 'pending');
  });

  it('changes younger than the settle time are not covered (a transaction that commits late is never missed)', async () => {
    const url = cluster.database('compact_settle');
    const a = await store(url, 'a');
    work(a, 'a', 10);
    await a.flush();
    const b = await store(url, 'b', { compactAfter: 1, compactSettleSeconds: 3600 });
    assert.equal(b.openReport.compacted, false);
    assert.equal(await rows(b, 'ew_snapshots'), 0);
    assert.deepEqual(stateOf(b), stateOf(a));
  });

  it('a worker running across another\'s compaction loads the state again: nothing of its own or the others\' is lost', async () => {
    const url = cluster.database('compact_live');
    const l = await store(url, 'l', { compactAfter: 1_000_000 });
    const m = await store(url, 'm', { compactAfter: 1_000_000 });
    work(l, 'l', 20);
    work(m, 'm', 20);
    await Promise.all([l.flush(), m.flush()]);
    const n = await store(url, 'n', { compactAfter: 10 });
    assert.equal(n.openReport.compacted, true);
    // after the compaction: more from m, and l writes on (one change not yet flushed when it reads)
    m.patchDocument('m/d0.txt', { stage: 'pending', updatedAt: 30 });
    await m.flush();
    l.putDocument(mkDoc('l/late.txt', { updatedAt: 31 }));
    assert.ok((await l.refresh()) > 0);
    const snapshotSeq = Number((await l.pool.query<{ seq: string }>('SELECT seq FROM ew_snapshots')).rows[0].seq);
    assert.ok(snapshotSeq > 0);
    assert.equal(l.openReport.snapshotSeq, snapshotSeq, 'l loaded the state from the snapshot');
    assert.equal(l.getDocument('m/d0.txt')?.stage, 'pending', 'the change after the compaction');
    assert.equal(l.getDocument('l/late.txt')?.stage, 'pending', 'its own change written meanwhile');
    assert.equal(l.countDocuments(), 41);
    // and its changes after the reload reach the database
    l.patchDocument('l/late.txt', { stage: 'done', updatedAt: 32 });
    await l.flush();
    const fresh = await store(url, 'fresh', { compactAfter: 1_000_000 });
    assert.deepEqual(stateOf(fresh), stateOf(l));
    assert.equal(fresh.getDocument('l/late.txt')?.stage, 'done');
  });

  it('a worker that keeps writing while it loads the state again loses none of its changes', async () => {
    const url = cluster.database('compact_busy');
    const l = await store(url, 'l', { compactAfter: 1_000_000 });
    work(l, 'l', 30);
    await l.flush();
    const other = await store(url, 'other', { compactAfter: 1_000_000 });
    work(other, 'o', 30);
    await other.flush();
    await store(url, 'n', { compactAfter: 10 });
    // l works on (a change per turn of the event loop) all through its reload
    let writing = true;
    let written = 0;
    const busy = (async () => {
      while (writing) {
        l.putDocument(mkDoc(`l/busy-${written++}.txt`, { updatedAt: 40 }));
        await new Promise((r) => setImmediate(r));
      }
    })();
    const refreshed = await l.refresh();
    writing = false;
    await busy;
    assert.ok(refreshed > 0);
    assert.ok(written > 0);
    assert.equal(l.countDocuments(), 60 + written, 'every busy change is in the reloaded state');
    await l.flush();
    const fresh = await store(url, 'fresh', { compactAfter: 1_000_000 });
    assert.deepEqual(stateOf(fresh), stateOf(l));
  });

  it('workers opening together write one snapshot, and all read the same state', async () => {
    const url = cluster.database('compact_together');
    const a = await store(url, 'a', { compactAfter: 1_000_000 });
    work(a, 'a', 40);
    await a.flush();
    const opened = await Promise.all([1, 2, 3].map((i) => store(url, `w${i}`, { compactAfter: 10 })));
    assert.equal(await rows(a, 'ew_snapshots'), 1);
    assert.ok(opened.filter((s) => s.openReport.compacted).length <= 1, 'at most one wrote it');
    for (const s of opened) assert.deepEqual(stateOf(s), stateOf(a));
  });
});
