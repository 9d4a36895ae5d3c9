/**
 * {@link validateUserSchema}: checks that a user's JSON Schema is one we can send and check, and throws an
 * `INVALID_SCHEMA` {@link ExtractionError} whose message names the exact place and reason.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';
import { didYouMean } from './didYouMean';
import { KNOWN_KEYWORDS, NON_NEGATIVE_INT_KEYWORDS, REF_SIBLINGS, TYPES, UNSUPPORTED_KEYWORDS, type TypeName } from './schemaKeywords';
import { declaredTypes, isPlainObject, jsonType, mergeAllOf, refTarget, seg, type Node } from './schemaNode';

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

function at(ptr: string): string {
  return ptr === '#' ? 'at the root (#)' : `at ${ptr}`;
}

function invalid(message: string): ExtractionError {
  return new ExtractionError(ErrorCodes.INVALID_SCHEMA, `Invalid schema: ${message}`, { retryable: false });
}

function valueMatchesType(v: unknown, t: TypeName): boolean {
  const jt = jsonType(v);
  return jt === t || (t === 'number' && jt === 'integer');
}

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
