/**
 * OCR words → page text and position spans, in the same form as PDF text-layer output: words joined by
 * spaces, lines by `\n`, paragraphs by a blank line; one position span per word with its box mapped from
 * image pixels to page units and Tesseract's confidence (grounding marks values built from words below
 * {@link LOW_OCR_CONFIDENCE} as low confidence).
 */
import type { BBox, ConvertedDocument, PageInfo, PositionSpan } from '../types';
import type { OcrPageResult } from './protocol';

/** Words whose confidence (0–100) is below this make the values built from them "low confidence". */
export const LOW_OCR_CONFIDENCE = 60;

export interface OcrPageText {
  text: string;
  /** Offsets relative to `text`. */
  spans: PositionSpan[];
  words: number;
  /** Mean word confidence (0–100), 0 without words. */
  meanConfidence: number;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Maps a pixel box through an affine matrix [a, b, c, d, e, f]; returns the enclosing box. */
export function mapBox(b: readonly number[], m: readonly number[]): BBox {
  const xs: number[] = [], ys: number[] = [];
  for (const [x, y] of [[b[0], b[1]], [b[2], b[1]], [b[0], b[3]], [b[2], b[3]]]) {
    xs.push(m[0] * x + m[2] * y + m[4]);
    ys.push(m[1] * x + m[3] * y + m[5]);
  }
  return [round2(Math.min(...xs)), round2(Math.min(...ys)), round2(Math.max(...xs)), round2(Math.max(...ys))];
}

/** The text of one recognised page; `toPage` maps pixels to page units (identity for image files). */
export function ocrPageText(result: OcrPageResult, page: number, toPage: readonly number[] = [1, 0, 0, 1, 0, 0]): OcrPageText {
  let text = '';
  const spans: PositionSpan[] = [];
  let words = 0, confSum = 0;
  let prevPar = -1;
  result.lines.forEach((line, li) => {
    if (li > 0) text += line.paragraph !== prevPar ? '\n\n' : '\n';
    prevPar = line.paragraph;
    line.words.forEach((w, wi) => {
      if (wi > 0) text += ' ';
      const start = text.length;
      text += w.text;
      spans.push({ start, end: text.length, page, bbox: mapBox(w.bbox, toPage), confidence: w.confidence });
      words++;
      confSum += w.confidence;
    });
  });
  return { text, spans, words, meanConfidence: words ? Math.round(confSum / words) : 0 };
}

/**
 * Puts the OCR text of some pages into a paged document in place of those pages' text (empty for
 * scanned pages; the text layer under `always`), shifting the offsets of what follows. Mutates and
 * returns `doc`.
 */
export function spliceOcrPages(doc: ConvertedDocument, ocr: ReadonlyMap<number, OcrPageText>): ConvertedDocument {
  if (ocr.size === 0 || !doc.pages) return doc;
  const pages: PageInfo[] = [...doc.pages].sort((a, b) => a.start - b.start);
  const byPage = new Map<number, PositionSpan[]>();
  const unpaged: PositionSpan[] = [];
  for (const s of doc.positions ?? []) {
    if (s.page === undefined) unpaged.push(s);
    else (byPage.get(s.page) ?? byPage.set(s.page, []).get(s.page)!).push(s);
  }
  let out = '';
  let prevEnd = 0;
  const positions: PositionSpan[] = [];
  for (const p of pages) {
    out += doc.text.slice(prevEnd, p.start);
    const oldStart = p.start, oldEnd = p.end;
    const o = ocr.get(p.page);
    p.start = out.length;
    if (o) {
      out += o.text;
      for (const s of o.spans) positions.push({ ...s, start: s.start + p.start, end: s.end + p.start });
    } else {
      out += doc.text.slice(oldStart, oldEnd);
      const delta = p.start - oldStart;
      for (const s of byPage.get(p.page) ?? []) positions.push({ ...s, start: s.start + delta, end: s.end + delta });
    }
    p.end = out.length;
    prevEnd = oldEnd;
  }
  out += doc.text.slice(prevEnd);
  doc.text = out;
  positions.push(...unpaged);
  positions.sort((a, b) => a.start - b.start);
  doc.positions = positions;
  return doc;
}

/** Lowest OCR confidence among the spans overlapping `[start, end)`, or undefined when none carries one. */
export function minOcrConfidence(doc: ConvertedDocument, start: number, end: number): number | undefined {
  const spans = doc.positions ?? [];
  // spans are sorted by start: skip to the first one that may overlap (binary search on end ≤ start is
  // not possible for unsorted ends, but spans do not overlap, so ends are sorted too)
  let lo = 0, hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  let min: number | undefined;
  for (let k = lo; k < spans.length; k++) {
    const s = spans[k];
    if (s.start >= end) break;
    if (s.end <= start || s.confidence === undefined) continue;
    min = min === undefined ? s.confidence : Math.min(min, s.confidence);
  }
  return min;
}
