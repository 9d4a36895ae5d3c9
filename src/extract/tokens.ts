/**
 * Token counting with the `o200k_base` encoding (GPT-4o, GPT-4.1, GPT-5, o-series), via `gpt-tokenizer`.
 *
 * The encoder's rank table is large (~5 MB of JS, ~170 ms to load), so it is loaded on first use only:
 * activating the extension or extracting short documents never pays for it. Counts are exact for
 * OpenAI models and a good approximation for others (other tokenizers usually produce somewhat more
 * tokens: callers keep a safety margin).
 *
 * Text is always counted as plain text: a document that happens to contain `<|endoftext|>` is not
 * an error and its special-token look-alikes are counted as the characters they are.
 *
 * Long texts are counted in pieces of at most {@link MAX_PIECE_CHARS} characters ({@link pieceEnd}): the
 * tokenizer's byte-pair merging is quadratic in the length of a run without spaces (400 KB of `ACGT`
 * took over a minute, 30 MB never ended, and blocked the thread meanwhile). A piece ends before a single
 * space between two other characters — a place where the tokenizer's pre-split starts a new word
 * anyway, so on ordinary text the count is exact; only a run of more than {@link HARD_PIECE_CHARS}
 * characters without such a space is cut at a fixed length, which changes its count by a fraction of a
 * per cent.
 */
import type * as O200k from 'gpt-tokenizer/encoding/o200k_base';

type Encoder = typeof O200k;

let encoder: Encoder | undefined;

function enc(): Encoder {
  // Lazy: the bundle keeps the module, but its ranks are only built when a count is needed.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  encoder ??= require('gpt-tokenizer/encoding/o200k_base') as Encoder;
  return encoder;
}

/** Special tokens are never special in documents. */
const PLAIN = { disallowedSpecial: new Set<string>(), allowedSpecial: new Set<string>() };

/** Longest piece of text handed to the tokenizer at once when it can end at a space. */
export const MAX_PIECE_CHARS = 2048;
/** Length of the pieces a run without any usable space is cut into (BPE time grows with its square). */
export const HARD_PIECE_CHARS = 1024;

function isSpaceChar(c: number): boolean {
  return (c >= 9 && c <= 13) || c === 32 || c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/**
 * End (exclusive) of the piece of `text` that starts at `start`: the whole rest when it is short; else
 * before the last single space (between two non-space characters) in the second half of the next
 * {@link MAX_PIECE_CHARS} characters; else {@link HARD_PIECE_CHARS} on, not inside a surrogate pair.
 */
export function pieceEnd(text: string, start: number): number {
  if (text.length - start <= MAX_PIECE_CHARS) return text.length;
  const low = start + MAX_PIECE_CHARS / 2;
  for (let i = start + MAX_PIECE_CHARS; i > low; i--) {
    if (text.charCodeAt(i) === 32 && !isSpaceChar(text.charCodeAt(i - 1)) && !isSpaceChar(text.charCodeAt(i + 1))) return i;
  }
  let end = start + HARD_PIECE_CHARS;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return end;
}

/** Tokens of a text (o200k_base), counted piece by piece (see {@link pieceEnd}). */
export function countTokens(text: string): number {
  if (text === '') return 0;
  if (text.length <= MAX_PIECE_CHARS) return enc().countTokens(text, PLAIN);
  let n = 0;
  for (let start = 0; start < text.length; ) {
    const end = pieceEnd(text, start);
    n += enc().countTokens(text.slice(start, end), PLAIN);
    start = end;
  }
  return n;
}

/** Cheap estimate (4 characters a token), no tokenizer. */
export function estimateTokens(text: string | number): number {
  const chars = typeof text === 'number' ? text : text.length;
  return Math.ceil(chars / 4);
}

/**
 * Whether `text` has at most `limit` tokens. Fast path without the tokenizer: a token is at least one
 * UTF-8 byte, so a text of at most `limit` bytes always fits. Otherwise counting stops as soon as the
 * limit is passed (cheap even for huge texts).
 */
export function fitsTokens(text: string, limit: number): boolean {
  if (limit < 0) return false;
  if (text.length <= limit && Buffer.byteLength(text, 'utf8') <= limit) return true;
  return countTokensUpTo(text, limit) !== undefined;
}

/** Tokens of a text when it has at most `limit` tokens, else `undefined` (stops counting early; piece by piece as {@link countTokens}). */
export function countTokensUpTo(text: string, limit: number): number | undefined {
  if (limit < 0) return undefined;
  let n = 0;
  for (let start = 0; start < text.length; ) {
    const end = pieceEnd(text, start);
    const piece = enc().isWithinTokenLimit(start === 0 && end === text.length ? text : text.slice(start, end), limit - n, PLAIN);
    if (piece === false) return undefined;
    n += piece;
    start = end;
  }
  return n;
}

/**
 * Characters per token of a text, measured on (at most) its first `sample` characters. Used to turn a
 * token budget into a chunk size in characters; 4 for an empty text.
 */
export function charsPerToken(text: string, sample = 200_000): number {
  const part = text.length > sample ? text.slice(0, sample) : text;
  const tokens = countTokens(part);
  return tokens > 0 ? part.length / tokens : 4;
}

/** Tokens a chat message adds besides its content (role and separators), as OpenAI counts them. */
export const TOKENS_PER_MESSAGE = 3;
/** Tokens every reply is primed with. */
export const TOKENS_PER_REPLY = 3;

/** Tokens of a list of chat messages (contents counted with the tokenizer). */
export function countChatTokens(contents: readonly string[]): number {
  let n = TOKENS_PER_REPLY;
  for (const c of contents) n += TOKENS_PER_MESSAGE + countTokens(c);
  return n;
}
