/**
 * Scores extracted results against expected (truth) values, field by field.
 *
 * Every (document, leaf field) comparison counts once in `total` and is one of:
 *  - correct — the values agree (src/eval/compare.ts), or both are empty (the model rightly found nothing);
 *  - missing — the truth has a value, the result none;
 *  - extra   — the result has a value, the truth none;
 *  - wrong   — both have values that disagree.
 * `accuracy = correct / total`. Line items (arrays of objects) are paired first (src/eval/pairing.ts) and
 * scored per sub-field; the sub-fields of an expected item left unpaired are missing, those of an extracted
 * item left unpaired are extra (empty ones are not counted there). A document with a truth but no result
 * scores every expected value as missing.
 *
 * Pure: no I/O.
 */
import { leavesAgree } from './compare';
import { isEmpty, isPlainObject, type NormaliseOptions } from './normalise';
import { pairItems } from './pairing';
import { childField, learnShape, mayContain, selected, type Shape } from './shape';

export type MismatchKind = 'wrong' | 'missing' | 'extra';

export interface Mismatch {
  /** Document path (as in the result's `source`). */
  source: string;
  /** Field name as in the report: `total`, `address.city`, `line_items[].amount`. */
  field: string;
  /** Where: `line_items[2].amount` (the truth item's index; the result's for extra items). */
  at: string;
  kind: MismatchKind;
  expected: unknown;
  actual: unknown;
}

export interface FieldStats {
  correct: number;
  total: number;
  /** correct / total; null when nothing was compared. */
  accuracy: number | null;
  missing: number;
  extra: number;
}

export interface EvalCase {
  source: string;
  expected: unknown;
  /** The extracted (model's) data; `undefined` when the document has no result. */
  actual: unknown;
}

export interface ScoreOptions extends NormaliseOptions {
  /** Only these fields (a name selects itself and everything under it). */
  fields?: string[];
}

export interface Scores {
  documents: number;
  fields: Record<string, FieldStats>;
  overall: FieldStats;
  mismatches: Mismatch[];
}

interface Counts {
  correct: number;
  total: number;
  missing: number;
  extra: number;
}

class Scorer {
  readonly counts = new Map<string, Counts>();
  readonly mismatches: Mismatch[] = [];
  constructor(readonly o: ScoreOptions) {}

  #count(field: string): Counts {
    let c = this.counts.get(field);
    if (!c) this.counts.set(field, (c = { correct: 0, total: 0, missing: 0, extra: 0 }));
    return c;
  }

  /** Makes the field appear in the report even when no document compares it. */
  declare(field: string): void {
    if (selected(field, this.o.fields)) this.#count(field);
  }

  leaf(source: string, field: string, at: string, expected: unknown, actual: unknown, onlyValues: boolean): void {
    if (!selected(field, this.o.fields)) return;
    const ee = isEmpty(expected);
    const ae = isEmpty(actual);
    if (ee && ae && onlyValues) return;
    const c = this.#count(field);
    c.total++;
    let kind: MismatchKind | undefined;
    if (ee && ae) kind = undefined;
    else if (ae) kind = 'missing';
    else if (ee) kind = 'extra';
    else if (!leavesAgree(expected, actual, this.o)) kind = 'wrong';
    if (!kind) {
      c.correct++;
      return;
    }
    if (kind === 'missing') c.missing++;
    if (kind === 'extra') c.extra++;
    this.mismatches.push({ source, field, at, kind, expected: expected ?? null, actual: actual ?? null });
  }

  /** Walks `shape` over both values. `onlyValues`: skip leaves empty on both sides (unpaired items, no result). */
  node(source: string, shape: Shape, field: string, at: string, expected: unknown, actual: unknown, onlyValues: boolean): void {
    if (shape.kind === 'leaf') return this.leaf(source, field, at, expected, actual, onlyValues);
    if (!mayContain(field, this.o.fields)) return;
    if (shape.kind === 'object') {
      const e = isPlainObject(expected) ? expected : {};
      const a = isPlainObject(actual) ? actual : {};
      for (const [k, s] of shape.keys) this.node(source, s, childField(field, k), childField(at, k), e[k], a[k], onlyValues);
      return;
    }
    const items = `${field}[]`;
    const e = Array.isArray(expected) ? expected.filter(isPlainObject) : [];
    const a = Array.isArray(actual) ? actual.filter(isPlainObject) : [];
    const { pairs, unpairedExpected, unpairedActual } = pairItems(e.length, a.length, (i, j) => agreeing(shape.item, e[i], a[j], this.o));
    for (const [i, j] of pairs) this.node(source, shape.item, items, `${at}[${i}]`, e[i], a[j], onlyValues);
    for (const i of unpairedExpected) this.node(source, shape.item, items, `${at}[${i}]`, e[i], undefined, true);
    for (const j of unpairedActual) this.node(source, shape.item, items, `${at}[result ${j}]`, undefined, a[j], true);
  }
}

/** Sub-fields of an expected item with a value that agree with the extracted item (the pairing score). */
function agreeing(shape: Shape, expected: unknown, actual: unknown, o: ScoreOptions, depth = 0): number {
  if (depth > 32) return 0;
  if (shape.kind === 'leaf') return !isEmpty(expected) && leavesAgree(expected, actual, o) ? 1 : 0;
  if (shape.kind === 'object') {
    const e = isPlainObject(expected) ? expected : {};
    const a = isPlainObject(actual) ? actual : {};
    let n = 0;
    for (const [k, s] of shape.keys) n += agreeing(s, e[k], a[k], o, depth + 1);
    return n;
  }
  // nested line items: count the pairs' agreement (greedy enough for a score)
  const e = Array.isArray(expected) ? expected.filter(isPlainObject) : [];
  const a = Array.isArray(actual) ? actual.filter(isPlainObject) : [];
  const p = pairItems(e.length, a.length, (i, j) => agreeing(shape.item, e[i], a[j], o, depth + 1));
  return p.pairs.reduce((n, [i, j]) => n + agreeing(shape.item, e[i], a[j], o, depth + 1), 0);
}

function stats(c: Counts): FieldStats {
  return { correct: c.correct, total: c.total, accuracy: c.total ? c.correct / c.total : null, missing: c.missing, extra: c.extra };
}

/** Every leaf field of a shape, for the report's rows. */
function leafFields(shape: Shape, field: string, out: string[]): string[] {
  if (shape.kind === 'leaf') out.push(field);
  else if (shape.kind === 'object') for (const [k, s] of shape.keys) leafFields(s, childField(field, k), out);
  else leafFields(shape.item, `${field}[]`, out);
  return out;
}

/** The leaf fields of the expected values (their union over the documents), as the report names them. */
export function truthFields(cases: readonly EvalCase[]): string[] {
  let shape: Shape = { kind: 'leaf' };
  for (const c of cases) shape = learnShape(c.expected, shape);
  return shape.kind === 'leaf' ? [] : leafFields(shape, '', []);
}

/** Scores all cases; fields come from the expected values (their union over the documents). */
export function scoreCases(cases: readonly EvalCase[], o: ScoreOptions): Scores {
  let shape: Shape = { kind: 'leaf' };
  for (const c of cases) shape = learnShape(c.expected, shape);
  const s = new Scorer(o);
  if (shape.kind !== 'leaf') for (const f of leafFields(shape, '', [])) s.declare(f);
  for (const c of cases) s.node(c.source, shape, '', '', c.expected, c.actual, c.actual === undefined);
  const fields: Record<string, FieldStats> = {};
  const all: Counts = { correct: 0, total: 0, missing: 0, extra: 0 };
  for (const [name, c] of s.counts) {
    fields[name || '(document)'] = stats(c);
    all.correct += c.correct;
    all.total += c.total;
    all.missing += c.missing;
    all.extra += c.extra;
  }
  return { documents: cases.length, fields, overall: stats(all), mismatches: s.mismatches };
}
