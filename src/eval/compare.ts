/**
 * Whether an extracted leaf value agrees with the expected one, by type:
 *  - numbers (and numeric strings on either side) within the absolute tolerance;
 *  - dates (strings on both sides that read as calendar days) by day, whatever their format;
 *  - booleans as booleans (also `"true"`/`"yes"`/`"false"`/`"no"` strings);
 *  - strings trimmed with whitespace collapsed (case and punctuation folded when asked);
 *  - arrays of scalars as multisets (order does not matter, duplicates do).
 * Empty values (null, blank, []) agree only with empty values.
 *
 * Pure: no I/O.
 */
import { datesOf, isEmpty, normaliseString, numbersAgree, numbersOf, type NormaliseOptions } from './normalise';

const TRUE = new Set(['true', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'no', 'n', '0']);

function booleanOf(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  return TRUE.has(s) ? true : FALSE.has(s) ? false : undefined;
}

/** Two scalar values (not arrays, not objects). */
export function scalarsAgree(expected: unknown, actual: unknown, o: NormaliseOptions): boolean {
  const ee = isEmpty(expected);
  const ae = isEmpty(actual);
  if (ee || ae) return ee && ae;
  if (typeof expected === 'boolean' || typeof actual === 'boolean') {
    const a = booleanOf(expected);
    const b = booleanOf(actual);
    return a !== undefined && a === b;
  }
  if (typeof expected === 'number' || typeof actual === 'number') {
    const a = numbersOf(expected);
    const b = numbersOf(actual);
    return !!a && !!b && numbersAgree(a, b, o.tolerance);
  }
  if (typeof expected === 'string' && typeof actual === 'string') {
    const sa = normaliseString(expected, o);
    const sb = normaliseString(actual, o);
    if (sa === sb) return true;
    const da = datesOf(expected, o.dateOrder);
    if (da.length) {
      const db = datesOf(actual, o.dateOrder);
      if (db.length) return da.some((d) => db.includes(d));
    }
    const na = numbersOf(expected);
    const nb = na && numbersOf(actual);
    if (na && nb) return numbersAgree(na, nb, o.tolerance);
    return false;
  }
  // anything else (objects where a scalar was expected…): equal as JSON
  return JSON.stringify(expected) === JSON.stringify(actual);
}

/** Arrays of scalars as multisets: every expected item pairs with a distinct agreeing actual item. */
export function multisetsAgree(expected: readonly unknown[], actual: readonly unknown[], o: NormaliseOptions): boolean {
  const e = expected.filter((v) => !isEmpty(v));
  const a = actual.filter((v) => !isEmpty(v));
  if (e.length !== a.length) return false;
  const used = new Array<boolean>(a.length).fill(false);
  // greedy, first agreeing item: exact for equality-like values; with a tolerance, overlapping windows could
  // in theory pair badly, which lists of scalars in extraction results do not show
  for (const x of e) {
    const i = a.findIndex((y, j) => !used[j] && scalarsAgree(x, y, o));
    if (i < 0) return false;
    used[i] = true;
  }
  return true;
}

/** A leaf value: a scalar, or an array of scalars compared as a multiset (a scalar vs a one-item array agrees). */
export function leavesAgree(expected: unknown, actual: unknown, o: NormaliseOptions): boolean {
  if (Array.isArray(expected) || Array.isArray(actual)) {
    const e = Array.isArray(expected) ? expected : isEmpty(expected) ? [] : [expected];
    const a = Array.isArray(actual) ? actual : isEmpty(actual) ? [] : [actual];
    return multisetsAgree(e, a, o);
  }
  return scalarsAgree(expected, actual, o);
}
