/**
 * Confidence per extracted value (0–1), for review routing: the lower, the sooner a reviewer should
 * check it. One rule, kept here:
 *
 * - **From grounding** (always): exact {@link GROUNDING_CONFIDENCE}.exact, normalized …, fuzzy the fuzzy
 *   base × the match's similarity, ungrounded …ungrounded. An `ambiguous` value (several equally
 *   plausible occurrences) is multiplied by {@link AMBIGUOUS_FACTOR}; an OCR match with `lowConfidence`
 *   by {@link LOW_OCR_FACTOR}.
 * - **From token log-probabilities** (when the provider returned them, `confidence: "logprobs"`): the
 *   probability of the value's least likely token. The value's confidence is then the lower of the two —
 *   a value the model was sure of but the document does not support still needs a look.
 *
 * Pure: no I/O.
 */
import { visit } from 'jsonc-parser';
import type { FieldGrounding, Grounding } from './grounding';

export const GROUNDING_CONFIDENCE = { exact: 1, normalized: 0.9, fuzzy: 0.7, ungrounded: 0.2 } as const;
export const AMBIGUOUS_FACTOR = 0.75;
export const LOW_OCR_FACTOR = 0.6;
/** Default threshold below which a value sends its document to "Needs review". */
export const DEFAULT_CONFIDENCE_THRESHOLD = 0.6;

export type ConfidenceSource = 'grounding' | 'logprobs';

/** How values get their confidence: from grounding only (default) or also from the model's token log-probabilities. */
export type ConfidenceOption = 'grounding' | 'logprobs';

function round(x: number): number {
  return Math.round(Math.min(1, Math.max(0, x)) * 1000) / 1000;
}

/** Confidence of one value from its grounding record alone. */
export function groundingConfidence(g: Pick<FieldGrounding, 'status' | 'match' | 'score' | 'ambiguous' | 'lowConfidence'>): number {
  if (g.status !== 'grounded' || !g.match) return GROUNDING_CONFIDENCE.ungrounded;
  let c = g.match === 'fuzzy' ? GROUNDING_CONFIDENCE.fuzzy * (g.score ?? 1) : GROUNDING_CONFIDENCE[g.match];
  if (g.ambiguous) c *= AMBIGUOUS_FACTOR;
  if (g.lowConfidence) c *= LOW_OCR_FACTOR;
  return round(c);
}

/** One token of the answer with its log-probability (OpenAI `choices[0].logprobs.content[]`). */
export interface TokenLogprob {
  token: string;
  logprob: number;
}

/**
 * Per leaf value of a JSON answer (by JSON Pointer): the probability of its least likely token. `text` is
 * the answer the tokens spell; tokens that do not spell it (a provider that returns partial lists) give {}.
 */
export function logprobConfidences(text: string, tokens: readonly TokenLogprob[]): Record<string, number> {
  // token start offsets
  const starts: number[] = [];
  let at = 0;
  for (const t of tokens) {
    starts.push(at);
    at += t.token.length;
  }
  if (at !== text.length || tokens.map((t) => t.token).join('') !== text) return {};
  const out: Record<string, number> = {};
  visit(text, {
    onLiteralValue(value: unknown, offset: number, length: number, _line: number, _ch: number, pathSupplier: () => (string | number)[]) {
      if (value === null || typeof value === 'boolean' || value === '') return;
      const end = offset + length;
      let min = 0;
      for (let i = 0; i < tokens.length; i++) {
        const s = starts[i];
        const e = s + tokens[i].token.length;
        if (e <= offset || s >= end) continue;
        min = Math.min(min, tokens[i].logprob);
      }
      out[toPointer(pathSupplier())] = round(Math.exp(min));
    },
  });
  return out;
}

function toPointer(path: (string | number)[]): string {
  return path.map((k) => '/' + String(k).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/**
 * Sets `confidence` (and `confidenceSource`) on every grounding record: from grounding, lowered to the
 * token probability when `fromLogprobs` has one for the pointer. Returns the lowest confidence (1 when
 * there are no values).
 */
export function applyConfidence(fields: FieldGrounding[], fromLogprobs?: Readonly<Record<string, number>>): number {
  let min = 1;
  for (const f of fields) {
    const g = groundingConfidence(f);
    const p = fromLogprobs?.[f.pointer];
    f.confidence = p !== undefined ? Math.min(g, p) : g;
    f.confidenceSource = p !== undefined && p < g ? 'logprobs' : 'grounding';
    min = Math.min(min, f.confidence);
  }
  return min;
}

/** The grounding with confidences set on its records and the lowest one in its summary. */
export function withConfidence(grounding: Grounding, fromLogprobs?: Readonly<Record<string, number>>): Grounding {
  const fields = grounding.fields.map((f) => ({ ...f }));
  const min = applyConfidence(fields, fromLogprobs);
  return { ...grounding, fields, summary: { ...grounding.summary, minConfidence: min } };
}

/** A record's confidence: the stored one, else (results written before confidences) the grounding rule. */
export function confidenceOf(f: FieldGrounding): number {
  return typeof f.confidence === 'number' ? f.confidence : groundingConfidence(f);
}

/** The lowest confidence of a result's grounding records (1 when there are none). */
export function minConfidence(fields: readonly FieldGrounding[]): number {
  let min = 1;
  for (const f of fields) min = Math.min(min, confidenceOf(f));
  return min;
}

/** Records below `threshold`, lowest confidence first (ungrounded before grounded on ties), then in document order. */
export function toCheck(fields: readonly FieldGrounding[], threshold: number): FieldGrounding[] {
  return fields
    .map((f, i) => ({ f, i, c: confidenceOf(f) }))
    .filter((x) => x.c < threshold)
    .sort((a, b) => a.c - b.c || (a.f.status === 'ungrounded' ? 0 : 1) - (b.f.status === 'ungrounded' ? 0 : 1) || a.i - b.i)
    .map((x) => x.f);
}
