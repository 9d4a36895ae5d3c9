/**
 * Replaying the change log into a read model (a sql.js store): in `seq` order, page by page, leaving out a
 * late change of a document another worker has taken over since (see {@link isStale}).
 */
import type { Pool } from 'pg';
import type { DocumentState } from '../../core/types';
import type { JournalOp } from '../changes';
import type { StoreLogger } from '../options';
import type { SqlJsCheckpointStore } from '../sqlStore';
import { retryOnDisconnect } from './connect';
import type { DocWriter } from './snapshots';

const PAGE = 5000;

/** A read model being built: the sql.js store, the writers of its documents, and the last change applied. */
export interface ReadModel {
  mirror: SqlJsCheckpointStore;
  docWriters: Map<string, DocWriter>;
  lastSeq: number;
}

/**
 * Applies the changes after `model.lastSeq` (up to `upTo` when given; other writers' only with `othersOnly`,
 * the worker's own id) and moves `lastSeq` on. Waits through a lost connection. Returns how many were applied.
 */
export async function replayChanges(pool: Pool, model: ReadModel, o: { upTo?: number; othersOnly?: string; logger?: StoreLogger; gaveUp?: () => boolean }): Promise<number> {
  let n = 0;
  for (;;) {
    const params: unknown[] = [model.lastSeq, PAGE];
    let where = 'seq > $1';
    if (o.upTo !== undefined) {
      params.push(o.upTo);
      where += ` AND seq <= $${params.length}`;
    }
    if (o.othersOnly !== undefined) {
      params.push(o.othersOnly);
      where += ` AND writer <> $${params.length}`;
    }
    const r = await retryOnDisconnect(
      () => pool.query<{ seq: string; writer: string; op: JournalOp['op']; data: string }>(`SELECT seq, writer, op, data FROM ew_changes WHERE ${where} ORDER BY seq LIMIT $2`, params),
      { logger: o.logger, what: 'reading the other workers’ changes', gaveUp: o.gaveUp },
    );
    if (!r.rows.length) return n;
    const entries: JournalOp[] = [];
    for (const row of r.rows) {
      const entry = { op: row.op, data: JSON.parse(row.data) } as JournalOp;
      if (entry.op === 'doc' && isStale(model.docWriters, entry.data, row.writer)) continue;
      entries.push(entry);
    }
    n += model.mirror.applyChanges(entries);
    model.lastSeq = Number(r.rows[r.rows.length - 1].seq);
    if (r.rows.length < PAGE) return n;
  }
}

/**
 * A document has one writer at a time (its claim), but a worker's queued changes can land after its
 * document was taken over (it was cut off, then came back): such a change of another writer, older than
 * the state already applied, is left out. Within one writer, order decides. A worker's own changes count
 * as applied when made (see PgCheckpointStore.open). Clocks of the machines must agree to well within a lease.
 */
export function isStale(docWriters: Map<string, DocWriter>, doc: DocumentState, writer: string): boolean {
  const last = docWriters.get(doc.path);
  if (last && last.writer !== writer && last.updatedAt > doc.updatedAt) return true;
  docWriters.set(doc.path, { writer, updatedAt: doc.updatedAt });
  return false;
}
