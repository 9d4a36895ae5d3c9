/**
 * Grounding off the calling thread (src/extract/groundingThread.ts) with the real bundled worker
 * (dist/groundingWorker.js, built by `node esbuild.js`), and its fallbacks with stand-in workers that
 * never answer, crash, or do not exist.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { ConvertedDocument } from '../../src/convert/types';
import { convertTextBytes } from '../../src/convert/text';
import { groundValues } from '../../src/extract/grounding';
import { GroundingThread } from '../../src/extract/groundingThread';
import { REPO_ROOT, tempDir } from '../fixtures/pdf/generate';

const WORKER = path.join(REPO_ROOT, 'dist', 'groundingWorker.js');

function longDocument(): { doc: ConvertedDocument; data: unknown } {
  const lines: string[] = [];
  for (let i = 0; i < 4000; i++) lines.push(`Line ${i}: order ORD-${String(i).padStart(5, '0')} shipped to Customer ${i % 97} for ${(i * 3.25).toFixed(2)} EUR`);
  lines.splice(2500, 0, 'Invoice number: INV-2024-0042', 'Total due: 1,249.50 EUR', 'Issued on 5 March 2024');
  const doc = convertTextBytes(Buffer.from(lines.join('\n'), 'utf8'), 'text');
  return {
    doc,
    data: { invoice: 'INV-2024-0042', total: 1249.5, issued: '2024-03-05', customer: 'Customer 41', missing: 'Nowhere Ltd', orders: ['ORD-00007', 'ORD-03999'] },
  };
}

/** A stand-in worker script. */
function fakeWorker(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `const { parentPort } = require('worker_threads');\n${body}\n`);
  return file;
}

describe('GroundingThread', function () {
  this.timeout(60_000);
  const { doc, data } = longDocument();
  const expected = groundValues(data, doc);
  let dir: string;
  const threads: GroundingThread[] = [];
  const thread = (o: ConstructorParameters<typeof GroundingThread>[0]) => {
    const t = new GroundingThread({ idleMs: 0, ...o });
    threads.push(t);
    return t;
  };

  before(() => {
    if (!fs.existsSync(WORKER)) throw new Error(`${WORKER} missing: run \`node esbuild.js\` first`);
    dir = tempDir('grounding-thread-');
  });
  afterEach(async () => {
    await Promise.all(threads.splice(0).map((t) => t.dispose()));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the fixture exercises every kind of match and an ungrounded value', () => {
    assert.ok(doc.text.length > 200_000, `document of ${doc.text.length} characters`);
    assert.ok(expected.summary.exact > 0 && expected.summary.normalized > 0 && expected.summary.ungrounded === 1, JSON.stringify(expected.summary));
  });

  it('grounds a long document in the worker with the same result as in-thread', async () => {
    const t = thread({ workerPath: WORKER });
    const got = await t.ground(data, doc);
    assert.deepStrictEqual(got, expected);
    assert.deepStrictEqual(t.stats, { inline: 0, offThread: 1, fallbacks: 0, workersStarted: 1 });
  });

  it('keeps the main thread free while the worker grounds', async () => {
    const t = thread({ workerPath: WORKER });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    // several documents in a row: the timer keeps firing between and during them
    const results = await Promise.all([t.ground(data, doc), t.ground(data, doc), t.ground(data, doc)]);
    clearInterval(timer);
    for (const r of results) assert.deepStrictEqual(r, expected);
    assert.strictEqual(t.stats.offThread, 3);
    assert.strictEqual(t.stats.workersStarted, 1, 'one worker serves every job');
    assert.ok(ticks > 0, 'timers ran while grounding');
  });

  it('grounds short documents in-thread without starting a worker', async () => {
    const t = thread({ workerPath: WORKER });
    const small = convertTextBytes(Buffer.from('Invoice INV-1 total 12.00', 'utf8'), 'text');
    const got = await t.ground({ id: 'INV-1', total: 12 }, small);
    assert.deepStrictEqual(got, groundValues({ id: 'INV-1', total: 12 }, small));
    assert.deepStrictEqual(t.stats, { inline: 1, offThread: 0, fallbacks: 0, workersStarted: 0 });
  });

  it('falls back to in-thread grounding when the worker does not exist, and stops trying', async () => {
    const warnings: string[] = [];
    const logger = { trace() {}, debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const t = thread({ workerPath: path.join(dir, 'missing-worker.js'), logger });
    assert.deepStrictEqual(await t.ground(data, doc), expected);
    assert.deepStrictEqual(await t.ground(data, doc), expected);
    assert.strictEqual(t.stats.workersStarted, 1, 'a worker that cannot start is not started again');
    assert.strictEqual(t.stats.fallbacks, 1);
    assert.strictEqual(t.stats.inline, 2);
    assert.match(warnings[0], /Grounding worker crashed .*grounding in-thread instead/);
  });

  it('falls back when the worker crashes on a document', async () => {
    const t = thread({ workerPath: fakeWorker(dir, 'crash.js', "parentPort.on('message', () => { throw new Error('boom'); });") });
    assert.deepStrictEqual(await t.ground(data, doc), expected);
    assert.strictEqual(t.stats.fallbacks, 1);
  });

  it('falls back when the worker reports an error', async () => {
    const t = thread({ workerPath: fakeWorker(dir, 'error.js', "parentPort.on('message', (m) => parentPort.postMessage({ id: m.id, error: 'bad input' }));") });
    assert.deepStrictEqual(await t.ground(data, doc), expected);
    assert.strictEqual(t.stats.fallbacks, 1);
    // the worker itself is fine: the next document goes to it again
    assert.deepStrictEqual(await t.ground(data, doc), expected);
    assert.strictEqual(t.stats.fallbacks, 2);
    assert.strictEqual(t.stats.workersStarted, 1);
  });

  it('falls back and replaces the worker when a job exceeds the time limit', async () => {
    const t = thread({ workerPath: fakeWorker(dir, 'hang.js', "parentPort.on('message', () => {}); setInterval(() => {}, 1000);"), timeoutMs: 300 });
    assert.deepStrictEqual(await t.ground(data, doc), expected);
    assert.deepStrictEqual(await t.ground(data, doc), expected);
    assert.strictEqual(t.stats.fallbacks, 2);
    assert.strictEqual(t.stats.workersStarted, 2, 'the stuck worker was replaced');
  });

  it('dispose grounds queued documents in-thread', async () => {
    const t = thread({ workerPath: fakeWorker(dir, 'hang2.js', "parentPort.on('message', () => {}); setInterval(() => {}, 1000);") });
    const pending = [t.ground(data, doc), t.ground(data, doc)];
    await t.dispose();
    for (const r of await Promise.all(pending)) assert.deepStrictEqual(r, expected);
    // after dispose, everything is in-thread
    assert.deepStrictEqual(await t.ground(data, doc), expected);
    assert.strictEqual(t.stats.inline, 3);
  });
});
