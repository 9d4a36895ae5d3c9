/**
 * The right side of the Review panel: a form generated from the JSON Schema and the data. Objects become
 * groups, arrays editable lists (add / remove items), leaves inputs typed by the schema (text, number,
 * true/false, enum choices, JSON for anything else). Every field shows its grounding (exact / normalized /
 * fuzzy / UNGROUNDED) and whether a reviewer corrected it; nulls are shown as such.
 *
 * Edits are validated live against the schema (the same validator as the pipeline); only valid values
 * are committed (on Enter, or when the field loses focus). Escape restores the value.
 */
import {
  applyCorrection,
  joinPointer,
  messagesFor,
  type CorrectionOp,
  type FieldChange,
  type FieldGroundingView,
  type GroundingView,
  type JsonValue,
  type ReviewInfo,
} from '../../src/shared/reviewProtocol';
import { h, preview, replaceChildren } from './dom';

type Schema = Record<string, unknown>;

export interface FormCallbacks {
  /** A field was focused or clicked. */
  select(pointer: string): void;
  commit(op: CorrectionOp, pointer: string, value?: JsonValue): void;
  /** Validator messages for a whole candidate document ([] = valid). */
  validate(candidate: JsonValue): string[];
}

export interface FormInput {
  data: JsonValue;
  schema: Schema;
  grounding: GroundingView | null;
  review: ReviewInfo;
  editable: boolean;
  /** Pointers changed by a rerun (highlighted while the reviewer decides). */
  changes?: readonly FieldChange[];
}

type LeafKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Follows $ref, single allOf and picks the anyOf/oneOf branch that fits the value. */
function resolve(root: Schema, node: unknown, value: unknown, depth = 0): Schema {
  if (!isObj(node) || depth > 32) return {};
  let n: Schema = node;
  if (typeof n.$ref === 'string') {
    const ref = n.$ref;
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
    const target = ref === '#' ? root : m ? (root[m[1]] as Schema | undefined)?.[m[2].replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    const { $ref: _ref, ...rest } = n;
    n = { ...resolve(root, target, value, depth + 1), ...rest };
  }
  if (Array.isArray(n.allOf) && n.allOf.length === 1) {
    const { allOf, ...rest } = n;
    n = { ...resolve(root, allOf[0], value, depth + 1), ...rest };
  }
  const alts = (n.anyOf ?? n.oneOf) as unknown[] | undefined;
  if (Array.isArray(alts) && alts.length) {
    const branches = alts.map((a) => resolve(root, a, value, depth + 1));
    const t = jsonType(value);
    const fits = branches.find((b) => typesOf(b).some((bt) => bt === t || (bt === 'number' && t === 'integer')));
    const nonNull = branches.find((b) => !typesOf(b).every((bt) => bt === 'null'));
    const pick = fits && !(t === 'null' && nonNull) ? fits : (nonNull ?? branches[0]);
    const nullable = branches.some((b) => typesOf(b).includes('null'));
    const { anyOf: _a, oneOf: _o, ...rest } = n;
    n = { ...pick, ...rest, ...(nullable ? { nullable: true } : {}) };
  }
  return n;
}

function typesOf(n: Schema): string[] {
  const out: string[] = [];
  if (typeof n.type === 'string') out.push(n.type);
  else if (Array.isArray(n.type)) out.push(...(n.type as string[]));
  else if (n.properties) out.push('object');
  else if (n.items) out.push('array');
  if (n.nullable === true && !out.includes('null')) out.push('null');
  if (Array.isArray(n.enum) && n.enum.includes(null) && !out.includes('null')) out.push('null');
  return out;
}

function nullable(n: Schema): boolean {
  return typesOf(n).includes('null');
}

function leafKind(n: Schema, value: unknown): LeafKind {
  if (Array.isArray(n.enum) && n.enum.length) return 'enum';
  const t = typesOf(n).filter((x) => x !== 'null');
  const v = jsonType(value);
  const main = t.length ? t[0] : v === 'null' ? 'string' : v;
  switch (main) {
    case 'string':
    case 'boolean':
    case 'number':
    case 'integer':
      return main;
    default:
      return 'json';
  }
}

/** A value for a new array item: empty but of the right shape. */
export function defaultFor(root: Schema, node: unknown, depth = 0): JsonValue {
  const n = resolve(root, node, undefined);
  if (depth > 16) return null;
  if (n.const !== undefined) return n.const as JsonValue;
  if (Array.isArray(n.enum) && n.enum.length) return n.enum[0] as JsonValue;
  const t = typesOf(n);
  const main = t.find((x) => x !== 'null');
  switch (main) {
    case 'string':
      return '';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object': {
      const out: Record<string, JsonValue> = {};
      for (const [k, v] of Object.entries((n.properties ?? {}) as Record<string, unknown>)) out[k] = defaultFor(root, v, depth + 1);
      return out;
    }
    default:
      return null;
  }
}

function label(n: Schema, key: string): string {
  return typeof n.title === 'string' && n.title ? `${key} — ${n.title}` : key;
}

function typeText(n: Schema, kind: LeafKind | 'object' | 'array'): string {
  const parts = [kind === 'json' ? 'JSON' : kind === 'enum' ? 'choice' : kind];
  if (typeof n.format === 'string') parts.push(n.format);
  if (nullable(n)) parts.push('nullable');
  return parts.join(' · ');
}

const MATCH_TITLES: Record<string, string> = {
  exact: 'Found verbatim in the document',
  normalized: 'Found in the document in another spelling (case, spaces, number or date format)',
  fuzzy: 'Found something similar in the document (a few characters differ)',
};

interface Leaf {
  pointer: string;
  row: HTMLElement;
  input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  error: HTMLElement;
  kind: LeafKind;
  value: JsonValue | undefined;
}

let nextId = 0;

export class SchemaForm {
  readonly el: HTMLElement;
  readonly #cb: FormCallbacks;
  #input: FormInput | undefined;
  #leaves = new Map<string, Leaf>();
  #rows = new Map<string, HTMLElement>();
  #grounding = new Map<string, FieldGroundingView>();
  #selected: string | undefined;

  constructor(cb: FormCallbacks) {
    this.#cb = cb;
    this.el = h('div', { class: 'form', role: 'form', 'aria-label': 'Extracted fields' });
  }

  /** Pointers of the rows, in display order (keyboard navigation between fields). */
  pointers(): string[] {
    return [...this.#rows.keys()];
  }

  /** The grounding entry of a field. */
  groundingOf(pointer: string): FieldGroundingView | undefined {
    return this.#grounding.get(pointer);
  }

  /** A readable name of a field (`line_items[0].amount`). */
  static nameOf(pointer: string): string {
    return (
      pointer
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '') || '(root)'
    );
  }

  render(input: FormInput): void {
    this.#input = input;
    this.#leaves.clear();
    this.#rows.clear();
    this.#grounding = new Map((input.grounding?.fields ?? []).map((f) => [f.pointer, f]));
    const root = input.schema;
    const body = h('div', { class: 'form-body' });
    if (input.data === null && !input.editable) {
      body.append(h('p', { class: 'empty' }, 'No extracted data.'));
    } else {
      this.#node(body, root, root, input.data, '', '', 0);
    }
    replaceChildren(this.el, body);
    if (this.#selected) this.#markSelected(this.#selected, false);
  }

  /** Marks a field selected and scrolls it into view (and focuses it when asked). */
  select(pointer: string, focus = false): void {
    this.#selected = pointer;
    this.#markSelected(pointer, true);
    if (focus) this.#leaves.get(pointer)?.input.focus({ preventScroll: true });
  }

  /** Shows a message under a field (e.g. the host refused a correction). */
  showError(pointer: string, message: string): boolean {
    const leaf = this.#leaves.get(pointer) ?? this.#leaves.get(pointer.replace(/\/[^/]*$/, ''));
    if (!leaf) return false;
    leaf.error.textContent = message;
    leaf.input.setAttribute('aria-invalid', 'true');
    return true;
  }

  #markSelected(pointer: string, scroll: boolean): void {
    for (const r of Array.from(this.el.querySelectorAll('.field.selected, .array.selected, .item.selected'))) r.classList.remove('selected');
    const row = this.#rows.get(pointer);
    if (!row) return;
    row.classList.add('selected');
    if (scroll) row.scrollIntoView({ block: 'nearest' });
  }

  // ------------------------------------------------------------------ building

  #node(parent: HTMLElement, root: Schema, node: unknown, value: JsonValue | undefined, pointer: string, key: string, depth: number): void {
    const n = resolve(root, node, value);
    const types = typesOf(n);
    const isArray = Array.isArray(value) || (value == null && types[0] === 'array' && !!n.items);
    const isObject = isObj(value) || (value == null && types[0] === 'object' && !!n.properties && depth === 0);
    if (depth > 24) return;
    if (isArray) return this.#array(parent, root, n, (value ?? []) as JsonValue[], pointer, key, depth);
    if (isObject && (isObj(value) || depth === 0)) return this.#object(parent, root, n, (value ?? {}) as Record<string, JsonValue>, pointer, key, depth);
    this.#leaf(parent, n, value, pointer, key);
  }

  #object(parent: HTMLElement, root: Schema, n: Schema, value: Record<string, JsonValue>, pointer: string, key: string, depth: number): void {
    const props = (isObj(n.properties) ? n.properties : {}) as Record<string, unknown>;
    const keys = [...Object.keys(props), ...Object.keys(value).filter((k) => !(k in props))];
    const container = depth === 0 ? parent : h('fieldset', { class: 'object', 'data-pointer': pointer });
    if (depth > 0) {
      container.append(h('legend', {}, label(n, key)));
      parent.append(container);
    }
    for (const k of keys) this.#node(container, root, props[k], value[k], joinPointer(pointer, k), k, depth + 1);
    if (!keys.length) container.append(h('p', { class: 'empty' }, '(no fields)'));
  }

  #array(parent: HTMLElement, root: Schema, n: Schema, items: JsonValue[], pointer: string, key: string, depth: number): void {
    const editable = !!this.#input?.editable;
    const section = h('section', { class: 'array', 'data-pointer': pointer, 'aria-label': `${key}: list of ${items.length}` });
    const add = h('button', { type: 'button', class: 'add', disabled: !editable, title: `Add an item to ${key}` }, '+ Add item');
    add.addEventListener('click', () => this.#cb.commit('add', joinPointer(pointer, '-'), defaultFor(root, n.items)));
    section.append(
      h('div', { class: 'array-head' }, h('span', { class: 'field-name' }, label(n, key || '(list)')), h('span', { class: 'field-type' }, `list · ${items.length} item${items.length === 1 ? '' : 's'}`), this.#correctedBadge(pointer)),
    );
    if (typeof n.description === 'string') section.append(h('div', { class: 'field-hint' }, n.description));
    const list = h('ol', { class: 'items' });
    items.forEach((item, i) => {
      const p = joinPointer(pointer, i);
      const li = h('li', { class: 'item', 'data-pointer': p });
      const remove = h('button', { type: 'button', class: 'remove', disabled: !editable, title: `Remove item ${i + 1} of ${key}`, 'aria-label': `Remove item ${i + 1} of ${key}` }, '✕ Remove');
      remove.addEventListener('click', () => this.#cb.commit('remove', p));
      li.append(h('div', { class: 'item-head' }, h('span', { class: 'item-label' }, `${key} #${i + 1}`), remove));
      this.#node(li, root, n.items, item, p, `${i + 1}`, depth + 1);
      this.#rows.set(p, li);
      list.append(li);
    });
    section.append(list, add);
    this.#rows.set(pointer, section);
    parent.append(section);
  }

  #groundingBadge(pointer: string, value: JsonValue | undefined): HTMLElement | undefined {
    const g = this.#grounding.get(pointer);
    if (!g) {
      if (value === null || value === undefined) return h('span', { class: 'badge null', title: 'No value (null): nothing to look for in the document' }, 'null');
      return undefined;
    }
    if (g.status === 'ungrounded') return h('span', { class: 'badge ungrounded', title: 'Not found in the document: check this value' }, 'UNGROUNDED');
    const kind = g.match ?? 'exact';
    const where = g.page ? ` on page ${g.page}` : g.line ? ` on line ${g.line}` : '';
    const text = kind === 'fuzzy' && g.score !== undefined ? `fuzzy ${Math.round(g.score * 100)}%` : kind;
    const ambiguous = g.ambiguous ? ' — ambiguous: the value occurs several times here and this is the nearest occurrence; check it' : '';
    const lowOcr = g.lowConfidence ? ` — low OCR confidence${g.ocrConfidence !== undefined ? ` (${g.ocrConfidence}%)` : ''}: the words may be misread, check them against the image` : '';
    const label = `${text}${g.ambiguous ? '?' : ''}${g.lowConfidence ? ' · low OCR' : ''}`;
    return h('span', { class: `badge ${kind}${g.ambiguous ? ' ambiguous' : ''}${g.lowConfidence ? ' low-ocr' : ''}`, title: `${MATCH_TITLES[kind]}${where}${g.text ? `: ${preview(g.text, 80)}` : ''}${ambiguous}${lowOcr}` }, label);
  }

  #correctedBadge(pointer: string): HTMLElement | undefined {
    const review = this.#input?.review;
    const changes = this.#input?.changes;
    const change = changes?.find((c) => c.pointer === pointer || c.pointer.startsWith(`${pointer}/`));
    if (change && this.#input?.changes) {
      return h('span', { class: `badge changed ${change.kind}`, title: change.kind === 'changed' ? `Rerun changed this from ${preview(change.before)}` : `Rerun ${change.kind} this` }, change.kind);
    }
    if (review?.correctedPointers.includes(pointer)) return h('span', { class: 'badge corrected', title: 'Corrected by a reviewer' }, 'corrected');
    return undefined;
  }

  #leaf(parent: HTMLElement, n: Schema, value: JsonValue | undefined, pointer: string, key: string): void {
    const editable = !!this.#input?.editable;
    const kind = leafKind(n, value);
    const id = `f${++nextId}`;
    const row = h('div', { class: 'field', 'data-pointer': pointer });
    const g = this.#grounding.get(pointer);
    row.dataset.status = g ? (g.status === 'ungrounded' ? 'ungrounded' : (g.match ?? 'exact')) : value === null || value === undefined ? 'null' : 'none';
    const isNull = value === null || value === undefined;
    let input: Leaf['input'];
    if (kind === 'boolean' || kind === 'enum') {
      const sel = h('select', { id, disabled: !editable });
      const options: JsonValue[] = kind === 'boolean' ? [true, false] : [...((n.enum as JsonValue[]) ?? [])];
      if ((nullable(n) || isNull) && !options.includes(null)) options.push(null);
      options.forEach((o, i) => {
        const opt = h('option', { value: String(i) }, o === null ? 'null' : typeof o === 'string' ? o : JSON.stringify(o));
        if (JSON.stringify(o) === JSON.stringify(value ?? null)) opt.selected = true;
        sel.append(opt);
      });
      sel.dataset.options = JSON.stringify(options);
      input = sel;
    } else if (kind === 'json' || (kind === 'string' && typeof value === 'string' && (value.length > 60 || value.includes('\n')))) {
      const ta = h('textarea', { id, rows: kind === 'json' ? 4 : Math.min(8, Math.max(2, Math.ceil(String(value ?? '').length / 60))), disabled: !editable, spellcheck: kind === 'string' });
      ta.value = kind === 'json' ? (isNull ? '' : JSON.stringify(value, null, 2)) : String(value ?? '');
      input = ta;
    } else {
      const inp = h('input', { id, type: 'text', disabled: !editable, spellcheck: kind === 'string', inputmode: kind === 'number' || kind === 'integer' ? 'decimal' : undefined, autocomplete: 'off' });
      inp.value = isNull ? '' : String(value);
      input = inp;
    }
    if (isNull) {
      input.classList.add('is-null');
      if ('placeholder' in input) input.placeholder = 'null';
    }
    const error = h('div', { class: 'field-error', role: 'alert', 'aria-live': 'polite' });
    input.setAttribute('aria-describedby', `${id}-hint ${id}-err`);
    error.id = `${id}-err`;
    const nullBtn = nullable(n) && !isNull && kind !== 'enum' && kind !== 'boolean' ? h('button', { type: 'button', class: 'set-null', disabled: !editable, title: `Set ${key} to null` }, '∅') : undefined;
    row.append(
      h('div', { class: 'field-head' }, h('label', { for: id, class: 'field-name' }, label(n, key)), h('span', { class: 'field-type' }, typeText(n, kind)), this.#groundingBadge(pointer, value), this.#correctedBadge(pointer)),
      h('div', { class: 'field-control' }, input, nullBtn),
      h('div', { class: 'field-hint', id: `${id}-hint` }, typeof n.description === 'string' ? n.description : ''),
      error,
    );
    const leaf: Leaf = { pointer, row, input, error, kind, value };
    this.#leaves.set(pointer, leaf);
    this.#rows.set(pointer, row);
    parent.append(row);

    row.addEventListener('focusin', () => this.#cb.select(pointer));
    row.addEventListener('click', (e) => {
      if (e.target === row || (e.target as HTMLElement).closest('.field-head')) {
        this.#cb.select(pointer);
        if (!input.disabled) input.focus({ preventScroll: true });
      }
    });
    if (!editable) return;
    nullBtn?.addEventListener('click', () => this.#cb.commit('set', pointer, null));
    input.addEventListener('input', () => this.#check(leaf));
    input.addEventListener('change', () => this.#commit(leaf));
    input.addEventListener('keydown', (e) => {
      const ev = e as KeyboardEvent;
      if (ev.key === 'Escape') {
        this.#revert(leaf);
        ev.stopPropagation();
      } else if (ev.key === 'Enter' && (input.tagName === 'INPUT' || ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        this.#commit(leaf);
      }
    });
  }

  // ------------------------------------------------------------------ editing

  /** The typed value of a leaf's input, or an error message. */
  #parse(leaf: Leaf): { value: JsonValue } | { error: string } {
    const { input, kind } = leaf;
    if (input instanceof HTMLSelectElement) {
      const options = JSON.parse(input.dataset.options ?? '[]') as JsonValue[];
      return { value: options[Number(input.value)] ?? null };
    }
    const raw = input.value;
    switch (kind) {
      case 'number':
      case 'integer': {
        const t = raw.trim();
        if (t === '') return { value: null };
        if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return { error: `expected a number such as 1249.50 (use "." for decimals, no thousands separators), got ${preview(t, 40)}` };
        const v = Number(t);
        if (kind === 'integer' && !Number.isInteger(v)) return { error: `expected a whole number, got ${t}` };
        return { value: v };
      }
      case 'json': {
        if (raw.trim() === '') return { value: null };
        try {
          return { value: JSON.parse(raw) as JsonValue };
        } catch (err) {
          return { error: `not valid JSON: ${(err as Error).message}` };
        }
      }
      default:
        return { value: leaf.value === null && raw === '' ? null : raw };
    }
  }

  /** Live validation: returns the value when it is valid. */
  #check(leaf: Leaf): { value: JsonValue } | undefined {
    const parsed = this.#parse(leaf);
    let messages: string[] = [];
    if ('error' in parsed) messages = [parsed.error];
    else if (this.#input) {
      try {
        const candidate = applyCorrection(this.#input.data, 'set', leaf.pointer, parsed.value);
        messages = messagesFor(this.#cb.validate(candidate), leaf.pointer);
      } catch (err) {
        messages = [(err as Error).message];
      }
    }
    leaf.error.textContent = messages.join('; ');
    if (messages.length) leaf.input.setAttribute('aria-invalid', 'true');
    else leaf.input.removeAttribute('aria-invalid');
    leaf.row.classList.toggle('invalid', messages.length > 0);
    return messages.length || 'error' in parsed ? undefined : parsed;
  }

  #commit(leaf: Leaf): void {
    const ok = this.#check(leaf);
    if (!ok) return;
    if (JSON.stringify(ok.value) === JSON.stringify(leaf.value ?? null)) return;
    leaf.row.classList.add('saving');
    this.#cb.commit('set', leaf.pointer, ok.value);
  }

  #revert(leaf: Leaf): void {
    const { input, value } = leaf;
    if (input instanceof HTMLSelectElement) {
      const options = JSON.parse(input.dataset.options ?? '[]') as JsonValue[];
      input.value = String(Math.max(0, options.findIndex((o) => JSON.stringify(o) === JSON.stringify(value ?? null))));
    } else input.value = value === null || value === undefined ? '' : leaf.kind === 'json' ? JSON.stringify(value, null, 2) : String(value);
    leaf.error.textContent = '';
    input.removeAttribute('aria-invalid');
    leaf.row.classList.remove('invalid');
  }
}
