/**
 * Token counting of long texts without spaces (issue #17, 8.6): the tokenizer's byte-pair merging is
 * quadratic in the length of such a run, so counting is done in bounded pieces. These tests check the
 * outcome (every call to the tokenizer gets a bounded piece; the counts stay within a fraction of a per
 * cent of exact), never the time.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import { seededRandom } from '../support/random';
import { charsPerToken, countTokens, countTokensUpTo, fitsTokens, HARD_PIECE_CHARS, MAX_PIECE_CHARS, pieceEnd } from '../../src/extract/tokens';
import { estimateRunCost } from '../../src/extract/estimate';
import { planChunks } from '../../src/extract/chunkPlan';

type Encoder = {
  countTokens(text: string, opts?: unknown): number;
  isWithinTokenLimit(text: string, limit: number, opts?: unknown): number | false;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const encoder = require('gpt-tokenizer/encoding/o200k_base') as Encoder;
const PLAIN = { disallowedSpecial: new Set<string>(), allowedSpecial: new Set<string>() };

function acgt(n: number, seed = 7): string {
  const r = seededRandom(seed);
  let s = '';
  for (let i = 0; i < n; i++) s += 'ACGT'[Math.floor(r() * 4)];
  return s;
}

/** Runs `fn` while recording the length of every text handed to the tokenizer. */
function withSpy<T>(fn: () => T): { result: T; longest: number; calls: number } {
  const { countTokens: count, isWithinTokenLimit: within } = encoder;
  let longest = 0;
  let calls = 0;
  encoder.countTokens = (text, opts) => {
    longest = Math.max(longest, text.length);
    calls++;
    return count(text, opts);
  };
  encoder.isWithinTokenLimit = (text, limit, opts) => {
    longest = Math.max(longest, text.length);
    calls++;
    return within(text, limit, opts);
  };
  try {
    return { result: fn(), longest, calls };
  } finally {
    encoder.countTokens = count;
    encoder.isWithinTokenLimit = within;
  }
}

function normalText(): string {
  for (const f of ['/usr/share/common-licenses/GPL-3', '/usr/share/common-licenses/Apache-2.0']) {
    if (fs.existsSync(f)) return fs.readFileSync(f, 'utf8').repeat(3);
  }
  const r = seededRandom(3);
  const words = ['invoice', 'total', 'the', 'amount', 'due', 'of', 'EUR', '1,234.56', 'customer', '—', 'Zürich', '日本語', '(net)', 'line\n', '\n\n'];
  return Array.from({ length: 60_000 }, () => words[Math.floor(r() * words.length)]).join(' ');
}

describe('extract/tokens: long texts are counted in bounded pieces', function () {
  this.timeout(60_000);

  it('a 400 KB run of ACGT is counted piece by piece; the count is the exact count of a 16 KB sample scaled, within 2 %', () => {
    const sample = acgt(16_000, 11);
    const exactSample = encoder.countTokens(sample, PLAIN);
    const text = acgt(400_000, 12);
    const { result, longest } = withSpy(() => countTokens(text));
    assert.ok(longest <= MAX_PIECE_CHARS, `the tokenizer got ${longest} characters at once`);
    const scaled = (exactSample * text.length) / sample.length;
    assert.ok(Math.abs(result - scaled) / scaled < 0.02, `count ${result}, scaled exact ${scaled.toFixed(0)}`);
  });

  it('on ordinary text the piecewise count equals the exact count', () => {
    const text = normalText();
    assert.ok(text.length > 20 * MAX_PIECE_CHARS);
    const { result, longest } = withSpy(() => countTokens(text));
    assert.ok(longest <= MAX_PIECE_CHARS);
    assert.strictEqual(result, encoder.countTokens(text, PLAIN));
  });

  it('a 3 MB JSON string value, fitsTokens, countTokensUpTo and charsPerToken never hand the tokenizer a long piece', () => {
    const huge = JSON.stringify({ sequence: 'x'.repeat(3_000_000) }, null, 2);
    const counted = withSpy(() => countTokens(huge));
    assert.ok(counted.longest <= MAX_PIECE_CHARS);
    assert.ok(counted.result > 3_000_000 / 16 && counted.result < 3_000_000, String(counted.result));
    const fits = withSpy(() => fitsTokens(huge, 1000));
    assert.strictEqual(fits.result, false);
    assert.ok(fits.longest <= MAX_PIECE_CHARS && fits.calls < 20, `stops early: ${fits.calls} calls`);
    assert.strictEqual(countTokensUpTo(huge, counted.result), counted.result);
    assert.strictEqual(countTokensUpTo(huge, counted.result - 1), undefined);
    const cpt = withSpy(() => charsPerToken(huge));
    assert.ok(cpt.longest <= MAX_PIECE_CHARS && cpt.result > 1);
  });

  it('the run estimate and the chunk planner count a 400 KB ACGT document in bounded pieces', () => {
    const text = acgt(400_000, 5);
    const est = withSpy(() => estimateRunCost({ documents: [{ text, path: 'genome.txt' }], model: 'gpt-4o-mini', schema: { type: 'object', properties: { id: { type: 'string' } } } }));
    assert.ok(est.longest <= MAX_PIECE_CHARS);
    assert.ok(est.result.tokensIn > 40_000 && est.result.requests >= 1);
    const plan = withSpy(() => planChunks({ format: 'text', text }, { maxTokens: 8000 }));
    assert.ok(plan.longest <= MAX_PIECE_CHARS);
    assert.ok(plan.result.chunks.length >= 6);
    for (const c of plan.result.chunks) assert.ok(fitsTokens(c.text, 8000));
  });

  it('pieces end before a single space between words, else at the hard length, never inside a surrogate pair', () => {
    const words = 'alpha beta gamma '.repeat(400);
    const end = pieceEnd(words, 0);
    assert.ok(end <= MAX_PIECE_CHARS && end > MAX_PIECE_CHARS / 2);
    assert.strictEqual(words[end], ' ');
    assert.notStrictEqual(words[end - 1], ' ');
    const emoji = '😀'.repeat(HARD_PIECE_CHARS * 2); // surrogate pairs, no spaces
    for (let start = 0; start < emoji.length; ) {
      const e = pieceEnd(emoji, start);
      assert.ok(e > start && e - start <= (e === emoji.length ? MAX_PIECE_CHARS : HARD_PIECE_CHARS));
      const c = emoji.charCodeAt(e - 1);
      assert.ok(!(c >= 0xd800 && c <= 0xdbff), `cut after a high surrogate at ${e}`);
      start = e;
    }
  });
});
