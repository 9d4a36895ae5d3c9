/**
 * Attempt history in the sql.js store: what an attempt keeps (requests, model, the raw reply of a failed
 * answer), health's one-outcome-per-document window, and history retention (pruneHistory).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import initSqlJs from 'sql.js';
import { openSession, type RunSettings } from '../../src/app/session';
import type { AttemptRecord, DeadLetter, DocumentState, RunRecord } from '../../src/core/types';
import { LATEST_SCHEMA_VERSION, SNAPSHOT_FILE, SimulatedCrash, SqlJsCheckpointStore, applyMigrations, listJournalFiles, type StoreLogger } from '../../src/store';
import { requestLogFile } from '../../src/store/requestLog';
import { DEFAULT_HISTORY_RETENTION_DAYS, DEFAULT_HISTORY_RETENTION_RUNS, pruneHistoryOnRunStart, pruneOptionsOf } from '../../src/store/retention';
import { MemoryCheckpointStore } from '../fakes/memoryStore';
import { REPO_ROOT } from '../support/cli';

const quiet: StoreLogger = { warn: () => undefined };
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-store-history-'));
let n = 0;
const tmpDir = (name: string) => path.join(tmpRoot, `${name}-${++n}`);
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function doc(p: string, over: Partial<DocumentState> = {}): DocumentState {
  return { path: p, size: 1, mtimeMs: 1, readiness: 'ready', stage: 'done', attempts: 1, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 1, ...over };
}

function run(id: string, startedAt: number): RunRecord {
  return { id, startedAt, endedAt: startedAt + 500, trigger: 'test', root: '/ws', status: 'completed', fingerprint: 'fp' };
}

function att(runId: string, p: string, attempt: number, outcome: AttemptRecord['outcome'], endedAt: number, over: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    runId,
    path: p,
    attempt,
    stageReached: outcome === 'done' ? 'done' : 'extracting',
    startedAt: endedAt - 10,
    endedAt,
    durationMs: 10,
    outcome,
    tokensIn: 1,
    tokensOut: 1,
    cost: 0,
    ...(outcome === 'done' ? {} : { errorCode: 'MALFORMED_OUTPUT', errorMessage: 'not JSON' }),
    ...over,
  };
}

function dead(p: string, runId: string, at: number): DeadLetter {
  return { path: p, runId, stage: 'extracting', code: 'MALFORMED_OUTPUT', message: 'not JSON', attempts: 2, at };
}

function copyDir(from: string, name: string): string {
  const to = tmpDir(name);
  fs.cpSync(from, to, { recursive: true });
  return to;
}

function history(store: SqlJsCheckpointStore) {
  return {
    attempts: store.listAttempts({ rawReply: true }).map((a) => `${a.runId}:${a.path}#${a.attempt}:${a.outcome}`),
    runs: store
      .listRuns()
      .map((r) => r.id)
      .sort(),
    deadLetters: store.listDeadLetters().map((d) => d.path),
    deadLetterHistory: store.listDeadLetterHistory().map((d) => `${d.runId}:${d.path}`),
  };
}

describe('store: what an attempt keeps', () => {
  it('keeps requests, model and the raw reply through the journal and the snapshot; listings leave the reply out unless asked', async () => {
    const dir = tmpDir('attempt');
    const s = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    const reply = '{"total": 12,5 EUR}  ← not JSON';
    s.recordAttempt(att('r1', 'a.txt', 1, 'retry', 100, { requests: 3, model: 'gpt-4o-mini', rawReply: reply }));
    s.recordAttempt(att('r1', 'a.txt', 2, 'done', 200, { requests: 1, model: 'gpt-4o-mini' }));
    const check = (x: SqlJsCheckpointStore, how: string) => {
      const [failed, done] = x.listAttempts({ path: 'a.txt', rawReply: true });
      assert.equal(failed.rawReply, reply, how);
      assert.equal(failed.rawReplyTruncated, undefined, how);
      assert.deepEqual([failed.requests, failed.model, done.requests, done.model, done.rawReply], [3, 'gpt-4o-mini', 1, 'gpt-4o-mini', undefined], how);
      assert.equal(x.listAttempts({ path: 'a.txt' })[0].rawReply, undefined, `${how}: metrics listings do not carry replies`);
      assert.equal(x.listAttempts({ path: 'a.txt' })[0].requests, 3, how);
      assert.equal(x.readAttempts().attempts[0].rawReply, undefined, how);
    };
    check(s, 'live');
    const crashed = copyDir(dir, 'attempt-crash');
    const r = await SqlJsCheckpointStore.open({ dir: crashed, logger: quiet });
    assert.equal(r.openReport.replayed, 2, 'from the journal');
    check(r, 'replayed');
    r.close();
    s.close();
    const reopened = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    assert.equal(reopened.openReport.replayed, 0, 'from the snapshot');
    check(reopened, 'snapshot');
    reopened.close();
  });

  it('cuts a raw reply longer than 64 KB at a character boundary and marks it, in the journal too', async () => {
    const dir = tmpDir('cap');
    const s = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    const long = 'x'.repeat(65_535) + '€' + 'y'.repeat(100_000); // the euro sign (3 bytes) straddles the limit
    s.recordAttempt(att('r1', 'big.txt', 1, 'retry', 100, { rawReply: long }));
    const exact = 'z'.repeat(64 * 1024);
    s.recordAttempt(att('r1', 'exact.txt', 1, 'retry', 100, { rawReply: exact }));
    const [big, atLimit] = s.listAttempts({ rawReply: true });
    assert.equal(big.rawReply, 'x'.repeat(65_535), 'cut before the character that does not fit');
    assert.equal(big.rawReplyTruncated, true);
    assert.equal(atLimit.rawReply, exact, 'exactly 64 KB is kept whole');
    assert.equal(atLimit.rawReplyTruncated, undefined);
    const journal = fs.readFileSync(listJournalFiles(dir).at(-1)!.file, 'utf8');
    assert.ok(journal.length < 2 * 64 * 1024 + 2000, `the journal holds the cut reply, not the whole one (${journal.length} chars)`);
    s.close();
    const r = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    assert.equal(r.listAttempts({ path: 'big.txt', rawReply: true })[0].rawReplyTruncated, true);
    r.close();
  });

  it('refuses attempt fields of the wrong type', async () => {
    const s = await SqlJsCheckpointStore.open({ logger: quiet });
    assert.throws(() => s.recordAttempt(att('r', 'a', 1, 'retry', 1, { rawReply: 42 as unknown as string })), /rawReply must be a string/);
    assert.throws(() => s.recordAttempt(att('r', 'a', 1, 'retry', 1, { requests: Number.NaN })), /requests must be a finite number/);
    assert.throws(() => s.recordAttempt(att('r', 'a', 1, 'retry', 1, { model: {} as unknown as string })), /model must be a string/);
    assert.deepEqual(s.listAttempts(), []);
    s.close();
  });

  it('migrates a v2 snapshot: its attempts open without the new fields, new attempts keep them', async () => {
    const dir = tmpDir('v2');
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    assert.deepEqual(applyMigrations(db, { target: 2 }).applied, [1, 2]);
    db.run(`INSERT INTO attempts (run_id, path, attempt, stage_reached, started_at, ended_at, duration_ms, outcome, error_code, tokens_in, tokens_out, cost)
       VALUES ('r0', 'old.txt', 1, 'extracting', 1, 2, 1, 'retry', 'MALFORMED_OUTPUT', 3, 4, 0.5)`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), db.export());
    db.close();
    const s = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    assert.deepEqual(s.openReport.migrated, { from: 2, to: LATEST_SCHEMA_VERSION });
    const [old] = s.listAttempts({ rawReply: true });
    assert.deepEqual([old.errorCode, old.requests, old.model, old.rawReply, old.rawReplyTruncated], ['MALFORMED_OUTPUT', undefined, undefined, undefined, undefined]);
    s.recordAttempt(att('r1', 'old.txt', 2, 'retry', 10, { rawReply: 'nope', requests: 2 }));
    s.close();
    const r = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    assert.deepEqual(
      r.listAttempts({ rawReply: true }).map((a) => [a.rawReply, a.requests]),
      [
        [undefined, undefined],
        ['nope', 2],
      ],
    );
    r.close();
  });

  it('migrates a v3 snapshot: its documents open without a job, a chosen job is kept from then on', async () => {
    const dir = tmpDir('v3');
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    assert.deepEqual(applyMigrations(db, { target: 3 }).applied, [1, 2, 3]);
    db.run(`INSERT INTO documents (path, size, mtime_ms, readiness, stage, attempts, tokens_in, tokens_out, cost, updated_at)
       VALUES ('old.txt', 10, 1, 'ready', 'done', 1, 3, 4, 0.5, 2)`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), db.export());
    db.close();
    const s = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    assert.deepEqual(s.openReport.migrated, { from: 3, to: LATEST_SCHEMA_VERSION });
    const old = s.getDocument('old.txt');
    assert.equal(old?.stage, 'done');
    assert.deepEqual([old?.job, old?.jobKey], [undefined, undefined]);
    s.patchDocument('old.txt', { job: 'invoice', jobKey: 'k' });
    s.close();
    const r = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    assert.deepEqual([r.getDocument('old.txt')?.job, r.getDocument('old.txt')?.jobKey], ['invoice', 'k']);
    r.close();
  });
});

describe('store: recent outcomes count each document once', () => {
  it("counts a document's latest finished outcome; the window of an earlier run still shows the failure", async () => {
    const s = await SqlJsCheckpointStore.open({ logger: quiet });
    s.recordAttempt(att('r1', 'a', 1, 'dead-lettered', 100));
    s.recordAttempt(att('r1', 'b', 1, 'done', 110));
    s.recordAttempt(att('r2', 'a', 1, 'retry', 200));
    assert.deepEqual(
      s.recentDocumentOutcomes(10).map((o) => [o.outcome, o.endedAt]),
      [
        ['done', 110],
        ['dead-lettered', 100],
      ],
      'a retry is not an outcome: a is still dead-lettered',
    );
    s.recordAttempt(att('r2', 'a', 2, 'done', 210));
    assert.deepEqual(
      s.recentDocumentOutcomes(10).map((o) => [o.outcome, o.endedAt]),
      [
        ['done', 210],
        ['done', 110],
      ],
      'reprocessed to done: the dead letter no longer counts',
    );
    assert.deepEqual(
      s.recentDocumentOutcomes(10, { throughRun: 'r1' }).map((o) => o.outcome),
      ['done', 'dead-lettered'],
      'as it was when r1 ended',
    );
    assert.deepEqual(
      s.recentDocumentOutcomes(10, { runId: 'r1' }).map((o) => o.outcome),
      ['done', 'dead-lettered'],
      "r1's own outcomes",
    );
    assert.equal(s.recentDocumentOutcomes(1).length, 1);
    s.close();
  });
});

describe('store: history retention', () => {
  /**
   * Six runs, r0 (oldest) .. r5 (newest); attempts end at 1000 × run number.
   *  r0: a#1 cancelled                      → pruned; r0 is then unreferenced and goes too
   *  r1: a#1 retry, a#2 done                → pruned (a's latest attempt is in r4)
   *      b#1 dead-lettered, still queued    → kept (a queued dead letter keeps its history)
   *      c#1 dead-lettered, reprocessed     → pruned, and its dead-letter history entry
   *  r2: c#1 done                           → kept: c's latest attempt
   *      d#1 done                           → pruned (d's latest attempt is in r3)
   *  r3: d#1 done · r4: a#1 done · r5: e#1 done
   */
  function fill(s: SqlJsCheckpointStore | MemoryCheckpointStore): void {
    for (let i = 0; i <= 5; i++) s.putRun(run(`r${i}`, i * 1000 - 100));
    for (const p of ['a', 'b', 'c', 'd', 'e']) s.putDocument(doc(p));
    s.recordAttempt(att('r0', 'a', 1, 'cancelled', 0));
    s.recordAttempt(att('r1', 'a', 1, 'retry', 1000, { rawReply: 'a1' }));
    s.recordAttempt(att('r1', 'a', 2, 'done', 1000));
    s.recordAttempt(att('r1', 'b', 1, 'dead-lettered', 1000, { rawReply: 'b1' }));
    s.putDeadLetter(dead('b', 'r1', 1000));
    s.recordAttempt(att('r1', 'c', 1, 'dead-lettered', 1000));
    s.putDeadLetter(dead('c', 'r1', 1000));
    s.markDeadLetterReprocessed('c', 1500, 'retry');
    s.recordAttempt(att('r2', 'c', 1, 'done', 2000));
    s.recordAttempt(att('r2', 'd', 1, 'done', 2000));
    s.recordAttempt(att('r3', 'd', 1, 'done', 3000));
    s.recordAttempt(att('r4', 'a', 1, 'done', 4000));
    s.recordAttempt(att('r5', 'e', 1, 'done', 5000));
  }

  const KEPT = {
    attempts: ['r1:b#1:dead-lettered', 'r2:c#1:done', 'r3:d#1:done', 'r4:a#1:done', 'r5:e#1:done'],
    runs: ['r1', 'r2', 'r3', 'r4', 'r5'],
    deadLetters: ['b'],
    deadLetterHistory: [],
  };

  it("keeps the last runs, each document's latest attempt and the queued dead letters' history", async () => {
    const s = await SqlJsCheckpointStore.open({ logger: quiet });
    fill(s);
    assert.equal(s.listAttempts().length, 10);
    const report = s.pruneHistory({ keepRuns: 2 });
    assert.deepEqual(report, { attempts: 5, deadLetterHistory: 1, runs: 1, requestLogs: 0 });
    assert.deepEqual(history(s), KEPT);
    assert.equal(s.listAttempts({ path: 'b', rawReply: true })[0].rawReply, 'b1', 'the queued dead letter keeps its raw reply');
    assert.deepEqual(s.pruneHistory({ keepRuns: 2 }), { attempts: 0, deadLetterHistory: 0, runs: 0, requestLogs: 0 }, 'nothing more to prune');
    s.close();
  });

  it('prunes by age alone; the latest run is kept whatever its age; no limit prunes nothing', async () => {
    const s = await SqlJsCheckpointStore.open({ logger: quiet });
    fill(s);
    assert.deepEqual(s.pruneHistory({}), { attempts: 0, deadLetterHistory: 0, runs: 0, requestLogs: 0 });
    assert.deepEqual(s.pruneHistory({ keepRuns: 0 }), { attempts: 0, deadLetterHistory: 0, runs: 0, requestLogs: 0 });
    assert.equal(s.listAttempts().length, 10);
    const report = s.pruneHistory({ olderThan: 2500 }); // before r3
    assert.deepEqual(report, { attempts: 5, deadLetterHistory: 1, runs: 1, requestLogs: 0 });
    assert.deepEqual(history(s), KEPT);
    s.pruneHistory({ olderThan: 1e9 });
    assert.deepEqual(history(s).attempts, KEPT.attempts, "every document's latest attempt stays, however old");
    assert.ok(history(s).runs.includes('r5'), 'the latest run stays');
    s.close();
  });

  it('journals the prune: replay after a crash in its compaction gives the same state', async () => {
    const dir = tmpDir('prune-replay');
    let crash = false;
    const s = await SqlJsCheckpointStore.open({
      dir,
      logger: quiet,
      onCompactionStep: (step) => {
        if (crash && step === 'journal-closed') throw new SimulatedCrash(step);
      },
    });
    fill(s);
    s.compact(); // the history is in the snapshot; the prune only in the journal
    crash = true;
    assert.throws(() => s.pruneHistory({ keepRuns: 2 }), SimulatedCrash);
    const expected = history(s);
    assert.deepEqual(expected, KEPT);
    const copy = copyDir(dir, 'prune-replay-copy');
    crash = false;
    s.close();
    const r = await SqlJsCheckpointStore.open({ dir: copy, logger: quiet });
    assert.ok(r.openReport.replayed >= 1, 'the prune line was replayed');
    assert.deepEqual(history(r), expected);
    // writes after the replayed prune land where they would have
    r.recordAttempt(att('r5', 'f', 1, 'done', 6000));
    assert.deepEqual(history(r).attempts.at(-1), 'r5:f#1:done');
    r.close();
  });

  it('shrinks the snapshot when much was pruned', async () => {
    const dir = tmpDir('shrink');
    const s = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    s.putRun(run('r1', 0));
    s.putRun(run('r2', 1000));
    for (let i = 0; i < 40; i++) {
      s.putDocument(doc(`d${i}`));
      s.recordAttempt(att('r1', `d${i}`, 1, 'retry', 100, { rawReply: `${i}`.padEnd(60_000, '.') }));
      s.recordAttempt(att('r2', `d${i}`, 1, 'done', 1100));
    }
    s.compact();
    const before = fs.statSync(path.join(dir, SNAPSHOT_FILE)).size;
    assert.ok(before > 2_000_000, `${before} bytes before`);
    assert.equal(s.pruneHistory({ keepRuns: 1 }).attempts, 40);
    const after = fs.statSync(path.join(dir, SNAPSHOT_FILE)).size;
    assert.ok(after < before / 10, `the snapshot shrank from ${before} to ${after} bytes`);
    assert.equal(s.listAttempts().length, 40);
    s.close();
    const r = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    assert.deepEqual(
      r.listAttempts().map((a) => a.runId),
      Array(40).fill('r2'),
    );
    r.close();
  });

  it('deletes the request logs of pruned runs, keeps those of kept runs', async () => {
    const dir = tmpDir('logs');
    const s = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    fill(s);
    for (const id of ['r0', 'r3', 'r4', 'r5']) {
      fs.mkdirSync(path.dirname(requestLogFile(dir, id)), { recursive: true });
      fs.writeFileSync(requestLogFile(dir, id), '{}\n');
    }
    assert.equal(s.pruneHistory({ keepRuns: 2 }).requestLogs, 2);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'requests')).sort(), ['r4.ndjson', 'r5.ndjson']);
    s.close();
  });

  it('prunes when a run starts, with the defaults, never failing the run', async () => {
    assert.deepEqual([DEFAULT_HISTORY_RETENTION_RUNS, DEFAULT_HISTORY_RETENTION_DAYS], [20, 30]);
    assert.deepEqual(pruneOptionsOf({}, 40 * 86_400_000), { keepRuns: 20, olderThan: 10 * 86_400_000 });
    assert.deepEqual(pruneOptionsOf({ historyRetentionRuns: 0, historyRetentionDays: 0 }, 1), {});
    const infos: string[] = [];
    const warnings: string[] = [];
    const logger = { info: (m: string) => infos.push(m), warn: (m: string) => warnings.push(m) };
    const s = await SqlJsCheckpointStore.open({ logger: quiet });
    fill(s);
    assert.deepEqual(pruneHistoryOnRunStart(s, { historyRetentionRuns: 2, historyRetentionDays: 0 }, logger), { attempts: 5, deadLetterHistory: 1, runs: 1, requestLogs: 0 });
    assert.match(infos[0], /pruned 5 attempt\(s\), 1 dead-letter history entry, 1 run\(s\)/);
    s.close();
    assert.equal(pruneHistoryOnRunStart(new MemoryCheckpointStore(), {}, logger), undefined, 'a store without pruning is left alone');
    // a read-only store: a warning, no exception
    const dir = tmpDir('ro');
    const w = await SqlJsCheckpointStore.open({ dir, logger: quiet });
    fill(w);
    const ro = await SqlJsCheckpointStore.open({ dir, readOnly: true, logger: quiet });
    assert.equal(pruneHistoryOnRunStart(ro, { historyRetentionRuns: 1 }, logger), undefined);
    assert.match(warnings[0], /pruning failed .*read-only/);
    assert.equal(ro.listAttempts().length, 10);
    ro.close();
    w.close();
  });

  it('openSession prunes the store by the run settings', async () => {
    const root = tmpDir('session');
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'schema.json'), JSON.stringify({ type: 'object', properties: { total: { type: 'number' } } }));
    const stateDir = path.join(root, '.extraction');
    const s = await SqlJsCheckpointStore.open({ dir: stateDir, logger: quiet });
    fill(s);
    s.close();
    const settings: RunSettings = {
      root,
      outDir: path.join(root, 'extracted'),
      stateDir,
      schemaPath: path.join(root, 'schema.json'),
      baseURL: 'http://127.0.0.1:9/v1',
      model: 'm',
      concurrency: 1,
      maxAttempts: 1,
      timeoutMs: 1000,
      maxFileBytes: 1e6,
      historyRetentionRuns: 2,
      historyRetentionDays: 0,
    };
    const session = await openSession(settings, { apiKey: 'k', assetsDir: path.join(REPO_ROOT, 'dist'), logger: { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } });
    try {
      assert.deepEqual(history(session.store as SqlJsCheckpointStore), KEPT);
    } finally {
      await session.close();
    }
  });
});
