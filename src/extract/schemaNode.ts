/**
 * Reading a node of a user's JSON Schema: its declared types, the JSON type of a value, `$ref`
 * targets, single-entry `allOf` merging, whether a node accepts `null`, JSON Pointer segments.
 * Shared by the schema check, the strict-schema rewrite and the validator.
 */
import type { TypeName } from './schemaKeywords';

export type Node = Record<string, unknown>;

export function isPlainObject(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON Pointer segment escaping (RFC 6901). */
export function seg(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function unseg(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The types a node declares: `type` (string or array), or inferred from `properties`/`items`; plus `null` for OpenAPI `nullable`. */
export function declaredTypes(node: Node): TypeName[] | undefined {
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

export function jsonType(v: unknown): TypeName | 'undefined' | 'other' {
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


export function refTarget(root: Node, ref: string): { node: unknown; name?: string; container?: '$defs' | 'definitions' } {
  if (ref === '#') return { node: root };
  const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
  if (!m) return { node: undefined };
  const container = m[1] as '$defs' | 'definitions';
  const name = unseg(m[2]);
  const defs = root[container];
  return { node: isPlainObject(defs) && Object.prototype.hasOwnProperty.call(defs, name) ? defs[name] : undefined, name, container };
}

/** Merges a single-entry `allOf` into its parent (the pydantic `{ allOf: [{ $ref }], description }` pattern). */
export function mergeAllOf(node: Node): Node {
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
export function acceptsNull(node: unknown, root: Node, seen = new Set<string>()): boolean {
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
