/**
 * One part of an extraction (a whole document, or a chunk or piece of a long one) as the OpenAI extractor's
 * conversation and the chunked extraction (chunkedExtraction.ts) share it: the compiled schema it is asked
 * with, the request and its result, the tokens and requests it spends, and the signal that its answer was
 * cut off at the output cap.
 */
import type { ConvertedDocument } from '../convert/types';
import { ExtractionError } from '../core/errors';
import type { ExtractionMode } from './modes';
import type { PartInfo } from './prompt';
import type { Validator } from './schema';
import type { ExtractInput, JsonSchema } from './types';

export interface Compiled {
  strict: JsonSchema;
  validate: Validator;
  name: string;
  partial?: Compiled;
  /** UTF-8 size of the strict schema (computed on first use). */
  strictBytes?: number;
}

/** Tokens and requests of one conversation; adds up into its parent (the whole extract call). */
export class Spend {
  tokensIn = 0;
  tokensOut = 0;
  requests = 0;
  truncations = 0;
  /** Answers that were not cut off. */
  answers = 0;
  constructor(readonly parent?: Spend) {}
  add(tokensIn: number, tokensOut: number, requests: number): void {
    this.tokensIn += tokensIn;
    this.tokensOut += tokensOut;
    this.requests += requests;
    this.parent?.add(tokensIn, tokensOut, requests);
  }
  /** Counts a cut-off answer; returns the count of the whole call. */
  truncated(): number {
    this.truncations++;
    return this.parent ? this.parent.truncated() : this.truncations;
  }
  /** Counts an answer that was not cut off. */
  answered(): void {
    this.answers++;
    this.parent?.answered();
  }
  /** The whole call's spend. */
  get root(): Spend {
    return this.parent ? this.parent.root : this;
  }
}

/** Cut off at the output cap: the caller may fall back to chunks. */
export class TruncatedAtCap extends ExtractionError {}

export interface PartRequest {
  input: ExtractInput;
  document: ConvertedDocument;
  part?: PartInfo;
  compiled: Compiled;
  spend: Spend;
}


export interface PartResult {
  data: unknown;
  model: string;
  mode: ExtractionMode;
  /** Per-value token probabilities (log-probabilities asked for and returned). */
  confidence?: Record<string, number>;
  /** Sources of the examples the prompt carried. */
  examples?: string[];
}
