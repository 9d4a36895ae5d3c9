/**
 * Source grounding: finds every leaf value of an extraction result in the converted document, so a
 * reviewer can see where a value came from (and which values the document does not support).
 *
 * For each leaf (strings, numbers, dates — array items included) the search tries, in order:
 *  1. **exact** — the value's text as is (`"INV-2024-0042"`, the number `250.26` as `250.26`);
 *  2. **normalized** — case and whitespace folded (line breaks, tabs, double spaces, curly quotes,
 *     dashes); numbers by value whatever their format (`1,249.50`, `1.249,50`, `1 249,50`, `1249.5`);
 *     dates by calendar day (`2024-03-05`, `05.03.2024`, `3/5/2024`, `March 5, 2024`, `5 Mar 2024`);
 *  3. **fuzzy** — bounded edit distance (at most one edit per five characters) over candidate windows
 *     found with the pigeonhole filter: when a value of length m matches with ≤ k edits, one of its
 *     k+1 pieces occurs verbatim, so only the windows around those occurrences are compared. Digits
 *     must agree exactly (a fuzzy match never turns `0042` into `0024`).
 * Values found nowhere are `ungrounded`. `null`, `undefined`, booleans and empty strings have nothing to
 * find and get no entry.
 *
 * When a value occurs several times, matches on word boundaries win, then the one written after its label
 * (a word of its field name before it on its line: "Total due: 40.00" for `total`,
 * src/extract/groundingLabels.ts), then the one nearest to (and preferably after) the previous grounded
 * value: line items are found row by row. Within an array item
 * (a line item) the occurrence consistent with the item's other values wins — on their row, not the one a
 * sibling already took — and a value left with several equally plausible occurrences is marked
 * `ambiguous` (src/extract/groundingRows.ts).
 *
 * Every entry carries the JSON Pointer of the field, character offsets into `ConvertedDocument.text`,
 * the page and boxes (viewport units, top-left origin, scale 1; interpolated within position spans by
 * {@link locate}) for PDFs, and the 1-based line for text formats.
 *
 * Pure: no I/O, no `vscode`. Cost: one pass per kind of index (normalized text, number tokens, date
 * tokens), built lazily and shared by all fields of a {@link Grounder}.
 */
import { LOW_OCR_CONFIDENCE, minOcrConfidence } from '../convert/ocr/ocrText';
import { locate, pageAt } from '../convert/pdf/layout';
import type { BBox, ConvertedDocument, PositionSpan } from '../convert/types';
import { semiGlobal } from './fuzzyMatch';
import { labelHits, labelPatterns, type LabelPattern } from './groundingLabels';
import { anchorCost, chooseRow } from './groundingRows';
import { dateValues, DATE_PATTERNS, digitsOf, foldChar, isWordChar, normalizeForSearch, NUMBER_RE, numberKey, numberValues, type DateToken, type NumberToken } from './valueForms';

export const GROUNDING_VERSION = 1;

export type MatchKind = 'exact' | 'normalized' | 'fuzzy';

export interface GroundingBox {
  /** 1-based page. */
  page: number;
  bbox: BBox;
}

/** Where one leaf value of the result was found (or that it was not). */
export interface FieldGrounding {
  /** JSON Pointer (RFC 6901) of the value in the result's `data`, e.g. `/line_items/0/amount`. */
  pointer: string;
  status: 'grounded' | 'ungrounded';
  match?: MatchKind;
  /** Offsets into `ConvertedDocument.text` (end exclusive). */
  start?: number;
  end?: number;
  /** The matched source text (at most {@link MAX_SNIPPET} characters). */
  text?: string;
  /** 1-based page (paged formats). */
  page?: number;
  /** Boxes covering the match, one per text item or line touched (PDF). */
  boxes?: GroundingBox[];
  /** 1-based line (text formats). */
  line?: number;
  /** Similarity 0..1: 1 for exact and normalized matches, 1 − edits/length for fuzzy ones. */
  score?: number;
  /** Several occurrences were equally plausible (array items: by row and siblings); this one is the nearest. */
  ambiguous?: boolean;
  /** Text recognised by OCR: the lowest word confidence (0–100) of the match. */
  ocrConfidence?: number;
  /** Some word of the match was recognised with an OCR confidence below {@link LOW_OCR_CONFIDENCE}. */
  lowConfidence?: boolean;
  /** Confidence 0–1 for review routing (src/extract/confidence.ts); absent in results written before it. */
  confidence?: number;
  /** What set `confidence`: the grounding rule, or the model's token log-probabilities (when lower). */
  confidenceSource?: 'grounding' | 'logprobs';
}

export interface GroundingSummary {
  /** Leaves looked for. */
  total: number;
  exact: number;
  normalized: number;
  fuzzy: number;
  ungrounded: number;
  /** Lowest value confidence (absent in results written before confidences). */
  minConfidence?: number;
}

/** The `grounding` field of a result file. */
export interface Grounding {
  version: typeof GROUNDING_VERSION;
  fields: FieldGrounding[];
  summary: GroundingSummary;
}

export interface GroundingOptions {
  /** Longest value (in characters) tried with fuzzy matching. Default 300. */
  maxFuzzyLength?: number;
  /** Occurrences of one needle considered at most. Default 2000. */
  maxCandidates?: number;
}

const MAX_SNIPPET = 200;

/** Grounds every leaf of `data` in `doc`. Never throws: a failure leaves the remaining values ungrounded. */
export function groundValues(data: unknown, doc: ConvertedDocument, options: GroundingOptions = {}): Grounding {
  return new Grounder(doc, options).ground(data);
}

/** RFC 6901 escaping of one pointer segment. */
function seg(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

// ---------------------------------------------------------------------------------------------
// candidates

interface Candidate {
  start: number;
  end: number;
  kind: MatchKind;
  boundary: boolean;
  score: number;
}

function best(cands: Candidate[], anchor: number): Candidate | undefined {
  let out: Candidate | undefined;
  let bestCost = Infinity;
  for (const c of cands) {
    const k = anchorCost(c, anchor);
    if (k < bestCost) {
      bestCost = k;
      out = c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// the grounder

interface NormalizedText {
  text: string;
  /** Original index of every normalized character. */
  map: Int32Array;
}

/**
 * Grounds values in one document. Indexes (normalized text, number and date tokens, line starts) are
 * built on first use and reused for every value, so grounding a corrected value again is cheap.
 */
export class Grounder {
  readonly #doc: ConvertedDocument;
  readonly #text: string;
  readonly #maxFuzzy: number;
  readonly #maxCands: number;
  #norm: NormalizedText | undefined;
  #numbers: Map<string, NumberToken[]> | undefined;
  #dates: Map<string, DateToken[]> | undefined;
  #lineStarts: number[] | undefined;
  readonly #lineSpans: PositionSpan[] | undefined;

  constructor(doc: ConvertedDocument, options: GroundingOptions = {}) {
    this.#doc = doc;
    this.#text = typeof doc.text === 'string' ? doc.text : '';
    this.#maxFuzzy = options.maxFuzzyLength ?? 300;
    this.#maxCands = options.maxCandidates ?? 2000;
    const spans = doc.positions?.filter((s) => s.line !== undefined);
    this.#lineSpans = spans && spans.length ? spans : undefined;
  }

  /** Grounds every leaf of `data` (see the module comment for what counts as a leaf). */
  ground(data: unknown): Grounding {
    const fields: FieldGrounding[] = [];
    this.#walk(data, '', 0, fields, 0);
    const summary: GroundingSummary = { total: fields.length, exact: 0, normalized: 0, fuzzy: 0, ungrounded: 0 };
    for (const f of fields) {
      if (f.status === 'ungrounded') summary.ungrounded++;
      else summary[f.match ?? 'exact']++;
    }
    return { version: GROUNDING_VERSION, fields, summary };
  }

  /**
   * Grounds one leaf value. `anchor` is an offset the match should preferably be close to (after).
   * Returns undefined for values that have nothing to find (null, booleans, empty strings, objects).
   */
  groundLeaf(pointer: string, value: unknown, anchor = 0, labels: readonly LabelPattern[] = []): FieldGrounding | undefined {
    const cands = this.#candidates(value);
    if (!cands) return undefined;
    const found = best(this.#nearLabel(cands, labels), anchor);
    if (!found) return { pointer, status: 'ungrounded' };
    return this.#describe(pointer, found);
  }

  /**
   * Of several occurrences, those written after most words of the field's name (src/extract/groundingLabels.ts);
   * all of them when no occurrence has its label. Word-boundary occurrences first, as {@link best} does.
   */
  #nearLabel(cands: Candidate[], labels: readonly LabelPattern[]): Candidate[] {
    if (cands.length < 2 || !labels.length) return cands;
    const pool = cands.some((c) => c.boundary) ? cands.filter((c) => c.boundary) : cands;
    const hits = pool.map((c) => labelHits(this.#text, c.start, labels));
    const most = Math.max(...hits);
    return most > 0 ? pool.filter((_, i) => hits[i] === most) : cands;
  }

  /** The occurrences of a leaf in its best match kind; undefined for values with nothing to find. */
  #candidates(value: unknown): Candidate[] | undefined {
    if (typeof value === 'string') {
      if (value.trim() === '') return undefined;
    } else if (typeof value !== 'number' || !Number.isFinite(value)) {
      return undefined;
    }
    try {
      return typeof value === 'number' ? this.#numberOccurrences(value) : this.#stringOccurrences(value);
    } catch {
      return []; // a bug in one search must not fail the document
    }
  }

  /** An array item: its values placed as one row (src/extract/groundingRows.ts), nested values after. */
  #walkRow(item: Record<string, unknown>, pointer: string, anchor: number, out: FieldGrounding[], depth: number): number {
    const entries = Object.entries(item);
    const leaves: { index: number; cands: Candidate[] }[] = [];
    entries.forEach(([, v], index) => {
      if (v !== null && typeof v === 'object') return;
      const cands = this.#candidates(v);
      if (cands) leaves.push({ index, cands });
    });
    const { choices, anchor: next } = chooseRow(
      leaves.map((l) => l.cands),
      anchor,
      (o) => this.#lineAt(o),
    );
    const byIndex = new Map(leaves.map((l, i) => [l.index, choices[i]]));
    let a = next;
    entries.forEach(([k, v], index) => {
      const p = `${pointer}/${seg(k)}`;
      if (v !== null && typeof v === 'object') {
        a = this.#walk(v, p, a, out, depth + 1);
        return;
      }
      if (!byIndex.has(index)) return;
      const ch = byIndex.get(index);
      out.push(ch ? this.#describe(p, ch.candidate, ch.ambiguous) : { pointer: p, status: 'ungrounded' });
    });
    return a;
  }

  /** `labels`: the words of the field name a leaf (or an array of leaves) is under. */
  #walk(value: unknown, pointer: string, anchor: number, out: FieldGrounding[], depth: number, labels: readonly LabelPattern[] = []): number {
    if (depth > 64 || value === null || value === undefined) return anchor;
    if (Array.isArray(value)) {
      let a = anchor;
      value.forEach((item, i) => {
        const p = `${pointer}/${i}`;
        a = item !== null && typeof item === 'object' && !Array.isArray(item) ? this.#walkRow(item as Record<string, unknown>, p, a, out, depth + 1) : this.#walk(item, p, a, out, depth + 1, labels);
      });
      return a;
    }
    if (typeof value === 'object') {
      let a = anchor;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) a = this.#walk(v, `${pointer}/${seg(k)}`, a, out, depth + 1, labelPatterns(k));
      return a;
    }
    const g = this.groundLeaf(pointer, value, anchor, labels);
    if (!g) return anchor;
    out.push(g);
    return g.status === 'grounded' && g.start !== undefined ? g.start : anchor;
  }

  #describe(pointer: string, c: Candidate, ambiguous = false): FieldGrounding {
    const g: FieldGrounding = { pointer, status: 'grounded', match: c.kind, start: c.start, end: c.end };
    g.text = this.#text.slice(c.start, Math.min(c.end, c.start + MAX_SNIPPET));
    const boxes = locate(this.#doc, c.start, c.end);
    const page = boxes[0]?.page ?? pageAt(this.#doc, c.start);
    if (page !== undefined) g.page = page;
    if (boxes.length) g.boxes = boxes.map((b) => ({ page: b.page, bbox: b.bbox.map((v) => Math.round(v * 100) / 100) as BBox }));
    if (!this.#doc.pages?.length) g.line = this.#lineAt(c.start);
    g.score = Math.round(c.score * 1000) / 1000;
    if (ambiguous) g.ambiguous = true;
    const conf = minOcrConfidence(this.#doc, c.start, c.end);
    if (conf !== undefined) {
      g.ocrConfidence = conf;
      if (conf < LOW_OCR_CONFIDENCE) g.lowConfidence = true;
    }
    return g;
  }

  // ------------------------------------------------------------------ strings

  #stringOccurrences(value: string): Candidate[] {
    const trimmed = value.trim();
    const exact = this.#exact(trimmed);
    if (exact.length) return exact;
    const normalized = this.#normalized(trimmed);
    const days = dateValues(trimmed);
    if (days.length) normalized.push(...this.#dateCandidates(days));
    if (/^[-+]?[\d.,'\s\u00a0\u202f]*\d$/.test(trimmed)) {
      for (const n of numberValues(trimmed.replace(/^[-+]/, ''))) normalized.push(...this.#numberCandidates(n, trimmed));
    }
    if (normalized.length) return normalized;
    return this.#fuzzy(trimmed);
  }

  #exact(needle: string): Candidate[] {
    const out: Candidate[] = [];
    const t = this.#text;
    for (let i = t.indexOf(needle); i >= 0 && out.length < this.#maxCands; i = t.indexOf(needle, i + 1)) {
      const end = i + needle.length;
      const boundary = !(isWordChar(needle[0]) && isWordChar(t[i - 1])) && !(isWordChar(needle[needle.length - 1]) && isWordChar(t[end]));
      out.push({ start: i, end, kind: 'exact', boundary, score: 1 });
    }
    return out;
  }

  #normalizedText(): NormalizedText {
    if (this.#norm) return this.#norm;
    const t = this.#text;
    const chars: string[] = [];
    const map: number[] = [];
    let lastSpace = true;
    for (let i = 0; i < t.length; i++) {
      const ch = t[i];
      if (ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v' || ch === '\u00a0' || ch === '\u202f' || ch === '\u2009' || (ch > '\u007f' && /\s/.test(ch))) {
        if (!lastSpace) {
          chars.push(' ');
          map.push(i);
          lastSpace = true;
        }
        continue;
      }
      const f = ch < '\u0080' ? (ch >= 'A' && ch <= 'Z' ? ch.toLowerCase() : ch === '`' ? "'" : ch) : foldChar(ch);
      for (const c of f) {
        chars.push(c);
        map.push(i);
      }
      if (f) lastSpace = false;
    }
    this.#norm = { text: chars.join(''), map: Int32Array.from(map) };
    return this.#norm;
  }

  /** Original [start, end) of normalized [a, b). */
  #toOriginal(n: NormalizedText, a: number, b: number): [number, number] {
    return [n.map[a], n.map[b - 1] + 1];
  }

  #normalized(value: string): Candidate[] {
    const needle = normalizeForSearch(value);
    if (!needle) return [];
    const n = this.#normalizedText();
    const out: Candidate[] = [];
    for (let i = n.text.indexOf(needle); i >= 0 && out.length < this.#maxCands; i = n.text.indexOf(needle, i + 1)) {
      const j = i + needle.length;
      const boundary = !(isWordChar(needle[0]) && isWordChar(n.text[i - 1])) && !(isWordChar(needle[needle.length - 1]) && isWordChar(n.text[j]));
      const [start, end] = this.#toOriginal(n, i, j);
      out.push({ start, end, kind: 'normalized', boundary, score: 1 });
    }
    return out;
  }

  // ------------------------------------------------------------------ numbers and dates

  #numberIndex(): Map<string, NumberToken[]> {
    if (this.#numbers) return this.#numbers;
    const index = new Map<string, NumberToken[]>();
    const t = this.#text;
    const add = (start: number, raw: string) => {
      const end = start + raw.length;
      const before = t[start - 1];
      const after = t[end];
      const boundary = !/[\p{L}_-]/u.test(before ?? '') && !/[\p{L}_]/u.test(after ?? '');
      const tok: NumberToken = { start, end, raw, values: numberValues(raw), boundary };
      for (const v of new Set(tok.values.map(numberKey))) {
        const list = index.get(v);
        if (list) list.push(tok);
        else index.set(v, [tok]);
      }
    };
    NUMBER_RE.lastIndex = 0;
    for (let m = NUMBER_RE.exec(t); m; m = NUMBER_RE.exec(t)) {
      add(m.index, m[0]);
      // "3 180.00" may be two table cells: index the parts as well
      if (/[ \u00a0\u202f]/.test(m[0])) {
        const re = /[^ \u00a0\u202f]+/g;
        for (let p = re.exec(m[0]); p; p = re.exec(m[0])) add(m.index + p.index, p[0]);
      }
    }
    this.#numbers = index;
    return index;
  }

  #numberCandidates(value: number, literal: string): Candidate[] {
    const toks = this.#numberIndex().get(numberKey(value)) ?? [];
    return toks.slice(0, this.#maxCands).map((tok) => ({
      start: tok.start,
      end: tok.end,
      kind: tok.raw === literal ? 'exact' : 'normalized',
      boundary: tok.boundary,
      score: 1,
    }));
  }

  #numberOccurrences(value: number): Candidate[] {
    const literal = String(Math.abs(value));
    const cands = this.#numberCandidates(value, literal);
    const exact = cands.filter((c) => c.kind === 'exact');
    return exact.length ? exact : cands;
  }

  #dateIndex(): Map<string, DateToken[]> {
    if (this.#dates) return this.#dates;
    const index = new Map<string, DateToken[]>();
    const t = this.#text;
    for (const p of DATE_PATTERNS) {
      p.re.lastIndex = 0;
      for (let m = p.re.exec(t); m; m = p.re.exec(t)) {
        for (const day of new Set(p.parse(m))) {
          const list = index.get(day) ?? [];
          list.push({ start: m.index, end: m.index + m[0].length });
          index.set(day, list);
        }
      }
    }
    this.#dates = index;
    return index;
  }

  #dateCandidates(days: string[]): Candidate[] {
    const out: Candidate[] = [];
    const index = this.#dateIndex();
    for (const d of days) for (const tok of index.get(d) ?? []) out.push({ start: tok.start, end: tok.end, kind: 'normalized', boundary: true, score: 1 });
    return out;
  }

  // ------------------------------------------------------------------ fuzzy

  #fuzzy(value: string): Candidate[] {
    const p = normalizeForSearch(value);
    const m = p.length;
    if (m < 5 || m > this.#maxFuzzy) return [];
    const k = Math.floor(m / 5);
    const n = this.#normalizedText();
    const text = n.text;
    // pigeonhole: one of k+1 pieces occurs verbatim
    const pieces = k + 1;
    const windows: [number, number][] = [];
    const maxWindows = this.#maxCands;
    for (let q = 0; q < pieces && windows.length < maxWindows; q++) {
      const a = Math.floor((q * m) / pieces);
      const b = Math.floor(((q + 1) * m) / pieces);
      const piece = p.slice(a, b);
      if (!piece.trim()) continue;
      for (let i = text.indexOf(piece); i >= 0 && windows.length < maxWindows; i = text.indexOf(piece, i + 1)) {
        windows.push([Math.max(0, i - a - k), Math.min(text.length, i - a + m + k)]);
      }
    }
    if (!windows.length) return [];
    windows.sort((x, y) => x[0] - y[0]);
    const merged: [number, number][] = [];
    for (const w of windows) {
      const last = merged[merged.length - 1];
      if (last && w[0] <= last[1]) last[1] = Math.max(last[1], w[1]);
      else merged.push([w[0], w[1]]);
    }
    const wantDigits = digitsOf(p);
    const out: Candidate[] = [];
    let bestD = k + 1;
    for (const [ws, we] of merged) {
      const hit = semiGlobal(p, text, ws, we, k);
      if (!hit || hit.distance > bestD) continue;
      // trim the match to whole characters that are not spaces
      let a = hit.start;
      let b = hit.end;
      while (a < b && text[a] === ' ') a++;
      while (b > a && text[b - 1] === ' ') b--;
      if (b <= a) continue;
      if (digitsOf(text.slice(a, b)) !== wantDigits) continue;
      if (hit.distance < bestD) {
        bestD = hit.distance;
        out.length = 0;
      }
      const [start, end] = this.#toOriginal(n, a, b);
      const boundary = !isWordChar(text[a - 1]) && !isWordChar(text[b]);
      out.push({ start, end, kind: 'fuzzy', boundary, score: 1 - hit.distance / m });
    }
    return out;
  }

  // ------------------------------------------------------------------ lines

  #lineAt(offset: number): number {
    const spans = this.#lineSpans;
    if (spans) {
      let lo = 0;
      let hi = spans.length - 1;
      let found = spans[0];
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (spans[mid].start <= offset) {
          found = spans[mid];
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return found.line ?? 1;
    }
    if (!this.#lineStarts) {
      const starts = [0];
      const t = this.#text;
      for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) starts.push(i + 1);
      this.#lineStarts = starts;
    }
    const starts = this.#lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
}
