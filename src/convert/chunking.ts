/**
 * Splitting a converted document into chunks that keep their offsets into the original text, so that
 * positions (pages, boxes, lines) found in a chunk can be mapped back with `chunk.start + offset`.
 */
import type { ConvertedDocument, PageInfo, PositionSpan } from './types';

export interface TextChunk {
  /** 0-based chunk index. */
  index: number;
  text: string;
  /** Offsets into the original `ConvertedDocument.text`; `text === doc.text.slice(start, end)`. */
  start: number;
  end: number;
  /** First and last 1-based page the chunk touches (when the document has pages). */
  firstPage?: number;
  lastPage?: number;
}

function pageRange(pages: PageInfo[] | undefined, start: number, end: number): { firstPage?: number; lastPage?: number } {
  if (!pages || pages.length === 0) return {};
  let first: number | undefined;
  let last: number | undefined;
  for (const p of pages) {
    const touches = p.start < end && p.end > start || (p.start === p.end && p.start >= start && p.start <= end && end > start);
    if (touches) {
      first ??= p.page;
      last = p.page;
    }
  }
  return first === undefined ? {} : { firstPage: first, lastPage: last };
}

/**
 * One chunk per `pagesPerChunk` pages, consecutive chunks sharing `overlapPages` pages. A document
 * without page info yields one chunk with the whole text.
 */
export function chunkByPages(doc: ConvertedDocument, pagesPerChunk = 1, overlapPages = 0): TextChunk[] {
  const pages = doc.pages;
  if (!pages || pages.length === 0) return [{ index: 0, text: doc.text, start: 0, end: doc.text.length }];
  const size = Math.max(1, Math.floor(pagesPerChunk));
  const overlap = Math.min(Math.max(0, Math.floor(overlapPages)), size - 1);
  const step = size - overlap;
  const chunks: TextChunk[] = [];
  for (let i = 0; i < pages.length; i += step) {
    const group = pages.slice(i, i + size);
    const start = group[0].start;
    const end = group[group.length - 1].end;
    chunks.push({ index: chunks.length, text: doc.text.slice(start, end), start, end, firstPage: group[0].page, lastPage: group[group.length - 1].page });
    if (i + size >= pages.length) break;
  }
  return chunks;
}

export interface CharChunkOptions {
  /** Characters shared by consecutive chunks (default 0; must be < maxChars / 2). */
  overlap?: number;
  /**
   * Prefer to end a chunk at a paragraph break, line break, sentence end or space found in the last
   * 20 % of the window (default true).
   */
  preferBreaks?: boolean;
}

/** Splits by characters: chunks of at most `maxChars`, with `overlap` characters shared. */
export function chunkByChars(doc: ConvertedDocument | string, maxChars: number, options: CharChunkOptions = {}): TextChunk[] {
  const text = typeof doc === 'string' ? doc : doc.text;
  const pages = typeof doc === 'string' ? undefined : doc.pages;
  const size = Math.max(1, Math.floor(maxChars));
  const overlap = Math.max(0, Math.min(Math.floor(options.overlap ?? 0), Math.floor((size - 1) / 2)));
  const preferBreaks = options.preferBreaks ?? true;
  const chunks: TextChunk[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + size);
    if (end < text.length && preferBreaks) {
      const minEnd = start + Math.max(overlap + 1, Math.floor(size * 0.8));
      const window = text.slice(minEnd, end);
      const candidates = [window.lastIndexOf('\n\n'), window.lastIndexOf('\n'), Math.max(window.lastIndexOf('. '), window.lastIndexOf('? '), window.lastIndexOf('! ')), window.lastIndexOf(' ')];
      const brk = [candidates[0] >= 0 ? candidates[0] + 2 : -1, candidates[1] >= 0 ? candidates[1] + 1 : -1, candidates[2] >= 0 ? candidates[2] + 2 : -1, candidates[3] >= 0 ? candidates[3] + 1 : -1].find((c) => c > 0);
      if (brk !== undefined && brk > 0) end = minEnd + brk;
    }
    chunks.push({ index: chunks.length, text: text.slice(start, end), start, end, ...pageRange(pages, start, end) });
    if (end >= text.length) break;
    const next = end - overlap;
    start = next > start ? next : end;
  }
  if (chunks.length === 0) chunks.push({ index: 0, text: '', start: 0, end: 0 });
  return chunks;
}

/**
 * A sub-document for `[start, end)` of `doc`: text, pages and positions re-based to the slice
 * (add `start` to map back). Spans crossing the edges are clipped.
 */
export function sliceDocument(doc: ConvertedDocument, start: number, end: number): ConvertedDocument {
  const clip = <T extends { start: number; end: number }>(s: T): T | undefined => {
    const a = Math.max(s.start, start), b = Math.min(s.end, end);
    if (b < a || (b === a && s.end > s.start)) return undefined;
    return { ...s, start: a - start, end: b - start };
  };
  const positions = doc.positions?.map(clip).filter((p): p is PositionSpan => !!p);
  const pages = doc.pages?.map(clip).filter((p): p is PageInfo => !!p);
  return {
    ...doc,
    text: doc.text.slice(start, end),
    ...(pages ? { pages } : {}),
    ...(positions ? { positions } : {}),
    meta: { ...(doc.meta ?? {}), sliceStart: start, sliceEnd: end },
  };
}
