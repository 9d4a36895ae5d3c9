/**
 * The SQL of the store: statements prepared once per database (every per-document change goes through
 * one of them), a cache of the few dynamic queries, and the document query builder.
 */
import type { Database, SqlValue, Statement } from 'sql.js';
import type { DocumentQuery } from './types';
import { ACTIVE_SQL_LIST, ATT_REPLY_COLS, DL_COLS, DL_HISTORY_COLS, DOC_COLS, RUN_COLS, excludedSet, placeholders } from './rows';

export interface Statements {
  selDoc: Statement;
  selDocBucket: Statement;
  upsertDoc: Statement;
  updateDoc: Statement;
  delDoc: Statement;
  resetActive: Statement;
  upsertRun: Statement;
  selRun: Statement;
  latestRun: Statement;
  listRuns: Statement;
  insAttempt: Statement;
  upsertDl: Statement;
  selDl: Statement;
  listDl: Statement;
  delDl: Statement;
  moveDlToHistory: Statement;
  insDlHistory: Statement;
  setMeta: Statement;
}

export function prepareStatements(db: Database): Statements {
  return {
    selDoc: db.prepare(`SELECT ${DOC_COLS} FROM documents WHERE path = ?`),
    selDocBucket: db.prepare('SELECT stage, readiness FROM documents WHERE path = ?'),
    upsertDoc: db.prepare(
      `INSERT INTO documents (${DOC_COLS}) VALUES (${placeholders(DOC_COLS)}) ON CONFLICT(path) DO UPDATE SET ${excludedSet(DOC_COLS, 'path')}`,
    ),
    updateDoc: db.prepare(
      `UPDATE documents SET ${DOC_COLS.split(',')
        .slice(1)
        .map((c) => `${c.trim()} = ?`)
        .join(', ')} WHERE path = ?`,
    ),
    delDoc: db.prepare('DELETE FROM documents WHERE path = ?'),
    resetActive: db.prepare(`UPDATE documents SET stage = 'pending', updated_at = ? WHERE stage IN (${ACTIVE_SQL_LIST})`),
    upsertRun: db.prepare(`INSERT INTO runs (${RUN_COLS}) VALUES (${placeholders(RUN_COLS)}) ON CONFLICT(id) DO UPDATE SET ${excludedSet(RUN_COLS, 'id')}`),
    selRun: db.prepare(`SELECT ${RUN_COLS} FROM runs WHERE id = ?`),
    latestRun: db.prepare(`SELECT ${RUN_COLS} FROM runs ORDER BY started_at DESC, id DESC LIMIT 1`),
    listRuns: db.prepare(`SELECT ${RUN_COLS} FROM runs ORDER BY started_at DESC, id DESC LIMIT ?`),
    insAttempt: db.prepare(`INSERT INTO attempts (${ATT_REPLY_COLS}) VALUES (${placeholders(ATT_REPLY_COLS)})`),
    upsertDl: db.prepare(`INSERT INTO dead_letters (${DL_COLS}) VALUES (${placeholders(DL_COLS)}) ON CONFLICT(path) DO UPDATE SET ${excludedSet(DL_COLS, 'path')}`),
    selDl: db.prepare(`SELECT ${DL_COLS} FROM dead_letters WHERE path = ?`),
    listDl: db.prepare(`SELECT ${DL_COLS} FROM dead_letters ORDER BY at, path`),
    delDl: db.prepare('DELETE FROM dead_letters WHERE path = ?'),
    moveDlToHistory: db.prepare(`INSERT INTO dead_letter_history (${DL_HISTORY_COLS}) SELECT ${DL_COLS}, ?, ? FROM dead_letters WHERE path = ?`),
    insDlHistory: db.prepare(`INSERT INTO dead_letter_history (${DL_HISTORY_COLS}) VALUES (${placeholders(DL_HISTORY_COLS)})`),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
  };
}

/** Runs statements: one row, all rows, and dynamic SQL prepared once and kept until {@link free}. */
export class StatementRunner {
  readonly #dynamic = new Map<string, Statement>();

  constructor(readonly db: Database) {}

  cached(sql: string): Statement {
    let s = this.#dynamic.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.#dynamic.set(sql, s);
    }
    return s;
  }

  one(stmt: Statement, params: SqlValue[]): SqlValue[] | undefined {
    stmt.bind(params);
    try {
      return stmt.step() ? stmt.get() : undefined;
    } finally {
      stmt.reset();
    }
  }

  all(stmt: Statement, params: SqlValue[]): SqlValue[][] {
    stmt.bind(params);
    const out: SqlValue[][] = [];
    try {
      while (stmt.step()) out.push(stmt.get());
    } finally {
      stmt.reset();
    }
    return out;
  }

  /** Frees the dynamic statements (the store is closing). */
  free(): void {
    for (const s of this.#dynamic.values()) s.free();
    this.#dynamic.clear();
  }
}

/** SQL and parameters of a document listing or count. */
export function documentQuery(kind: 'list' | 'count', q: DocumentQuery): { sql: string; params: SqlValue[] } {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (q.stages) {
    const stages = [...new Set(q.stages)];
    if (stages.length === 0) where.push('0');
    else {
      where.push(`stage IN (${stages.map(() => '?').join(', ')})`);
      params.push(...stages);
    }
  }
  if (q.readiness) {
    const values = [...new Set(q.readiness)];
    if (values.length === 0) where.push('0');
    else {
      where.push(`readiness IN (${values.map(() => '?').join(', ')})`);
      params.push(...values);
    }
  }
  if (q.pathPrefix) {
    // Range on the primary key (uses the index), plus an exact prefix test (no LIKE: `%` and `_` are literal).
    where.push('path >= ? AND path < ? AND substr(path, 1, ?) = ?');
    params.push(q.pathPrefix, `${q.pathPrefix}\u{10FFFF}`, [...q.pathPrefix].length, q.pathPrefix);
  }
  const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  if (kind === 'count') return { sql: `SELECT count(*) FROM documents${w}`, params };
  let sql = `SELECT ${DOC_COLS} FROM documents${w} ORDER BY path`;
  if (q.limit !== undefined || q.offset !== undefined) {
    sql += ' LIMIT ? OFFSET ?';
    params.push(q.limit ?? -1, q.offset ?? 0);
  }
  return { sql, params };
}
