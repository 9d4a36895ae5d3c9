/**
 * The one protocol between the extension host and the Review webview: discriminated unions of messages
 * in both directions, their zod schemas, and the parsers both ends call on everything they receive
 * (`parseHostMessage` in the webview, `parseWebviewMessage` in the host). Plus the small JSON helpers
 * both ends need to agree on: JSON Pointers (RFC 6901), applying a correction, and field-level diffs.
 *
 * No `vscode`, no DOM, no Node: bundled into the webview as well as the extension.
 */
import { z } from 'zod';

export { REVIEW_VIEW_TYPE } from './reviewViewType';
export const REVIEW_PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// values

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonValue = Json;

const jsonValue: z.ZodType<JsonValue> = z.json();

const pointer = z.string().max(2000).refine((p) => p === '' || p.startsWith('/'), 'a JSON Pointer starts with "/"');

// ---------------------------------------------------------------------------------------------
// grounding (same shape as src/extract/grounding.ts)

const bbox = z.tuple([z.number(), z.number(), z.number(), z.number()]);

export const fieldGroundingSchema = z.object({
  pointer,
  status: z.enum(['grounded', 'ungrounded']),
  match: z.enum(['exact', 'normalized', 'fuzzy']).optional(),
  start: z.number().int().nonnegative().optional(),
  end: z.number().int().nonnegative().optional(),
  text: z.string().optional(),
  page: z.number().int().positive().optional(),
  boxes: z.array(z.object({ page: z.number().int().positive(), bbox })).optional(),
  line: z.number().int().positive().optional(),
  score: z.number().min(0).max(1).optional(),
  ambiguous: z.boolean().optional(),
  lowConfidence: z.boolean().optional(),
  /** Lowest OCR word confidence (0–100) of the match, on text recognised from an image. */
  ocrConfidence: z.number().min(0).max(100).optional(),
  confidence: z.number().min(0).max(1).optional(),
  confidenceSource: z.enum(['grounding', 'logprobs']).optional(),
});
export type FieldGroundingView = z.infer<typeof fieldGroundingSchema>;

export const groundingSchema = z.object({
  version: z.literal(1),
  fields: z.array(fieldGroundingSchema),
  summary: z.object({
    total: z.number().int().nonnegative(),
    exact: z.number().int().nonnegative(),
    normalized: z.number().int().nonnegative(),
    fuzzy: z.number().int().nonnegative(),
    ungrounded: z.number().int().nonnegative(),
    minConfidence: z.number().min(0).max(1).optional(),
  }),
});
export type GroundingView = z.infer<typeof groundingSchema>;

// ---------------------------------------------------------------------------------------------
// view models

export const navFilterSchema = z.enum(['all', 'failed', 'ungrounded', 'unreviewed']);
export type NavFilter = z.infer<typeof navFilterSchema>;

const pageSize = z.object({ page: z.number().int().positive(), width: z.number().positive(), height: z.number().positive() });

/** What the left side shows. PDFs are loaded by the webview from `uri` (a webview URI) with pdf.js. */
export const sourceViewSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('pdf'), uri: z.string(), pages: z.array(pageSize) }),
  /**
   * An image file (a webview URI), one page per image (per TIFF page). Page sizes are in pixels, the unit of
   * the OCR word boxes. TIFF (which browsers do not show) is decoded in the webview.
   */
  z.object({ kind: z.literal('image'), uri: z.string(), format: z.string(), pages: z.array(pageSize) }),
  /** Converted text (the text grounding offsets refer to), shown with line numbers. */
  z.object({ kind: z.literal('text'), text: z.string(), format: z.string() }),
  z.object({ kind: z.literal('unavailable'), reason: z.string() }),
]);
export type SourceView = z.infer<typeof sourceViewSchema>;

export const reviewInfoSchema = z.object({
  reviewed: z.boolean(),
  reviewedAt: z.string().optional(),
  reviewedBy: z.string().optional(),
  /** Corrections in effect (after undos). */
  corrections: z.number().int().nonnegative(),
  lastCorrectionAt: z.string().optional(),
  lastCorrectionBy: z.string().optional(),
  /** Pointers of the fields a correction touched. */
  correctedPointers: z.array(pointer),
  /** Corrections that no longer apply to the current result (e.g. an array item that is gone). */
  skipped: z.number().int().nonnegative(),
  /** A note for the reviewer (corrections recorded against an earlier result, …). */
  notice: z.string().optional(),
});
export type ReviewInfo = z.infer<typeof reviewInfoSchema>;

export const fieldChangeSchema = z.object({
  pointer,
  kind: z.enum(['changed', 'added', 'removed']),
  before: jsonValue.optional(),
  after: jsonValue.optional(),
});
export type FieldChange = z.infer<typeof fieldChangeSchema>;

export const rerunViewSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('running'), instruction: z.string().optional() }),
  z.object({ state: z.literal('diff'), instruction: z.string().optional(), changes: z.array(fieldChangeSchema), before: jsonValue, after: jsonValue }),
  z.object({ state: z.literal('failed'), message: z.string() }),
]);
export type RerunView = z.infer<typeof rerunViewSchema>;

export const documentViewSchema = z.object({
  /** Workspace folder key + document path (relative, `/`-separated): the document's identity. */
  folderKey: z.string(),
  path: z.string(),
  /** Stage in the checkpoint store (`done`, `dead-lettered`, …) or `unknown`. */
  stage: z.string(),
  /** Last error of a failed / dead-lettered document. */
  error: z.string().optional(),
  /** Whether a result file exists (corrections need one). */
  hasResult: z.boolean(),
  /** Whether runs are allowed (trusted workspace) — rerun is disabled otherwise. */
  canRun: z.boolean(),
  /** `review.confidenceThreshold`: values below it are the ones "Next to check" goes through. */
  confidenceThreshold: z.number().min(0).max(1).optional(),
  source: sourceViewSchema,
  schema: z.record(z.string(), z.unknown()),
  /** The model's output (`data` of the result file), null without a result. */
  modelData: jsonValue,
  /** What the reviewer sees and edits: the model's output with the corrections applied. */
  data: jsonValue,
  grounding: groundingSchema.nullable(),
  review: reviewInfoSchema,
  nav: z.object({ index: z.number().int().nonnegative(), total: z.number().int().nonnegative() }),
  rerun: rerunViewSchema.optional(),
});
export type DocumentView = z.infer<typeof documentViewSchema>;

/** What the webview keeps with `setState` (and the serializer gets back after a reload). */
export const webviewStateSchema = z.object({
  folderKey: z.string(),
  path: z.string(),
  selected: pointer.optional(),
  filter: navFilterSchema.optional(),
  sourceScroll: z.number().optional(),
  formScroll: z.number().optional(),
});
export type WebviewState = z.infer<typeof webviewStateSchema>;

// ---------------------------------------------------------------------------------------------
// host → webview

export const hostMessageSchema = z.discriminatedUnion('type', [
  /** A document to show (first load, navigation, reload after accept/reject). */
  z.object({ type: z.literal('review/load'), document: documentViewSchema, selected: pointer.optional() }),
  /** The corrected data changed (correction, undo, marked reviewed). */
  z.object({ type: z.literal('review/update'), data: jsonValue, grounding: groundingSchema.nullable(), review: reviewInfoSchema }),
  /** Rerun progress: running, the diff to accept or reject, or a failure. */
  z.object({ type: z.literal('review/rerun'), rerun: rerunViewSchema.optional() }),
  /** Select (and reveal) a field, e.g. from a command. */
  z.object({ type: z.literal('review/select'), pointer }),
  z.object({ type: z.literal('review/error'), message: z.string(), pointer: pointer.optional() }),
]);
export type HostMessage = z.infer<typeof hostMessageSchema>;

// ---------------------------------------------------------------------------------------------
// webview → host

export const correctionOpSchema = z.enum(['set', 'add', 'remove']);
export type CorrectionOp = z.infer<typeof correctionOpSchema>;

export const webviewMessageSchema = z.discriminatedUnion('type', [
  /** The page is loaded and listening; the host may post from now on. */
  z.object({ type: z.literal('review/ready'), protocol: z.literal(REVIEW_PROTOCOL_VERSION), state: webviewStateSchema.optional() }),
  z.object({ type: z.literal('review/fieldSelected'), pointer }),
  /**
   * `set` replaces the value at `pointer`; `add` inserts `value` into an array at `pointer` (its last
   * segment is the index, or `-` to append); `remove` deletes the array item at `pointer`.
   */
  z.object({ type: z.literal('review/correct'), op: correctionOpSchema, pointer, value: jsonValue.optional() }),
  z.object({ type: z.literal('review/undo') }),
  z.object({ type: z.literal('review/markReviewed'), reviewed: z.boolean() }),
  z.object({ type: z.literal('review/rerun'), instruction: z.string().max(4000).optional() }),
  z.object({ type: z.literal('review/acceptRerun'), accept: z.boolean() }),
  z.object({ type: z.literal('review/navigate'), direction: z.enum(['next', 'previous']), filter: navFilterSchema }),
  z.object({ type: z.literal('review/openSource') }),
  /** Something failed inside the webview (e.g. pdf.js); the host logs it. */
  z.object({ type: z.literal('review/error'), message: z.string().max(10_000) }),
]);
export type WebviewMessage = z.infer<typeof webviewMessageSchema>;

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(message)'}: ${i.message}`)
    .join('; ');
}

/** Validates a message from the host (webview side). Throws {@link ProtocolError}. */
export function parseHostMessage(raw: unknown): HostMessage {
  const r = hostMessageSchema.safeParse(raw);
  if (!r.success) throw new ProtocolError(`Invalid message from the extension: ${describeIssues(r.error)}`);
  return r.data;
}

/** Validates a message from the webview (host side). Throws {@link ProtocolError}. */
export function parseWebviewMessage(raw: unknown): WebviewMessage {
  const r = webviewMessageSchema.safeParse(raw);
  if (!r.success) throw new ProtocolError(`Invalid message from the review webview: ${describeIssues(r.error)}`);
  return r.data;
}

// ---------------------------------------------------------------------------------------------
// JSON Pointers (RFC 6901)

export function escapePointerSegment(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

export function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new ProtocolError(`Not a JSON Pointer: ${p}`);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function joinPointer(base: string, key: string | number): string {
  return `${base}/${escapePointerSegment(key)}`;
}

/** The value at `p`, or undefined. */
export function getAt(root: unknown, p: string): unknown {
  let cur = root;
  for (const s of parsePointer(p)) {
    if (Array.isArray(cur)) cur = /^(0|[1-9]\d*)$/.test(s) ? cur[Number(s)] : undefined;
    else if (cur && typeof cur === 'object') cur = Object.prototype.hasOwnProperty.call(cur, s) ? (cur as Record<string, unknown>)[s] : undefined;
    else return undefined;
  }
  return cur;
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/**
 * Applies one correction to a copy of `root` and returns it. Throws {@link ProtocolError} when the
 * pointer does not lead to a place the operation can work on.
 */
export function applyCorrection(root: JsonValue, op: CorrectionOp, p: string, value?: JsonValue): JsonValue {
  const segs = parsePointer(p);
  if (op === 'set' && segs.length === 0) return clone(value ?? null);
  if (segs.length === 0) throw new ProtocolError(`Cannot ${op} the root`);
  const out = clone(root);
  const parentPtr = '/' + segs.slice(0, -1).map(escapePointerSegment).join('/');
  const parent = segs.length === 1 ? out : getAt(out, parentPtr);
  const last = segs[segs.length - 1];
  if (Array.isArray(parent)) {
    const idx = last === '-' ? parent.length : /^(0|[1-9]\d*)$/.test(last) ? Number(last) : NaN;
    if (Number.isNaN(idx)) throw new ProtocolError(`"${last}" is not an array index (${p})`);
    if (op === 'add') {
      if (idx > parent.length) throw new ProtocolError(`Index ${idx} is past the end of the array (${p})`);
      parent.splice(idx, 0, clone(value ?? null));
    } else if (op === 'remove') {
      if (idx >= parent.length) throw new ProtocolError(`No item ${idx} to remove (${p})`);
      parent.splice(idx, 1);
    } else {
      if (idx >= parent.length) throw new ProtocolError(`No item ${idx} to set (${p})`);
      parent[idx] = clone(value ?? null);
    }
    return out;
  }
  if (parent && typeof parent === 'object') {
    if (op !== 'set') throw new ProtocolError(`${op} works on array items only (${p})`);
    (parent as Record<string, JsonValue>)[last] = clone(value ?? null);
    return out;
  }
  throw new ProtocolError(`No object or array at ${parentPtr} (${p})`);
}

/**
 * The path notation of the schema validator's messages (`line_items[0].amount`) for a pointer, so a
 * message can be shown next to its field.
 */
export function pointerToPath(p: string): string {
  let out = '';
  for (const s of parsePointer(p)) {
    if (/^(0|[1-9]\d*)$/.test(s)) out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out || '(root)';
}

/** Validator messages (`path: message`) that concern `p` or a value below it. */
export function messagesFor(errors: readonly string[], p: string): string[] {
  const path = pointerToPath(p);
  return errors
    .filter((e) => e === path || e.startsWith(`${path}: `) || e.startsWith(`${path}.`) || e.startsWith(`${path}[`))
    .map((e) => (e.startsWith(`${path}: `) ? e.slice(path.length + 2) : e));
}

// ---------------------------------------------------------------------------------------------
// field-level diff

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Leaf-level differences between two JSON values: changed, added and removed fields, by pointer. */
export function diffValues(before: unknown, after: unknown, base = ''): FieldChange[] {
  const out: FieldChange[] = [];
  const walk = (a: unknown, b: unknown, p: string): void => {
    if (Array.isArray(a) && Array.isArray(b)) {
      const n = Math.max(a.length, b.length);
      for (let i = 0; i < n; i++) walk(a[i], b[i], joinPointer(p, i));
      return;
    }
    if (isObject(a) && isObject(b)) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys) walk(a[k], b[k], joinPointer(p, k));
      return;
    }
    if (a === undefined && b === undefined) return;
    if (a === undefined) out.push({ pointer: p, kind: 'added', after: b as JsonValue });
    else if (b === undefined) out.push({ pointer: p, kind: 'removed', before: a as JsonValue });
    else if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ pointer: p, kind: 'changed', before: a as JsonValue, after: b as JsonValue });
  };
  walk(before, after, base);
  return out;
}
