/**
 * {@link toStrictSchema}: rewrites a user's JSON Schema into the subset OpenAI structured outputs accept
 * with `strict: true` (every property required, `additionalProperties: false`, optional properties made
 * nullable, unsupported constraint keywords moved into descriptions).
 */
import { validateUserSchema } from './schemaCheck';
import type { TypeName } from './schemaKeywords';
import { acceptsNull, declaredTypes, isPlainObject, jsonType, mergeAllOf, refTarget, type Node } from './schemaNode';
import { FORMAT_HINTS } from './stringFormats';
import type { JsonSchema } from './types';

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
