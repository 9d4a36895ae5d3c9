/**
 * `extraction-workbench history <path>` through the bundled CLI (dist/cli.js), on a state folder written by
 * a real pipeline run (sql.js store) whose extractor fails with raw replies.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTextConverter } from '../../src/convert/text';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import { Pipeline } from '../../src/core/pipeline';
import type { AttemptRecord } from '../../src/core/types';
import { SqlJsCheckpointStore } from '../../src/store';
import { FakeExtractor } from '../fakes/fakeExtractor';
import { runCli } from '../support/cli';

const text = createTextConverter();
const converters = { get: (ext: string) => (ext === '.txt' ? text : undefined) };
const LONG_REPLY = Array.from({ length: 200 }, (_, i) => `line ${i} of a reply that never closes its braces {`).join('\n');

interface HistoryJson {
  path: string;
  document: { stage: string };
  attempts: AttemptRecord[];
  deadLetter?: { code: string; attempts: number };
  deadLetterHistory: unknown[];
}

describe('CLI: history', function () {
  this.timeout(60_000);
  let dir: string;
  let state: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-history-'));
    const root = path.join(dir, 'docs');
    state = path.join(dir, '.extraction');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'good.txt'), 'Invoice 1\nTotal: 10');
    fs.writeFileSync(path.join(root, 'bad.txt'), 'Invoice 2\nTotal: 20');
    const extractor = new FakeExtractor().script(
      'bad.txt',
      { error: new ExtractionError(ErrorCodes.MALFORMED_OUTPUT, 'The answer is not JSON', { details: { rawReply: '{"total": 20,,}' } }) },
      { error: new ExtractionError(ErrorCodes.SCHEMA_MISMATCH, 'total: must be number', { details: { rawReply: LONG_REPLY } }) },
    );
    const store = await SqlJsCheckpointStore.open({ dir: state, logger: { warn: () => undefined } });
    try {
      const pipeline = new Pipeline({
        root,
        outDir: path.join(dir, 'out'),
        store,
        converters,
        extractor,
        schema: { type: 'object' },
        concurrency: 1,
        retry: { baseDelayMs: 1, maxDelayMs: 2, jitter: 0, maxAttempts: 2 },
        progressIntervalMs: 0,
      });
      await pipeline.start({ trigger: 'test' }).done;
    } finally {
      store.close();
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("prints a document's attempts with error, usage and the raw reply, cut to a screenful", async () => {
    const r = await runCli(['history', 'bad.txt', '--state', state]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^History of bad\.txt$/m);
    assert.match(out, /^Now: dead-lettered · last error \[SCHEMA_MISMATCH\] total: must be number \(stage extracting\) · 2 attempts since queued/m);
    assert.match(out, /^In the dead-letter queue: .* stage extracting {2}\[SCHEMA_MISMATCH\] total: must be number · 2 attempts$/m);
    assert.match(out, /^Attempts \(2, oldest first\):$/m);
    assert.match(out, /^ {2}#1 {2}run \S+ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}\d+ ms {2}reached extracting {2}retry$/m);
    assert.match(out, /^ {6}\[MALFORMED_OUTPUT\] The answer is not JSON$/m);
    assert.match(out, /^ {6}raw reply \(15 characters\):\n {8}\{"total": 20,,\}$/m);
    assert.match(out, /^ {2}#2 .* dead-lettered$/m);
    assert.match(out, /^ {8}line 19 of a reply/m, 'the first lines of the long reply');
    assert.doesNotMatch(out, /line 20 of a reply/, 'not more than a screenful');
    assert.match(out, /^ {8}… 180 more lines, \d+ more characters not shown \(--json prints all of it\)$/m);
    assert.ok(out.split('\n').length < 60, `fits a screen or two (${out.split('\n').length} lines)`);
  });

  it('--json prints everything, the whole reply included', async () => {
    const r = await runCli(['history', 'bad.txt', '--state', state, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const h = JSON.parse(r.stdout) as HistoryJson;
    assert.equal(h.path, 'bad.txt');
    assert.equal(h.document.stage, 'dead-lettered');
    assert.deepEqual(
      h.attempts.map((a) => [a.attempt, a.outcome, a.errorCode, a.rawReply?.length]),
      [
        [1, 'retry', 'MALFORMED_OUTPUT', 15],
        [2, 'dead-lettered', 'SCHEMA_MISMATCH', LONG_REPLY.length],
      ],
    );
    assert.equal(h.attempts[1].rawReply, LONG_REPLY);
    assert.equal(h.deadLetter?.code, 'SCHEMA_MISMATCH');
    assert.deepEqual(h.deadLetterHistory, []);
  });

  it('shows a successful document without replies, and dead-letter history once reprocessed', async () => {
    const good = await runCli(['history', 'good.txt', '--state', state]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^Now: done · 1 attempt since queued/m);
    assert.doesNotMatch(good.stdout, /raw reply/);
    const store = await SqlJsCheckpointStore.open({ dir: state, logger: { warn: () => undefined } });
    try {
      store.markDeadLetterReprocessed('bad.txt', Date.UTC(2026, 0, 2), 'tried a bigger model');
      store.sync();
      // the store stays open (locked) by this process: history reads it read-only
      const r = await runCli(['history', 'bad.txt', '--state', state]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Dead-letter history \(1, oldest first\):\n {2}.*\[SCHEMA_MISMATCH\] total: must be number · 2 attempts · reprocessed 2026-01-02 00:00:00Z \(tried a bigger model\)$/m);
      assert.doesNotMatch(r.stdout, /^In the dead-letter queue/m);
    } finally {
      store.close();
    }
  });

  it('reads a state folder kept apart from its folder (a run with --state elsewhere)', async () => {
    // the settings of such a run name a root that does not hold the state folder: history takes paths as given
    const settings = path.join(state, 'settings.json');
    fs.writeFileSync(settings, JSON.stringify({ root: '../docs', outDir: '../docs/out', stateDir: '.', schemaPath: '../schema.json', baseURL: 'http://127.0.0.1:9/v1', model: 'm', concurrency: 1, maxAttempts: 2, timeoutMs: 1000, maxFileBytes: 1000 }));
    try {
      const r = await runCli(['history', 'good.txt', '--state', state]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Now: done · 1 attempt since queued/m);
    } finally {
      fs.rmSync(settings);
    }
  });

  it('exits 2 with one line for an unknown document or a missing state folder', async () => {
    const r = await runCli(['history', 'nope.txt', '--state', state]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `extraction-workbench: No document "nope.txt" in ${state}\n`);
    const none = await runCli(['history', 'bad.txt', '--state', path.join(dir, 'missing')]);
    assert.equal(none.code, 2);
    assert.equal(none.stderr.trim().split('\n').length, 1);
    assert.match(none.stderr, /No extraction state in/);
  });
});
