/**
 * Evaluation logic (src/eval/): normalisation, comparison per type, line-item pairing and the per-field
 * figures, checked against figures computed by hand for small fixtures.
 */
import { strict as assert } from 'node:assert';
import { leavesAgree, scalarsAgree } from '../../src/eval/compare';
import { datesOf, DEFAULT_NORMALISE, normaliseString, numbersOf, type NormaliseOptions } from '../../src/eval/normalise';
import { pairItems } from '../../src/eval/pairing';
import { scoreCases } from '../../src/eval/score';

const O: NormaliseOptions = DEFAULT_NORMALISE;

describe('eval: normalisation', () => {
  it('reads numeric strings as numbers (grouping, currency, signs)', () => {
    assert.deepEqual(numbersOf('1,234.50'), [1234.5]);
    assert.deepEqual(numbersOf(' $1,234.50 '), [1234.5]);
    assert.deepEqual(numbersOf('1.234,50 EUR'), [1234.5]);
    assert.deepEqual(numbersOf('(12.50)'), [-12.5]);
    assert.deepEqual(numbersOf('-7'), [-7]);
    assert.deepEqual(numbersOf('1,234'), [1.234, 1234], 'ambiguous: both readings');
    assert.equal(numbersOf('INV-12'), undefined);
    assert.equal(numbersOf('12 apples'), undefined);
  });

  it('reads dates to ISO days; 05/03/2024 as --date-order says, or both readings', () => {
    assert.deepEqual(datesOf('2024-03-05'), ['2024-03-05']);
    assert.deepEqual(datesOf('2024-03-05T10:00:00Z'), ['2024-03-05']);
    assert.deepEqual(datesOf('March 5, 2024'), ['2024-03-05']);
    assert.deepEqual(datesOf('5 Mar 2024'), ['2024-03-05']);
    assert.deepEqual(datesOf('05/03/2024', 'dmy'), ['2024-03-05']);
    assert.deepEqual(datesOf('05/03/2024', 'mdy'), ['2024-05-03']);
    assert.deepEqual(datesOf('05/03/2024').sort(), ['2024-03-05', '2024-05-03']);
    assert.deepEqual(datesOf('31/02/2024', 'dmy'), [], 'no such day');
    assert.deepEqual(datesOf('hello'), []);
  });

  it('trims and collapses whitespace; folds case and punctuation only when asked', () => {
    assert.equal(normaliseString('  Acme \n  Corp ', O), 'Acme Corp');
    assert.equal(normaliseString('ACME, Corp.', { ...O, ignoreCase: true }), 'acme, corp.');
    assert.equal(normaliseString('ACME, Corp.', { ...O, ignoreCase: true, ignorePunctuation: true }), 'acme corp');
  });
});

describe('eval: comparison per type', () => {
  it('numbers agree within the tolerance (default 0.005, absolute)', () => {
    assert.equal(scalarsAgree(10, 10.004, O), true);
    assert.equal(scalarsAgree(10, 10.005, O), true, 'the bound itself is inside');
    assert.equal(scalarsAgree(10, 10.006, O), false);
    assert.equal(scalarsAgree(10, 10.006, { ...O, tolerance: 0.01 }), true);
    assert.equal(scalarsAgree(1234.5, '1,234.50', O), true, 'a numeric string against a number');
    assert.equal(scalarsAgree('1,234.50', '1234.5', O), true, 'two numeric strings');
    assert.equal(scalarsAgree(1234.5, '1,234.60', O), false);
  });

  it('dates by day, strings by normalised text, booleans by truth value', () => {
    assert.equal(scalarsAgree('2024-03-05', 'March 5, 2024', O), true);
    assert.equal(scalarsAgree('2024-03-05', '5 Mar 2024', O), true);
    assert.equal(scalarsAgree('2024-03-05', '05/03/2024', { ...O, dateOrder: 'dmy' }), true);
    assert.equal(scalarsAgree('2024-03-05', '05/03/2024', { ...O, dateOrder: 'mdy' }), false);
    assert.equal(scalarsAgree('2024-03-05', '2024-03-06', O), false);
    assert.equal(scalarsAgree('Acme Corp', ' Acme   Corp ', O), true);
    assert.equal(scalarsAgree('Acme Corp', 'acme corp', O), false);
    assert.equal(scalarsAgree('Acme Corp', 'acme corp', { ...O, ignoreCase: true }), true);
    assert.equal(scalarsAgree('Acme Corp.', 'Acme Corp', { ...O, ignorePunctuation: true }), true);
    assert.equal(scalarsAgree(true, 'yes', O), true);
    assert.equal(scalarsAgree(false, true, O), false);
    assert.equal(scalarsAgree(null, '', O), true, 'both empty');
    assert.equal(scalarsAgree(null, 0, O), false, '0 is a value');
  });

  it('arrays of scalars as multisets', () => {
    assert.equal(leavesAgree(['a', 'b', 'a'], ['a', 'a', 'b'], O), true);
    assert.equal(leavesAgree(['a', 'b', 'a'], ['a', 'b', 'b'], O), false, 'duplicates count');
    assert.equal(leavesAgree([1, 2], ['2.00', '1'], O), true);
    assert.equal(leavesAgree(['a'], ['a', 'b'], O), false);
    assert.equal(leavesAgree('a', ['a'], O), true, 'a scalar is a one-item list');
  });
});

describe('eval: line-item pairing', () => {
  it('finds the optimal pairing where greedy-by-score does not', () => {
    // greedy takes (0,0)=2 first and is left with (1,1)=0: total 2; the optimum is (0,1)+(1,0) = 1+2 = 3
    const s = [
      [2, 1],
      [2, 0],
    ];
    const p = pairItems(2, 2, (i, j) => s[i][j]);
    assert.deepEqual(p.pairs, [
      [0, 1],
      [1, 0],
    ]);
  });

  it('keeps positions among equally good pairings and leaves the extra items unpaired', () => {
    const p = pairItems(3, 2, () => 0);
    assert.deepEqual(p.pairs, [
      [0, 0],
      [1, 1],
    ]);
    assert.deepEqual(p.unpairedExpected, [2]);
    assert.deepEqual(p.unpairedActual, []);
    const q = pairItems(1, 3, (_i, j) => (j === 2 ? 1 : 0));
    assert.deepEqual(q.pairs, [[0, 2]]);
    assert.deepEqual(q.unpairedActual, [0, 1]);
  });
});

describe('eval: figures per field', () => {
  const truthA = {
    invoice_number: 'INV-1',
    total: 1234.5,
    date: '05/03/2024',
    vendor: 'Acme Corp',
    note: null,
    line_items: [
      { description: 'Nut', quantity: 640, unit_price: 1, amount: 640 },
      { description: 'Bolt', quantity: 2, unit_price: 320, amount: 641 },
      { description: 'Washer', quantity: 1, unit_price: null, amount: 3 },
    ],
  };
  const modelA = {
    invoice_number: 'INV-1',
    total: '1,234.50',
    date: 'March 5, 2024',
    vendor: '  Acme   Corp ',
    note: 'hello',
    // out of order, one item short: Bolt pairs with Bolt, Nut with Nut
    line_items: [
      { description: 'Bolt', quantity: 2, unit_price: 320, amount: 640 },
      { description: 'Nut', quantity: 640, unit_price: 1, amount: 640 },
    ],
  };

  it('scores scalars, nested fields and line items per sub-field (hand-computed)', () => {
    const s = scoreCases([{ source: 'a.pdf', expected: truthA, actual: modelA }], { ...O, dateOrder: 'dmy' });
    const f = (n: string) => {
      const x = s.fields[n];
      return [x.correct, x.total, x.missing, x.extra];
    };
    assert.deepEqual(f('invoice_number'), [1, 1, 0, 0]);
    assert.deepEqual(f('total'), [1, 1, 0, 0]);
    assert.deepEqual(f('date'), [1, 1, 0, 0]);
    assert.deepEqual(f('vendor'), [1, 1, 0, 0]);
    assert.deepEqual(f('note'), [0, 1, 0, 1], 'a value where the truth has none: extra');
    // pairs: truth Nut–model Nut (4 agree), truth Bolt–model Bolt (3 agree); Washer unpaired
    assert.deepEqual(f('line_items[].description'), [2, 3, 1, 0]);
    assert.deepEqual(f('line_items[].quantity'), [2, 3, 1, 0]);
    assert.deepEqual(f('line_items[].unit_price'), [2, 2, 0, 0], "the unpaired Washer's empty unit price is not counted");
    assert.deepEqual(f('line_items[].amount'), [1, 3, 1, 0]);
    assert.deepEqual([s.overall.correct, s.overall.total, s.overall.missing, s.overall.extra], [11, 16, 3, 1]);
    assert.equal(s.overall.accuracy, 11 / 16);
    assert.equal(s.fields['line_items[].amount'].accuracy, 1 / 3);
    const wrong = s.mismatches.find((m) => m.kind === 'wrong');
    assert.deepEqual(wrong, { source: 'a.pdf', field: 'line_items[].amount', at: 'line_items[1].amount', kind: 'wrong', expected: 641, actual: 640 });
    assert.deepEqual(
      s.mismatches.filter((m) => m.kind === 'missing').map((m) => m.at),
      ['line_items[2].description', 'line_items[2].quantity', 'line_items[2].amount'],
    );
  });

  it('without --date-order an ambiguous date matches either reading; with the other order it is wrong', () => {
    const e = { date: '05/03/2024' };
    assert.equal(scoreCases([{ source: 'x', expected: e, actual: { date: '2024-05-03' } }], O).overall.correct, 1);
    assert.equal(scoreCases([{ source: 'x', expected: e, actual: { date: '2024-05-03' } }], { ...O, dateOrder: 'dmy' }).overall.correct, 0);
  });

  it('extra line items count their values as extra; both empty counts as correct', () => {
    const s = scoreCases(
      [
        { source: 'b', expected: { po: null, items: [{ sku: 'A', qty: 1 }] }, actual: { po: null, items: [{ sku: 'A', qty: 1 }, { sku: 'Z', qty: 9 }] } },
      ],
      O,
    );
    assert.deepEqual(s.fields.po, { correct: 1, total: 1, accuracy: 1, missing: 0, extra: 0 });
    assert.deepEqual(s.fields['items[].sku'], { correct: 1, total: 2, accuracy: 0.5, missing: 0, extra: 1 });
    assert.equal(s.mismatches.find((m) => m.kind === 'extra')?.at, 'items[result 1].sku');
  });

  it('a document with no result scores its expected values as missing; --fields narrows the report', () => {
    const cases = [
      { source: 'a.pdf', expected: truthA, actual: modelA },
      { source: 'gone.pdf', expected: { invoice_number: 'INV-9', total: 5, note: null }, actual: undefined },
    ];
    const s = scoreCases(cases, { ...O, dateOrder: 'dmy', fields: ['invoice_number', 'line_items[].amount'] });
    assert.deepEqual(Object.keys(s.fields), ['invoice_number', 'line_items[].amount']);
    assert.deepEqual(s.fields.invoice_number, { correct: 1, total: 2, accuracy: 0.5, missing: 1, extra: 0 });
    assert.deepEqual([s.overall.correct, s.overall.total], [2, 5]);
    const all = scoreCases(cases, { ...O, dateOrder: 'dmy' });
    assert.deepEqual(all.fields.note, { correct: 0, total: 1, accuracy: 0, missing: 0, extra: 1 }, "gone.pdf's empty note is not counted");
    assert.equal(all.documents, 2);
  });
});
