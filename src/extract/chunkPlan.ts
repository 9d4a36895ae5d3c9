/**
 * Splitting a converted document into chunks whose text fits a token budget: by pages when the
 * document has pages (as many whole pages per chunk as fit), else — or when a single page is too
 * large — by characters with some overlap. Chunks keep their offsets into the whole text.
 *
 * {@link splitInTwo} halves one chunk (or piece) further, when its answer does not fit the output cap.
 */
import { chunkByChars, chunkByPages, type TextChunk } from '../convert/chunking';
import type { ConvertedDocument } from '../convert/types';
import { charsPerToken, countTokens, fitsTokens } from './tokens';

export interface ChunkPlanOptions {
  /** Token budget of one chunk's text. */
  maxTokens: number;
  /** Split into at least this many chunks (when the document allows; default 1). */
  minChunks?: number;
  /** Characters shared by consecutive chunks when splitting by characters (default: 5 % of a chunk, at most 2000). */
  overlapChars?: number;
}

export interface ChunkPlan {
  by: 'pages' | 'chars';
  chunks: TextChunk[];
}

/** Whether a document can be split at all: two pages, or enough text for two chunks. */
export function canSplit(doc: ConvertedDocument, minChars = 2000): boolean {
  return (doc.pages?.filter((p) => p.end > p.start).length ?? 0) >= 2 || doc.text.length >= minChars;
}

export function planChunks(doc: ConvertedDocument, options: ChunkPlanOptions): ChunkPlan {
  const maxTokens = Math.max(1, Math.floor(options.maxTokens));
  const minChunks = Math.max(1, Math.floor(options.minChunks ?? 1));
  const pages = doc.pages?.filter((p) => p.end >= p.start) ?? [];
  if (pages.length >= 2) {
    const byPages = planByPages(doc, maxTokens, minChunks);
    if (byPages) return { by: 'pages', chunks: byPages };
  }
  return { by: 'chars', chunks: planByChars(doc, maxTokens, minChunks, options.overlapChars) };
}

function planByPages(doc: ConvertedDocument, maxTokens: number, minChunks: number): TextChunk[] | undefined {
  const pages = doc.pages!;
  const tokens = pages.map((p) => countTokens(doc.text.slice(p.start, p.end)));
  if (tokens.some((t) => t > maxTokens)) return undefined; // one page alone is too large: split by characters
  // Page sums (plus a little for the text between pages) decide; the chosen chunks are then checked
  // with the tokenizer once. Largest number of pages per chunk first: fewest requests.
  const fitsBySum = (n: number): boolean => {
    for (let i = 0; i < pages.length; i += n) {
      let sum = 0;
      for (let j = i; j < Math.min(pages.length, i + n); j++) sum += tokens[j] + 2;
      if (sum > maxTokens) return false;
    }
    return true;
  };
  let n = pages.length;
  if (minChunks > 1) n = Math.min(n, Math.max(1, Math.ceil(pages.length / minChunks)));
  for (; n >= 1; n--) {
    if (!fitsBySum(n)) continue;
    const chunks = chunkByPages(doc, n, 0);
    if (chunks.every((c) => fitsTokens(c.text, maxTokens))) return chunks;
  }
  return undefined;
}

function planByChars(doc: ConvertedDocument, maxTokens: number, minChunks: number, overlapOption?: number): TextChunk[] {
  const text = doc.text;
  let maxChars = Math.max(64, Math.floor(maxTokens * charsPerToken(text) * 0.95));
  if (minChunks > 1) maxChars = Math.min(maxChars, Math.max(64, Math.ceil(text.length / minChunks)));
  for (let round = 0; ; round++) {
    const overlap = overlapOption ?? Math.min(2000, Math.floor(maxChars * 0.05));
    const chunks = chunkByChars(doc, maxChars, { overlap: Math.min(overlap, Math.floor((maxChars - 1) / 2)) });
    const tooBig = chunks.find((c) => !fitsTokens(c.text, maxTokens));
    if (!tooBig || maxChars <= 64 || round >= 20) return chunks;
    maxChars = Math.max(64, Math.floor(maxChars * 0.8));
  }
}

/** A part of a document: offsets into its whole text, and the pages it covers when split by pages. */
export interface Span {
  start: number;
  end: number;
  firstPage?: number;
  lastPage?: number;
}

/** Pieces shorter than this (characters) are not split further. */
export const MIN_SPLIT_CHARS = 200;

/**
 * Splits `[span.start, span.end)` of a document into two halves that keep their offsets into the whole
 * text: at the page boundary nearest the middle when the span covers two pages or more, else at a
 * paragraph, line, sentence or word break near the middle, the second half repeating up to `overlapChars`
 * characters before the cut (default 5 % of the span, at most 2000), so that an item on the cut is whole
 * in one half (merging drops the duplicate). Undefined when the span is too short to split.
 */
export function splitInTwo(doc: ConvertedDocument, span: Span, overlapChars?: number): [Span, Span] | undefined {
  const { start, end } = span;
  const pages = (doc.pages ?? []).filter((p) => p.end > p.start && p.end > start && p.start < end);
  if (pages.length >= 2) {
    let best = 1;
    let bestDiff = Infinity;
    for (let k = 1; k < pages.length; k++) {
      const diff = Math.abs(Math.min(pages[k - 1].end, end) - start - (end - Math.max(pages[k].start, start)));
      if (diff < bestDiff) {
        bestDiff = diff;
        best = k;
      }
    }
    return [
      { start, end: Math.min(pages[best - 1].end, end), firstPage: pages[0].page, lastPage: pages[best - 1].page },
      { start: Math.max(pages[best].start, start), end, firstPage: pages[best].page, lastPage: pages[pages.length - 1].page },
    ];
  }
  const length = end - start;
  if (length < MIN_SPLIT_CHARS) return undefined;
  const cut = breakNear(doc.text, start + Math.floor(length / 2), Math.floor(length * 0.1));
  const overlap = Math.max(0, Math.min(overlapChars ?? Math.floor(length * 0.05), 2000, Math.floor(length / 4)));
  let second = cut - overlap;
  // start the repeated text at a word, not in the middle of one
  const space = doc.text.slice(second, cut).search(/\s/);
  if (space >= 0) second += space + 1;
  return [
    { start, end: cut },
    { start: Math.min(second, cut), end },
  ];
}

/** The offset just after the best break within `radius` of `mid`: paragraph, line, sentence end, space; else `mid`. */
function breakNear(text: string, mid: number, radius: number): number {
  const from = Math.max(0, mid - radius);
  const window = text.slice(from, mid + radius);
  for (const pattern of [/\n\s*\n/g, /\n/g, /[.?!]\s/g, /\s/g]) {
    let best: number | undefined;
    for (const m of window.matchAll(pattern)) {
      const after = from + (m.index ?? 0) + m[0].length;
      if (best === undefined || Math.abs(after - mid) < Math.abs(best - mid)) best = after;
    }
    if (best !== undefined) return best;
  }
  return mid;
}
