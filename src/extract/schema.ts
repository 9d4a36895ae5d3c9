/**
 * The user's JSON Schema, three ways:
 *
 * 1. {@link validateUserSchema} checks that a schema is one we can send and check, and throws an
 *    `INVALID_SCHEMA` {@link ExtractionError} whose message names the exact place and reason.
 * 2. {@link toStrictSchema} rewrites it into the subset OpenAI structured outputs accept with
 *    `strict: true` (every property required, `additionalProperties: false`, optional properties
 *    made nullable, unsupported constraint keywords moved into descriptions).
 * 3. {@link createValidator} checks model output against the ORIGINAL schema (constraints included)
 *    with zod and reports readable errors such as `total: expected number, received string`.
 *
 * Why not `z.fromJSONSchema` (zod 4.6)? Measured on 4.6.7 it handles most keywords, but: it cannot
 * resolve `#/definitions/...` unless `$schema` says draft-07; it injects `default` values into the
 * data (an extractor must not invent values); it rejects `null` for optional properties, which is
 * exactly what strict-mode output sends for "absent"; `format: date-time` demands a zone offset;
 * `minLength` counts UTF-16 units instead of code points; and union errors read "Invalid input".
 * So this module converts the supported subset to zod itself (small, and tested in
 * `test/unit/schema.test.ts`).
 *
 * Supported subset: `type` (incl. arrays like `["string","null"]`), `properties`, `required`,
 * `additionalProperties`, `items`, `enum`, `const`, `anyOf`, `oneOf` (checked as anyOf), single-entry
 * `allOf`, `$ref` to `#`, `#/$defs/<name>` or `#/definitions/<name>`, OpenAPI `nullable`, string
 * `minLength`/`maxLength`/`pattern`/`format` (date, date-time, time, email, uri, uuid checked
 * loosely; other formats are accepted unchecked), number `minimum`/`maximum`/`exclusiveMinimum`/
 * `exclusiveMaximum`/`multipleOf`, array `minItems`/`maxItems`/`uniqueItems`, object
 * `minProperties`/`maxProperties`, and annotations (`title`, `description`, `default`, `examples`, …).
 */
import { z } from 'zod';
import { ErrorCodes, ExtractionError } from '../core/errors';
import type { JsonSchema } from './types';

// ---------------------------------------------------------------------------------------------
// Keyword tables

const TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'] as const;
type TypeName = (typeof TYPES)[number];

/** Keywords that change which values are valid but that strict structured outputs reject. Moved to descriptions. */
const CONSTRAINT_KEYWORDS = [
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
] as const;

/** Annotations: allowed in user schemas. `default`/`examples` go into descriptions, the rest are dropped from the strict schema. */
const ANNOTATION_KEYWORDS = [
  'title',
  'description',
  'default',
  'examples',
  '$comment',
  '$schema',
  '$id',
  '$anchor',
  'deprecated',
  'readOnly',
  'writeOnly',
  'contentEncoding',
  'contentMediaType',
] as const;

const STRUCTURE_KEYWORDS = [
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'allOf',
  '$ref',
  '$defs',
  'definitions',
  'nullable',
] as const;

/** Keywords we refuse, with the reason shown to the user. */
const UNSUPPORTED_KEYWORDS: Record<string, string> = {
  not: '"not" cannot be expressed in strict structured outputs',
  if: 'conditional schemas (if/then/else) cannot be expressed in strict structured outputs',
  then: 'conditional schemas (if/then/else) cannot be expressed in strict structured outputs',
  else: 'conditional schemas (if/then/else) cannot be expressed in strict structured outputs',
  patternProperties: '"patternProperties" (free-form keys) cannot be expressed in strict structured outputs; list the properties',
  propertyNames: '"propertyNames" (free-form keys) cannot be expressed in strict structured outputs; list the properties',
  dependentRequired: '"dependentRequired" is not supported; make the properties optional and describe the rule',
  dependentSchemas: '"dependentSchemas" is not supported',
  dependencies: '"dependencies" is not supported; make the properties optional and describe the rule',
  prefixItems: 'tuples ("prefixItems") are not supported; use an object or an array of one item type',
  additionalItems: 'tuples ("additionalItems") are not supported; use an object or an array of one item type',
  contains: '"contains" is not supported',
  minContains: '"minContains" is not supported',
  maxContains: '"maxContains" is not supported',
  unevaluatedProperties: '"unevaluatedProperties" is not supported; use "additionalProperties"',
  unevaluatedItems: '"unevaluatedItems" is not supported',
  $dynamicRef: '"$dynamicRef" is not supported; use "$ref" to "#/$defs/<name>"',
  $dynamicAnchor: '"$dynamicAnchor" is not supported',
  $recursiveRef: '"$recursiveRef" is not supported; use "$ref" to "#/$defs/<name>"',
};

const KNOWN_KEYWORDS = new Set<string>([...CONSTRAINT_KEYWORDS, ...ANNOTATION_KEYWORDS, ...STRUCTURE_KEYWORDS]);

/** Siblings of `$ref` we accept (others are ambiguous between drafts). */
const REF_SIBLINGS = new Set<string>(['$ref', 'title', 'description', 'default', 'examples', '$comment', 'deprecated', 'readOnly', 'writeOnly', 'nullable']);

const NON_NEGATIVE_INT_KEYWORDS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties'] as const;

type Node = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Small helpers

function isPlainObject(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** JSON Pointer segment escaping (RFC 6901). */
function seg(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unseg(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function at(ptr: string): string {
  return ptr === '#' ? 'at the root (#)' : `at ${ptr}`;
}

function invalid(message: string): ExtractionError {
  return new ExtractionError(ErrorCodes.INVALID_SCHEMA, `Invalid schema: ${message}`, { retryable: false });
}

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

function didYouMean(word: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

/** The types a node declares: `type` (string or array), or inferred from `properties`/`items`; plus `null` for OpenAPI `nullable`. */
function declaredTypes(node: Node): TypeName[] | undefined {
  let types: TypeName[] | undefined;
  if (typeof node.type === 'string') types = [node.type as TypeName];
  else if (Array.isArray(node.type)) types = [...(node.type as TypeName[])];
  else if (node.enum === undefined && node.const === undefined) {
    if (node.properties !== undefined) types = ['object'];
    else if (node.items !== undefined) types = ['array'];
  }
  if (types && node.nullable === true && !types.includes('null')) types.push('null');
  return types;
}

function jsonType(v: unknown): TypeName | 'undefined' | 'other' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return Number.isInteger(v) ? 'integer' : 'number';
    case 'boolean':
      return 'boolean';
    case 'object':
      return 'object';
    case 'undefined':
      return 'undefined';
    default:
      return 'other';
  }
}

function valueMatchesType(v: unknown, t: TypeName): boolean {
  const jt = jsonType(v);
  return jt === t || (t === 'number' && jt === 'integer');
}

function refTarget(root: Node, ref: string): { node: unknown; name?: string; container?: '$defs' | 'definitions' } {
  if (ref === '#') return { node: root };
  const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
  if (!m) return { node: undefined };
  const container = m[1] as '$defs' | 'definitions';
  const name = unseg(m[2]);
  const defs = root[container];
  return { node: isPlainObject(defs) && Object.prototype.hasOwnProperty.call(defs, name) ? defs[name] : undefined, name, container };
}

/** Merges a single-entry `allOf` into its parent (the pydantic `{ allOf: [{ $ref }], description }` pattern). */
function mergeAllOf(node: Node): Node {
  if (!Array.isArray(node.allOf) || node.allOf.length !== 1 || !isPlainObject(node.allOf[0])) return node;
  const { allOf, ...rest } = node;
  const inner = mergeAllOf((allOf as Node[])[0]);
  const merged: Node = { ...inner, ...rest };
  if (typeof inner.description === 'string' && typeof rest.description === 'string' && inner.description !== rest.description) {
    merged.description = `${rest.description} ${inner.description}`;
  }
  return merged;
}

/** True when the (original) schema node accepts `null`. */
function acceptsNull(node: unknown, root: Node, seen = new Set<string>()): boolean {
  if (!isPlainObject(node)) return node === true;
  const n = mergeAllOf(node);
  if (typeof n.$ref === 'string') {
    if (n.nullable === true) return true;
    if (seen.has(n.$ref)) return false;
    seen.add(n.$ref);
    return acceptsNull(refTarget(root, n.$ref).node, root, seen);
  }
  const alternatives = (Array.isArray(n.anyOf) ? n.anyOf : Array.isArray(n.oneOf) ? n.oneOf : undefined) as unknown[] | undefined;
  const typed = n.type !== undefined || n.enum !== undefined || n.const !== undefined || n.properties !== undefined || n.items !== undefined;
  let typedOk = true;
  if (Array.isArray(n.enum)) typedOk = n.enum.includes(null) || (n.nullable === true);
  else if (n.const !== undefined) typedOk = n.const === null;
  else {
    const types = declaredTypes(n);
    if (types) typedOk = types.includes('null');
  }
  if (alternatives) {
    const altOk = alternatives.some((a) => acceptsNull(a, root, seen));
    return typed ? typedOk && altOk : altOk;
  }
  return typed ? typedOk : true;
}

// ---------------------------------------------------------------------------------------------
// 1. validateUserSchema

/**
 * Checks that `schema` is a JSON Schema this extension can send to the model and check results
 * against. Throws an `INVALID_SCHEMA` {@link ExtractionError} naming the place (a JSON Pointer such as
 * `#/properties/total`) and the reason. Returns nothing when the schema is fine.
 */
export function validateUserSchema(schema: unknown): void {
  if (!isPlainObject(schema)) {
    throw invalid(`the schema must be a JSON object, got ${describeValue(schema)}.`);
  }
  const rootTypes = declaredTypes(schema);
  if (typeof schema.$ref === 'string' || Array.isArray(schema.anyOf) || Array.isArray(schema.oneOf) || !rootTypes || rootTypes.length !== 1 || rootTypes[0] !== 'object') {
    const got = typeof schema.$ref === 'string' ? `a $ref ("${schema.$ref}")` : Array.isArray(schema.anyOf) ? 'anyOf' : Array.isArray(schema.oneOf) ? 'oneOf' : rootTypes ? `type ${JSON.stringify(schema.type ?? rootTypes)}` : 'no type';
    throw invalid(
      `the root must be an object schema ({ "type": "object", "properties": { … } }), got ${got}. ` +
        'Structured outputs need an object at the root; wrap other shapes in a property, e.g. { "type": "object", "properties": { "items": <your schema> }, "required": ["items"] }.',
    );
  }
  if (schema.$defs !== undefined && schema.definitions !== undefined && isPlainObject(schema.$defs) && isPlainObject(schema.definitions)) {
    for (const name of Object.keys(schema.definitions)) {
      if (Object.prototype.hasOwnProperty.call(schema.$defs, name)) {
        throw invalid(`"${name}" is defined in both #/$defs and #/definitions; keep one.`);
      }
    }
  }
  checkNode(schema, '#', schema, true);
}

function checkDefs(node: Node, key: '$defs' | 'definitions', ptr: string, root: Node): void {
  const defs = node[key];
  if (defs === undefined) return;
  if (ptr !== '#') throw invalid(`"${key}" ${at(ptr)} is only supported at the root of the schema.`);
  if (!isPlainObject(defs)) throw invalid(`"${key}" ${at(ptr)} must be an object mapping names to schemas, got ${describeValue(defs)}.`);
  for (const [name, def] of Object.entries(defs)) checkNode(def, `#/${key}/${seg(name)}`, root, false);
}

function checkNode(raw: unknown, ptr: string, root: Node, isRoot: boolean): void {
  if (typeof raw === 'boolean') {
    throw invalid(`boolean schemas (true/false) are not supported ${at(ptr)}; write a schema object with a "type".`);
  }
  if (!isPlainObject(raw)) throw invalid(`expected a schema object ${at(ptr)}, got ${describeValue(raw)}.`);

  for (const key of Object.keys(raw)) {
    if (Object.prototype.hasOwnProperty.call(UNSUPPORTED_KEYWORDS, key)) throw invalid(`${UNSUPPORTED_KEYWORDS[key]} (${at(ptr)}).`);
    if (!KNOWN_KEYWORDS.has(key) && !key.startsWith('x-')) {
      throw invalid(`unknown keyword "${key}" ${at(ptr)}${didYouMean(key, KNOWN_KEYWORDS)}. Custom annotations must start with "x-".`);
    }
  }
  if (isRoot) {
    checkDefs(raw, '$defs', ptr, root);
    checkDefs(raw, 'definitions', ptr, root);
  } else {
    if (raw.$defs !== undefined) checkDefs(raw, '$defs', ptr, root);
    if (raw.definitions !== undefined) checkDefs(raw, 'definitions', ptr, root);
  }

  if (raw.allOf !== undefined) {
    if (!Array.isArray(raw.allOf) || raw.allOf.length === 0) throw invalid(`"allOf" ${at(ptr)} must be a non-empty array of schemas.`);
    if (raw.allOf.length > 1) {
      throw invalid(`"allOf" with ${raw.allOf.length} schemas ${at(ptr)} is not supported by strict structured outputs; merge them into one object schema.`);
    }
    if (!isPlainObject(raw.allOf[0])) throw invalid(`expected a schema object at ${ptr}/allOf/0, got ${describeValue(raw.allOf[0])}.`);
  }
  const node = mergeAllOf(raw);

  if (node.$ref !== undefined) {
    if (typeof node.$ref !== 'string') throw invalid(`"$ref" ${at(ptr)} must be a string, got ${describeValue(node.$ref)}.`);
    checkRef(node.$ref, ptr, root);
    for (const key of Object.keys(node)) {
      if (!REF_SIBLINGS.has(key) && !key.startsWith('x-')) {
        throw invalid(`"${key}" next to "$ref" ${at(ptr)} is not supported (drafts disagree on what it means); move it into the referenced definition.`);
      }
    }
    return;
  }

  if (node.type !== undefined) {
    const list = Array.isArray(node.type) ? node.type : [node.type];
    if (list.length === 0) throw invalid(`"type" ${at(ptr)} is an empty array.`);
    for (const t of list) {
      if (typeof t !== 'string') throw invalid(`"type" ${at(ptr)} must be a string or an array of strings, got ${describeValue(t)}.`);
      if (!(TYPES as readonly string[]).includes(t)) {
        throw invalid(`unknown type "${t}" ${at(ptr)}${didYouMean(t, TYPES)}; expected one of ${TYPES.join(', ')}.`);
      }
    }
    if (new Set(list).size !== list.length) throw invalid(`"type" ${at(ptr)} lists a type twice.`);
  }
  if (node.nullable !== undefined && typeof node.nullable !== 'boolean') throw invalid(`"nullable" ${at(ptr)} must be true or false.`);
  const types = declaredTypes(node);

  if (node.enum !== undefined) {
    if (!Array.isArray(node.enum) || node.enum.length === 0) throw invalid(`"enum" ${at(ptr)} must be a non-empty array, got ${describeValue(node.enum)}.`);
    for (const v of node.enum) {
      if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) {
        throw invalid(`"enum" ${at(ptr)} may only hold strings, numbers, booleans or null, got ${describeValue(v)}.`);
      }
      if (types && !types.some((t) => valueMatchesType(v, t))) {
        throw invalid(`enum value ${JSON.stringify(v)} ${at(ptr)} does not match the declared type ${JSON.stringify(node.type)}.`);
      }
    }
  }
  if (node.const !== undefined) {
    if (node.const !== null && !['string', 'number', 'boolean'].includes(typeof node.const)) {
      throw invalid(`"const" ${at(ptr)} may only be a string, number, boolean or null, got ${describeValue(node.const)}.`);
    }
    if (types && !types.some((t) => valueMatchesType(node.const, t))) {
      throw invalid(`const value ${JSON.stringify(node.const)} ${at(ptr)} does not match the declared type ${JSON.stringify(node.type)}.`);
    }
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (node[key] === undefined) continue;
    const alts = node[key];
    if (!Array.isArray(alts) || alts.length === 0) throw invalid(`"${key}" ${at(ptr)} must be a non-empty array of schemas.`);
    alts.forEach((a, i) => checkNode(a, `${ptr}/${key}/${i}`, root, false));
  }
  if (!types && node.enum === undefined && node.const === undefined && node.anyOf === undefined && node.oneOf === undefined) {
    throw invalid(`the schema ${at(ptr)} has no "type" (or enum, const, anyOf, $ref); strict structured outputs need every value to have a type.`);
  }

  // objects
  if (node.properties !== undefined && !isPlainObject(node.properties)) {
    throw invalid(`"properties" ${at(ptr)} must be an object mapping names to schemas, got ${describeValue(node.properties)}.`);
  }
  const props = (node.properties ?? {}) as Node;
  if (node.required !== undefined) {
    if (!Array.isArray(node.required) || node.required.some((r) => typeof r !== 'string')) {
      throw invalid(`"required" ${at(ptr)} must be an array of property names.`);
    }
    for (const name of node.required as string[]) {
      if (!Object.prototype.hasOwnProperty.call(props, name)) {
        throw invalid(`"required" ${at(ptr)} lists "${name}", which is not in "properties"${didYouMean(name, Object.keys(props))}.`);
      }
    }
  }
  if (node.additionalProperties !== undefined && typeof node.additionalProperties !== 'boolean') {
    checkNode(node.additionalProperties, `${ptr}/additionalProperties`, root, false);
  }
  if (types?.includes('object')) {
    if (Object.keys(props).length === 0 && node.additionalProperties !== false) {
      throw invalid(
        `the object ${at(ptr)} declares no properties, so it is free-form; strict structured outputs cannot produce free-form objects. ` +
          'List its properties (or use an array of { "key", "value" } objects).',
      );
    }
  }
  for (const [name, sub] of Object.entries(props)) checkNode(sub, `${ptr}/properties/${seg(name)}`, root, false);

  // arrays
  if (types?.includes('array')) {
    if (node.items === undefined) throw invalid(`the array ${at(ptr)} has no "items" schema; strict structured outputs need the type of the items.`);
    if (Array.isArray(node.items)) throw invalid(`tuple-style "items" (an array of schemas) ${at(ptr)} is not supported; use one schema for all items.`);
  }
  if (node.items !== undefined && !Array.isArray(node.items)) checkNode(node.items, `${ptr}/items`, root, false);

  // constraints
  for (const key of NON_NEGATIVE_INT_KEYWORDS) {
    const v = node[key];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0)) throw invalid(`"${key}" ${at(ptr)} must be a non-negative integer, got ${describeValue(v)}.`);
  }
  for (const key of ['minimum', 'maximum', 'multipleOf'] as const) {
    const v = node[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v))) throw invalid(`"${key}" ${at(ptr)} must be a number, got ${describeValue(v)}.`);
  }
  for (const key of ['exclusiveMinimum', 'exclusiveMaximum'] as const) {
    const v = node[key];
    if (v !== undefined && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) {
      throw invalid(`"${key}" ${at(ptr)} must be a number (or a boolean in draft-04), got ${describeValue(v)}.`);
    }
  }
  if (typeof node.multipleOf === 'number' && node.multipleOf <= 0) throw invalid(`"multipleOf" ${at(ptr)} must be greater than 0, got ${node.multipleOf}.`);
  for (const [lo, hi] of [
    ['minimum', 'maximum'],
    ['minLength', 'maxLength'],
    ['minItems', 'maxItems'],
    ['minProperties', 'maxProperties'],
  ] as const) {
    if (typeof node[lo] === 'number' && typeof node[hi] === 'number' && (node[lo] as number) > (node[hi] as number)) {
      throw invalid(`"${lo}" (${node[lo]}) is greater than "${hi}" (${node[hi]}) ${at(ptr)}, so no value can match.`);
    }
  }
  if (node.uniqueItems !== undefined && typeof node.uniqueItems !== 'boolean') throw invalid(`"uniqueItems" ${at(ptr)} must be true or false.`);
  if (node.format !== undefined && typeof node.format !== 'string') throw invalid(`"format" ${at(ptr)} must be a string.`);
  if (node.pattern !== undefined) {
    if (typeof node.pattern !== 'string') throw invalid(`"pattern" ${at(ptr)} must be a string.`);
    try {
      new RegExp(node.pattern, 'u');
    } catch (e) {
      throw invalid(`"pattern" ${JSON.stringify(node.pattern)} ${at(ptr)} is not a valid regular expression: ${(e as Error).message}.`);
    }
  }
  if (node.required !== undefined && types && !types.includes('object')) {
    throw invalid(`"required" ${at(ptr)} only applies to objects, but the type is ${JSON.stringify(node.type)}.`);
  }
}

function checkRef(ref: string, ptr: string, root: Node): void {
  if (!ref.startsWith('#')) {
    throw invalid(`"$ref": "${ref}" ${at(ptr)} points outside the schema; only local references ("#/$defs/<name>") are supported.`);
  }
  const target = refTarget(root, ref);
  if (target.name === undefined && ref !== '#') {
    throw invalid(`"$ref": "${ref}" ${at(ptr)} is not supported; only "#", "#/$defs/<name>" and "#/definitions/<name>" references are.`);
  }
  if (target.node === undefined) {
    const defs = root[target.container!];
    const names = isPlainObject(defs) ? Object.keys(defs) : [];
    throw invalid(
      `"$ref": "${ref}" ${at(ptr)} points to nothing: ${isPlainObject(defs) ? `#/${target.container} has no "${target.name}"${didYouMean(target.name!, names)}` : `the schema has no #/${target.container}`}.`,
    );
  }
  // A chain of definitions that only point at each other never reaches a type.
  const seen = new Set<string>([ref]);
  let cur: unknown = target.node;
  while (isPlainObject(cur) && typeof mergeAllOf(cur).$ref === 'string') {
    const next = mergeAllOf(cur).$ref as string;
    if (seen.has(next)) throw invalid(`"$ref": "${ref}" ${at(ptr)} starts a circular chain of references that never reaches a type (${[...seen, next].join(' → ')}).`);
    seen.add(next);
    cur = refTarget(root, next).node;
  }
}

// ---------------------------------------------------------------------------------------------
// 2. toStrictSchema

function constraintNotes(node: Node): string[] {
  const notes: string[] = [];
  const fmt = (v: unknown): string => JSON.stringify(v);
  if (typeof node.minLength === 'number') notes.push(`at least ${node.minLength} character${node.minLength === 1 ? '' : 's'}`);
  if (typeof node.maxLength === 'number') notes.push(`at most ${node.maxLength} character${node.maxLength === 1 ? '' : 's'}`);
  if (typeof node.pattern === 'string') notes.push(`must match the regular expression ${node.pattern}`);
  if (typeof node.format === 'string') notes.push(`format ${node.format}${FORMAT_HINTS[node.format] ? ` (${FORMAT_HINTS[node.format]})` : ''}`);
  if (typeof node.minimum === 'number') notes.push(node.exclusiveMinimum === true ? `greater than ${node.minimum}` : `minimum ${node.minimum}`);
  if (typeof node.maximum === 'number') notes.push(node.exclusiveMaximum === true ? `less than ${node.maximum}` : `maximum ${node.maximum}`);
  if (typeof node.exclusiveMinimum === 'number') notes.push(`greater than ${node.exclusiveMinimum}`);
  if (typeof node.exclusiveMaximum === 'number') notes.push(`less than ${node.exclusiveMaximum}`);
  if (typeof node.multipleOf === 'number') notes.push(`a multiple of ${node.multipleOf}`);
  if (typeof node.minItems === 'number') notes.push(`at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}`);
  if (typeof node.maxItems === 'number') notes.push(`at most ${node.maxItems} item${node.maxItems === 1 ? '' : 's'}`);
  if (node.uniqueItems === true) notes.push('items must be unique');
  if (typeof node.minProperties === 'number') notes.push(`at least ${node.minProperties} properties`);
  if (typeof node.maxProperties === 'number') notes.push(`at most ${node.maxProperties} properties`);
  if (node.default !== undefined) notes.push(`default ${fmt(node.default)}`);
  if (Array.isArray(node.examples) && node.examples.length > 0) notes.push(`examples: ${node.examples.map(fmt).join(', ')}`);
  return notes;
}

const FORMAT_HINTS: Record<string, string> = {
  date: 'YYYY-MM-DD',
  'date-time': 'ISO 8601, e.g. 2024-05-31T14:30:00Z',
  time: 'HH:MM:SS',
  email: 'an e-mail address',
  uri: 'an absolute URI',
  uuid: 'a UUID',
};

function describe(node: Node, extra: string[]): string | undefined {
  const base = typeof node.description === 'string' && node.description.trim() !== '' ? node.description.trim() : undefined;
  if (extra.length === 0) return base;
  const note = extra.length === 1 ? `Constraint: ${extra[0]}.` : `Constraints: ${extra.join('; ')}.`;
  return base ? `${base}${/[.!?]$/.test(base) ? '' : '.'} ${note}` : note;
}

function normalizeRef(ref: string): string {
  return ref.startsWith('#/definitions/') ? `#/$defs/${ref.slice('#/definitions/'.length)}` : ref;
}

function withNull(types: TypeName[]): TypeName[] {
  return types.includes('null') ? types : [...types, 'null'];
}

/**
 * Rewrites a user schema into the subset accepted by OpenAI structured outputs with `strict: true`:
 * all properties required, `additionalProperties: false` on every object, properties that were
 * optional made nullable (`type: [t, "null"]`, `null` added to enums, or `anyOf` with `{ type: "null" }`),
 * `oneOf` turned into `anyOf`, `definitions` moved to `$defs`, and keywords strict mode rejects
 * (minLength, pattern, format, minimum, minItems, default, examples, …) removed and described in the
 * node's description (`"Constraint: minimum 0."`). The input is not modified.
 * Throws `INVALID_SCHEMA` like {@link validateUserSchema}.
 */
export function toStrictSchema(schema: JsonSchema): JsonSchema {
  validateUserSchema(schema);
  const root = schema as Node;
  const ctx: StrictCtx = { root, defs: {} };
  const defsOut: Node = {};
  for (const key of ['definitions', '$defs'] as const) {
    const defs = root[key];
    if (!isPlainObject(defs)) continue;
    for (const [name, def] of Object.entries(defs)) defsOut[name] = strictNode(def as Node, false, ctx);
  }
  ctx.defs = defsOut;
  const out = strictNode(root, false, ctx);
  if (Object.keys(defsOut).length > 0) out.$defs = defsOut;
  return out;
}

interface StrictCtx {
  root: Node;
  defs: Node;
}

function strictNode(raw: Node, optional: boolean, ctx: StrictCtx): Node {
  const node = mergeAllOf(raw);
  const nullable = optional && !acceptsNull(node, ctx.root);
  const notes = constraintNotes(node);

  if (typeof node.$ref === 'string') {
    const ref = normalizeRef(node.$ref);
    const description = describe(node, notes);
    const refNullable = nullable || node.nullable === true;
    if (!description) return refNullable ? { anyOf: [{ $ref: ref }, { type: 'null' }] } : { $ref: ref };
    // Strict mode rejects keywords next to $ref: wrap it (nullable case) or inline the definition one level.
    if (refNullable) return { anyOf: [{ $ref: ref }, { type: 'null' }], description };
    const target = refTarget(ctx.root, node.$ref);
    const def = target.name !== undefined ? ctx.defs[target.name] : undefined;
    if (isPlainObject(def) && def.$ref === undefined) {
      const defDescription = typeof def.description === 'string' ? def.description : '';
      return { ...def, description: defDescription ? `${description}${/[.!?]$/.test(description) ? '' : '.'} ${defDescription}` : description };
    }
    return { $ref: ref };
  }

  const out: Node = {};
  if (typeof node.title === 'string') out.title = node.title;
  const description = describe(node, notes);

  if (node.anyOf !== undefined || node.oneOf !== undefined) {
    const alts = ((node.anyOf ?? node.oneOf) as Node[]).map((a) => strictNode(a, false, ctx));
    const typed = node.type !== undefined || node.enum !== undefined || node.const !== undefined;
    if (!typed) {
      if (nullable && !alts.some((a) => acceptsNull(a, ctx.root))) alts.push({ type: 'null' });
      out.anyOf = alts;
      if (description) out.description = description;
      return out;
    }
    // type/enum/const next to anyOf: keep the typed part as a branch-independent wrapper.
    const { anyOf: _a, oneOf: _o, ...typedPart } = node;
    const inner = strictNode(typedPart, false, ctx);
    out.anyOf = alts.map((a) => ({ ...inner, ...a }));
    if (nullable) (out.anyOf as Node[]).push({ type: 'null' });
    if (description) out.description = description;
    return out;
  }

  if (node.const !== undefined) {
    const c: Node = { const: node.const };
    const types = declaredTypes(node);
    const t = types?.find((x) => x !== 'null') ?? (jsonType(node.const) === 'integer' ? 'number' : jsonType(node.const));
    if (t !== 'null' && t !== 'undefined' && t !== 'other') c.type = t;
    if (nullable || node.nullable === true) {
      out.anyOf = [c, { type: 'null' }];
    } else Object.assign(out, c);
    if (description) out.description = description;
    return out;
  }

  if (node.enum !== undefined) {
    const values = [...(node.enum as unknown[])];
    let types = declaredTypes(node) ?? inferEnumTypes(values);
    if (nullable || node.nullable === true) {
      if (!values.includes(null)) values.push(null);
      types = withNull(types);
    }
    out.type = types.length === 1 ? types[0] : types;
    out.enum = values;
    if (description) out.description = description;
    return out;
  }

  let types = declaredTypes(node)!;
  if (nullable) types = withNull(types);
  out.type = types.length === 1 ? types[0] : types;
  if (description) out.description = description;

  if (types.includes('object')) {
    const props = (node.properties ?? {}) as Record<string, Node>;
    const required = new Set((node.required as string[] | undefined) ?? []);
    const outProps: Node = {};
    for (const [name, sub] of Object.entries(props)) outProps[name] = strictNode(sub, !required.has(name), ctx);
    out.properties = outProps;
    out.required = Object.keys(props);
    out.additionalProperties = false;
  }
  if (types.includes('array')) out.items = strictNode(node.items as Node, false, ctx);
  return out;
}

function inferEnumTypes(values: unknown[]): TypeName[] {
  const types: TypeName[] = [];
  for (const v of values) {
    let t = jsonType(v) as TypeName;
    if (t === 'integer') t = values.every((x) => x === null || Number.isInteger(x)) ? 'integer' : 'number';
    if (!types.includes(t)) types.push(t);
  }
  return types;
}

// ---------------------------------------------------------------------------------------------
// 3. createValidator

export type ValidationResult = { ok: true; data: unknown } | { ok: false; errors: string[] };
export type Validator = (data: unknown) => ValidationResult;

/**
 * Compiles a validator for data against the user's ORIGINAL schema (constraints included).
 * `null` for an optional property that does not accept null (what strict-mode output sends for
 * "absent") counts as absent and is removed from `data`. Defaults are never filled in.
 * Errors read like `lines[0].quantity: expected integer, received number (1.5)`.
 */
export function createValidator(schema: JsonSchema): Validator {
  validateUserSchema(schema);
  const builder = new ZodBuilder(schema as Node);
  const zschema = builder.build(schema as Node);
  return (data: unknown): ValidationResult => {
    const result = zschema.safeParse(data, { error: errorMap });
    if (result.success) return { ok: true, data: result.data };
    const errors: string[] = [];
    for (const issue of result.error.issues) formatIssue(issue, [], errors);
    return { ok: false, errors: [...new Set(errors)] };
  };
}

class ZodBuilder {
  readonly #root: Node;
  readonly #refs = new Map<string, z.ZodType>();

  constructor(root: Node) {
    this.#root = root;
  }

  build(raw: Node): z.ZodType {
    const node = mergeAllOf(raw);
    if (typeof node.$ref === 'string') {
      const ref = node.$ref;
      const lazy = z.lazy(() => this.#resolve(ref));
      return node.nullable === true ? lazy.nullable() : lazy;
    }
    const parts: z.ZodType[] = [];
    if (node.enum !== undefined) parts.push(enumSchema(node.enum as unknown[], node.nullable === true));
    else if (node.const !== undefined) parts.push(node.nullable === true ? literalSchema(node.const).nullable() : literalSchema(node.const));
    else {
      const types = declaredTypes(node);
      if (types) parts.push(this.#typed(node, types));
    }
    const alts = (node.anyOf ?? node.oneOf) as Node[] | undefined;
    if (alts) {
      const built = alts.map((a) => this.build(a));
      parts.push(built.length === 1 ? built[0] : z.union(built as [z.ZodType, z.ZodType, ...z.ZodType[]]));
    }
    if (parts.length === 0) return z.unknown();
    return parts.length === 1 ? parts[0] : z.intersection(parts[0], parts[1]);
  }

  #resolve(ref: string): z.ZodType {
    let s = this.#refs.get(ref);
    if (!s) {
      s = this.build(refTarget(this.#root, ref).node as Node);
      this.#refs.set(ref, s);
    }
    return s;
  }

  #typed(node: Node, types: TypeName[]): z.ZodType {
    const nonNull = types.filter((t) => t !== 'null');
    const built = nonNull.map((t) => this.#single(node, t));
    let s: z.ZodType;
    if (built.length === 0) return z.null();
    if (built.length === 1) s = built[0];
    else if (nonNull.length === 2 && nonNull.includes('number') && nonNull.includes('integer')) s = this.#single(node, 'number');
    else s = z.union(built as [z.ZodType, z.ZodType, ...z.ZodType[]]);
    return types.includes('null') ? s.nullable() : s;
  }

  #single(node: Node, t: TypeName): z.ZodType {
    switch (t) {
      case 'string':
        return stringSchema(node);
      case 'number':
      case 'integer':
        return numberSchema(node, t === 'integer');
      case 'boolean':
        return z.boolean();
      case 'null':
        return z.null();
      case 'array':
        return this.#array(node);
      case 'object':
        return this.#object(node);
    }
  }

  #array(node: Node): z.ZodType {
    const item = node.items !== undefined ? this.build(node.items as Node) : z.unknown();
    return z.array(item).superRefine((arr, ctx) => {
      if (typeof node.minItems === 'number' && arr.length < node.minItems) {
        ctx.addIssue({ code: 'custom', message: `expected at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}, got ${arr.length}` });
      }
      if (typeof node.maxItems === 'number' && arr.length > node.maxItems) {
        ctx.addIssue({ code: 'custom', message: `expected at most ${node.maxItems} item${node.maxItems === 1 ? '' : 's'}, got ${arr.length}` });
      }
      if (node.uniqueItems === true) {
        const seen = new Map<string, number>();
        arr.forEach((v, i) => {
          const key = canonical(v);
          const first = seen.get(key);
          if (first === undefined) seen.set(key, i);
          else ctx.addIssue({ code: 'custom', path: [i], message: `duplicate of item ${first} (items must be unique)` });
        });
      }
    });
  }

  #object(node: Node): z.ZodType {
    const props = (node.properties ?? {}) as Record<string, Node>;
    const required = new Set((node.required as string[] | undefined) ?? []);
    const shape: Record<string, z.ZodType> = {};
    for (const [name, sub] of Object.entries(props)) {
      const s = this.build(sub);
      if (required.has(name)) shape[name] = s;
      else if (acceptsNull(sub, this.#root)) shape[name] = s.optional();
      else shape[name] = z.preprocess((v) => (v === null ? undefined : v), s.optional());
    }
    let obj: z.ZodType;
    const base = z.object(shape);
    if (node.additionalProperties === false) obj = base.strict();
    else if (isPlainObject(node.additionalProperties)) obj = base.catchall(this.build(node.additionalProperties));
    else obj = base.passthrough();
    const minP = node.minProperties;
    const maxP = node.maxProperties;
    return obj
      .superRefine((o, ctx) => {
        const n = Object.keys(o as object).filter((k) => (o as Node)[k] !== undefined).length;
        if (typeof minP === 'number' && n < minP) ctx.addIssue({ code: 'custom', message: `expected at least ${minP} properties, got ${n}` });
        if (typeof maxP === 'number' && n > maxP) ctx.addIssue({ code: 'custom', message: `expected at most ${maxP} properties, got ${n}` });
      })
      .transform((o) => {
        const out = o as Node;
        for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
        return out;
      });
  }
}

function enumSchema(values: unknown[], nullable: boolean): z.ZodType {
  const allowed = nullable && !values.includes(null) ? [...values, null] : values;
  const list = allowed.map((v) => JSON.stringify(v)).join(', ');
  return z.unknown().superRefine((v, ctx) => {
    if (!allowed.some((a) => a === v)) ctx.addIssue({ code: 'custom', message: `expected one of ${list}, received ${preview(v)}` });
  });
}

function literalSchema(c: unknown): z.ZodType {
  return z.unknown().superRefine((v, ctx) => {
    if (v !== c) ctx.addIssue({ code: 'custom', message: `expected ${JSON.stringify(c)}, received ${preview(v)}` });
  });
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function validDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  return d <= days;
}

/** Loose format checks: catch values that are clearly something else, accept common spellings. */
const FORMAT_CHECKS: Record<string, { test: (s: string) => boolean; expected: string }> = {
  date: { test: validDate, expected: 'a date (YYYY-MM-DD)' },
  'date-time': {
    test: (s) => {
      const m = /^(\d{4}-\d{2}-\d{2})[T ](.+)$/i.exec(s);
      return !!m && validDate(m[1]) && TIME_RE.test(m[2]);
    },
    expected: 'a date-time (ISO 8601, e.g. 2024-05-31T14:30:00Z)',
  },
  time: { test: (s) => TIME_RE.test(s), expected: 'a time (HH:MM[:SS])' },
  email: { test: (s) => EMAIL_RE.test(s), expected: 'an e-mail address' },
  uri: { test: (s) => /^[a-z][a-z0-9+.-]*:\S+$/i.test(s), expected: 'an absolute URI' },
  url: { test: (s) => /^[a-z][a-z0-9+.-]*:\S+$/i.test(s), expected: 'an absolute URL' },
  uuid: { test: (s) => UUID_RE.test(s), expected: 'a UUID' },
};

function stringSchema(node: Node): z.ZodType {
  const checks: Array<(s: string) => string | undefined> = [];
  const { minLength, maxLength, pattern, format } = node;
  if (typeof minLength === 'number' || typeof maxLength === 'number') {
    checks.push((s) => {
      const len = [...s].length; // code points, as JSON Schema counts
      if (typeof minLength === 'number' && len < minLength) return `expected at least ${minLength} character${minLength === 1 ? '' : 's'}, got ${len}`;
      if (typeof maxLength === 'number' && len > maxLength) return `expected at most ${maxLength} character${maxLength === 1 ? '' : 's'}, got ${len}`;
      return undefined;
    });
  }
  if (typeof pattern === 'string') {
    const re = new RegExp(pattern, 'u');
    checks.push((s) => (re.test(s) ? undefined : `expected a string matching ${pattern}, received ${preview(s)}`));
  }
  if (typeof format === 'string' && FORMAT_CHECKS[format]) {
    const f = FORMAT_CHECKS[format];
    checks.push((s) => (f.test(s) ? undefined : `expected ${f.expected}, received ${preview(s)}`));
  }
  const base = z.string();
  if (checks.length === 0) return base;
  return base.superRefine((s, ctx) => {
    for (const c of checks) {
      const msg = c(s);
      if (msg) ctx.addIssue({ code: 'custom', message: msg });
    }
  });
}

function numberSchema(node: Node, integer: boolean): z.ZodType {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf } = node;
  return z.number().superRefine((n, ctx) => {
    const add = (message: string): void => ctx.addIssue({ code: 'custom', message });
    if (integer && !Number.isInteger(n)) add(`expected integer, received number (${n})`);
    if (typeof minimum === 'number') {
      if (exclusiveMinimum === true ? !(n > minimum) : n < minimum) add(`expected ${exclusiveMinimum === true ? '>' : '>='} ${minimum}, received ${n}`);
    }
    if (typeof maximum === 'number') {
      if (exclusiveMaximum === true ? !(n < maximum) : n > maximum) add(`expected ${exclusiveMaximum === true ? '<' : '<='} ${maximum}, received ${n}`);
    }
    if (typeof exclusiveMinimum === 'number' && !(n > exclusiveMinimum)) add(`expected > ${exclusiveMinimum}, received ${n}`);
    if (typeof exclusiveMaximum === 'number' && !(n < exclusiveMaximum)) add(`expected < ${exclusiveMaximum}, received ${n}`);
    if (typeof multipleOf === 'number') {
      const q = n / multipleOf;
      if (Math.abs(q - Math.round(q)) > 1e-9 * Math.max(1, Math.abs(q))) add(`expected a multiple of ${multipleOf}, received ${n}`);
    }
  });
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isPlainObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

function preview(v: unknown): string {
  if (v === undefined) return 'nothing';
  const t = jsonType(v);
  if (t === 'object') return 'an object';
  if (t === 'array') return 'an array';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…"` : s;
}

function receivedType(v: unknown): string {
  const t = jsonType(v);
  return t === 'integer' ? 'number' : t;
}

/** Per-parse error map: readable messages for zod's built-in issues. */
function errorMap(iss: { code?: string; input?: unknown; expected?: string; keys?: string[] }): string | undefined {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return 'missing required property';
      const t = receivedType(iss.input);
      const value = t === 'string' || t === 'number' || t === 'boolean' ? ` (${preview(iss.input)})` : '';
      return `expected ${iss.expected}, received ${t}${value}`;
    }
    case 'unrecognized_keys':
      return `unexpected propert${iss.keys && iss.keys.length === 1 ? 'y' : 'ies'} ${(iss.keys ?? []).map((k) => JSON.stringify(k)).join(', ')} (additionalProperties is false)`;
    default:
      return undefined;
  }
}

type Issue = z.core.$ZodIssue;

function formatPath(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][\w$]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out || '(root)';
}

function formatIssue(issue: Issue, prefix: PropertyKey[], out: string[]): void {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union') {
    const branches = (issue as { errors: Issue[][] }).errors;
    // All branches failed on the type only: "expected string or number, received boolean".
    const typeOnly = branches.every((b) => b.length === 1 && b[0].path.length === 0 && b[0].code === 'invalid_type');
    if (typeOnly && branches.length > 0) {
      const expected = [...new Set(branches.map((b) => (b[0] as { expected: string }).expected))];
      const received = / received (.*)$/.exec(branches[0][0].message)?.[1] ?? 'something else';
      out.push(`${formatPath(path)}: expected ${expected.join(' or ')}, received ${received}`);
      return;
    }
    // Report the branch that got furthest (fewest issues, deepest path).
    const best = [...branches].sort((a, b) => score(b) - score(a))[0] ?? [];
    const details: string[] = [];
    for (const i of best) formatIssue(i, path, details);
    out.push(`${formatPath(path)}: matches none of the ${branches.length} allowed alternatives${details.length ? `; closest: ${details.join('; ')}` : ''}`);
    return;
  }
  let message = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'invalid_type' && message === 'missing required property') {
    out.push(`${formatPath(path)}: ${message}`);
    return;
  }
  if (message === 'Invalid input') message = 'invalid value';
  out.push(`${formatPath(path)}: ${message}`);
}

function score(branch: Issue[]): number {
  const depth = Math.max(0, ...branch.map((i) => i.path.length));
  return depth * 10 - branch.length;
}
