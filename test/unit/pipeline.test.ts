import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTextConverter } from '../../src/convert/text';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import type { PipelineEvent } from '../../src/core/events';
import { Pipeline, type PipelineOptions } from '../../src/core/pipeline';
import { readResult } from '../../src/export/jsonExporter';
import { FakeExtractor } from '../fakes/fakeExtractor';
import { until } from '../support/assertions';
import { MemoryCheckpointStore } from '../fakes/memoryStore';
import { SqlJsCheckpointStore } from '../../src/store/sqlStore';

const text = createTextConverter();
const converters = { get: (ext: string) => (ext === '.txt' || ext === '.md' ? text : undefined) };
const schema = { type: 'object', properties: { path: { type: 'string' } } };

function tmpFolder(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-pipe-'));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, 'docs', rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return dir;
}

function docs(n: number, prefix = 'doc'): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < n; i++) out[`${prefix}${String(i).padStart(3, '0')}.txt`] = `Document ${i}\nTotal: ${i * 10}`;
  return out;
}

interface Fixture {
  dir: string;
  root: string;
  out: string;
  store: MemoryCheckpointStore;
  extractor: FakeExtractor;
  events: PipelineEvent[];
  make(overrides?: Partial<PipelineOptions>): Pipeline;
}

/**
 * Runs the fixture's documents at concurrency 1 and retries `target` as soon as the first document reaches the
 * model. Returns whether `target` had been queued by then, and the order in which documents reached the model.
 */
async function retryAtFirstRequest(f: Fixture, target: string): Promise<{ queuedBefore: boolean; order: string[] }> {
  const p = f.make({ concurrency: 1 });
  let asked = false;
  let queuedBefore = false;
  p.events.on((e) => {
    if (!asked && e.type === 'doc/stage' && e.stage === 'extracting') {
      asked = true;
      queuedBefore = f.events.some((q) => q.type === 'doc/queued' && q.path === target);
      p.retry([target]);
    }
  });
  await p.start({ trigger: 'test' }).done;
  const order = f.events.flatMap((e) => (e.type === 'doc/stage' && e.stage === 'extracting' ? [e.path] : []));
  return { queuedBefore, order };
}

function fixture(files: Record<string, string>): Fixture {
  const dir = tmpFolder(files);
  const f: Fixture = {
    dir,
    root: path.join(dir, 'docs'),
    out: path.join(dir, 'out'),
    store: new MemoryCheckpointStore(),
    extractor: new FakeExtractor(),
    events: [],
    make(overrides = {}) {
      const p = new Pipeline({
        root: f.root,
        outDir: f.out,
        store: f.store,
        converters,
        extractor: f.extractor,
        schema,
        concurrency: 2,
        retry: { baseDelayMs: 1, maxDelayMs: 5, jitter: 0, maxAttempts: 3 },
        progressIntervalMs: 0,
        ...overrides,
      });
      p.events.on((e) => f.events.push(e));
      return p;
    },
  };
  return f;
}

const err = (code: string, extra: Partial<{ retryAfterMs: number }> = {}) => new ExtractionError(code, `simulated ${code}`, extra);

describe('Pipeline', () => {
  it('runs every document to done and writes one valid result file each', async () => {
    const f = fixture(docs(5));
    const summary = await f.make().start({ trigger: 'test' }).done;
    assert.equal(summary.status, 'completed');
    assert.equal(summary.counts.done, 5);
    assert.equal(summary.done, 5);
    assert.equal(f.extractor.totalCalls, 5);
    for (let i = 0; i < 5; i++) {
      const rel = `doc00${i}.txt`;
      const file = path.join(f.out, `${rel}.json`);
      const json = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(json.source, rel);
      assert.deepEqual(json.data, { path: rel, firstLine: `Document ${i}` });
      assert.equal(json.metadata.model, 'fake-model');
      assert.equal(f.store.getDocument(rel)?.stage, 'done');
    }
    const types = f.events.filter((e) => e.type.startsWith('doc/') && 'path' in e && e.path === 'doc000.txt').map((e) => (e.type === 'doc/stage' ? `stage:${e.stage}` : e.type));
    assert.deepEqual(types, ['doc/queued', 'doc/started', 'stage:reading', 'stage:converting', 'stage:extracting', 'stage:validating', 'stage:exporting', 'doc/completed']);
    assert.ok(f.events.some((e) => e.type === 'run/finished'));
    // done is checkpointed durably, once per document
    assert.ok(f.store.durableWrites >= 5);
  });

  it('data the extractor validated against the run’s very schema is not validated again; any other is', async () => {
    const f = fixture(docs(3));
    const checked: string[] = [];
    const extract = f.extractor.extract.bind(f.extractor);
    // doc000: vouched for against the run's schema; doc001: against another schema object; doc002: not at all
    f.extractor.extract = async (input) => {
      const out = await extract(input);
      if (input.path === 'doc000.txt') return { ...out, validatedAgainst: input.schema };
      if (input.path === 'doc001.txt') return { ...out, validatedAgainst: { ...input.schema } };
      return out;
    };
    const validate = (data: unknown) => {
      checked.push((data as { path: string }).path);
      return { ok: true as const };
    };
    const summary = await f.make({ validate }).start({ trigger: 'test' }).done;
    assert.equal(summary.done, 3);
    assert.deepEqual(checked.sort(), ['doc001.txt', 'doc002.txt']);
  });

  it('a store closed under a run: the run still ends, says why, and gives the output folder back', async () => {
    const f = fixture(docs(3));
    const store = await SqlJsCheckpointStore.open();
    let taken = 0;
    let released = 0;
    const lockOutput = () => {
      taken++;
      return () => released++;
    };
    const p = f.make({ store, lockOutput });
    const handle = p.start({ trigger: 'test' });
    store.close(); // what a window that gave its lock back at the wrong moment did (folderRuns.ts #starting)
    const summary = await handle.done;
    assert.equal(released, 1, 'the output folder is given back');
    assert.equal(p.running, false);
    assert.match(summary.reason ?? '', /Listing failed: checkpoint store is closed/);
    assert.match(summary.fatalError?.message ?? '', /checkpoint store is closed/);
    assert.ok(f.events.some((e) => e.type === 'run/finished'), 'run/finished is emitted');
    // the folder is free for the next run (on an open store)
    const next = f.make({ lockOutput });
    assert.equal((await next.start({ trigger: 'test' }).done).counts.done, 3);
    assert.deepEqual([taken, released], [2, 2]);
  });

  it('respects the concurrency limit', async () => {
    const f = fixture(docs(12));
    f.extractor.defaultDelayMs = 15;
    await f.make({ concurrency: 3 }).start({ trigger: 'test' }).done;
    assert.equal(f.extractor.maxInFlight, 3);
    assert.equal(f.store.counts().done, 12);
  });

  it('is incremental: unchanged documents are skipped, changed ones and a new fingerprint are processed', async () => {
    const f = fixture(docs(4));
    await f.make().start({ trigger: 'test' }).done;
    assert.equal(f.extractor.totalCalls, 4);
    const again = await f.make().start({ trigger: 'test' }).done;
    assert.equal(f.extractor.totalCalls, 4, 'nothing requested again');
    assert.equal(again.skipped, 4);
    const changed = path.join(f.root, 'doc002.txt');
    fs.writeFileSync(changed, 'Document 2 changed\nTotal: 99');
    fs.utimesSync(changed, new Date(), new Date(Date.now() + 5000));
    await f.make().start({ trigger: 'test' }).done;
    assert.equal(f.extractor.callsFor('doc002.txt'), 2);
    assert.equal(f.extractor.totalCalls, 5);
    await f.make({ instructions: 'new instructions' }).start({ trigger: 'test' }).done;
    assert.equal(f.extractor.totalCalls, 9, 'a new fingerprint redoes every document');
  });

  it('touching a file without changing its content does not call the model', async () => {
    const f = fixture(docs(2));
    await f.make().start({ trigger: 'test' }).done;
    const p = path.join(f.root, 'doc000.txt');
    fs.utimesSync(p, new Date(), new Date(Date.now() + 10_000));
    await f.make().start({ trigger: 'test' }).done;
    assert.equal(f.extractor.callsFor('doc000.txt'), 1);
    assert.equal(f.store.getDocument('doc000.txt')?.stage, 'done');
  });

  it('retries retryable errors with backoff and finishes the document', async () => {
    const f = fixture(docs(1));
    f.extractor.script('doc000.txt', { error: err(ErrorCodes.SERVER_ERROR) }, { error: err(ErrorCodes.RATE_LIMITED) }, { data: { ok: true } });
    const summary = await f.make().start({ trigger: 'test' }).done;
    assert.equal(summary.counts.done, 1);
    assert.equal(f.extractor.callsFor('doc000.txt'), 3);
    const retries = f.events.filter((e) => e.type === 'doc/retry');
    assert.deepEqual(
      retries.map((e) => e.type === 'doc/retry' && e.error.code),
      [ErrorCodes.SERVER_ERROR, ErrorCodes.RATE_LIMITED],
    );
    const rows = f.store.listAttempts({ path: 'doc000.txt' });
    assert.deepEqual(
      rows.map((r) => r.outcome),
      ['retry', 'retry', 'done'],
    );
    assert.deepEqual(
      rows.map((r) => r.attempt),
      [1, 2, 3],
    );
    assert.equal(rows[0].stageReached, 'extracting');
  });

  it('honours a server-requested Retry-After delay', async () => {
    const f = fixture(docs(1));
    f.extractor.script('doc000.txt', { error: err(ErrorCodes.RATE_LIMITED, { retryAfterMs: 120 }) }, { data: {} });
    const t0 = Date.now();
    await f.make().start({ trigger: 'test' }).done;
    const retry = f.events.find((e) => e.type === 'doc/retry');
    assert.ok(retry && retry.type === 'doc/retry' && retry.delayMs >= 120);
    assert.ok(Date.now() - t0 >= 110, 'waited for Retry-After');
  });

  it('dead-letters a document after max attempts of retryable errors', async () => {
    const f = fixture(docs(2));
    f.extractor.script('doc001.txt', ...Array.from({ length: 5 }, () => ({ error: err(ErrorCodes.MALFORMED_OUTPUT) })));
    const summary = await f.make().start({ trigger: 'test' }).done;
    assert.equal(f.extractor.callsFor('doc001.txt'), 3);
    assert.equal(summary.counts.deadLettered, 1);
    assert.equal(summary.counts.done, 1);
    const letter = f.store.getDeadLetter('doc001.txt');
    assert.equal(letter?.code, ErrorCodes.MALFORMED_OUTPUT);
    assert.equal(letter?.stage, 'extracting');
    assert.equal(letter?.attempts, 3);
  });

  it('dead-letters non-retryable errors at once', async () => {
    const f = fixture({ 'a.txt': 'A', 'b.txt': 'B' });
    f.extractor.script('a.txt', { error: err(ErrorCodes.BAD_REQUEST) });
    await f.make().start({ trigger: 'test' }).done;
    assert.equal(f.extractor.callsFor('a.txt'), 1);
    assert.equal(f.store.getDocument('a.txt')?.stage, 'dead-lettered');
    assert.equal(f.store.getDeadLetter('a.txt')?.code, ErrorCodes.BAD_REQUEST);
  });

  it('dead-letters an empty document in the converting stage without calling the model', async () => {
    const f = fixture({ 'empty.txt': '   \n', 'ok.txt': 'fine' });
    await f.make().start({ trigger: 'test' }).done;
    assert.equal(f.extractor.callsFor('empty.txt'), 0);
    const letter = f.store.getDeadLetter('empty.txt');
    assert.equal(letter?.code, ErrorCodes.EMPTY_DOCUMENT);
    assert.equal(letter?.stage, 'converting');
  });

  it('stops the whole run on a run-fatal error instead of filling the dead-letter queue', async () => {
    const f = fixture(docs(20));
    f.extractor.defaultDelayMs = 5;
    f.extractor.script('doc000.txt', { error: err(ErrorCodes.AUTH_FAILED) });
    const summary = await f.make({ concurrency: 1 }).start({ trigger: 'test' }).done;
    assert.equal(summary.status, 'stopped');
    assert.equal(summary.fatalError?.code, ErrorCodes.AUTH_FAILED);
    assert.equal(f.store.listDeadLetters().length, 0);
    assert.equal(f.store.getDocument('doc000.txt')?.stage, 'failed');
    assert.ok(f.extractor.totalCalls < 20, 'the run stopped early');
    assert.equal(f.store.counts().running, 0);
  });

  it('rejects unsupported and too large files at readiness', async () => {
    const f = fixture({ 'a.txt': 'hello', 'b.xyz': 'x', 'big.txt': 'y'.repeat(5000) });
    const summary = await f.make({ maxFileBytes: 1000 }).start({ trigger: 'test' }).done;
    assert.equal(summary.rejected, 2);
    assert.match(f.store.getDocument('b.xyz')?.rejectReason ?? '', /Unsupported file type "\.xyz"/);
    assert.match(f.store.getDocument('big.txt')?.rejectReason ?? '', /Too large/);
    assert.equal(f.store.counts().rejected, 2);
    assert.equal(f.extractor.totalCalls, 1);
  });

  it('pause lets in-flight documents finish and starts nothing new; resume completes the run', async () => {
    const f = fixture(docs(8));
    f.extractor.defaultDelayMs = 40;
    const p = f.make({ concurrency: 2 });
    const handle = p.start({ trigger: 'test' });
    await new Promise((r) => setTimeout(r, 20));
    p.pause();
    assert.equal(p.paused, true);
    await new Promise((r) => setTimeout(r, 150));
    const callsWhilePaused = f.extractor.totalCalls;
    // only the 2 documents holding a model slot finish; those read ahead wait for theirs, shown as pending
    assert.ok(callsWhilePaused <= 2, `at most the in-flight documents ran (${callsWhilePaused})`);
    assert.equal(f.store.counts().running, 0, 'nothing shows as running while paused');
    assert.equal(f.extractor.inFlight, 0);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(f.extractor.totalCalls, callsWhilePaused, 'nothing new started while paused');
    p.resume();
    const summary = await handle.done;
    assert.equal(summary.counts.done, 8);
    assert.equal(f.extractor.totalCalls, 8);
  });

  it('shutdown records the run as interrupted (not stopped), so the next session can offer to resume it', async () => {
    const f = fixture(docs(4));
    f.extractor.script('doc000.txt', { hang: true });
    const p = f.make({ concurrency: 1 });
    const handle = p.start({ trigger: 'test' });
    await until(() => f.extractor.inFlight === 1, 'the hanging request');
    const finished: string[] = [];
    p.events.on((e) => e.type === 'run/finished' && finished.push(e.status));
    await p.shutdown(1000);
    const summary = await handle.done;
    assert.equal(summary.status, 'interrupted');
    assert.deepEqual(finished, ['interrupted']);
    assert.equal(f.store.latestRun()?.status, 'interrupted');
    assert.equal(f.store.getDocument('doc000.txt')?.stage, 'pending', 'the document in flight goes back to pending');
    assert.equal(f.store.getDocument('doc000.txt')?.attempts, 0);
  });

  it('a stop under way stays a stop when shutdown comes after it', async () => {
    const f = fixture(docs(2));
    f.extractor.script('doc000.txt', { hang: true });
    const p = f.make({ concurrency: 1 });
    const handle = p.start({ trigger: 'test' });
    await until(() => f.extractor.inFlight === 1, 'the hanging request');
    const stopping = p.stop();
    await p.shutdown(1000);
    assert.equal((await stopping)?.status, 'stopped');
    assert.equal((await handle.done).status, 'stopped');
    assert.equal(f.store.latestRun()?.status, 'stopped');
  });

  it('stop aborts in-flight requests, returns their documents to pending, and the next run finishes them', async () => {
    const f = fixture(docs(4));
    f.extractor.script('doc000.txt', { hang: true });
    f.extractor.script('doc001.txt', { hang: true });
    const p = f.make({ concurrency: 2 });
    const handle = p.start({ trigger: 'test' });
    await until(() => f.extractor.inFlight === 2, 'both hanging requests');
    const stopped = await p.stop();
    assert.equal(stopped?.status, 'stopped');
    assert.equal((await handle.done).status, 'stopped');
    assert.equal(f.extractor.inFlight, 0);
    assert.equal(f.store.getDocument('doc000.txt')?.stage, 'pending');
    assert.equal(f.store.getDocument('doc000.txt')?.attempts, 0, 'a cancelled attempt does not count');
    assert.equal(f.store.counts().running, 0);
    const next = await f.make().start({ trigger: 'test' }).done;
    assert.equal(next.counts.done, 4);
    assert.equal(f.extractor.callsFor('doc000.txt'), 2);
    assert.equal(f.extractor.callsFor('doc002.txt'), 1);
  });

  it('retry jumps the queue', async () => {
    const f = fixture(docs(10));
    f.extractor.defaultDelayMs = 10;
    const { queuedBefore, order } = await retryAtFirstRequest(f, 'doc009.txt');
    // the listing had queued doc009 already: it waited for a place in the document queue when asked for
    assert.ok(queuedBefore, 'doc009 was listed and queued before the retry');
    // concurrency 1: one document holds the model slot when the retry comes; doc009 gets the very next one,
    // ahead of the documents that already hold places in the document queue (read and waiting for the slot)
    assert.equal(order.indexOf('doc009.txt'), 1, `doc009 reached the model next: ${order.join(',')}`);
    assert.equal(f.extractor.callsFor('doc009.txt'), 1);
  });

  it('retry of a document the listing has not reached yet jumps the queue too', async () => {
    const f = fixture(docs(100));
    f.extractor.defaultDelayMs = 5;
    const { queuedBefore, order } = await retryAtFirstRequest(f, 'doc099.txt');
    // backpressure holds the lister at a few dozen documents: doc099 is not listed yet
    assert.equal(queuedBefore, false, 'doc099 was not listed when asked for');
    assert.equal(order.indexOf('doc099.txt'), 1, `doc099 reached the model next: ${order.slice(0, 5).join(',')}`);
    assert.equal(f.extractor.callsFor('doc099.txt'), 1, 'asked once: the listing reaching it later does not queue it again');
  });

  it('reprocesses dead letters with a note and fresh attempts', async () => {
    const f = fixture(docs(2));
    f.extractor.script('doc000.txt', { error: err(ErrorCodes.BAD_REQUEST) });
    const p = f.make();
    await p.start({ trigger: 'test' }).done;
    assert.equal(f.store.listDeadLetters().length, 1);
    const handle = p.reprocessDeadLetters(undefined, 'prompt fixed');
    assert.ok(handle);
    const summary = await handle.done;
    assert.equal(summary.counts.done, 2);
    assert.equal(f.store.listDeadLetters().length, 0);
    assert.equal(f.store.reprocessed[0].note, 'prompt fixed');
    assert.equal(f.store.getDocument('doc000.txt')?.attempts, 1);
  });

  it('leaves dead letters alone on a normal re-run', async () => {
    const f = fixture(docs(2));
    f.extractor.script('doc000.txt', { error: err(ErrorCodes.BAD_REQUEST) });
    await f.make().start({ trigger: 'test' }).done;
    await f.make().start({ trigger: 'test' }).done;
    assert.equal(f.extractor.callsFor('doc000.txt'), 1);
    assert.equal(f.store.getDocument('doc000.txt')?.stage, 'dead-lettered');
  });

  it('adopts a result file written before a crash instead of asking the model again', async () => {
    const f = fixture(docs(2));
    await f.make().start({ trigger: 'test' }).done;
    // simulate a crash between writing the result and checkpointing "done"
    f.store.patchDocument('doc001.txt', { stage: 'exporting' });
    const summary = await f.make().start({ trigger: 'test' }).done;
    assert.equal(summary.counts.done, 2);
    assert.equal(f.extractor.callsFor('doc001.txt'), 1);
    assert.ok(await readResult(f.out, 'doc001.txt'));
  });

  it('honours include/exclude globs and .gitignore, and never lists its own output', async () => {
    const f = fixture({ 'a.txt': 'A', 'b.md': 'B', 'skip/c.txt': 'C', 'ignored/d.txt': 'D', '.gitignore': 'ignored/\n' });
    const summary = await f.make({ include: ['**/*.txt', '**/*.md'], exclude: ['skip/**'], outDir: path.join(f.root, 'extracted') }).start({ trigger: 'test' }).done;
    assert.equal(summary.counts.done, 2);
    assert.deepEqual(
      f.store.listDocuments().map((d) => d.path),
      ['a.txt', 'b.md'],
    );
    const again = await f.make({ include: ['**/*.txt', '**/*.md', '**/*.json'], outDir: path.join(f.root, 'extracted') }).start({ trigger: 'test' }).done;
    assert.equal(again.rejected, 0, 'result files are not listed as documents');
  });

  it('reports a missing file as FILE_MISSING in the reading stage', async () => {
    const f = fixture(docs(1));
    const p = f.make();
    await p.start({ trigger: 'test' }).done;
    fs.rmSync(path.join(f.root, 'doc000.txt'));
    await p.retry(['doc000.txt']).done;
    const letter = f.store.getDeadLetter('doc000.txt');
    assert.equal(letter?.code, ErrorCodes.FILE_MISSING);
    assert.equal(letter?.stage, 'reading');
  });

  it('pauses the run when the budget is reached, and goes on after resume', async () => {
    const f = fixture(docs(10));
    const p = f.make({ concurrency: 1, budget: 0.0025 }); // the fake costs 0.001 per document
    const handle = p.start({ trigger: 'test' });
    await new Promise<void>((resolve) => p.events.on((e) => e.type === 'run/budget-reached' && resolve()));
    assert.equal(p.paused, true);
    const reached = f.events.find((e) => e.type === 'run/budget-reached');
    assert.ok(reached && reached.type === 'run/budget-reached' && reached.cost >= 0.0025);
    await new Promise((r) => setTimeout(r, 50));
    const calls = f.extractor.totalCalls;
    assert.ok(calls < 10, 'nothing new started after the budget was reached');
    p.resume();
    assert.equal((await handle.done).counts.done, 10);
  });

  it('a forced rerun of a done document asks the model again with fresh attempts', async () => {
    const f = fixture(docs(1));
    const p = f.make();
    await p.start({ trigger: 'test' }).done;
    for (let i = 0; i < 4; i++) {
      p.forceNext('doc000.txt', { instructions: 'look again' });
      await p.retry(['doc000.txt']).done;
    }
    assert.equal(f.extractor.callsFor('doc000.txt'), 5, 'not adopted from the up-to-date result');
    assert.equal(f.store.getDocument('doc000.txt')?.attempts, 1, 'every rerun starts at attempt 1');
    assert.equal(f.store.getDocument('doc000.txt')?.stage, 'done');
  });

  it('emits throttled progress with counts and throughput', async () => {
    const f = fixture(docs(6));
    await f.make().start({ trigger: 'test' }).done;
    const last = [...f.events].reverse().find((e) => e.type === 'run/finished');
    assert.ok(last && last.type === 'run/finished');
    assert.equal(last.progress.done, 6);
    assert.ok(last.progress.docsPerMinute > 0);
  });
});
