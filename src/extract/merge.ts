/**
 * Merging the answers of the chunks of a long document into one answer, and the relaxed ("partial")
 * schema chunks are asked with.
 *
 * Merge rules, in document (chunk) order:
 * - objects are merged property by property;
 * - scalars (and values of different kinds) take the first non-null value; when later chunks give a
 *   different non-null value, a conflict is recorded: `{ path: JSON pointer, values, chunks }` with one
 *   entry per chunk that gave a non-null value (chunk indices are 0-based);
 * - arrays are concatenated and de-duplicated by deep equality of their normalised JSON (object keys
 *   sorted, null properties dropped, strings trimmed with runs of white space collapsed), so the same
 *   item seen in two overlapping chunks is kept once.
 */
import type { JsonSchema } from './types';

export interface MergeConflict {
  /** JSON pointer of the field, e.g. `/customer/name` ('' for the root). */
  path: string;
  /** The non-null values the chunks gave, one per chunk (in chunk order). */
  values: unknown[];
  /** 0-based indices of the chunks that gave `values[i]`. */
  chunks: number[];
}

export interface MergeResult {
  data: unknown;
  conflicts: MergeConflict[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Normalised JSON used to compare values. */
export function normalizedKey(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.trim().replace(/\s+/g, ' '));
  if (Array.isArray(v)) return `[${v.map(normalizedKey).join(',')}]`;
  if (isObj(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== null && v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${normalizedKey(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function pointer(path: string[]): string {
  return path.map((p) => `/${p.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

interface Entry {
  value: unknown;
  chunk: number;
}

/** Merges chunk answers (index i = chunk i; `undefined` entries are skipped). */
export function mergeChunkResults(results: readonly unknown[]): MergeResult {
  const conflicts: MergeConflict[] = [];
  const entries: Entry[] = [];
  results.forEach((value, chunk) => {
    if (value !== undefined) entries.push({ value, chunk });
  });
  const data = mergeEntries(entries, [], conflicts);
  return { data, conflicts };
}

function mergeEntries(entries: Entry[], path: string[], conflicts: MergeConflict[]): unknown {
  const present = entries.filter((e) => e.value !== null && e.value !== undefined);
  if (present.length === 0) return entries.length > 0 ? null : undefined;
  if (present.every((e) => isObj(e.value))) {
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const e of present) {
      for (const k of Object.keys(e.value as Obj)) {
        if (!seen.has(k)) {
          seen.add(k);
          keys.push(k);
        }
      }
    }
    const out: Obj = {};
    for (const k of keys) {
      const sub = present.filter((e) => Object.prototype.hasOwnProperty.call(e.value, k)).map((e) => ({ value: (e.value as Obj)[k], chunk: e.chunk }));
      const merged = mergeEntries(sub, [...path, k], conflicts);
      if (merged !== undefined) out[k] = merged;
    }
    return out;
  }
  if (present.every((e) => Array.isArray(e.value))) {
    const out: unknown[] = [];
    const keys = new Set<string>();
    for (const e of present) {
      for (const item of e.value as unknown[]) {
        const key = normalizedKey(item);
        if (keys.has(key)) continue;
        keys.add(key);
        out.push(item);
      }
    }
    return out;
  }
  // scalars, or values of different kinds: the first one wins
  const first = present[0];
  const firstKey = normalizedKey(first.value);
  if (present.some((e) => normalizedKey(e.value) !== firstKey)) {
    conflicts.push({ path: pointer(path), values: present.map((e) => e.value), chunks: present.map((e) => e.chunk) });
  }
  return first.value;
}

// ---------------------------------------------------------------------------------------------
// Partial schema

type Node = Record<string, unknown>;

/** Counts that constrain the whole answer, not what one chunk holds. */
const COUNT_KEYWORDS = ['minItems', 'maxItems', 'minProperties', 'maxProperties'] as const;

/**
 * The schema a chunk is asked with: every property of the root object, and of objects nested in it
 * (not inside arrays: an array item is a whole thing found in one place), becomes optional, and
 * item / property counts on those levels are dropped — a chunk holds only part of the answer. The merged answer is
 * then checked against the original schema. `$ref`s are kept as they are. The input is not modified.
 */
export function toPartialSchema(schema: JsonSchema): JsonSchema {
  const clone = structuredClone(schema) as Node;
  relax(clone, 0);
  return clone;
}

function relax(node: Node, depth: number): void {
  if (depth > 64 || typeof node.$ref === 'string') return;
  for (const k of COUNT_KEYWORDS) delete node[k];
  if (Array.isArray(node.allOf) && node.allOf.length === 1 && isObj(node.allOf[0])) relax(node.allOf[0] as Node, depth + 1);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const alts = node[key];
    if (Array.isArray(alts)) for (const a of alts) if (isObj(a)) relax(a as Node, depth + 1);
  }
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (types.includes('object') || isObj(node.properties)) {
    delete node.required;
    const props = node.properties;
    if (isObj(props)) for (const sub of Object.values(props)) if (isObj(sub)) relax(sub as Node, depth + 1);
  }
}
