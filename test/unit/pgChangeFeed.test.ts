/**
 * Following a PostgreSQL state without polling: the change log NOTIFYs on every batch of changes, a
 * follower LISTENs (src/store/pg/changeFeed.ts) and reads the other workers' changes when told. Real
 * PostgreSQL (a throwaway cluster); the window's settings check of the state URL (src/vscode/stateDatabase.ts).
 */
import { strict as assert } from 'node:assert';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import type { DocumentState } from '../../src/core/types';
import { listenForChanges, type ChangeFeed } from '../../src/store/pg/changeFeed';
import { PgCheckpointStore } from '../../src/store/pg/pgStore';
import { DEFAULT_SETTINGS } from '../../src/vscode/extensionSettings';
import { connectUrlOf, stateUrlOf } from '../../src/vscode/stateDatabase';
import { until } from '../support/assertions';
import { startPostgres, type PgCluster } from '../support/postgres';

const quiet = { warn: () => undefined };

function doc(path: string, stage: DocumentState['stage'] = 'pending'): DocumentState {
  return { path, size: 1, mtimeMs: 1, readiness: 'ready', stage, attempts: 0, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: Date.now() };
}

describe('PostgreSQL change feed (LISTEN/NOTIFY)', function () {
  this.timeout(60_000);
  let cluster: PgCluster;
  const open: Array<{ close(): unknown }> = [];
  before(async () => {
    cluster = await startPostgres();
  });
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });
  after(() => cluster?.destroy());

  async function store(url: string, workerId: string): Promise<PgCheckpointStore> {
    const s = await PgCheckpointStore.open({ url, workerId, logger: quiet });
    open.push({ close: () => s.closeAndWait() });
    return s;
  }
  function feed(url: string, onChange: () => void, debounceMs = 100): ChangeFeed {
    const f = listenForChanges(url, onChange, { logger: quiet, debounceMs });
    open.push(f);
    return f;
  }

  it('a follower is told of another worker\'s changes, and reads them with refresh()', async () => {
    const url = cluster.database('feed_basic');
    const worker = await store(url, 'worker');
    const window = await store(url, 'window');
    let calls = 0;
    const f = feed(url, () => calls++);
    await f.ready;
    worker.putDocument(doc('a.txt'));
    await worker.flush();
    await until(() => calls === 1, 'the follower to be told');
    assert.equal(window.getDocument('a.txt'), undefined, 'not read before refresh');
    assert.equal(await window.refresh(), 1);
    assert.equal(window.getDocument('a.txt')?.stage, 'pending');
  });

  it('refreshes at the same time (a window\'s follower and a sweep) apply each change once', async () => {
    const url = cluster.database('feed_concurrent');
    const worker = await store(url, 'worker');
    const window = await store(url, 'window');
    for (let i = 0; i < 30; i++) worker.putDocument(doc(`c${i}.txt`));
    await worker.flush();
    const applied = await Promise.all([window.refresh(), window.refresh(), window.refresh()]);
    assert.equal(applied.reduce((a, b) => a + b, 0), 30, `applied ${applied.join(' + ')}`);
    assert.equal(window.countDocuments(), 30);
  });

  it('notifications are gathered: many batches in a burst make few calls, none are lost at the end', async () => {
    const url = cluster.database('feed_burst');
    const worker = await store(url, 'worker');
    let calls = 0;
    const f = feed(url, () => calls++, 300);
    await f.ready;
    for (let i = 0; i < 40; i++) {
      worker.putDocument(doc(`d${i}.txt`));
      await worker.flush(); // one batch (one INSERT, one NOTIFY) each
    }
    await until(() => f.stats.notifications === 40, 'a notification per batch');
    await until(() => calls > 0 && f.stats.calls === calls, 'the gathered call');
    assert.ok(calls < 40, `${calls} calls for 40 notifications`);
    const window = await store(url, 'window');
    assert.equal(window.countDocuments(), 40);
  });

  it('connects again after the server went away, and calls once for what it may have missed', async () => {
    const url = cluster.database('feed_reconnect');
    let calls = 0;
    const f = feed(url, () => calls++);
    await f.ready;
    assert.equal(f.stats.connections, 1);
    cluster.stop();
    cluster.start();
    await until(() => f.stats.connections === 2, 'the feed to connect again', 30_000);
    await until(() => calls === 1, 'a call after the reconnect');
    // and it listens again
    const worker = await store(url, 'worker');
    worker.putDocument(doc('after.txt'));
    await worker.flush();
    await until(() => calls === 2, 'the change after the reconnect');
  });

  it('the first connection failing rejects ready (no server at the URL)', async () => {
    const url = cluster.database('feed_down');
    const down = url.replace(/:(\d+)\//, (_, p) => `:${Number(p) === 1 ? 2 : 1}/`);
    const f = feed(down, () => undefined);
    await assert.rejects(f.ready);
  });
});

describe('window setting extractionWorkbench.stateUrl', () => {
  const check = (stateUrl: string) => stateUrlOf({ ...DEFAULT_SETTINGS, stateUrl });

  it('empty: the state folder', () => {
    assert.equal(check(''), undefined);
    assert.equal(check('  '), undefined);
  });

  it('a URL without a password is used as it is', () => {
    assert.equal(check('postgres://ew@db.internal:5432/extraction'), 'postgres://ew@db.internal:5432/extraction');
  });

  it('a password in the setting is refused, the message says how to move it and does not repeat it', () => {
    assert.throws(
      () => check('postgres://ew:s3cret@db.internal:5432/extraction'),
      (e: unknown) => {
        assert.ok(e instanceof ExtractionError);
        assert.equal(e.code, ErrorCodes.INVALID_CONFIG);
        assert.match(e.message, /holds a password/);
        assert.match(e.message, /Set State Database Password/);
        assert.match(e.message, /postgres:\/\/ew@db\.internal:5432\/extraction/);
        assert.doesNotMatch(e.message, /s3cret/);
        return true;
      },
    );
  });

  it('not a postgres:// URL: INVALID_CONFIG naming the setting', () => {
    assert.throws(() => check('mysql://ew@db/x'), (e: unknown) => e instanceof ExtractionError && e.code === ErrorCodes.INVALID_CONFIG && /extractionWorkbench\.stateUrl/.test(e.message));
  });

  it('the stored password goes into the URL connected with, not into the setting', () => {
    assert.equal(connectUrlOf('postgres://ew@db:5432/x', 'p w'), 'postgres://ew:p%20w@db:5432/x');
    assert.equal(connectUrlOf('postgres://ew@db:5432/x', undefined), 'postgres://ew@db:5432/x');
  });
});
