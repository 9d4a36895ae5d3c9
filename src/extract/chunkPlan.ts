/**
 * Splitting a converted document into chunks whose text fits a token budget: by pages when the
 * document has pages (as many whole pages per chunk as fit), else — or when a single page is too
 * large — by characters with some overlap. Chunks keep their offsets into the whole text.
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
