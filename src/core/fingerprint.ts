import { createHash } from 'node:crypto';
import type { JsonSchema } from '../extract/types';

/** Stable JSON: object keys sorted, so equal schemas hash equally whatever their key order. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .filter((k) => obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`)
    .join(',')}}`;
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 16);
}

/**
 * What a result depends on besides the document: when it changes, done documents are extracted again.
 * The input mode counts only when it is not `text`, so fingerprints of text runs stay what they were.
 */
export function extractionFingerprint(input: { schema: JsonSchema; instructions?: string; model: string; inputMode?: string }): string {
  const mode = input.inputMode && input.inputMode !== 'text' ? { input: input.inputMode } : {};
  return hashOf({ schema: input.schema, instructions: input.instructions ?? '', model: input.model, ...mode });
}

/**
 * A document's fingerprint with the few-shot examples chosen for it (`key`, see src/extract/examples.ts):
 * the job's fingerprint itself when it has none, so turning examples on re-runs only the documents that get some.
 */
export function withExamples(fingerprint: string, key: string | undefined): string {
  return key ? hashOf({ fingerprint, examples: key }) : fingerprint;
}
