/** Extractor port: turns converted text into data that matches the user's JSON Schema. */
import type { ConvertedDocument } from '../convert/types';
import type { CircuitBreaker } from '../core/circuitBreaker';
import type { PromptExample } from './examples';

export type JsonSchema = Record<string, unknown>;

export interface ExtractInput {
  path: string;
  document: ConvertedDocument;
  schema: JsonSchema;
  instructions?: string;
  /**
   * Few-shot examples (most similar first). They get the room the document leaves in the context window:
   * shortened or dropped to fit, never at the document's expense.
   */
  examples?: readonly PromptExample[];
  signal?: AbortSignal;
  /** The run and the document's attempt (request log, history). */
  runId?: string;
  attempt?: number;
}

export interface ExtractOutput {
  data: unknown;
  model: string;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  /** Model requests made (re-asks included). */
  requests: number;
  /** Chunks the document was split into (long documents only; absent when it was sent whole). */
  chunks?: number;
  /** Chunks whose answers came from the chunk cache (earlier attempts), not from new requests. */
  chunksReused?: number;
  /**
   * Fields where chunks of a long document gave different values (the first non-null value was kept):
   * JSON pointer, the non-null values in chunk order and the 0-based chunks that gave them.
   */
  conflicts?: Array<{ path: string; values: unknown[]; chunks: number[] }>;
  /**
   * Per leaf value (JSON Pointer): the probability of its least likely token, when log-probabilities were
   * asked for (`confidence: "logprobs"`) and the provider returned them (whole-document answers only).
   */
  confidence?: Record<string, number>;
  /** Sources of the examples the prompt carried (after fitting them to the budget); absent when none. */
  examples?: string[];
  /** How the answer's shape was requested: 'json_schema', 'json_object', 'text' or 'tools'. */
  mode?: string;
  /**
   * The schema `data` was validated against (the input's, constraints included), when the extractor did:
   * the pipeline then does not validate it again.
   */
  validatedAgainst?: JsonSchema;
}

export interface Extractor {
  readonly model: string;
  /** What is sent of a document besides its text (`images`, `auto`); part of the extraction fingerprint. Default `text`. */
  readonly inputMode?: string;
  extract(input: ExtractInput): Promise<ExtractOutput>;
  /** The provider's circuit breaker, when the extractor has one: the pipeline waits while it is open. */
  readonly circuitBreaker?: CircuitBreaker;
}
