/** Extractor port: turns converted text into data that matches the user's JSON Schema. */
import type { ConvertedDocument } from '../convert/types';

export type JsonSchema = Record<string, unknown>;

export interface ExtractInput {
  path: string;
  document: ConvertedDocument;
  schema: JsonSchema;
  instructions?: string;
  signal?: AbortSignal;
}

export interface ExtractOutput {
  data: unknown;
  model: string;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  /** Model requests made (re-asks included). */
  requests: number;
  /** Grounding of leaf values, when the extractor computed it. */
  grounding?: unknown;
}

export interface Extractor {
  readonly model: string;
  extract(input: ExtractInput): Promise<ExtractOutput>;
}
