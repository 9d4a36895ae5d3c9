/**
 * The fields an evaluation scores, learnt from the expected (truth) documents: nested objects become
 * dotted fields (`address.city`), arrays of objects become line items scored per sub-field
 * (`line_items[].amount`), and everything else — scalars, arrays of scalars — is one leaf field.
 * Fields only the extracted results have (not labelled in any truth document) are not scored.
 *
 * Pure: no I/O.
 */
import { isPlainObject } from './normalise';

export type Shape = { kind: 'leaf' } | { kind: 'object'; keys: Map<string, Shape> } | { kind: 'items'; item: Shape & { kind: 'object' } };

const LEAF: Shape = { kind: 'leaf' };

function emptyObject(): Shape & { kind: 'object' } {
  return { kind: 'object', keys: new Map() };
}

/** Merges the shape of `value` into `into` (objects and items win over leaves). */
export function learnShape(value: unknown, into: Shape = LEAF, depth = 0): Shape {
  if (depth > 32) return into;
  if (isPlainObject(value)) {
    const s = into.kind === 'object' ? into : emptyObject();
    for (const [k, v] of Object.entries(value)) s.keys.set(k, learnShape(v, s.keys.get(k) ?? LEAF, depth + 1));
    return s;
  }
  if (Array.isArray(value) && value.some(isPlainObject)) {
    const s = into.kind === 'items' ? into : { kind: 'items' as const, item: emptyObject() };
    for (const v of value) if (isPlainObject(v)) learnShape(v, s.item, depth + 1);
    return s;
  }
  return into;
}

/** `a` + `.b` / `a` + `[]`: the field names of the report. */
export function childField(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

/** Whether the leaf field `field` is selected by `--fields` names (a name selects itself and everything under it). */
export function selected(field: string, names: readonly string[] | undefined): boolean {
  if (!names?.length) return true;
  return names.some((n) => field === n || field.startsWith(`${n}.`) || field.startsWith(`${n}[]`));
}

/** Whether something under the object or items field `field` may be selected. */
export function mayContain(field: string, names: readonly string[] | undefined): boolean {
  if (!names?.length || !field) return true;
  return selected(field, names) || names.some((n) => n.startsWith(`${field}.`) || n.startsWith(`${field}[]`));
}
