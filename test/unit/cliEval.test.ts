/**
 * `extraction-workbench eval` through the bundled CLI (dist/cli.js), on result and state folders written by
 * real pipeline runs (sql.js store, JSON exporter) and corrections saved by the review panel's store.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTextConverter } from '../../src/convert/text';
import { Pipeline } from '../../src/core/pipeline';
import type { RunComparison } from '../../src/eval/compareRuns';
import type { EvalReport } from '../../src/eval/report';
import { readResult } from '../../src/export/jsonExporter';
import { SqlJsCheckpointStore } from '../../src/store';
import { CorrectionsStore } from '../../src/app/corrections';
import { FakeExtractor } from '../fakes/fakeExtractor';
import { runCli } from '../support/cli';

const text = createTextConverter();
const converters = { get: (ext: string) => (ext === '.txt' ? text : undefined) };

async function runPipeline(root: string, out: string, state: string, answers: Record<string, unknown>): Promise<void> {
  const extractor = new FakeExtractor();
  for (const [p, data] of Object.entries(answers)) extractor.script(p, { data });
  const store = await SqlJsCheckpointStore.open({ dir: state, logger: { warn: () => undefined } });
  try {
    const pipeline = new Pipeline({ root, outDir: out, store, converters, extractor, schema: { type: 'object' }, concurrency: 1, progressIntervalMs: 0 });
    await pipeline.start({ trigger: 'test' }).done;
  } finally {
    store.close();
  }
}

const TRUTH_A = { number: 'A-1', total: 100, date: '2024-03-05', items: [{ sku: 'X', amount: 10 }, { sku: 'Y', amount: 90 }] };
const TRUTH_B = { number: 'B-2', total: 250.5, date: '2024-04-01', items: [{ sku: 'Z', amount: 250.5 }] };

describe('CLI: eval', function () {
  this.timeout(60_000);
  let dir: string;
  let root: string;
  let truth: string;
  const out = (n: number) => path.join(dir, `out${n}`);
  const state = (n: number) => path.join(dir, `state${n}`);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-eval-'));
    root = path.join(dir, 'docs');
    fs.mkdirSync(root);
    for (const n of ['a', 'b', 'c']) fs.writeFileSync(path.join(root, `${n}.txt`), `Invoice ${n}\nTotal: 1`);
    // model 1: a right (items out of order, total as a string), b with a wrong total and a missing item
    await runPipeline(root, out(1), state(1), {
      'a.txt': { number: 'A-1', total: '100.00', date: 'March 5, 2024', items: [{ sku: 'Y', amount: 90 }, { sku: 'X', amount: 10 }] },
      'b.txt': { number: 'B-2', total: 205.5, date: '2024-04-01', items: [] },
      'c.txt': { number: 'C-3', total: 1 },
    });
    // model 2: a with a wrong date, b right
    await runPipeline(root, out(2), state(2), {
      'a.txt': { number: 'A-1', total: 100, date: '2024-03-06', items: [{ sku: 'X', amount: 10 }, { sku: 'Y', amount: 90 }] },
      'b.txt': { number: 'B-2', total: '250.50', date: '1 Apr 2024', items: [{ sku: 'Z', amount: 250.5 }] },
      'c.txt': { number: 'C-3', total: 1 },
    });
    truth = path.join(dir, 'truth');
    fs.mkdirSync(truth);
    fs.writeFileSync(path.join(truth, 'a.txt.json'), JSON.stringify(TRUTH_A));
    fs.writeFileSync(path.join(truth, 'b.txt.json'), JSON.stringify([TRUTH_B]));
    fs.writeFileSync(path.join(truth, 'gone.txt.json'), JSON.stringify({ number: 'G-1', total: 7 }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints the per-field figures as JSON (hand-computed)', async () => {
    const r = await runCli(['eval', '--out', out(1), '--truth', truth, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as EvalReport;
    assert.deepEqual(Object.keys(rep).slice(0, 4), ['documents', 'fields', 'overall', 'mismatches']);
    assert.equal(rep.documents, 3);
    // number: a ✓ b ✓ gone missing · total: a ✓ b ✗ gone missing · date: a ✓ b ✓ · items[]: a 2×2 ✓, b's Z item missing
    assert.deepEqual(rep.fields.number, { correct: 2, total: 3, accuracy: 2 / 3, missing: 1, extra: 0 });
    assert.deepEqual(rep.fields.total, { correct: 1, total: 3, accuracy: 1 / 3, missing: 1, extra: 0 });
    assert.deepEqual(rep.fields.date, { correct: 2, total: 2, accuracy: 1, missing: 0, extra: 0 });
    assert.deepEqual(rep.fields['items[].sku'], { correct: 2, total: 3, accuracy: 2 / 3, missing: 1, extra: 0 });
    assert.deepEqual(rep.fields['items[].amount'], { correct: 2, total: 3, accuracy: 2 / 3, missing: 1, extra: 0 });
    assert.deepEqual(rep.overall, { correct: 9, total: 14, accuracy: 9 / 14, missing: 4, extra: 0 });
    assert.deepEqual(
      rep.mismatches.filter((m) => m.kind === 'wrong'),
      [{ source: 'b.txt', field: 'total', at: 'total', kind: 'wrong', expected: 250.5, actual: 205.5 }],
    );
    assert.deepEqual(rep.withoutResult, ['gone.txt']);
    assert.equal(rep.skipped.withoutTruth, 1, 'c.txt has no truth');
    assert.equal(rep.comparison.tolerance, 0.005);
  });

  it('prints a readable table, and exits 1 below --min-accuracy', async () => {
    const r = await runCli(['eval', '--out', out(1), '--truth', truth, '--fields', 'total,items', '--min-accuracy', '0.6']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^Compared: numbers within ±0\.005 \(absolute\)/m);
    assert.match(r.stdout, /^total +1 +3 +33\.3% +1 +0$/m);
    assert.match(r.stdout, /^items\[\]\.amount +2 +3 +66\.7% +1 +0$/m);
    assert.doesNotMatch(r.stdout, /^number /m, '--fields leaves it out');
    assert.match(r.stdout, /^Overall +5 +9 +55\.6% +3 +0$/m);
    assert.match(r.stdout, /^ {2}b\.txt {2}total {2}wrong: expected 250\.5, got 205\.5$/m);
    assert.match(r.stdout, /^1 result\(s\) without a truth skipped\.$/m);
    assert.match(r.stderr, /overall accuracy 55\.6% is below --min-accuracy 60\.0%/);
    const ok = await runCli(['eval', '--out', out(1), '--truth', truth, '--fields', 'total,items', '--min-accuracy', '0.55']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('--tolerance widens number agreement', async () => {
    const r = await runCli(['eval', '--out', out(1), '--truth', truth, '--fields', 'total', '--tolerance', '50', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as EvalReport).fields.total.correct, 2);
  });

  it('exits 2 on bad input, naming it', async () => {
    const missing = await runCli(['eval', '--out', path.join(dir, 'nope'), '--truth', truth]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /\[FILE_MISSING\] Results folder not found: .*nope/);
    const noTruth = await runCli(['eval', '--out', out(1)]);
    assert.equal(noTruth.code, 2);
    assert.match(noTruth.stderr, /eval needs --truth/);
    const badOrder = await runCli(['eval', '--out', out(1), '--truth', truth, '--date-order', 'ymd']);
    assert.equal(badOrder.code, 2);
    assert.match(badOrder.stderr, /--date-order must be dmy or mdy/);
    const unknownField = await runCli(['eval', '--out', out(1), '--truth', truth, '--fields', 'total,totl']);
    assert.equal(unknownField.code, 2);
    assert.match(unknownField.stderr, /--fields: no field "totl" in the truth \(its fields: number, total, date, items\)/);
    const bad = path.join(dir, 'truth-bad');
    fs.mkdirSync(path.join(bad, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(bad, 'sub', 'x.pdf.json'), '{"total": 1,');
    const notJson = await runCli(['eval', '--out', out(1), '--truth', bad]);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /\[CORRUPT_INPUT\] Truth file .*sub[/\\]x\.pdf\.json is not JSON/);
    assert.equal(notJson.stdout, '');
  });

  it('--truth corrections: corrected and reviewed documents are the truth, the model answer is evaluated', async () => {
    const o = out(1);
    const corrections = new CorrectionsStore(state(1), { author: () => 'tester' });
    const b = await readResult(o, 'b.txt');
    corrections.add('b.txt', b, 'set', '/total', 250.5, 205.5);
    corrections.add('b.txt', b, 'add', '/items/-', { sku: 'Z', amount: 250.5 }, undefined);
    await corrections.exportToResult(root, o, 'b.txt');
    corrections.setReviewed('a.txt', true);
    await corrections.exportToResult(root, o, 'a.txt');
    const exported = (await readResult(o, 'b.txt')) as unknown as { data: { total: number }; corrected: { total: number } };
    assert.equal(exported.data.total, 205.5, "the result file keeps the model's answer");
    assert.equal(exported.corrected.total, 250.5);

    for (const args of [['--state', state(1)], []]) {
      const r = await runCli(['eval', '--out', o, '--truth', 'corrections', '--json', ...args]);
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(r.stdout) as EvalReport;
      assert.equal(rep.documents, 2, `a (reviewed) and b (corrected) ${args.join(' ')}`);
      assert.equal(rep.skipped.withoutTruth, 1, 'c was neither');
      assert.deepEqual(
        rep.mismatches.map((m) => [m.source, m.at, m.kind]),
        [
          ['b.txt', 'total', 'wrong'],
          ['b.txt', 'items[0].sku', 'missing'],
          ['b.txt', 'items[0].amount', 'missing'],
        ],
      );
      assert.deepEqual(rep.overall, { correct: 9, total: 12, accuracy: 0.75, missing: 2, extra: 0 });
      assert.match(rep.truth, /corrections \(2 corrected or reviewed document\(s\)/);
    }
  });

  it('--compare-out puts two runs side by side with the difference, cost and time', async () => {
    const r = await runCli(['eval', '--out', out(1), '--compare-out', out(2), '--truth', truth, '--state', state(1), '--compare-state', state(2), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as RunComparison;
    assert.deepEqual(c.fields.total, { a: 1 / 3, b: 2 / 3, difference: 1 / 3, totalA: 3, totalB: 3 });
    assert.deepEqual(c.fields.date, { a: 1, b: 0.5, difference: -0.5, totalA: 2, totalB: 2 });
    assert.equal(c.overall.a, 9 / 14);
    assert.equal(c.overall.b, 11 / 14);
    for (const side of [c.a, c.b]) {
      assert.equal(side.costs.results.documents, 2, 'a and b (c has no truth)');
      assert.deepEqual(side.costs.models, ['fake-model']);
      assert.ok(Math.abs(side.costs.results.cost - 0.002) < 1e-9, `cost ${side.costs.results.cost}`);
      assert.equal(side.costs.attempts?.attempts, 3, 'every attempt of the run, c included');
    }
    const t = await runCli(['eval', '--out', out(1), '--compare-out', out(2), '--truth', truth]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^total +33\.3% +66\.7% +\+33\.3 pt$/m);
    assert.match(t.stdout, /^date +100\.0% +50\.0% +−50\.0 pt$/m);
    assert.match(t.stdout, /^Cost \(result metadata\) +0\.0020 +0\.0020$/m);
  });
});
