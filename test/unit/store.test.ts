import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import initSqlJs from 'sql.js';
import type { AttemptRecord, DeadLetter, DocumentState, Readiness, RunRecord, Stage } from '../../src/core/types';
import {
  BACKUP_FILE,
  JournalWriter,
  LATEST_SCHEMA_VERSION,
  LOCK_FILE,
  MIGRATIONS,
  SNAPSHOT_FILE,
  SimulatedCrash,
  SqlJsCheckpointStore,
  StoreClosedError,
  StoreLockedError,
  StoreReadOnlyError,
  StoreSchemaError,
  StoreWasmError,
  applyMigrations,
  compileSqlWasm,
  countsOf,
  crc32,
  crc32Portable,
  decodeLine,
  encodeRecord,
  listJournalFiles,
  openWhenReleased,
  parseJournal,
  stateSignature,
  lockHolder,
  type CompactionStep,
  type StoreLogger,
} from '../../src/store';
import { seededRandom } from '../support/random';

// ---------------------------------------------------------------------------------------------------------
// helpers

const STAGES: Stage[] = ['pending', 'reading', 'converting', 'extracting', 'validating', 'exporting', 'done', 'failed', 'dead-lettered'];
const READINESS: Readiness[] = ['not-ready', 'ready', 'rejected'];

function mkDoc(p: string, over: Partial<DocumentState> = {}): DocumentState {
  return { path: p, size: 100, mtimeMs: 1_700_000_000_000, readiness: 'ready', stage: 'pending', attempts: 0, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 1, ...over };
}

function mkRun(id: string, startedAt: number, over: Partial<RunRecord> = {}): RunRecord {
  return { id, startedAt, trigger: 'test', root: '/ws', status: 'running', fingerprint: 'fp', ...over };
}

function mkAttempt(runId: string, p: string, attempt: number, over: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    runId,
    path: p,
    attempt,
    stageReached: 'done',
    startedAt: 10,
    endedAt: 20,
    durationMs: 10,
    outcome: 'done',
    tokensIn: 5,
    tokensOut: 7,
    cost: 0.5,
    ...over,
  };
}

function mkDead(p: string, at: number, over: Partial<DeadLetter> = {}): DeadLetter {
  return { path: p, runId: 'r1', stage: 'extracting', code: 'MALFORMED_OUTPUT', message: 'bad json', attempts: 3, at, ...over };
}


class CaptureLogger implements StoreLogger {
  warnings: string[] = [];
  errors: string[] = [];
  infos: string[] = [];
  warn(m: string): void {
    this.warnings.push(m);
  }
  error(m: string): void {
    this.errors.push(m);
  }
  info(m: string): void {
    this.infos.push(m);
  }
  has(re: RegExp): boolean {
    return this.warnings.some((w) => re.test(w));
  }
}

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-store-test-'));
let tmpCounter = 0;
function tmpDir(name = 'store'): string {
  return path.join(tmpRoot, `${name}-${++tmpCounter}`);
}

function copyDir(from: string, name = 'copy'): string {
  const to = tmpDir(name);
  fs.cpSync(from, to, { recursive: true });
  return to;
}

function dump(s: SqlJsCheckpointStore) {
  const docs = s.listDocuments();
  return {
    docs,
    runs: s.listRuns(),
    attempts: s.listAttempts(),
    deadLetters: s.listDeadLetters(),
    allDeadLetters: docs.map((d) => s.getDeadLetter(d.path)).filter(Boolean),
    history: s.listDeadLetterHistory(),
    counts: s.counts(),
  };
}

function lastJournal(dir: string): string {
  const files = listJournalFiles(dir);
  assert.ok(files.length > 0, 'a journal file exists');
  return files[files.length - 1].file;
}

/** Fills a store with a bit of everything. */
function populate(s: SqlJsCheckpointStore, n: number, prefix = 'docs'): void {
  s.putRun(mkRun('r1', 1000));
  for (let i = 0; i < n; i++) {
    const p = `${prefix}/f${String(i).padStart(4, '0')}.pdf`;
    s.putDocument(mkDoc(p));
    if (i % 3 === 0) s.patchDocument(p, { stage: 'extracting', attempts: 1 });
    if (i % 3 === 1) {
      s.patchDocument(p, { stage: 'done', resultPath: `${p}.json`, tokensIn: i, tokensOut: 2 * i, cost: i / 100, durationMs: 12 }, { durable: i % 2 === 0 });
      s.recordAttempt(mkAttempt('r1', p, 1, { stageMs: { reading: 1, extracting: 9 } }));
    }
    if (i % 7 === 0) {
      s.patchDocument(p, { stage: 'dead-lettered', lastError: { code: 'X', message: 'boom', stage: 'extracting', retryable: false } });
      s.putDeadLetter(mkDead(p, 2000 + i));
    }
  }
}

after(() => {
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------

describe('store: journal format', () => {
  it('crc32 matches the standard check value and the fallback', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32('123456789'), 0xcbf43926);
    assert.equal(crc32('héllo ✓'), crc32(Buffer.from('héllo ✓', 'utf8')));
    const data = Buffer.from('the quick brown fox jumps over the lazy dog'.repeat(50));
    assert.equal(crc32Portable(data), crc32(data));
    assert.equal(crc32Portable(data.subarray(100), crc32Portable(data.subarray(0, 100))), crc32(data), 'seeded (incremental) CRC');
    assert.equal(crc32(data.subarray(100), crc32(data.subarray(0, 100))), crc32(data));
  });

  it('encodes self-verifying JSON lines and detects any flipped byte', () => {
    const line = encodeRecord(42, 'doc', { path: 'a,"crc":1}', n: 1, s: 'ü' });
    assert.equal(line[line.length - 1], 0x0a);
    const body = line.subarray(0, line.length - 1);
    const rec = decodeLine(body);
    assert.deepEqual(rec, { seq: 42, op: 'doc', data: { path: 'a,"crc":1}', n: 1, s: 'ü' } });
    JSON.parse(body.toString()); // a valid JSON line
    for (let i = 0; i < body.length; i++) {
      const bad = Buffer.from(body);
      bad[i] ^= 0x04;
      assert.equal(typeof decodeLine(bad), 'string', `flip at ${i} detected`);
    }
  });

  it('classifies a torn tail and a corrupt middle line', () => {
    const a = encodeRecord(1, 'x', 1);
    const b = encodeRecord(2, 'x', 2);
    const c = encodeRecord(3, 'x', 3);
    const torn = parseJournal(Buffer.concat([a, b, c.subarray(0, 10)]));
    assert.equal(torn.records.length, 2);
    assert.equal(torn.issues.length, 1);
    assert.equal(torn.issues[0].tail, true);
    const bad = Buffer.from(b);
    bad[5] = 0x39;
    const mid = parseJournal(Buffer.concat([a, bad, c]));
    assert.deepEqual(
      mid.records.map((r) => r.seq),
      [1, 3],
    );
    assert.equal(mid.issues.length, 1);
    assert.equal(mid.issues[0].tail, false);
    const zeros = parseJournal(Buffer.concat([a, Buffer.alloc(64)]));
    assert.equal(zeros.records.length, 1);
    assert.equal(zeros.issues[0].tail, true);
  });
});

describe('store: in-memory CRUD', () => {
  let s: SqlJsCheckpointStore;
  beforeEach(async () => {
    s = await SqlJsCheckpointStore.open({});
  });
  afterEach(() => s.close());

  it('has no directory and a current schema', () => {
    assert.equal(s.dir, undefined);
    assert.equal(s.schemaVersion, LATEST_SCHEMA_VERSION);
    assert.equal(s.openReport.source, 'memory');
  });

  it('puts, gets, patches and removes documents', () => {
    const d = mkDoc('a/b.pdf', { contentHash: 'h', fingerprint: 'f', durationMs: 3 });
    s.putDocument(d);
    assert.deepEqual(s.getDocument('a/b.pdf'), d);
    assert.equal(s.getDocument('nope'), undefined);

    const err = { code: 'RATE_LIMITED', message: '429', stage: 'extracting' as Stage, retryable: true };
    const p1 = s.patchDocument('a/b.pdf', { stage: 'extracting', attempts: 1, lastError: err });
    assert.deepEqual(p1, { ...d, stage: 'extracting', attempts: 1, lastError: err });
    assert.deepEqual(s.getDocument('a/b.pdf'), p1);

    // undefined in a patch clears an optional field
    const p2 = s.patchDocument('a/b.pdf', { lastError: undefined, stage: 'done', resultPath: 'a/b.json' });
    assert.equal(p2.lastError, undefined);
    assert.equal('lastError' in p2, false);
    assert.deepEqual(s.getDocument('a/b.pdf'), p2);

    // put replaces the whole state
    s.putDocument(mkDoc('a/b.pdf', { stage: 'failed' }));
    assert.deepEqual(s.getDocument('a/b.pdf'), mkDoc('a/b.pdf', { stage: 'failed' }));

    s.removeDocument('a/b.pdf');
    assert.equal(s.getDocument('a/b.pdf'), undefined);
    s.removeDocument('a/b.pdf'); // no-op
    assert.deepEqual(s.counts(), countsOf([]));
  });

  it('rejects unknown documents, renames and invalid states without changing anything', () => {
    s.putDocument(mkDoc('x'));
    assert.throws(() => s.patchDocument('missing', { stage: 'done' }), /unknown document/);
    assert.throws(() => s.patchDocument('x', { path: 'y' }), /rename/);
    assert.throws(() => s.patchDocument('x', { stage: 'bogus' as Stage }), /unknown stage/);
    assert.throws(() => s.patchDocument('x', { size: undefined }), /size/);
    assert.throws(() => s.putDocument(mkDoc('')), /path/);
    assert.throws(() => s.putDocument(mkDoc('z', { readiness: 'maybe' as Readiness })), /readiness/);
    assert.throws(() => s.putDocument(mkDoc('z', { cost: Number.NaN })), /cost/);
    assert.deepEqual(s.getDocument('x'), mkDoc('x'));
    assert.equal(s.counts().total, 1);
  });

  it('lists documents by path with stage filter, prefix, offset and limit', () => {
    const paths = ['b/2.pdf', 'a/1.pdf', 'a/10.pdf', 'a_/x.pdf', 'a%/y.pdf', 'ab/z.pdf', 'c.pdf', 'a/sub/3.pdf'];
    paths.forEach((p, i) => s.putDocument(mkDoc(p, { stage: STAGES[i % STAGES.length] })));
    const sorted = [...paths].sort();
    assert.deepEqual(
      s.listDocuments().map((d) => d.path),
      sorted,
    );
    assert.deepEqual(
      s.listDocuments({ pathPrefix: 'a/' }).map((d) => d.path),
      sorted.filter((p) => p.startsWith('a/')),
    );
    assert.deepEqual(
      s.listDocuments({ pathPrefix: 'a_' }).map((d) => d.path),
      ['a_/x.pdf'],
    );
    assert.deepEqual(
      s.listDocuments({ pathPrefix: 'a%' }).map((d) => d.path),
      ['a%/y.pdf'],
    );
    assert.deepEqual(
      s.listDocuments({ offset: 2, limit: 3 }).map((d) => d.path),
      sorted.slice(2, 5),
    );
    assert.deepEqual(
      s.listDocuments({ offset: 6 }).map((d) => d.path),
      sorted.slice(6),
    );
    const stages: Stage[] = ['pending', 'done', 'reading'];
    const want = s
      .listDocuments()
      .filter((d) => stages.includes(d.stage))
      .map((d) => d.path);
    assert.deepEqual(
      s.listDocuments({ stages }).map((d) => d.path),
      want,
    );
    assert.equal(s.countDocuments({ stages }), want.length);
    assert.equal(s.countDocuments({ stages, pathPrefix: 'a' }), want.filter((p) => p.startsWith('a')).length);
    assert.equal(s.countDocuments({ pathPrefix: 'a/' }), 3);
    assert.equal(s.countDocuments({ stages: [] }), 0);
    assert.deepEqual(s.listDocuments({ stages: [] }), []);
    assert.equal(s.countDocuments(), paths.length);
  });

  it('filters by readiness, alone and with stages and prefixes; counts agree with the lists', () => {
    const rnd = seededRandom(11);
    for (let i = 0; i < 200; i++) {
      s.putDocument(mkDoc(`${i % 3 ? 'a' : 'b'}/${String(i).padStart(3, '0')}.pdf`, { stage: STAGES[Math.floor(rnd() * STAGES.length)], readiness: READINESS[Math.floor(rnd() * READINESS.length)] }));
    }
    const all = s.listDocuments();
    const cases: { stages?: Stage[]; readiness: Readiness[]; pathPrefix?: string }[] = [
      { readiness: ['rejected'] },
      { readiness: ['ready', 'not-ready'] },
      { stages: ['pending'], readiness: ['rejected'] },
      { stages: ['pending', 'done'], readiness: ['ready', 'not-ready'], pathPrefix: 'a/' },
      { readiness: [] },
    ];
    for (const q of cases) {
      const want = all.filter((d) => q.readiness.includes(d.readiness) && (!q.stages || q.stages.includes(d.stage)) && (!q.pathPrefix || d.path.startsWith(q.pathPrefix))).map((d) => d.path);
      assert.deepEqual(s.listDocuments(q).map((d) => d.path), want, JSON.stringify(q));
      assert.equal(s.countDocuments(q), want.length, `count ${JSON.stringify(q)}`);
      assert.deepEqual(s.listDocuments({ ...q, offset: 3, limit: 5 }).map((d) => d.path), want.slice(3, 8));
    }
    assert.ok(all.some((d) => d.readiness === 'rejected' && d.stage !== 'pending'), 'the fixture has rejected documents outside pending');
  });

  it('keeps counts consistent with a brute-force recount under random operations', () => {
    const rnd = seededRandom(7);
    const model = new Map<string, DocumentState>();
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
    for (let step = 0; step < 3000; step++) {
      const p = `d/${Math.floor(rnd() * 300)}`;
      const r = rnd();
      if (r < 0.35) {
        const d = mkDoc(p, { stage: pick(STAGES), readiness: pick(READINESS), updatedAt: step });
        s.putDocument(d);
        model.set(p, d);
      } else if (r < 0.8) {
        if (!model.has(p)) continue;
        const patch: Partial<DocumentState> = rnd() < 0.7 ? { stage: pick(STAGES) } : { readiness: pick(READINESS) };
        model.set(p, s.patchDocument(p, patch));
      } else if (r < 0.95) {
        s.removeDocument(p);
        model.delete(p);
      } else {
        const n = s.resetInFlight();
        let m = 0;
        for (const [k, d] of model) {
          if (['reading', 'converting', 'extracting', 'validating', 'exporting'].includes(d.stage)) {
            model.set(k, s.getDocument(k)!);
            m++;
          }
        }
        assert.equal(n, m);
      }
      if (step % 100 === 0 || step === 2999) {
        const brute = countsOf(s.listDocuments());
        assert.deepEqual(s.counts(), brute, `step ${step}`);
        assert.deepEqual(s.counts(), countsOf(model.values()), `model at step ${step}`);
        for (const st of STAGES) assert.equal(s.countDocuments({ stages: [st] }), [...model.values()].filter((d) => d.stage === st).length);
      }
    }
    const c = s.counts();
    assert.ok(c.total > 0);
    assert.equal(c.total, model.size);
  });

  it('defines the count buckets as documented', () => {
    s.putDocument(mkDoc('p1'));
    s.putDocument(mkDoc('p2', { readiness: 'not-ready' }));
    s.putDocument(mkDoc('r1', { readiness: 'rejected' }));
    s.putDocument(mkDoc('a1', { stage: 'reading' }));
    s.putDocument(mkDoc('a2', { stage: 'exporting' }));
    s.putDocument(mkDoc('d1', { stage: 'done' }));
    s.putDocument(mkDoc('f1', { stage: 'failed' }));
    s.putDocument(mkDoc('x1', { stage: 'dead-lettered' }));
    assert.deepEqual(s.counts(), { total: 8, pending: 2, running: 2, done: 1, failed: 1, deadLettered: 1, rejected: 1 });
    // rejected wins over the stage: the buckets partition the documents
    s.putDocument(mkDoc('r2', { readiness: 'rejected', stage: 'done' }));
    s.patchDocument('a1', { readiness: 'rejected' });
    assert.deepEqual(s.counts(), { total: 9, pending: 2, running: 1, done: 1, failed: 1, deadLettered: 1, rejected: 3 });
    assert.equal(s.countDocuments({ stages: ['done'] }), 2, 'stage filters ignore readiness');
  });

  it('resets in-flight documents to pending', () => {
    s.putDocument(mkDoc('a', { stage: 'reading' }));
    s.putDocument(mkDoc('b', { stage: 'validating' }));
    s.putDocument(mkDoc('c', { stage: 'done' }));
    assert.equal(s.resetInFlight(), 2);
    assert.equal(s.getDocument('a')!.stage, 'pending');
    assert.equal(s.getDocument('b')!.stage, 'pending');
    assert.equal(s.getDocument('c')!.stage, 'done');
    assert.equal(s.counts().running, 0);
    assert.equal(s.counts().pending, 2);
    assert.equal(s.resetInFlight(), 0);
  });

  it('stores runs, newest first', () => {
    s.putRun(mkRun('r1', 100));
    s.putRun(mkRun('r2', 300, { model: 'm' }));
    s.putRun(mkRun('r3', 200));
    assert.equal(s.latestRun()!.id, 'r2');
    assert.deepEqual(
      s.listRuns().map((r) => r.id),
      ['r2', 'r3', 'r1'],
    );
    assert.deepEqual(
      s.listRuns(2).map((r) => r.id),
      ['r2', 'r3'],
    );
    const totals = { total: 3, pending: 0, running: 0, done: 3, failed: 0, deadLettered: 0, rejected: 0, tokensIn: 1, tokensOut: 2, cost: 0.25 };
    const done = mkRun('r2', 300, { model: 'm', status: 'completed', endedAt: 400, totals });
    s.putRun(done);
    assert.deepEqual(s.getRun('r2'), done);
    assert.equal(s.getRun('zz'), undefined);
  });

  it('records attempts (job rows) with per-stage timings and aggregates them', () => {
    s.recordAttempt(mkAttempt('r1', 'a', 1, { outcome: 'retry', errorCode: 'RATE_LIMITED', errorMessage: '429', stageMs: { reading: 2, extracting: 40 } }));
    s.recordAttempt(mkAttempt('r1', 'a', 2, { stageMs: { reading: 4, extracting: 60, exporting: 1 } }));
    s.recordAttempt(mkAttempt('r2', 'b', 1, { outcome: 'failed' }));
    const all = s.listAttempts();
    assert.equal(all.length, 3);
    assert.deepEqual(all[0], mkAttempt('r1', 'a', 1, { outcome: 'retry', errorCode: 'RATE_LIMITED', errorMessage: '429', stageMs: { reading: 2, extracting: 40 } }));
    assert.deepEqual(
      s.listAttempts({ path: 'a' }).map((a) => a.attempt),
      [1, 2],
    );
    assert.deepEqual(
      s.listAttempts({ runId: 'r2' }).map((a) => a.path),
      ['b'],
    );
    assert.deepEqual(
      s.listAttempts({ limit: 2 }).map((a) => `${a.path}${a.attempt}`),
      ['a2', 'b1'],
    );
    const st = s.attemptStats({ runId: 'r1' });
    assert.equal(st.attempts, 2);
    assert.deepEqual(st.byOutcome, { retry: 1, done: 1 });
    assert.equal(st.tokensIn, 10);
    assert.deepEqual(st.meanStageMs, { reading: 3, extracting: 50, exporting: 1 });
    assert.equal(s.attemptStats().attempts, 3);
  });

  it('keeps a dead-letter queue with reprocessing history', () => {
    s.putDeadLetter(mkDead('b', 20));
    s.putDeadLetter(mkDead('a', 30));
    s.putDeadLetter(mkDead('c', 10));
    assert.deepEqual(
      s.listDeadLetters().map((d) => d.path),
      ['c', 'b', 'a'],
    );
    s.markDeadLetterReprocessed('b', 99, 'fixed the schema');
    assert.deepEqual(
      s.listDeadLetters().map((d) => d.path),
      ['c', 'a'],
    );
    assert.equal(s.getDeadLetter('b'), undefined, 'left the queue');
    assert.deepEqual(s.listDeadLetterHistory('b'), [{ ...mkDead('b', 20), reprocessedAt: 99, note: 'fixed the schema' }]);
    // dead-lettered again: back in the queue, history kept
    s.putDeadLetter(mkDead('b', 120, { code: 'TIMEOUT' }));
    assert.deepEqual(
      s.listDeadLetters().map((d) => d.path),
      ['c', 'a', 'b'],
    );
    s.markDeadLetterReprocessed('b', 130);
    assert.equal(s.listDeadLetterHistory('b').length, 2);
    s.removeDeadLetter('c');
    assert.equal(s.getDeadLetter('c'), undefined);
    s.markDeadLetterReprocessed('c', 1); // nothing queued: no-op
    assert.equal(s.listDeadLetterHistory('c').length, 0);
    // a letter that already carries reprocessedAt goes to the history only
    s.putDeadLetter(mkDead('d', 5, { reprocessedAt: 6, note: 'imported' }));
    assert.equal(s.getDeadLetter('d'), undefined);
    assert.deepEqual(s.listDeadLetterHistory('d'), [mkDead('d', 5, { reprocessedAt: 6, note: 'imported' })]);
    assert.equal(s.listDeadLetterHistory().length, 3);
  });

  it('throws after close, and close is idempotent', () => {
    s.close();
    s.close();
    assert.throws(() => s.getDocument('a'), StoreClosedError);
    assert.throws(() => s.putDocument(mkDoc('a')), StoreClosedError);
    assert.throws(() => s.counts(), StoreClosedError);
  });
});

describe('store: persistence', () => {
  it('creates snapshot, journal and lock; restores everything after close and reopen', async () => {
    const dir = tmpDir();
    const s = await SqlJsCheckpointStore.open({ dir });
    assert.ok(fs.existsSync(path.join(dir, SNAPSHOT_FILE)));
    assert.ok(fs.existsSync(path.join(dir, LOCK_FILE)));
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
    populate(s, 60);
    s.markDeadLetterReprocessed('docs/f0007.pdf', 5000, 'retry');
    const before = dump(s);
    s.close();
    assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)), 'lock released');
    const r = await SqlJsCheckpointStore.open({ dir });
    assert.equal(r.openReport.source, 'snapshot');
    assert.equal(r.openReport.replayed, 0);
    assert.deepEqual(dump(r), before);
    r.close();
  });

  it('does not read a journal the snapshot covers (kept after close for the backup): opens and status stay fast', async () => {
    const dir = tmpDir();
    const s = await SqlJsCheckpointStore.open({ dir });
    populate(s, 60);
    const before = dump(s);
    s.close();
    const journals = listJournalFiles(dir);
    assert.equal(journals.length, 1, 'the journal is kept beside the backup snapshot');
    // damage a line in its middle: were the file parsed, the open would copy it aside and warn
    const lines = fs.readFileSync(journals[0].file, 'utf8').split('\n');
    assert.ok(lines.length > 20);
    lines[10] = lines[10].replace('"seq"', '"sqe"');
    fs.writeFileSync(journals[0].file, lines.join('\n'));
    for (const readOnly of [true, false]) {
      const logger = new CaptureLogger();
      const r = await SqlJsCheckpointStore.open({ dir, readOnly, logger });
      assert.deepEqual(r.openReport.movedAside, [], `readOnly=${readOnly}`);
      assert.equal(r.openReport.skippedLines, 0);
      assert.deepEqual(dump(r), before);
      r.close();
    }
  });

  it('replays the journal after a crash (no close; reopen a copy of the folder)', async () => {
    const dir = tmpDir();
    const s = await SqlJsCheckpointStore.open({ dir });
    populate(s, 80);
    s.putDocument(mkDoc('in/flight.pdf', { stage: 'converting' }));
    s.markDeadLetterReprocessed('docs/f0014.pdf', 7000, 'n');
    s.removeDeadLetter('docs/f0021.pdf');
    s.removeDocument('docs/f0002.pdf');
    const before = dump(s);
    const seq = s.stats.seq;
    const copy = copyDir(dir, 'crash'); // the lock inside names this (live) process: it is not held for the copy
    const logger = new CaptureLogger();
    const r = await SqlJsCheckpointStore.open({ dir: copy, logger });
    assert.equal(r.openReport.replayed, seq);
    assert.equal(r.openReport.staleLockTakenOver, true);
    assert.deepEqual(dump(r), before);
    // resetInFlight after a crash, journaled too
    assert.equal(r.resetInFlight(), before.counts.running);
    const afterReset = dump(r);
    const copy2 = copyDir(copy, 'crash2');
    const r2 = await SqlJsCheckpointStore.open({ dir: copy2, logger: new CaptureLogger() });
    assert.deepEqual(dump(r2), afterReset);
    assert.equal(r2.counts().running, 0);
    r2.close();
    r.close();
    s.close();
  });

  it('detects a torn last journal line, skips it with a warning, and keeps working', async () => {
    const dir = tmpDir();
    const s = await SqlJsCheckpointStore.open({ dir });
    populate(s, 20);
    const before = dump(s);
    s.patchDocument('docs/f0000.pdf', { stage: 'done', resultPath: 'x.json' });
    const copy = copyDir(dir, 'torn');
    s.close();
    const j = lastJournal(copy);
    const size = fs.statSync(j).size;
    fs.truncateSync(j, size - 25); // cut the last line in the middle
    const logger = new CaptureLogger();
    const r = await SqlJsCheckpointStore.open({ dir: copy, logger });
    assert.ok(logger.has(/torn\/incomplete line/), logger.warnings.join('\n'));
    assert.equal(r.openReport.skippedLines, 1);
    assert.deepEqual(dump(r), before, 'state without the torn change');
    // the store continues on a fresh journal; the next reopen is clean
    r.patchDocument('docs/f0000.pdf', { stage: 'done' });
    r.close();
    const logger2 = new CaptureLogger();
    const r2 = await SqlJsCheckpointStore.open({ dir: copy, logger: logger2 });
    assert.deepEqual(logger2.warnings, []);
    assert.equal(r2.getDocument('docs/f0000.pdf')!.stage, 'done');
    r2.close();
  });

  it('skips a corrupt middle line with a warning, keeps a copy, applies the rest', async () => {
    const dir = tmpDir();
    const s = await SqlJsCheckpointStore.open({ dir });
    for (let i = 0; i < 5; i++) s.putDocument(mkDoc(`m${i}`));
    const copy = copyDir(dir, 'corruptline');
    s.close();
    const j = lastJournal(copy);
    const buf = fs.readFileSync(j);
    const lines = buf.toString().split('\n');
    const off = lines[0].length + 1 + lines[1].indexOf('m1'); // inside line 2's data
    buf[off + 1] = '9'.charCodeAt(0); // "m1" -> "m9"
    fs.writeFileSync(j, buf);
    const logger = new CaptureLogger();
    const r = await SqlJsCheckpointStore.open({ dir: copy, logger });
    assert.ok(logger.has(/CORRUPT line/), logger.warnings.join('\n'));
    assert.ok(logger.has(/missing/), 'gap reported');
    assert.deepEqual(
      r.listDocuments().map((d) => d.path),
      ['m0', 'm2', 'm3', 'm4'],
    );
    assert.equal(r.getDocument('m9'), undefined, 'the corrupt change was never applied');
    assert.equal(r.openReport.movedAside.length, 1);
    assert.ok(fs.existsSync(r.openReport.movedAside[0]));
    r.close();
  });

  it('recovers from a corrupt snapshot through state.sqlite.bak plus journals', async () => {
    const dir = tmpDir();
    const s = await SqlJsCheckpointStore.open({ dir });
    populate(s, 30, 'one');
    s.compact();
    populate(s, 30, 'two');
    s.compact(); // state.sqlite.bak = the first compaction
    populate(s, 30, 'three');
    const before = dump(s);
    const copy = copyDir(dir, 'badsnap');
    s.close();
    assert.ok(fs.existsSync(path.join(copy, BACKUP_FILE)));
    const snap = path.join(copy, SNAPSHOT_FILE);
    const bytes = fs.readFileSync(snap);
    bytes.fill(0x55, 4096, Math.min(bytes.length, 4096 * 3)); // damage pages, keep the header
    fs.writeFileSync(snap, bytes);
    const logger = new CaptureLogger();
    const r = await SqlJsCheckpointStore.open({ dir: copy, logger });
    assert.equal(r.openReport.source, 'backup');
    assert.ok(logger.has(/unusable/), logger.warnings.join('\n'));
    assert.ok(logger.has(/recovered from state\.sqlite\.bak/));
    assert.deepEqual(dump(r), before, 'nothing lost: .bak + kept journals = full state');
    assert.ok(fs.readdirSync(copy).some((f) => f.startsWith(`${SNAPSHOT_FILE}.corrupt-`)), 'corrupt snapshot moved aside');
    r.close();
    const r2 = await SqlJsCheckpointStore.open({ dir: copy, logger: new CaptureLogger() });
    assert.equal(r2.openReport.source, 'snapshot');
    assert.deepEqual(dump(r2), before);
    r2.close();
  });

  it('stamps a checksum into snapshots; a snapshot edited by another SQLite tool still opens after an integrity check', async () => {
    const dir = tmpDir('crc');
    const s = await SqlJsCheckpointStore.open({ dir });
    populate(s, 10);
    s.close();
    const snap = path.join(dir, SNAPSHOT_FILE);
    const bytes = fs.readFileSync(snap);
    assert.notEqual(bytes.readUInt32BE(60), 0, 'checksum stamped in user_version');
    const SQL = await initSqlJs();
    const db = new SQL.Database(bytes);
    db.run(`UPDATE documents SET cost = 42 WHERE path = 'docs/f0001.pdf'`);
    const edited = db.export(); // keeps the old user_version: the checksum no longer matches
    db.close();
    fs.writeFileSync(snap, edited);
    const logger = new CaptureLogger();
    const r = await SqlJsCheckpointStore.open({ dir, logger });
    assert.equal(r.openReport.source, 'snapshot');
    assert.equal(r.getDocument('docs/f0001.pdf')!.cost, 42);
    assert.ok(logger.infos.some((m) => /checksum does not match/.test(m)));
    r.close();
  });

  it('uses the .bak when state.sqlite is missing, and a truncated snapshot is detected', async () => {
    const dir = tmpDir();
    const s = await SqlJsCheckpointStore.open({ dir });
    populate(s, 10);
    s.compact();
    s.putDocument(mkDoc('late'));
    const before = dump(s);
    const copy = copyDir(dir, 'nosnap');
    const copy2 = copyDir(dir, 'truncsnap');
    s.close();
    fs.rmSync(path.join(copy, SNAPSHOT_FILE));
    const logger = new CaptureLogger();
    const r = await SqlJsCheckpointStore.open({ dir: copy, logger });
    assert.equal(r.openReport.source, 'backup');
    assert.ok(logger.has(/missing/));
    assert.deepEqual(dump(r), before);
    r.close();
    const snap = path.join(copy2, SNAPSHOT_FILE);
    fs.truncateSync(snap, Math.floor(fs.statSync(snap).size / 2));
    const logger2 = new CaptureLogger();
    const r2 = await SqlJsCheckpointStore.open({ dir: copy2, logger: logger2 });
    assert.equal(r2.openReport.source, 'backup');
    assert.deepEqual(dump(r2), before);
    r2.close();
  });

  it('moves both unusable snapshots aside, warns, and rebuilds from the remaining journals', async () => {
    const dir = tmpDir();
    const s = await SqlJsCheckpointStore.open({ dir, compactEvery: 1_000_000 });
    for (let i = 0; i < 5; i++) s.putDocument(mkDoc(`early${i}`));
    s.compact();
    for (let i = 0; i < 5; i++) s.putDocument(mkDoc(`mid${i}`));
    s.compact();
    for (let i = 0; i < 5; i++) s.putDocument(mkDoc(`late${i}`));
    const copy = copyDir(dir, 'bothbad');
    s.close();
    fs.writeFileSync(path.join(copy, SNAPSHOT_FILE), 'garbage');
    fs.writeFileSync(path.join(copy, BACKUP_FILE), '');
    const logger = new CaptureLogger();
    const r = await SqlJsCheckpointStore.open({ dir: copy, logger });
    assert.equal(r.openReport.source, 'fresh');
    assert.ok(logger.has(/EMPTY state/), logger.warnings.join('\n'));
    assert.ok(logger.errors.length > 0, 'reported as an error too');
    const names = fs.readdirSync(copy);
    assert.ok(names.some((f) => f.startsWith(`${SNAPSHOT_FILE}.corrupt-`)));
    assert.ok(names.some((f) => f.startsWith(`${BACKUP_FILE}.corrupt-`)));
    // journals kept for the .bak (mid + late) are replayed; 'early' lived only in the lost snapshots
    assert.deepEqual(
      r.listDocuments().map((d) => d.path),
      [...[0, 1, 2, 3, 4].map((i) => `late${i}`), ...[0, 1, 2, 3, 4].map((i) => `mid${i}`)],
    );
    assert.ok(logger.has(/changes 1\.\.5 are missing/), 'the gap is reported');
    r.close();
  });

  it('compacts every compactEvery changes and on close, keeps state, deletes old journals', async () => {
    const dir = tmpDir();
    const s = await SqlJsCheckpointStore.open({ dir, compactEvery: 50, compactRatio: 0 });
    const c0 = s.stats.compactions;
    for (let i = 0; i < 500; i++) {
      s.putDocument(mkDoc(`c/${i}`, { stage: i % 2 ? 'done' : 'pending' }));
      if (i % 50 === 49) await s.whenCompacted(); // a writer that yields: each snapshot is written in the background
    }
    assert.equal(s.stats.compactions - c0, 10);
    const journals = listJournalFiles(dir);
    assert.ok(journals.length <= 3, `old journals deleted (${journals.length} left)`);
    const before = dump(s);
    // the current snapshot + the journals reproduce the state at any point
    const copy = copyDir(dir, 'compacted');
    const r = await SqlJsCheckpointStore.open({ dir: copy, logger: new CaptureLogger() });
    assert.deepEqual(dump(r), before);
    r.close();
    s.compact();
    assert.equal(s.stats.changesSinceCompaction, 0);
    s.close();
    const r2 = await SqlJsCheckpointStore.open({ dir, logger: new CaptureLogger() });
    assert.equal(r2.openReport.replayed, 0);
    assert.deepEqual(dump(r2), before);
    r2.close();
  });

  const steps: CompactionStep[] = ['journal-closed', 'exported', 'temp-written', 'backup-linked', 'renamed', 'journal-created', 'journals-deleted'];
  for (const step of steps) {
    it(`loses nothing when a crash interrupts compaction at "${step}"`, async () => {
      const dir = tmpDir('cc');
      let crashAt: CompactionStep | undefined;
      const s = await SqlJsCheckpointStore.open({
        dir,
        onCompactionStep: (st) => {
          if (st === crashAt) {
            crashAt = undefined;
            throw new SimulatedCrash(st);
          }
        },
      });
      populate(s, 20, 'a');
      s.compact();
      populate(s, 20, 'b');
      const before = dump(s);
      crashAt = step;
      assert.throws(() => s.compact(), SimulatedCrash);
      const copy = copyDir(dir, `cc-${step}`);
      s.close();
      const logger = new CaptureLogger();
      const r = await SqlJsCheckpointStore.open({ dir: copy, logger });
      assert.deepEqual(dump(r), before);
      assert.deepEqual(
        logger.warnings.filter((w) => !/stale lock/.test(w)),
        [],
      );
      assert.ok(!fs.existsSync(path.join(copy, `${SNAPSHOT_FILE}.tmp`)), 'stale temp snapshot removed');
      r.putDocument(mkDoc('after'));
      r.close();
      const r2 = await SqlJsCheckpointStore.open({ dir: copy, logger: new CaptureLogger() });
      assert.deepEqual(r2.getDocument('after'), mkDoc('after'));
      assert.equal(r2.counts().total, before.counts.total + 1);
      r2.close();
    });
  }

  it('grows the compaction interval with the number of documents (compactRatio)', async () => {
    const dir = tmpDir('ratio');
    const s = await SqlJsCheckpointStore.open({ dir, compactEvery: 10, compactRatio: 1 });
    const c0 = s.stats.compactions;
    assert.equal(s.compactionThreshold, 10);
    for (let i = 0; i < 100; i++) s.putDocument(mkDoc(`r/${i}`));
    assert.equal(s.compactionThreshold, 100);
    await s.whenCompacted();
    // from an empty store: once at 10 changes / 10 documents; after that each insert adds a change and a
    // document, so the journal never outgrows the state while only inserting
    const c1 = s.stats.compactions - c0;
    assert.equal(c1, 1);
    for (let i = 0; i < 1000; i++) {
      s.patchDocument(`r/${i % 100}`, { attempts: i });
      if (i % 100 === 99) await s.whenCompacted();
    }
    assert.equal(s.stats.compactions - c0 - c1, 10, 'every 100 changes at 100 documents');
    s.close();
  });

  it('writes the snapshot of a compaction it starts in the background; a crash before it is published loses nothing', async () => {
    const dir = tmpDir('bg');
    const s = await SqlJsCheckpointStore.open({ dir, compactEvery: 20, compactRatio: 0 });
    const c0 = s.stats.compactions;
    for (let i = 0; i < 20; i++) s.putDocument(mkDoc(`bg/${i}`));
    // exported and a new journal started; the file is being written on the thread pool
    assert.equal(s.stats.compactions, c0, 'not published yet');
    assert.equal(s.stats.changesSinceCompaction, 0);
    s.patchDocument('bg/3', { stage: 'done' });
    const before = dump(s);
    const crashed = copyDir(dir, 'bg-crashed'); // a crash now: the previous snapshot and every journal since it
    const r = await SqlJsCheckpointStore.open({ dir: crashed, logger: new CaptureLogger() });
    assert.equal(r.openReport.snapshotSeq, 0);
    assert.equal(r.openReport.replayed, 21);
    assert.deepEqual(dump(r), before);
    r.close();
    assert.deepEqual(fs.readdirSync(crashed).filter((f) => f.endsWith('.tmp')), [], 'the interrupted temp file is deleted at open');

    await s.whenCompacted();
    assert.equal(s.stats.compactions, c0 + 1, 'published once durable');
    const later = copyDir(dir, 'bg-published');
    const r2 = await SqlJsCheckpointStore.open({ dir: later, logger: new CaptureLogger() });
    assert.equal(r2.openReport.snapshotSeq, 20, 'the background snapshot is the one on disk');
    assert.equal(r2.openReport.replayed, 1, 'only the change made while it was written is replayed');
    assert.deepEqual(dump(r2), before);
    r2.close();
    s.close();
  });

  it('a burst that does not yield compacts now when the next compaction is due before the background write is done', async () => {
    const dir = tmpDir('burst');
    const s = await SqlJsCheckpointStore.open({ dir, compactEvery: 10, compactRatio: 0 });
    for (let i = 0; i < 95; i++) s.putDocument(mkDoc(`b/${i}`)); // one synchronous burst: no write can finish
    const before = dump(s);
    const crashed = copyDir(dir, 'burst-crashed');
    const r = await SqlJsCheckpointStore.open({ dir: crashed, logger: new CaptureLogger() });
    assert.ok(r.openReport.replayed <= 20, `the journal since the snapshot on disk stays within two intervals (${r.openReport.replayed} lines)`);
    assert.deepEqual(dump(r), before);
    r.close();
    await s.whenCompacted();
    s.close();
  });

  it('close while a background snapshot is being written: the close writes its own; the late one is discarded', async () => {
    const dir = tmpDir('bgclose');
    const s = await SqlJsCheckpointStore.open({ dir, compactEvery: 20, compactRatio: 0 });
    for (let i = 0; i < 25; i++) s.putDocument(mkDoc(`bc/${i}`));
    const before = dump(s);
    s.close();
    await s.whenCompacted();
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp snapshot is left behind');
    const r = await SqlJsCheckpointStore.open({ dir, logger: new CaptureLogger() });
    assert.equal(r.openReport.snapshotSeq, 25, "the close's snapshot");
    assert.equal(r.openReport.replayed, 0);
    assert.deepEqual(dump(r), before);
    r.close();
  });

  it('replays random histories (puts, patches, deletes, resets, dead letters) to the same state', async () => {
    const rnd = seededRandom(99);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
    for (let round = 0; round < 4; round++) {
      const dir = tmpDir('rnd');
      const s = await SqlJsCheckpointStore.open({ dir, compactEvery: 150 + round * 100, compactRatio: 0 });
      for (let step = 0; step < 1200; step++) {
        const p = `q/${Math.floor(rnd() * 60)}`;
        const r = rnd();
        if (r < 0.3) s.putDocument(mkDoc(p, { stage: pick(STAGES), readiness: pick(READINESS), updatedAt: step }));
        else if (r < 0.8) {
          if (s.getDocument(p)) s.patchDocument(p, { stage: pick(STAGES), attempts: step, updatedAt: step });
        } else if (r < 0.88) s.removeDocument(p);
        else if (r < 0.92) s.resetInFlight();
        else if (r < 0.96) s.putDeadLetter(mkDead(p, step));
        else s.markDeadLetterReprocessed(p, step, `n${step}`);
      }
      const before = dump(s);
      const copy = copyDir(dir, 'rnd-copy');
      s.close();
      const r = await SqlJsCheckpointStore.open({ dir: copy, logger: new CaptureLogger() });
      assert.ok(r.openReport.replayed > 0);
      assert.deepEqual(dump(r), before, `round ${round}`);
      assert.deepEqual(r.counts(), countsOf(r.listDocuments()));
      r.close();
    }
  });

  it('keeps fractional numbers exactly in integer-affinity columns', async () => {
    const dir = tmpDir('frac');
    const s = await SqlJsCheckpointStore.open({ dir });
    const d = mkDoc('f', { size: 1.5, mtimeMs: 1700000000000.25, tokensIn: 3, cost: 0.0001, durationMs: 12.75, updatedAt: 2 ** 52 + 1 });
    s.putDocument(d);
    s.recordAttempt(mkAttempt('r', 'f', 1, { durationMs: 0.5, stageMs: { reading: 0.25 } }));
    s.close();
    const r = await SqlJsCheckpointStore.open({ dir });
    assert.deepEqual(r.getDocument('f'), d);
    assert.deepEqual(r.listAttempts()[0], mkAttempt('r', 'f', 1, { durationMs: 0.5, stageMs: { reading: 0.25 } }));
    r.close();
  });

  it('a failing compaction does not fail the change that triggered it; journaling continues', async () => {
    const dir = tmpDir('compactfail');
    const logger = new CaptureLogger();
    const s = await SqlJsCheckpointStore.open({ dir, compactEvery: 10, compactRatio: 0, logger });
    const c0 = s.stats.compactions;
    // the old snapshot cannot be kept as the backup now: no new snapshot can be published, in the
    // background (as compactions the store starts are written) or not
    fs.mkdirSync(path.join(dir, BACKUP_FILE));
    fs.writeFileSync(path.join(dir, BACKUP_FILE, 'in-the-way'), '');
    for (let i = 0; i < 35; i++) {
      s.putDocument(mkDoc(`cf/${i}`), { durable: i % 5 === 0 });
      if (i === 12) await s.whenCompacted();
    }
    await s.whenCompacted();
    assert.equal(s.stats.compactions, c0, 'no compaction succeeded');
    assert.ok(logger.errors.some((m) => /background compaction failed/.test(m)), logger.errors.join('\n'));
    assert.ok(logger.errors.some((m) => /compaction failed/.test(m)), logger.errors.join('\n'));
    assert.throws(() => s.compact(), /compaction failed/);
    s.putDocument(mkDoc('cf/after-failure'));
    const before = dump(s);
    const copy = copyDir(dir, 'compactfail-crash');
    fs.rmSync(path.join(copy, BACKUP_FILE), { recursive: true });
    const r = await SqlJsCheckpointStore.open({ dir: copy, logger: new CaptureLogger() });
    assert.deepEqual(dump(r), before, 'the journals hold every change');
    r.close();
    fs.rmSync(path.join(dir, BACKUP_FILE), { recursive: true });
    s.close();
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp snapshot is left behind');
    const r2 = await SqlJsCheckpointStore.open({ dir, logger: new CaptureLogger() });
    assert.deepEqual(dump(r2), before);
    assert.equal(r2.openReport.replayed, 0);
    r2.close();
  });

  it('calls fdatasync for durable writes and sync(), not for the others', async () => {
    const dir = tmpDir();
    const s = await SqlJsCheckpointStore.open({ dir });
    s.putDocument(mkDoc('a'));
    s.patchDocument('a', { stage: 'extracting' });
    s.recordAttempt(mkAttempt('r', 'a', 1));
    const base = s.stats.fdatasyncs;
    assert.equal(s.stats.journalWrites, 3);
    s.patchDocument('a', { stage: 'done' }, { durable: true });
    assert.equal(s.stats.fdatasyncs, base + 1);
    s.putDeadLetter(mkDead('b', 1), { durable: true });
    s.putRun(mkRun('r', 1), { durable: true });
    s.putDocument(mkDoc('c'), { durable: true });
    assert.equal(s.stats.fdatasyncs, base + 4);
    s.putDocument(mkDoc('d'));
    s.sync();
    assert.equal(s.stats.fdatasyncs, base + 5);
    s.sync(); // nothing pending
    assert.equal(s.stats.fdatasyncs, base + 5);
    s.close();
  });

  it('JournalWriter counts its fdatasync calls', () => {
    const dir = tmpDir('jw');
    fs.mkdirSync(dir, { recursive: true });
    const w = JournalWriter.create(path.join(dir, 'journal-1.ndjson'));
    w.append(1, 'x', {});
    assert.equal(w.sync(), true);
    assert.equal(w.sync(), false);
    assert.equal(w.syncs, 1);
    w.close();
    assert.equal(parseJournal(fs.readFileSync(path.join(dir, 'journal-1.ndjson'))).records.length, 1);
  });
});

describe('store: migrations', () => {
  async function writeV1Snapshot(dir: string): Promise<void> {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    const res = applyMigrations(db, { target: 1 });
    assert.deepEqual(res.applied, [1]);
    db.run(
      `INSERT INTO documents (path, size, mtime_ms, readiness, stage, attempts, tokens_in, tokens_out, cost, updated_at)
       VALUES ('v1/a.pdf', 10, 20, 'ready', 'done', 1, 3, 4, 0.5, 99), ('v1/b.pdf', 11, 21, 'ready', 'reading', 1, 0, 0, 0, 98)`,
    );
    db.run(`INSERT INTO dead_letters (path, run_id, stage, code, message, attempts, at) VALUES ('v1/c.pdf', 'r0', 'extracting', 'TIMEOUT', 't', 3, 5)`);
    db.run(`INSERT INTO documents (path, size, mtime_ms, readiness, stage, attempts, tokens_in, tokens_out, cost, updated_at)
       VALUES ('v1/c.pdf', 1, 2, 'ready', 'dead-lettered', 3, 0, 0, 0, 97)`);
    db.run(`INSERT INTO attempts (run_id, path, attempt, stage_reached, started_at, ended_at, duration_ms, outcome, tokens_in, tokens_out, cost)
       VALUES ('r0', 'v1/a.pdf', 1, 'done', 1, 2, 1, 'done', 3, 4, 0.5)`);
    db.run(`INSERT INTO runs (id, started_at, trigger, root, status, fingerprint) VALUES ('r0', 1, 'cli', '/w', 'completed', 'f')`);
    db.run(`UPDATE meta SET value = '7' WHERE key = 'journal_seq'`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), db.export());
    db.close();
  }

  it('numbers migrations consecutively from 1', () => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.version),
      MIGRATIONS.map((_, i) => i + 1),
    );
    assert.ok(LATEST_SCHEMA_VERSION >= 2);
  });

  it('opens a v1 snapshot and migrates it to the latest version', async () => {
    const dir = tmpDir('v1');
    await writeV1Snapshot(dir);
    const logger = new CaptureLogger();
    const s = await SqlJsCheckpointStore.open({ dir, logger });
    assert.deepEqual(s.openReport.migrated, { from: 1, to: LATEST_SCHEMA_VERSION });
    assert.equal(s.schemaVersion, LATEST_SCHEMA_VERSION);
    assert.equal(s.openReport.snapshotSeq, 7);
    assert.deepEqual(s.getDocument('v1/a.pdf'), mkDoc('v1/a.pdf', { size: 10, mtimeMs: 20, stage: 'done', attempts: 1, tokensIn: 3, tokensOut: 4, cost: 0.5, updatedAt: 99 }));
    assert.deepEqual(s.counts(), { total: 3, pending: 0, running: 1, done: 1, failed: 0, deadLettered: 1, rejected: 0 });
    assert.equal(s.listAttempts()[0].stageMs, undefined);
    assert.equal(s.getRun('r0')!.status, 'completed');
    // v2 features work on migrated data
    s.markDeadLetterReprocessed('v1/c.pdf', 50, 'after migration');
    assert.equal(s.listDeadLetterHistory('v1/c.pdf').length, 1);
    s.recordAttempt(mkAttempt('r1', 'v1/b.pdf', 2, { stageMs: { extracting: 5 } }));
    assert.deepEqual(s.listAttempts({ path: 'v1/b.pdf' })[0].stageMs, { extracting: 5 });
    s.close();
    const r = await SqlJsCheckpointStore.open({ dir, logger: new CaptureLogger() });
    assert.equal(r.openReport.migrated, undefined);
    assert.equal(r.schemaVersion, LATEST_SCHEMA_VERSION);
    assert.equal(r.getDeadLetter('v1/c.pdf'), undefined);
    assert.equal(r.listDeadLetterHistory('v1/c.pdf')[0].note, 'after migration');
    r.close();
  });

  it('refuses a snapshot from a newer schema without touching it', async () => {
    const dir = tmpDir('future');
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    applyMigrations(db);
    db.run(`INSERT INTO schema_version (version, applied_at, description) VALUES (?, 0, 'future')`, [LATEST_SCHEMA_VERSION + 1]);
    fs.mkdirSync(dir, { recursive: true });
    const bytes = db.export();
    fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), bytes);
    db.close();
    await assert.rejects(SqlJsCheckpointStore.open({ dir, logger: new CaptureLogger() }), StoreSchemaError);
    assert.deepEqual(fs.readFileSync(path.join(dir, SNAPSHOT_FILE)), Buffer.from(bytes));
    assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)), 'lock released after the failed open');
  });
});

describe('store: lock file', () => {
  it('refuses a second open of the same folder in this process', async () => {
    const dir = tmpDir('lock');
    const s = await SqlJsCheckpointStore.open({ dir });
    await assert.rejects(SqlJsCheckpointStore.open({ dir }), StoreLockedError);
    s.close();
    const again = await SqlJsCheckpointStore.open({ dir });
    again.close();
  });

  it('refuses a folder locked by a live process and takes over a dead one', async function () {
    this.timeout(20000);
    const dir = tmpDir('lock2');
    fs.mkdirSync(dir, { recursive: true });
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      assert.equal(lockHolder(dir), undefined, 'no lock file: free');
      fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: child.pid, hostname: os.hostname(), since: Date.now() }));
      assert.deepEqual(lockHolder(dir), { pid: child.pid, hostname: os.hostname() });
      await assert.rejects(SqlJsCheckpointStore.open({ dir }), (e: unknown) => {
        assert.ok(e instanceof StoreLockedError);
        assert.equal(e.ownerPid, child.pid);
        assert.match(e.message, new RegExp(`in use by process ${child.pid}`));
        return true;
      });
    } finally {
      child.kill('SIGKILL');
    }
    await exited;
    assert.equal(lockHolder(dir), undefined, 'the owner is gone: free (opening takes the stale lock over)');
    const logger = new CaptureLogger();
    const s = await SqlJsCheckpointStore.open({ dir, logger });
    assert.deepEqual(lockHolder(dir), { pid: process.pid, hostname: os.hostname() }, 'held by this process now');
    assert.equal(s.openReport.staleLockTakenOver, true);
    assert.ok(logger.has(/stale lock/));
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
    s.close();
  });
});

describe('store: read-only open (another process has the store)', () => {
  const listing = (dir: string) => fs.readdirSync(dir).sort().map((f) => `${f}:${fs.statSync(path.join(dir, f)).size}`);

  it('sees the writer\'s state without the lock, writes nothing, and refuses changes', async () => {
    const dir = tmpDir();
    const w = await SqlJsCheckpointStore.open({ dir });
    populate(w, 40);
    w.patchDocument('docs/f0003.pdf', { stage: 'done', resultPath: 'x.json' });
    const files = listing(dir);
    const logger = new CaptureLogger();
    const r = await SqlJsCheckpointStore.open({ dir, readOnly: true, logger });
    assert.deepEqual(dump(r), dump(w), 'snapshot + journal replayed in memory');
    assert.deepEqual(logger.warnings, []);
    assert.throws(() => r.patchDocument('docs/f0003.pdf', { stage: 'pending' }), StoreReadOnlyError);
    assert.throws(() => r.resetInFlight(), StoreReadOnlyError);
    assert.throws(() => r.putRun(mkRun('r9', 9)), StoreReadOnlyError);
    r.close();
    assert.deepEqual(listing(dir), files, 'no file created, changed or removed (the lock is still the writer\'s)');
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
    w.patchDocument('docs/f0004.pdf', { stage: 'done' }); // the writer is unaffected
    w.close();
  });

  it('a new open sees later changes and compactions; the signature tells when to open again', async () => {
    const dir = tmpDir();
    const w = await SqlJsCheckpointStore.open({ dir, compactEvery: 25, compactRatio: 0 });
    populate(w, 10);
    const sig1 = stateSignature(dir);
    assert.equal(stateSignature(dir), sig1, 'stable while nothing changes');
    for (let i = 0; i < 60; i++) w.patchDocument(`docs/f${String(i % 10).padStart(4, '0')}.pdf`, { attempts: i });
    assert.ok(w.stats.compactions > 0, 'the writer compacted meanwhile');
    assert.notEqual(stateSignature(dir), sig1);
    const r = await SqlJsCheckpointStore.open({ dir, readOnly: true });
    assert.deepEqual(dump(r), dump(w));
    r.close();
    w.close();
  });

  it('skips the line the writer is appending right now, silently', async () => {
    const dir = tmpDir();
    const w = await SqlJsCheckpointStore.open({ dir });
    populate(w, 10);
    const before = dump(w);
    w.patchDocument('docs/f0001.pdf', { stage: 'done' });
    const copy = copyDir(dir, 'live'); // stands for the folder at the moment the writer is mid-line
    w.close();
    fs.rmSync(path.join(copy, LOCK_FILE));
    const j = lastJournal(copy);
    fs.truncateSync(j, fs.statSync(j).size - 10);
    const files = listing(copy);
    const logger = new CaptureLogger();
    const r = await SqlJsCheckpointStore.open({ dir: copy, readOnly: true, logger });
    assert.deepEqual(dump(r), before);
    assert.deepEqual(logger.warnings, [], 'an unfinished last line is not a problem for a reader');
    r.close();
    assert.deepEqual(listing(copy), files, 'the torn line is left for the writer to deal with');
  });

  it('reports a missing folder clearly', async () => {
    await assert.rejects(SqlJsCheckpointStore.open({ dir: path.join(tmpRoot, 'nope', 'state'), readOnly: true }), /No checkpoint store in .*nope/);
  });
});

describe('store: waiting for a lock another process releases', () => {
  /** A live child process named as the lock's owner, as a closing window's extension host would be. */
  function holder(dir: string): { pid: number; kill: () => Promise<void> } {
    fs.mkdirSync(dir, { recursive: true });
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: child.pid, hostname: os.hostname(), since: Date.now() }));
    return {
      pid: child.pid!,
      kill: async () => {
        child.kill('SIGKILL');
        await exited;
      },
    };
  }

  it('opens the store once the owner is gone, after saying once that it waits', async function () {
    this.timeout(30000);
    const dir = tmpDir('lock-wait');
    const h = holder(dir);
    const waits: number[] = [];
    let killing: Promise<void> | undefined;
    const logger = new CaptureLogger();
    const s = await openWhenReleased(() => SqlJsCheckpointStore.open({ dir, logger }), {
      waitMs: 25_000,
      pollMs: 50,
      onWait: (pid) => {
        waits.push(pid);
        killing = h.kill(); // the old window's extension host finishes its shutdown
      },
    });
    await killing;
    assert.deepEqual(waits, [h.pid]);
    assert.ok(logger.has(/stale lock/), 'the dead owner\'s lock was taken over');
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
    s.close();
  });

  it('gives up with the lock error when the owner keeps the store (another window), or when cancelled', async function () {
    this.timeout(20000);
    const dir = tmpDir('lock-keep');
    const h = holder(dir);
    try {
      const isHeld = (e: unknown) => e instanceof StoreLockedError && e.ownerPid === h.pid;
      await assert.rejects(openWhenReleased(() => SqlJsCheckpointStore.open({ dir }), { waitMs: 300, pollMs: 50 }), isHeld);
      let tries = 0;
      await assert.rejects(
        openWhenReleased(() => (tries++, SqlJsCheckpointStore.open({ dir })), { waitMs: 10_000, pollMs: 50, cancelled: () => tries >= 2 }),
        isHeld,
      );
      assert.equal(tries, 2, 'stopped trying once cancelled');
    } finally {
      await h.kill();
    }
  });

  it('does not wait for a lock of this very process, nor on other errors', async () => {
    const dir = tmpDir('lock-self');
    const s = await SqlJsCheckpointStore.open({ dir });
    let waited = false;
    await assert.rejects(openWhenReleased(() => SqlJsCheckpointStore.open({ dir }), { waitMs: 10_000, onWait: () => (waited = true) }), StoreLockedError);
    s.close();
    await assert.rejects(openWhenReleased(() => Promise.reject(new Error('disk full')), { waitMs: 10_000, onWait: () => (waited = true) }), /disk full/);
    assert.equal(waited, false);
  });
});

describe('store: sql.js loading', () => {
  it('reports a missing wasm clearly', async () => {
    await assert.rejects(compileSqlWasm(['/nonexistent/sql-wasm.wasm', path.join(tmpRoot, 'nope.wasm')]), (e: unknown) => {
      assert.ok(e instanceof StoreWasmError);
      assert.equal(e.tried.length, 2);
      assert.match(e.message, /sql-wasm\.wasm was not found/);
      assert.match(e.message, /ENOENT/);
      return true;
    });
  });

  it('reports a corrupt wasm clearly and falls through to the next candidate', async () => {
    const bad = path.join(tmpRoot, 'bad.wasm');
    fs.writeFileSync(bad, 'not wasm at all');
    await assert.rejects(compileSqlWasm([bad]), /not a valid WebAssembly module/);
    const ok = await compileSqlWasm([bad, require.resolve('sql.js/dist/sql-wasm.wasm')]);
    assert.equal(ok.skipped.length, 1);
    assert.equal(ok.file, require.resolve('sql.js/dist/sql-wasm.wasm'));
  });
});
