/**
 * Page layout: reading order for PDF text items, and substring → box lookup.
 *
 * Pure functions, no pdf.js import (used both inside the PDF worker and on the main thread).
 *
 * Reading order:
 *  1. horizontal items (in viewport space, top-left origin) are grouped into rows by baseline;
 *  2. runs of consecutive rows that share a vertical strip of empty space (a gutter) at least
 *     `gutter` wide are split into columns when both sides look like text columns (each side at least
 *     20 % of the text width, lines mostly filling the side) — tables whose cells are separated by
 *     gaps are NOT split, they keep row order like `pdftotext -layout`;
 *  3. columns are read left to right, recursively (3+ columns), rows top to bottom;
 *  4. inside a row items are joined left to right: a space for a word gap, a tab for a wide gap;
 *  5. rotated / vertical items come last, one line each, in content-stream order.
 */
import type { BBox, ConvertedDocument, PositionSpan } from '../types';

/** A text item in viewport space (origin top-left, y down). */
export interface LayoutItem {
  str: string;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** Baseline y (viewport). */
  baseline: number;
  fontSize: number;
  /** False for rotated / vertical text. */
  horizontal: boolean;
}

export interface PageLayoutResult {
  text: string;
  /** Offsets relative to `text`. */
  spans: { start: number; end: number; bbox: BBox }[];
}

interface Row {
  items: LayoutItem[];
  baseline: number;
  top: number;
  bottom: number;
  fontSize: number;
}

// ---------------------------------------------------------------------------------------------
// character widths (Helvetica AFM, chars 32..126, 1/1000 em) used to interpolate substring boxes

const HELVETICA_WIDTHS = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556,
  556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
  667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556,
  556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

function charWidth(ch: number): number {
  if (ch >= 32 && ch <= 126) return HELVETICA_WIDTHS[ch - 32];
  if (ch >= 0x3000 && ch <= 0x9fff) return 1000; // CJK full width
  if (ch >= 0xff00 && ch <= 0xffef) return 1000;
  return 556;
}

/** Relative advance of `s[0..i)` in `s` (0..1), Helvetica-weighted. */
function advanceFractions(s: string): number[] {
  const acc = [0];
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    sum += charWidth(s.charCodeAt(i));
    acc.push(sum);
  }
  return sum > 0 ? acc.map((a) => a / sum) : acc.map((_, i) => (s.length ? i / s.length : 0));
}

/** Box of `s.slice(a, b)` inside the box of `s` (interpolated along x, or along y for tall boxes of vertical text). */
export function subBox(s: string, box: BBox, a: number, b: number, vertical = false): BBox {
  if (a <= 0 && b >= s.length) return box;
  const f = advanceFractions(s);
  const fa = f[Math.max(0, Math.min(s.length, a))];
  const fb = f[Math.max(0, Math.min(s.length, b))];
  const [x0, y0, x1, y1] = box;
  if (vertical) return [x0, y0 + (y1 - y0) * fa, x1, y0 + (y1 - y0) * fb];
  return [x0 + (x1 - x0) * fa, y0, x0 + (x1 - x0) * fb, y1];
}

// ---------------------------------------------------------------------------------------------
// reading order

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function buildRows(items: LayoutItem[]): Row[] {
  const sorted = [...items].sort((a, b) => a.baseline - b.baseline || a.x0 - b.x0);
  const rows: Row[] = [];
  let cur: Row | undefined;
  for (const it of sorted) {
    const tol = 0.35 * Math.max(it.fontSize, cur?.fontSize ?? 0, 1);
    if (cur && Math.abs(it.baseline - cur.baseline) <= tol) {
      cur.items.push(it);
      cur.top = Math.min(cur.top, it.y0);
      cur.bottom = Math.max(cur.bottom, it.y1);
      cur.fontSize = Math.max(cur.fontSize, it.fontSize);
    } else {
      cur = { items: [it], baseline: it.baseline, top: it.y0, bottom: it.y1, fontSize: it.fontSize };
      rows.push(cur);
    }
  }
  const merged = mergeScripts(rows);
  for (const r of merged) r.items.sort((a, b) => a.x0 - b.x0);
  return merged;
}

/**
 * Superscripts and subscripts (®, footnote marks, exponents) have their own baseline; put a row of
 * smaller text into a nearby row of bigger text when its baseline lies inside that row's line box and
 * it does not overlap that row's items horizontally.
 */
function mergeScripts(rows: Row[]): Row[] {
  if (rows.length < 2) return rows;
  const gone = new Set<Row>();
  for (let i = 0; i < rows.length; i++) {
    const small = rows[i];
    if (gone.has(small)) continue;
    for (let d = 1; d <= 3; d++) {
      let done = false;
      for (const j of [i + d, i - d]) {
        const big = rows[j];
        if (!big || gone.has(big) || big === small) continue;
        if (small.fontSize > 0.85 * big.fontSize) continue;
        const fs = big.fontSize;
        if (small.baseline < big.top - 0.05 * fs || small.baseline > big.bottom + 0.15 * fs) continue;
        const overlaps = small.items.some((s) => big.items.some((b) => s.x0 < b.x1 - 0.5 && s.x1 > b.x0 + 0.5));
        if (overlaps) continue;
        big.items.push(...small.items);
        big.top = Math.min(big.top, small.top);
        big.bottom = Math.max(big.bottom, small.bottom);
        gone.add(small);
        done = true;
        break;
      }
      if (done) break;
    }
  }
  return gone.size ? rows.filter((r) => !gone.has(r)) : rows;
}

type Interval = [number, number];

/** Free x-intervals of a row within [lo, hi]. */
function freeSpace(row: Row, lo: number, hi: number): Interval[] {
  const out: Interval[] = [];
  let x = lo;
  for (const it of row.items) {
    if (it.x0 > x) out.push([x, it.x0]);
    x = Math.max(x, it.x1);
  }
  if (hi > x) out.push([x, hi]);
  return out;
}

function intersect(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0, j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i][0], b[j][0]);
    const hi = Math.min(a[i][1], b[j][1]);
    if (hi > lo) out.push([lo, hi]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

/** Splits rows (top to bottom) into items of the left / right side of a gutter. */
function splitSide(rows: Row[], pred: (it: LayoutItem) => boolean): LayoutItem[] {
  const out: LayoutItem[] = [];
  for (const r of rows) for (const it of r.items) if (pred(it)) out.push(it);
  return out;
}

function looksLikeTextColumn(items: LayoutItem[], sideWidth: number, textWidth: number): boolean {
  if (items.length === 0) return false;
  const rows = buildRows(items);
  if (rows.length < 2) return false;
  const lo = Math.min(...items.map((i) => i.x0));
  const hi = Math.max(...items.map((i) => i.x1));
  const extent = Math.max(hi - lo, sideWidth * 0.5);
  if (hi - lo < 0.2 * textWidth) return false;
  // share of rows whose text fills most of the side (wrapped prose does, numeric table cells don't)
  const fills = rows.map((r) => r.items.reduce((s, it) => s + (it.x1 - it.x0), 0) / extent);
  const full = fills.filter((f) => f >= 0.55).length;
  return full >= Math.max(1, Math.ceil(rows.length * 0.4));
}

/**
 * Orders the items of one region; returns blocks (lists of rows). `depth` bounds recursion.
 */
function orderItems(items: LayoutItem[], depth: number): Row[][] {
  const rows = buildRows(items);
  if (rows.length === 0) return [];
  if (depth > 6 || rows.length < 3) return [rows];
  const lo = Math.min(...items.map((i) => i.x0));
  const hi = Math.max(...items.map((i) => i.x1));
  const textWidth = hi - lo;
  const fs = median(items.map((i) => i.fontSize)) || 10;
  const minGutter = Math.max(0.9 * fs, 6);
  const blocks: Row[][] = [];
  let plain: Row[] = [];
  const flushPlain = () => {
    if (plain.length) blocks.push(plain);
    plain = [];
  };
  const frees = rows.map((r) => freeSpace(r, lo, hi));
  // a run rejected as "not text columns" is not re-examined when starting one row later gives the
  // same run end and gutters (keeps tables linear instead of quadratic)
  let rejectedKey = '';
  let i = 0;
  while (i < rows.length) {
    // extend a run from row i while a common inner gutter exists
    let free = frees[i];
    let j = i + 1;
    const inner = (f: Interval[]) => f.filter(([a, b]) => b - a >= minGutter && a > lo + 0.05 * textWidth && b < hi - 0.05 * textWidth);
    if (inner(free).length === 0) {
      plain.push(rows[i]);
      i++;
      continue;
    }
    while (j < rows.length) {
      // a wide horizontal band of empty space ends a column region (section break, footer)
      if (rows[j].top - rows[j - 1].bottom > 2.5 * fs) break;
      const next = intersect(free, frees[j]);
      if (inner(next).length === 0) break;
      free = next;
      j++;
    }
    let accepted = false;
    const key = `${j}:${inner(free).map(([a, b]) => `${Math.round(a)}-${Math.round(b)}`).join(',')}`;
    if (j - i >= 3 && key !== rejectedKey) {
      const run = rows.slice(i, j);
      // leftmost gutter whose both sides look like text columns
      for (const [g0, g1] of inner(free)) {
        const left = splitSide(run, (it) => it.x1 <= g0 + 0.01);
        const right = splitSide(run, (it) => it.x0 >= g1 - 0.01);
        if (left.length + right.length !== run.reduce((s, r) => s + r.items.length, 0)) continue;
        if (looksLikeTextColumn(left, g0 - lo, textWidth) && looksLikeTextColumn(right, hi - g1, textWidth)) {
          flushPlain();
          for (const b of orderItems(left, depth + 1)) blocks.push(b);
          for (const b of orderItems(right, depth + 1)) blocks.push(b);
          accepted = true;
          break;
        }
      }
    }
    if (accepted) {
      i = j;
      rejectedKey = '';
    } else {
      if (j - i >= 3) rejectedKey = key;
      plain.push(rows[i]);
      i++;
    }
  }
  flushPlain();
  return blocks;
}

/**
 * Removes characters drawn twice on top of each other (fake bold, outline/shadow titles, tools that
 * re-show the previous glyph): when an item overlaps its left neighbour by more than a quarter of the
 * font size and starts with the characters the neighbour ends with, those characters are cut off
 * (the whole item is dropped when it repeats the neighbour entirely). Like pdftotext's duplicate removal.
 */
export function dedupeRow(items: LayoutItem[]): LayoutItem[] {
  const out: LayoutItem[] = [];
  for (const orig of items) {
    let it = orig;
    const prev = out[out.length - 1];
    if (prev) {
      const fs = Math.max(1, Math.min(prev.fontSize, it.fontSize));
      const overlap = prev.x1 - it.x0;
      const sameLine = Math.abs(prev.baseline - it.baseline) < 0.3 * fs;
      if (sameLine && overlap > 0.25 * fs) {
        if (it.str === prev.str && Math.abs(it.x0 - prev.x0) < 0.3 * fs) continue; // drawn twice
        const a = prev.str.trimEnd();
        const b = it.str;
        for (let k = Math.min(a.length, b.length); k >= 1; k--) {
          if (!a.endsWith(b.slice(0, k))) continue;
          const box = subBox(b, [it.x0, it.y0, it.x1, it.y1], 0, k);
          const w = box[2] - box[0];
          if (Math.abs(w - overlap) > Math.max(0.4 * fs, 0.5 * w)) continue;
          if (k === b.length) {
            it = { ...it, str: '' };
          } else {
            const rest = subBox(b, [it.x0, it.y0, it.x1, it.y1], k, b.length);
            it = { ...it, str: b.slice(k), x0: rest[0], x1: rest[2] };
          }
          break;
        }
        if (it.str.trim() === '') continue;
      }
    }
    out.push(it);
  }
  return out;
}

function isSpace(ch: string | undefined): boolean {
  return ch === undefined || /\s/.test(ch);
}

/** Lays out one page: text and spans (offsets relative to the page text). */
export function layoutPage(items: LayoutItem[]): PageLayoutResult {
  const horizontal: LayoutItem[] = [];
  const other: LayoutItem[] = [];
  for (const it of items) {
    if (it.str.trim() === '') continue;
    (it.horizontal ? horizontal : other).push(it);
  }
  const blocks = orderItems(horizontal, 0);
  let text = '';
  // the last character appended, kept aside: reading `text[text.length - 1]` would flatten the growing
  // string on every item (a copy of the page text so far each time)
  let last: string | undefined;
  const append = (s: string) => {
    text += s;
    last = s[s.length - 1];
  };
  const spans: PageLayoutResult['spans'] = [];
  const pushItem = (it: LayoutItem) => {
    // trim the item and narrow its box accordingly
    const lead = it.str.length - it.str.trimStart().length;
    const trimmed = it.str.trim();
    const box: BBox = [it.x0, it.y0, it.x1, it.y1];
    const bbox = subBox(it.str, box, lead, lead + trimmed.length, !it.horizontal);
    const start = text.length;
    if (trimmed) append(trimmed.replace(/\s+/g, ' '));
    spans.push({ start, end: text.length, bbox });
  };
  for (let b = 0; b < blocks.length; b++) {
    const rows = blocks[b];
    if (b > 0) append('\n\n');
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      if (r > 0) {
        const prev = rows[r - 1];
        const gap = row.top - prev.bottom;
        append(gap > 0.9 * Math.max(row.fontSize, prev.fontSize) ? '\n\n' : '\n');
      }
      let prevItem: LayoutItem | undefined;
      for (const it of dedupeRow(row.items)) {
        if (prevItem) {
          const gap = it.x0 - prevItem.x1;
          const fs = Math.max(1, Math.min(it.fontSize, prevItem.fontSize));
          if (gap >= 1.5 * fs) append('\t');
          else if (
            !isSpace(last) &&
            // a word gap, whitespace at the item edges, or items overlapping a lot (keep words apart)
            (gap > 0.12 * fs || /\s$/.test(prevItem.str) || /^\s/.test(it.str) || gap <= -0.5 * fs)
          )
            append(' ');
        }
        pushItem(it);
        prevItem = it;
      }
    }
  }
  for (const it of other) {
    if (text.length) append('\n');
    pushItem(it);
  }
  return { text, spans };
}

// ---------------------------------------------------------------------------------------------
// offsets → boxes

export interface LocatedBox {
  page: number;
  bbox: BBox;
}

function firstSpanEndingAfter(spans: PositionSpan[], offset: number): number {
  let lo = 0, hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid].end <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Boxes covering `doc.text.slice(start, end)`: one per text item touched, interpolated within the item,
 * merged when consecutive boxes sit on the same line of the same page. Empty when the document has no
 * box positions (non-PDF) or the range holds only separators.
 */
export function locate(doc: ConvertedDocument, start: number, end: number): LocatedBox[] {
  const spans = doc.positions;
  if (!spans || spans.length === 0 || end <= start) return [];
  const out: LocatedBox[] = [];
  for (let k = firstSpanEndingAfter(spans, start); k < spans.length; k++) {
    const s = spans[k];
    if (s.start >= end) break;
    if (!s.bbox || s.page === undefined) continue;
    const a = Math.max(start, s.start) - s.start;
    const b = Math.min(end, s.end) - s.start;
    if (b <= a) continue;
    const str = doc.text.slice(s.start, s.end);
    const [x0, y0, x1, y1] = s.bbox;
    const vertical = y1 - y0 > 2.5 * (x1 - x0) && str.length > 2;
    const bbox = subBox(str, s.bbox, a, b, vertical);
    const last = out[out.length - 1];
    if (
      last &&
      last.page === s.page &&
      Math.abs(last.bbox[1] - bbox[1]) < 0.5 * (bbox[3] - bbox[1]) &&
      Math.abs(last.bbox[3] - bbox[3]) < 0.5 * (bbox[3] - bbox[1]) &&
      bbox[0] >= last.bbox[0] - 0.5 &&
      bbox[0] - last.bbox[2] < 2 * (bbox[3] - bbox[1])
    ) {
      last.bbox = [last.bbox[0], Math.min(last.bbox[1], bbox[1]), Math.max(last.bbox[2], bbox[2]), Math.max(last.bbox[3], bbox[3])];
    } else {
      out.push({ page: s.page, bbox });
    }
  }
  return out;
}

/** 1-based page containing `offset` (binary search over `doc.pages`), or undefined. */
export function pageAt(doc: ConvertedDocument, offset: number): number | undefined {
  const pages = doc.pages;
  if (!pages) return undefined;
  let lo = 0, hi = pages.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = pages[mid];
    if (offset < p.start) hi = mid - 1;
    else if (offset >= p.end && !(offset === p.end && mid === pages.length - 1)) lo = mid + 1;
    else return p.page;
  }
  return undefined;
}
