/**
 * Accuracy of a run against the corrections (the Run Dashboard's comparison): the results of the checked
 * documents are kept per run before a later run overwrites them, and each run is scored against the
 * result the reviewer checked with the corrections applied — real pipeline runs (sql.js store, JSON
 * exporter) and the review panel's corrections store.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CorrectionsStore } from '../../src/app/corrections';
import { createTextConverter } from '../../src/convert/text';
import { Pipeline } from '../../src/core/pipeline';
import { runAccuracy, snapshotCheckedResults } from '../../src/eval/runAccuracy';
import { readResult } from '../../src/export/jsonExporter';
import { SqlJsCheckpointStore } from '../../src/store';
import { FakeExtractor } from '../fakes/fakeExtractor';

const text = createTextConverter();
const converters = { get: (ext: string) => (ext === '.txt' ? text : undefined) };

describe('run accuracy against the corrections', function () {
  this.timeout(30_000);
  let dir: string;
  let root: string;
  let out: string;
  let state: string;

  /** One run; a new instruction text changes the fingerprint, so every document is extracted again. */
  async function run(instructions: string, answers: Record<string, unknown>): Promise<string> {
    const extractor = new FakeExtractor();
    for (const [p, data] of Object.entries(answers)) extractor.script(p, { data });
    const store = await SqlJsCheckpointStore.open({ dir: state, logger: { warn: () => undefined } });
    try {
      const pipeline = new Pipeline({ root, outDir: out, store, converters, extractor, schema: { type: 'object' }, instructions, concurrency: 1, progressIntervalMs: 0 });
      return (await pipeline.start({ trigger: 'test' }).done).runId;
    } finally {
      store.close();
    }
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-run-accuracy-'));
    root = path.join(dir, 'docs');
    out = path.join(dir, 'out');
    state = path.join(dir, 'state');
    fs.mkdirSync(root);
    for (const n of ['a', 'b', 'c']) fs.writeFileSync(path.join(root, `${n}.txt`), `Invoice ${n}`);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('scores each run on the checked documents, against the checked result with the corrections', async () => {
    const run1 = await run('v1', { 'a.txt': { vendor: 'Acme Ltd', total: 10 }, 'b.txt': { vendor: 'Bolt', total: 20 }, 'c.txt': { vendor: 'Cog', total: 30 } });
    const corrections = new CorrectionsStore(state);
    corrections.add('a.txt', await readResult(out, 'a.txt'), 'set', '/vendor', 'ACME', 'Acme Ltd');
    corrections.setReviewed('b.txt', true); // right as it is
    assert.equal(snapshotCheckedResults(state, out), 2, 'a and b are checked; c is not');
    assert.equal(snapshotCheckedResults(state, out), 0, 'once per run and document');

    // run 2: a's vendor right, b's total wrong
    const run2 = await run('v2', { 'a.txt': { vendor: 'ACME', total: 10 }, 'b.txt': { vendor: 'Bolt', total: 21 }, 'c.txt': { vendor: 'Cog', total: 31 } });
    const a1 = runAccuracy(state, out, run1);
    assert.ok(a1);
    // a: vendor ✗ total ✓ · b: vendor ✓ total ✓ — from the snapshots, the result folder now holds run 2's
    assert.equal(a1.documents, 2);
    assert.deepEqual(a1.fields.vendor, { correct: 1, total: 2, accuracy: 0.5, missing: 0, extra: 0 });
    assert.deepEqual(a1.fields.total, { correct: 2, total: 2, accuracy: 1, missing: 0, extra: 0 });
    assert.equal(a1.overall.accuracy, 3 / 4);
    const a2 = runAccuracy(state, out, run2);
    assert.ok(a2);
    // a: ✓ ✓ · b: vendor ✓, total 21 against the reviewed 20 ✗ (the truth is the result that was checked)
    assert.deepEqual(a2.fields.vendor, { correct: 2, total: 2, accuracy: 1, missing: 0, extra: 0 });
    assert.deepEqual(a2.fields.total, { correct: 1, total: 2, accuracy: 0.5, missing: 0, extra: 0 });
    assert.equal(runAccuracy(state, out, 'no-such-run'), undefined);
  });

  it('a run without a result for any checked document has no accuracy', async () => {
    const run1 = await run('v1', {});
    assert.equal(runAccuracy(state, out, run1), undefined, 'nothing checked');
    new CorrectionsStore(state).setReviewed('c.txt', true);
    const a = runAccuracy(state, out, run1);
    assert.equal(a?.documents, 1, 'the current result counts for the run that wrote it');
    assert.equal(a?.overall.accuracy, 1);
  });
});
