/**
 * Normalisation of values before an evaluation compares them: numbers (also numeric strings such as
 * `"1,234.50"` or `"$ 1 234,50"`), calendar dates (to ISO `YYYY-MM-DD`), and strings (trimmed, whitespace
 * collapsed, optionally case and punctuation folded). Reuses the number and date readers of grounding
 * (src/extract/grounding.ts), so a value the workbench can ground is a value it can evaluate.
 *
 * Pure: no I/O.
 */
import { dateValues, numberValues } from '../extract/valueForms';

export type DateOrder = 'dmy' | 'mdy';

export interface NormaliseOptions {
  /** Absolute tolerance for numbers. */
  tolerance: number;
  /** How `05/03/2024` is read (default: both readings are accepted when the other side is a date). */
  dateOrder?: DateOrder;
  ignoreCase: boolean;
  ignorePunctuation: boolean;
}

export const DEFAULT_TOLERANCE = 0.005;

export const DEFAULT_NORMALISE: NormaliseOptions = { tolerance: DEFAULT_TOLERANCE, ignoreCase: false, ignorePunctuation: false };

/** Currency signs and codes a numeric string may carry (`$1,234.50`, `1 234,50 EUR`, `-€5`). */
const CURRENCY = /^(?:[$€£¥₹]|usd|eur|gbp|chf|jpy)\s*|\s*(?:[$€£¥₹]|usd|eur|gbp|chf|jpy)$/i;

/**
 * The numbers a value can stand for: a number itself, or a numeric string read with the grounding rules
 * (`"1,234.50"` → 1234.5; `"1,234"` → 1.234 or 1234, both kept). Undefined when it is not numeric.
 */
export function numbersOf(v: unknown): number[] | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? [v] : undefined;
  if (typeof v !== 'string') return undefined;
  let s = v.trim();
  for (let i = 0; i < 2; i++) s = s.replace(CURRENCY, '').trim();
  let sign = 1;
  if (/^\(.*\)$/.test(s)) {
    sign = -1; // accounting negative: (12.50)
    s = s.slice(1, -1).trim();
  }
  if (/^[-+]/.test(s)) {
    if (s[0] === '-') sign = -sign;
    s = s.slice(1).trim();
  }
  if (!/^\d[\d.,'\s\u00a0\u202f]*$/.test(s) || /\s\s/.test(s)) return undefined;
  const values = numberValues(s);
  return values.length ? values.map((n) => sign * n) : undefined;
}

/** Whether two numeric values agree within `tolerance` (any reading of an ambiguous string counts). */
export function numbersAgree(a: number[], b: number[], tolerance: number): boolean {
  // a tiny epsilon so that 0.005 apart counts as within a tolerance of 0.005 despite binary fractions
  return a.some((x) => b.some((y) => Math.abs(x - y) <= tolerance + 1e-9));
}

const SLASH_DATE = /^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})$/;

/**
 * The calendar days (ISO) a date string can mean: `2024-03-05`, `2024-03-05T10:00Z`, `March 5, 2024`,
 * `5 Mar 2024`, `05.03.2024` (day first), and `05/03/2024` read as `dateOrder` says (both readings when
 * it is not given). Empty when the string is not a date.
 */
export function datesOf(v: unknown, dateOrder?: DateOrder): string[] {
  if (typeof v !== 'string') return [];
  const s = v.trim();
  const m = SLASH_DATE.exec(s);
  if (m && m[2] !== '.' && dateOrder) {
    const [a, b] = [Number(m[1]), Number(m[3])];
    const [day, month] = dateOrder === 'dmy' ? [a, b] : [b, a];
    const y = m[4].length === 2 ? (Number(m[4]) < 70 ? 2000 + Number(m[4]) : 1900 + Number(m[4])) : Number(m[4]);
    return dateValues(`${String(y).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`);
  }
  return dateValues(s);
}

/** A string as compared: trimmed, whitespace runs collapsed; case and punctuation folded when asked. */
export function normaliseString(s: string, o: Pick<NormaliseOptions, 'ignoreCase' | 'ignorePunctuation'>): string {
  let out = s.normalize('NFC');
  if (o.ignorePunctuation) out = out.replace(/[\p{P}\p{S}]+/gu, ' ');
  out = out.replace(/\s+/gu, ' ').trim();
  if (o.ignoreCase) out = out.toLocaleLowerCase('en');
  return out;
}

/** Null, undefined, blank strings and empty arrays and objects: nothing was extracted (or labelled). */
export function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === 'string') return v.trim() === '';
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v as Record<string, unknown>).every(isEmpty);
  return false;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
