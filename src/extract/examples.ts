/**
 * Few-shot examples: documents a reviewer corrected (or marked reviewed), shown to the model as an excerpt
 * of their text and their corrected answer, so it follows the conventions the reviewers settled on.
 *
 * **Similarity** is the Jaccard index of the two documents' word sets (lower-cased words that start with a
 * letter, from the first {@link SIMILARITY_CHARS} characters): cheap, deterministic, and *pairwise* — a
 * document's choice depends only on its own text and each candidate's, never on which other documents are
 * corrected (as TF-IDF's corpus weights would). So a new correction changes the examples of exactly the
 * documents it becomes one of the {@link ExampleOptions.max} nearest for, and only those run again.
 * Numbers are left out of the words (amounts and dates differ between any two invoices of one vendor);
 * candidates below {@link MIN_SIMILARITY} are not used (an unrelated document's answer misleads more than it
 * helps). Ties go to the candidate in the same folder, then by path. A document is never its own example.
 *
 * **Budget**: examples use the room the document leaves in the context window, never the document's: the
 * excerpts are shortened first (halved down to {@link MIN_EXCERPT_CHARS}), then the least similar examples
 * dropped ({@link fitExamples}).
 *
 * Pure: no I/O.
 */
import { hashOf } from '../core/fingerprint';
import { countTokens } from './tokens';

/** Characters of a document its word set (similarity) is taken from. */
export const SIMILARITY_CHARS = 20_000;
/** Characters of an example's text shown in the prompt at most. */
export const EXCERPT_CHARS = 2_000;
/** Shortest excerpt an example is shortened to before it is dropped. */
export const MIN_EXCERPT_CHARS = 200;
/** Lowest word-set similarity (Jaccard, 0–1) of a usable example. */
export const MIN_SIMILARITY = 0.1;
/** Default and highest number of examples per document. */
export const DEFAULT_MAX_EXAMPLES = 3;
export const MAX_EXAMPLES = 10;

/** An example as the prompt shows it. */
export interface PromptExample {
  /** The example document's path (relative to the folder). */
  source: string;
  /** Excerpt of its converted text (at most {@link EXCERPT_CHARS} characters). */
  text: string;
  /** True when `text` is the beginning of a longer text. */
  cut?: boolean;
  /** The answer a reviewer checked: the model's data with the corrections applied. */
  answer: unknown;
}

/** A corrected document that may serve as an example. */
export interface ExampleCandidate extends PromptExample {
  words: ReadonlySet<string>;
  /** Hash of what the prompt would show (excerpt and answer): part of the fingerprint of the documents that use it. */
  hash: string;
}

export interface ChosenExamples {
  /** Most similar first. */
  examples: PromptExample[];
  /** What the examples add to the document's fingerprint ('' when there are none). */
  key: string;
}

const WORD = /\p{L}[\p{L}\p{N}_'-]*/gu;

/** The word set of a text (see the file comment). */
export function wordSet(text: string): Set<string> {
  const words = new Set<string>();
  for (const m of text.slice(0, SIMILARITY_CHARS).toLowerCase().matchAll(WORD)) if (m[0].length > 1) words.add(m[0]);
  return words;
}

/** Jaccard index of two word sets (0 when both are empty). */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let shared = 0;
  for (const w of small) if (large.has(w)) shared++;
  return shared / (a.size + b.size - shared);
}

/** A corrected document as a candidate: its excerpt, answer, word set and hash. */
export function exampleCandidate(source: string, text: string, answer: unknown): ExampleCandidate {
  const cut = text.length > EXCERPT_CHARS;
  const excerpt = cut ? cutAt(text, EXCERPT_CHARS) : text;
  return { source, text: excerpt, ...(cut ? { cut } : {}), answer, words: wordSet(text), hash: hashOf({ text: excerpt, answer }) };
}

function folderOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

/**
 * The examples for a document: the `max` candidates most similar to its text (at least
 * {@link MIN_SIMILARITY}), never the document itself.
 */
export function chooseExamples(candidates: readonly ExampleCandidate[], docPath: string, text: string, max: number): ChosenExamples {
  if (max < 1 || candidates.length === 0) return { examples: [], key: '' };
  const words = wordSet(text);
  const folder = folderOf(docPath);
  const scored = candidates
    .filter((c) => c.source !== docPath)
    .map((c) => ({ c, score: jaccard(words, c.words), sameFolder: folderOf(c.source) === folder }))
    .filter((s) => s.score >= MIN_SIMILARITY)
    .sort((x, y) => y.score - x.score || Number(y.sameFolder) - Number(x.sameFolder) || (x.c.source < y.c.source ? -1 : x.c.source > y.c.source ? 1 : 0))
    .slice(0, max);
  if (!scored.length) return { examples: [], key: '' };
  const examples = scored.map(({ c }) => ({ source: c.source, text: c.text, ...(c.cut ? { cut: true } : {}), answer: c.answer }));
  return { examples, key: hashOf(scored.map(({ c }) => ({ source: c.source, hash: c.hash }))) };
}

/** `text` cut to at most `max` characters, at a whitespace in the last fifth when there is one. */
function cutAt(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  for (let i = max; i > max * 0.8; i--) {
    if (/\s/.test(text[i])) {
      end = i;
      break;
    }
  }
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return text.slice(0, end).trimEnd();
}

/** The examples' block of the user message (empty string for none). */
export function renderExamples(examples: readonly PromptExample[]): string {
  if (!examples.length) return '';
  const lines = [
    `Examples: ${examples.length === 1 ? 'a document' : `${examples.length} documents`} similar to this one, with ${examples.length === 1 ? 'the answer' : 'the answers'} a reviewer checked. They show the expected form and conventions of the answer; take every value from the document below, never from an example.`,
  ];
  examples.forEach((e, i) => {
    const n = i + 1;
    lines.push(
      '',
      `--- BEGIN EXAMPLE ${n}: ${e.source.replace(/[\r\n]+/g, ' ')} ---`,
      e.cut ? `${e.text}\n[… rest of the example left out]` : e.text,
      `--- ANSWER TO EXAMPLE ${n} ---`,
      JSON.stringify(e.answer ?? null),
      `--- END EXAMPLE ${n} ---`,
    );
  });
  return lines.join('\n');
}

/** Tokens the examples' block adds to a user message (with the blank lines around it). */
export function examplesTokens(examples: readonly PromptExample[]): number {
  return examples.length ? countTokens(renderExamples(examples)) + 2 : 0;
}

/**
 * The examples that fit `roomTokens`: all of them when they do; else with their excerpts halved (down to
 * {@link MIN_EXCERPT_CHARS}), then without the least similar one, and so on. An answer is never cut (a
 * partial JSON would teach the wrong thing); none fit: [].
 */
export function fitExamples(examples: readonly PromptExample[], roomTokens: number): PromptExample[] {
  if (roomTokens <= 0) return [];
  for (let n = examples.length; n > 0; n--) {
    const kept = examples.slice(0, n);
    let limit = Math.max(...kept.map((e) => e.text.length));
    for (;;) {
      const shown = kept.map((e) => (e.text.length > limit ? { ...e, text: cutAt(e.text, limit), cut: true } : e));
      if (examplesTokens(shown) <= roomTokens) return shown;
      if (limit <= MIN_EXCERPT_CHARS) break;
      limit = Math.max(MIN_EXCERPT_CHARS, Math.floor(limit / 2));
    }
  }
  return [];
}
