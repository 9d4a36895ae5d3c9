/**
 * The ways a value can be written in a document, for grounding (src/extract/grounding.ts) and evaluation
 * (src/eval/normalise.ts): case and typography folding, number tokens and the values they can stand for
 * (`1,234` is 1234 or 1.234), dates by calendar day in the usual notations and month names of five languages.
 * Pure functions and constants.
 */
// ---------------------------------------------------------------------------------------------
// character classes and folding

export function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /[\p{L}\p{N}]/u.test(ch);
}

export function digitsOf(s: string): string {
  return s.replace(/\D+/g, '');
}

/** Case and typography folding of one character (may return '' or several characters). */
export function foldChar(ch: string): string {
  switch (ch) {
    case '\u00ad': // soft hyphen
    case '\u200b': // zero-width space
      return '';
    case '\u2018':
    case '\u2019':
    case '\u201a':
    case '\u2032':
    case '`':
      return "'";
    case '\u201c':
    case '\u201d':
    case '\u201e':
    case '\u2033':
      return '"';
    case '\u2010':
    case '\u2011':
    case '\u2012':
    case '\u2013':
    case '\u2014':
    case '\u2212':
      return '-';
    default:
      return ch.toLowerCase();
  }
}

/** Folds a value the way the normalized text is folded (whitespace runs → one space, trimmed). */
export function normalizeForSearch(s: string): string {
  let out = '';
  for (const ch of s) {
    if (/\s/.test(ch)) {
      if (out && !out.endsWith(' ')) out += ' ';
      continue;
    }
    out += foldChar(ch);
  }
  return out.trimEnd();
}

// ---------------------------------------------------------------------------------------------
// numbers

export interface NumberToken {
  start: number;
  end: number;
  raw: string;
  values: number[];
  /** Not glued to letters (`A4`, `4x`, `INV-0042` are not boundaries). */
  boundary: boolean;
}

export const NUMBER_RE = /\d+(?:(?:[.,'\u2019]|[ \u00a0\u202f](?=\d{3}(?!\d)))\d+)*/g;

function validGroups(parts: string[]): boolean {
  return parts.length > 1 && parts[0].length >= 1 && parts[0].length <= 3 && parts.slice(1).every((p) => p.length === 3);
}

/** Every value a number token can stand for (`1,234` is 1234 or 1.234). Empty for `1.2.3`. */
export function numberValues(raw: string): number[] {
  const s = raw.replace(/[ \u00a0\u202f'\u2019]/g, '');
  const dots = s.split('.').length - 1;
  const commas = s.split(',').length - 1;
  if (!dots && !commas) return [Number(s)];
  const out: number[] = [];
  if (dots && commas) {
    const last = Math.max(s.lastIndexOf('.'), s.lastIndexOf(','));
    const dec = s[last];
    const grp = dec === '.' ? ',' : '.';
    const head = s.slice(0, last);
    if (head.includes(dec)) return [];
    if (validGroups(head.split(grp))) out.push(Number(`${head.split(grp).join('')}.${s.slice(last + 1)}`));
    return out;
  }
  const sep = dots ? '.' : ',';
  const parts = s.split(sep);
  if (parts.length === 2) {
    out.push(Number(`${parts[0]}.${parts[1]}`));
    if (parts[1].length === 3 && parts[0].length <= 3 && !/^0+$/.test(parts[0])) out.push(Number(parts[0] + parts[1]));
  } else if (validGroups(parts)) {
    out.push(Number(parts.join('')));
  }
  return out.filter((n) => Number.isFinite(n));
}

export function numberKey(n: number): string {
  return String(Math.round(Math.abs(n) * 1e6) / 1e6);
}

// ---------------------------------------------------------------------------------------------
// dates

const MONTHS: Record<string, number> = {};
const MONTH_NAMES: [number, string[]][] = [
  [1, ['january', 'jan', 'januar', 'jänner', 'janvier', 'enero']],
  [2, ['february', 'feb', 'februar', 'février', 'febrero']],
  [3, ['march', 'mar', 'märz', 'maerz', 'mars', 'marzo']],
  [4, ['april', 'apr', 'avril', 'abril']],
  [5, ['may', 'mai', 'mayo']],
  [6, ['june', 'jun', 'juni', 'juin', 'junio']],
  [7, ['july', 'jul', 'juli', 'juillet', 'julio']],
  [8, ['august', 'aug', 'août', 'agosto']],
  [9, ['september', 'sep', 'sept', 'septembre', 'septiembre']],
  [10, ['october', 'oct', 'oktober', 'okt', 'octobre', 'octubre']],
  [11, ['november', 'nov', 'novembre', 'noviembre']],
  [12, ['december', 'dec', 'dezember', 'dez', 'décembre', 'diciembre']],
];
for (const [m, names] of MONTH_NAMES) for (const n of names) MONTHS[n] = m;
const MONTH_ALT = Object.keys(MONTHS)
  .sort((a, b) => b.length - a.length)
  .join('|');

export const DATE_PATTERNS: { re: RegExp; parse: (m: RegExpExecArray) => string[] }[] = [
  // 2024-03-05, 2024/3/5, 2024.03.05
  { re: /(?<!\d)(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)/g, parse: (m) => iso(+m[1], +m[3], +m[4]) },
  // 05.03.2024 (day first), 03/05/2024 and 03-05-24 (either order)
  {
    re: /(?<![\d.])(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?![\d])/g,
    parse: (m) => {
      const y = year(m[4]);
      return m[2] === '.' ? iso(y, +m[3], +m[1]) : [...iso(y, +m[3], +m[1]), ...iso(y, +m[1], +m[3])];
    },
  },
  // 5 March 2024, 5th Mar. 2024, 5. März 2024
  {
    re: new RegExp(`(?<![\\p{L}\\d])(\\d{1,2})(?:st|nd|rd|th)?\\.?\\s+(${MONTH_ALT})\\.?,?\\s+(\\d{4})(?!\\d)`, 'giu'),
    parse: (m) => iso(+m[3], MONTHS[m[2].toLowerCase()], +m[1]),
  },
  // March 5, 2024 / Mar 5th 2024
  {
    re: new RegExp(`(?<![\\p{L}])(${MONTH_ALT})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})(?!\\d)`, 'giu'),
    parse: (m) => iso(+m[3], MONTHS[m[1].toLowerCase()], +m[2]),
  },
];

function year(s: string): number {
  const y = Number(s);
  return s.length === 2 ? (y < 70 ? 2000 + y : 1900 + y) : y;
}

function iso(y: number, m: number | undefined, d: number): string[] {
  if (!m || m < 1 || m > 12 || d < 1) return [];
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
  if (d > days) return [];
  return [`${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`];
}

/** Calendar days a date string can mean (`2024-03-05T10:00Z` → 2024-03-05; `03/05/2024` → two). */
export function dateValues(s: string): string[] {
  const t = s.trim();
  const isoPrefix = /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])/.exec(t);
  if (isoPrefix) return iso(+isoPrefix[1], +isoPrefix[2], +isoPrefix[3]);
  for (const p of DATE_PATTERNS) {
    p.re.lastIndex = 0;
    const m = p.re.exec(t);
    if (m && m.index === 0 && m[0].length >= t.replace(/[.,]$/, '').length) return [...new Set(p.parse(m))];
  }
  return [];
}

export interface DateToken {
  start: number;
  end: number;
}
