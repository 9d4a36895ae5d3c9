/**
 * Token budgets of a request, and the cost of a run estimated before anything is sent
 * ({@link estimateRunCost}, pure: the CLI and the UI show it before a run starts).
 */
import type { ConvertedDocument } from '../convert/types';
import { systemPrompt, type ExtractionMode } from './modes';
import { documentImageTokens, type InputMode } from './pageImages';
import { costWith, PriceTable, type ModelPrice } from './pricing';
import { buildUserMessage } from './prompt';
import { toStrictSchema } from './schema';
import { countChatTokens, countTokens } from './tokens';
import type { JsonSchema } from './types';

/** Output budget assumed when `maxOutputTokens` is not set. */
export const DEFAULT_OUTPUT_RESERVE = 4096;
export const DEFAULT_CONTEXT_TOKENS = 128_000;
/** Share of the computed budget a document may use (other models' tokenizers count more tokens than o200k). */
export const CONTEXT_SAFETY = 0.9;

export interface OverheadInput {
  mode: ExtractionMode;
  /** The strict schema sent (response format, tool parameters or prompt). */
  strict: JsonSchema;
  path?: string;
  format?: string;
  pages?: number;
  instructions?: string;
  /** Count the `Part: k of n` note of a chunk (default true: budgets must hold for chunks too). */
  part?: boolean;
}

/** Prompt tokens of a request besides the document text: system prompt, message frame, part note, schema. */
export function promptOverheadTokens(o: OverheadInput): number {
  const compiled = { strict: o.strict, name: 'extraction' };
  const skeleton = buildUserMessage(
    {
      path: o.path ?? 'document',
      document: { format: o.format ?? 'text', text: '', ...(o.pages ? { pages: Array.from({ length: o.pages }, (_, i) => ({ page: i + 1, start: 0, end: 0 })) } : {}) },
      ...(o.instructions !== undefined ? { instructions: o.instructions } : {}),
    },
    o.part === false ? undefined : { index: 999, count: 999, firstPage: 9999, lastPage: 9999, start: 1e9, end: 1e9 },
  );
  // json_object / text modes carry the schema in the system prompt already
  const schemaTokens = o.mode === 'json_schema' || o.mode === 'tools' ? countTokens(JSON.stringify(o.strict)) : 0;
  return countChatTokens([systemPrompt(o.mode, compiled), skeleton]) + schemaTokens + 16;
}

export interface BudgetInput {
  contextTokens?: number;
  overheadTokens: number;
  maxOutputTokens?: number;
  /** Re-asks add the previous answer and the errors to the prompt (default 2). */
  maxReasks?: number;
}

/** Tokens the document text may use in one request (can be ≤ 0 when the context is too small). */
export function textBudgetTokens(b: BudgetInput): number {
  const context = b.contextTokens ?? DEFAULT_CONTEXT_TOKENS;
  const output = b.maxOutputTokens ?? DEFAULT_OUTPUT_RESERVE;
  const reask = (b.maxReasks ?? 2) > 0 ? output + 200 : 0;
  return Math.floor((context - b.overheadTokens - output - reask) * CONTEXT_SAFETY);
}

// ---------------------------------------------------------------------------------------------
// Run cost estimate

/** A document for the estimate: its text, its token count, or a converted document. */
export type CostDocument = string | number | { text: string; path?: string; format?: string; pages?: unknown[] } | { tokens: number; path?: string } | ConvertedDocument;

export interface EstimateRunCostInput {
  documents: readonly CostDocument[];
  model: string;
  schema: JsonSchema;
  instructions?: string;
  /** Output tokens per request (per chunk when a document is split). Default: the size of a typical answer to the schema. */
  expectedOutputTokens?: number;
  /** Price of `model`; wins over `prices`. */
  price?: ModelPrice;
  /** Price table (default: the well-known list prices). */
  prices?: PriceTable | Record<string, ModelPrice>;
  mode?: ExtractionMode;
  contextTokens?: number;
  maxOutputTokens?: number;
  maxReasks?: number;
  /** `images` / `auto`: the page images sent with image documents are counted too ({@link documentImageTokens}). */
  input?: InputMode;
}

export interface RunCostEstimate {
  documents: number;
  /** Requests without re-asks or retries (one per document, one per chunk of a long document). */
  requests: number;
  /** Documents that will be split into chunks. */
  chunkedDocuments: number;
  /** Input tokens, page images included. */
  tokensIn: number;
  /** Page images sent (`input` images / auto) and their share of `tokensIn`. */
  images?: number;
  imageTokens?: number;
  tokensOutEstimate: number;
  /** Undefined when the model has no price (cost then 0). */
  price?: ModelPrice;
  inputCost: number;
  outputCost: number;
  cost: number;
}

/**
 * Tokens and cost of extracting `documents`, counted with the tokenizer before anything is sent. Long
 * documents are counted as the extractor would split them (each chunk repeats the prompt overhead;
 * about 5 % overlap). Re-asks and retries are not included: they depend on the answers.
 */
export function estimateRunCost(input: EstimateRunCostInput): RunCostEstimate {
  const mode = input.mode ?? 'json_schema';
  const strict = toStrictSchema(input.schema);
  const expectedOut = input.expectedOutputTokens ?? expectedOutputTokensFor(strict);
  const table = input.prices instanceof PriceTable ? input.prices : new PriceTable(input.prices ?? {});
  const price = input.price ?? table.priceOf(input.model);
  const overheadCache = new Map<string, { whole: number; part: number }>();
  let tokensIn = 0;
  let tokensOut = 0;
  let requests = 0;
  let chunked = 0;
  let images = 0;
  let imageTokens = 0;
  for (const d of input.documents) {
    const { tokens, path, format, pages } = describe(d);
    const key = `${path}\0${format}\0${pages}`;
    let overhead = overheadCache.get(key);
    if (overhead === undefined) {
      const o: OverheadInput = { mode, strict, path, format, pages, ...(input.instructions !== undefined ? { instructions: input.instructions } : {}) };
      overhead = { whole: promptOverheadTokens({ ...o, part: false }), part: promptOverheadTokens(o) };
      overheadCache.set(key, overhead);
    }
    const budget = textBudgetTokens({ contextTokens: input.contextTokens, overheadTokens: overhead.part, maxOutputTokens: input.maxOutputTokens, maxReasks: input.maxReasks });
    let parts = 1;
    let text = tokens;
    let perRequest = overhead.whole;
    if (budget > 0 && tokens > budget) {
      text = Math.ceil(tokens * 1.05);
      parts = Math.ceil(text / budget);
      perRequest = overhead.part;
      chunked++;
    }
    tokensIn += text + parts * perRequest;
    if (input.input && input.input !== 'text' && typeof d === 'object' && 'format' in d && Array.isArray(d.pages)) {
      const im = documentImageTokens(input.input, d as ConvertedDocument);
      images += im.images;
      imageTokens += im.tokens;
      tokensIn += im.tokens;
    }
    tokensOut += parts * expectedOut;
    requests += parts;
  }
  const inputCost = costWith(price, tokensIn, 0);
  const outputCost = costWith(price, 0, tokensOut);
  return {
    documents: input.documents.length,
    requests,
    chunkedDocuments: chunked,
    tokensIn,
    ...(images ? { images, imageTokens } : {}),
    tokensOutEstimate: tokensOut,
    ...(price ? { price } : {}),
    inputCost,
    outputCost,
    cost: inputCost + outputCost,
  };
}

function describe(d: CostDocument): { tokens: number; path: string; format: string; pages: number } {
  if (typeof d === 'string') return { tokens: countTokens(d), path: 'document', format: 'text', pages: 0 };
  if (typeof d === 'number') return { tokens: Math.max(0, d), path: 'document', format: 'text', pages: 0 };
  const path = typeof (d as { path?: unknown }).path === 'string' ? (d as { path: string }).path : 'document';
  if ('tokens' in d && typeof d.tokens === 'number') return { tokens: Math.max(0, d.tokens), path, format: 'text', pages: 0 };
  const doc = d as { text: string; format?: string; pages?: unknown[] };
  return { tokens: countTokens(doc.text), path, format: doc.format ?? 'text', pages: doc.pages?.length ?? 0 };
}

/** Tokens of a typical answer: every property present, strings of a few words, arrays of 3 items. */
export function expectedOutputTokensFor(strict: JsonSchema): number {
  return countTokens(JSON.stringify(typicalValue(strict, strict, 0) ?? null)) + 4;
}

function typicalValue(node: unknown, root: JsonSchema, depth: number): unknown {
  if (!node || typeof node !== 'object' || depth > 12) return null;
  const n = node as Record<string, unknown>;
  if (typeof n.$ref === 'string') {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(n.$ref);
    const target = n.$ref === '#' ? root : m ? ((root[m[1]] as Record<string, unknown> | undefined) ?? {})[m[2]] : undefined;
    return typicalValue(target, root, depth + 1);
  }
  if (n.const !== undefined) return n.const;
  if (Array.isArray(n.enum)) return n.enum.find((v) => v !== null) ?? null;
  if (Array.isArray(n.anyOf)) {
    const branch = (n.anyOf as Array<Record<string, unknown>>).find((b) => b.type !== 'null');
    return typicalValue(branch, root, depth + 1);
  }
  const types = Array.isArray(n.type) ? (n.type as string[]) : typeof n.type === 'string' ? [n.type] : [];
  switch (types.find((t) => t !== 'null')) {
    case 'string':
      return 'typical value text';
    case 'number':
      return 12345.67;
    case 'integer':
      return 1234;
    case 'boolean':
      return false;
    case 'array': {
      const item = typicalValue(n.items, root, depth + 1);
      return [item, item, item];
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries((n.properties ?? {}) as Record<string, unknown>)) out[k] = typicalValue(v, root, depth + 1);
      return out;
    }
    default:
      return null;
  }
}
