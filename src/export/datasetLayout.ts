/**
 * The table shape of a dataset export: which columns the document table has, which fields become tables of
 * their own (line items), and how one document's data is flattened into them.
 *
 *   - nested objects are flattened with dotted names: `vendor.address.city`;
 *   - arrays of scalars are joined in one cell with `"; "` (an element that is an object or an array is
 *     written as JSON there);
 *   - arrays of objects (line items) go to a table of their own, keyed by `source` and `index` (0-based, as
 *     in the JSON Pointers of review corrections); inside a line item, an array of objects is one JSON cell.
 *
 * Column order comes from the JSON Schema (`properties` order, through `$ref` to `#/$defs/…` or
 * `#/definitions/…`, a single-entry `allOf`, and `anyOf`/`oneOf` with `null`); fields the schema does not
 * know are appended after, in the order they are first met. Pure: no I/O.
 */

/** One cell: numbers and booleans keep their type (XLSX writes them as such; CSV as text). */
export type Cell = string | number | boolean | null;

/** What joins the elements of an array of scalars in one cell. */
export const ARRAY_JOINER = '; ';

/** A flattened document: the cells of its row, and its rows in each line-item table. */
export interface FlatRecord {
  cells: Map<string, Cell>;
  items: Map<string, Array<Map<string, Cell>>>;
}

type Kind = 'cell' | 'table';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}

/** An ordered set of column names. */
class Columns {
  readonly names: string[] = [];
  readonly #set = new Set<string>();
  add(name: string): boolean {
    if (this.#set.has(name)) return false;
    this.#set.add(name);
    this.names.push(name);
    return true;
  }
  has(name: string): boolean {
    return this.#set.has(name);
  }
}

/** Resolves the schema constructs that only wrap another schema (refs, single allOf, nullable unions). */
function unwrap(node: unknown, root: Record<string, unknown>, depth = 0): Record<string, unknown> | undefined {
  if (!isPlainObject(node) || depth > 32) return undefined;
  if (typeof node.$ref === 'string') {
    const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(node.$ref);
    const defs = m ? root[m[1]] : undefined;
    return m && isPlainObject(defs) ? unwrap(defs[decodeURIComponent(m[2]).replace(/~1/g, '/').replace(/~0/g, '~')], root, depth + 1) : undefined;
  }
  if (Array.isArray(node.allOf) && node.allOf.length === 1 && !node.properties) return unwrap(node.allOf[0], root, depth + 1);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = node[key];
    if (Array.isArray(branches)) {
      const real = branches.map((b) => unwrap(b, root, depth + 1)).filter((b): b is Record<string, unknown> => !!b && b.type !== 'null');
      if (real.length === 1) return real[0];
    }
  }
  return node;
}

function typesOf(node: Record<string, unknown>): string[] {
  return Array.isArray(node.type) ? node.type.filter((t): t is string => typeof t === 'string') : typeof node.type === 'string' ? [node.type] : [];
}

function isObjectSchema(node: Record<string, unknown>): boolean {
  return isPlainObject(node.properties) || typesOf(node).includes('object');
}

/** The dataset layout; grows as documents with fields the schema does not know are added. */
export class DatasetLayout {
  readonly #columns = new Columns();
  readonly #tables = new Map<string, Columns>();
  readonly #kinds = new Map<string, Kind>();

  /** A layout seeded from a JSON Schema (or empty without one). */
  static fromSchema(schema: Record<string, unknown> | undefined): DatasetLayout {
    const layout = new DatasetLayout();
    if (schema) layout.#seed(schema, schema, '', undefined, 0);
    return layout;
  }

  /** Columns of the document table (data fields only, in order). */
  get columns(): readonly string[] {
    return this.#columns.names;
  }

  /** Line-item tables: field path → item columns, in order. */
  get tables(): ReadonlyMap<string, readonly string[]> {
    return new Map([...this.#tables].map(([k, v]) => [k, v.names]));
  }

  #seed(node: unknown, root: Record<string, unknown>, prefix: string, table: Columns | undefined, depth: number): void {
    const n = unwrap(node, root);
    if (!n || depth > 16) return;
    const props = isPlainObject(n.properties) ? n.properties : {};
    for (const [key, child] of Object.entries(props)) {
      const p = join(prefix, key);
      const c = unwrap(child, root);
      if (c && isObjectSchema(c) && isPlainObject(c.properties)) {
        this.#seed(c, root, p, table, depth + 1);
        continue;
      }
      if (c && isObjectSchema(c)) continue; // a free-form object: its columns come from the data
      const items = c && typesOf(c).includes('array') ? unwrap(c.items, root) : undefined;
      if (!table && items && isObjectSchema(items)) {
        this.#kinds.set(p, 'table');
        const cols = new Columns();
        this.#tables.set(p, cols);
        this.#seed(items, root, '', cols, depth + 1);
        continue;
      }
      (table ?? this.#columns).add(p);
      if (!table) this.#kinds.set(p, 'cell');
    }
  }

  /**
   * Flattens one document's data. With `grow`, columns and tables it brings are added to the layout (the
   * first pass over the documents); without, cells outside the layout are left out.
   */
  flatten(data: unknown, grow: boolean): FlatRecord {
    const record: FlatRecord = { cells: new Map(), items: new Map() };
    const root = isPlainObject(data) ? data : data === undefined || data === null ? {} : { value: data };
    this.#visitObject(root, '', record.cells, this.#columns, grow, record);
    return record;
  }

  #put(target: Map<string, Cell>, columns: Columns, name: string, value: Cell, grow: boolean): void {
    if (!columns.has(name)) {
      if (!grow) return;
      columns.add(name);
    }
    target.set(name, value);
  }

  /** `record` is set for the document table (line items may start there), not inside a line item. */
  #visitObject(obj: Record<string, unknown>, prefix: string, target: Map<string, Cell>, columns: Columns, grow: boolean, record?: FlatRecord): void {
    for (const [key, value] of Object.entries(obj)) {
      const p = join(prefix, key);
      if (isPlainObject(value)) {
        this.#visitObject(value, p, target, columns, grow, record);
      } else if (Array.isArray(value)) {
        const kind = this.#kinds.get(p) ?? (value.some(isPlainObject) ? 'table' : 'cell');
        if (record && kind === 'table' && value.every((v) => isPlainObject(v) || v === null)) this.#addItems(p, value, grow, record);
        else if (record || !value.some(isPlainObject)) this.#put(target, columns, p, joinScalars(value), grow);
        else this.#put(target, columns, p, JSON.stringify(value), grow);
      } else {
        this.#put(target, columns, p, toCell(value), grow);
      }
    }
  }

  #addItems(p: string, items: unknown[], grow: boolean, record: FlatRecord): void {
    let cols = this.#tables.get(p);
    if (!cols) {
      if (!grow) return;
      cols = new Columns();
      this.#tables.set(p, cols);
      this.#kinds.set(p, 'table');
    }
    const rows = items.map((item) => {
      const row = new Map<string, Cell>();
      if (isPlainObject(item)) this.#visitObject(item, '', row, cols, grow);
      return row;
    });
    record.items.set(p, rows);
  }
}

function toCell(v: unknown): Cell {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

function joinScalars(values: unknown[]): string {
  return values.map((v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))).join(ARRAY_JOINER);
}
