/**
 * {@link createValidator}: checks model output against the user's ORIGINAL schema (constraints included)
 * with zod, and reports readable errors such as `total: expected number, received string`.
 */
import { z } from 'zod';
import { validateUserSchema } from './schemaCheck';
import type { TypeName } from './schemaKeywords';
import { acceptsNull, declaredTypes, isPlainObject, mergeAllOf, refTarget, type Node } from './schemaNode';
import { FORMAT_CHECKS } from './stringFormats';
import type { JsonSchema } from './types';
import { errorMap, formatIssue, preview } from './validationMessages';

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
