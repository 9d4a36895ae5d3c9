/**
 * Readable validation errors: zod's issues turned into messages such as
 * `lines[0].quantity: expected integer, received number (1.5)`, with union failures summarised.
 */
import type { z } from 'zod';
import { jsonType } from './schemaNode';

export function preview(v: unknown): string {
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
export function errorMap(iss: { code?: string; input?: unknown; expected?: string; keys?: string[] }): string | undefined {
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

export function formatIssue(issue: Issue, prefix: PropertyKey[], out: string[]): void {
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
