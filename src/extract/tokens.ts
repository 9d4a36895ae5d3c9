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

/** Tokens of a text (o200k_base). */
export function countTokens(text: string): number {
  if (text === '') return 0;
  return enc().countTokens(text, PLAIN);
}

/** Cheap estimate (4 characters a token), no tokenizer. */
export function estimateTokens(text: string | number): number {
  const chars = typeof text === 'number' ? text : text.length;
  return Math.ceil(chars / 4);
}

/**
 * Whether `text` has at most `limit` tokens. Fast path without the tokenizer: a token is at least one
 * UTF-8 byte, so a text of at most `limit` bytes always fits. Otherwise the tokenizer stops as soon as
 * the limit is passed (cheap even for huge texts).
 */
export function fitsTokens(text: string, limit: number): boolean {
  if (limit < 0) return false;
  if (text.length <= limit && Buffer.byteLength(text, 'utf8') <= limit) return true;
  return enc().isWithinTokenLimit(text, limit, PLAIN) !== false;
}

/** Tokens of a text when it has at most `limit` tokens, else `undefined` (stops counting early). */
export function countTokensUpTo(text: string, limit: number): number | undefined {
  const n = enc().isWithinTokenLimit(text, limit, PLAIN);
  return n === false ? undefined : n;
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
