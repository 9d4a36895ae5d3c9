/**
 * Replaying the change log into a read model (a sql.js store): from the latest snapshot, in `seq` order,
 * page by page, leaving out a late change of a document another worker has taken over since (see
 * {@link isStale}).
 */
import type { Pool } from 'pg';
import type { DocumentState } from '../../core/types';
import type { JournalOp } from '../changes';
import { StoreIoError } from '../errors';
import type { StoreLogger } from '../options';
import { SqlJsCheckpointStore } from '../sqlStore';
import { retryOnDisconnect } from './connect';
import { compactAt, latestSnapshotSeq, loadSnapshot, settledChanges, type DocWriter } from './snapshots';

const PAGE = 5000;

/** A read model being built: the sql.js store, the writers of its documents, and the last change applied. */
export interface ReadModel {
  mirror: SqlJsCheckpointStore;
  docWriters: Map<string, DocWriter>;
  lastSeq: number;
  /** With `own`: the number of the last change of that writer read from the log (its ids are `writer:number`). */
  ownSeen?: number;
}

/**
 * Applies the changes after `model.lastSeq` (up to `upTo` when given; other writers' only with `othersOnly`,
 * the worker's own id) and moves `lastSeq` on. Waits through a lost connection. Returns how many were applied.
 */
export async function replayChanges(pool: Pool, model: ReadModel, o: { upTo?: number; othersOnly?: string; own?: string; logger?: StoreLogger; gaveUp?: () => boolean }): Promise<number> {
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
      () => pool.query<{ seq: string; writer: string; change_id: string; op: JournalOp['op']; data: string }>(`SELECT seq, writer, change_id, op, data FROM ew_changes WHERE ${where} ORDER BY seq LIMIT $2`, params),
      { logger: o.logger, what: 'reading the other workers’ changes', gaveUp: o.gaveUp },
    );
    if (!r.rows.length) return n;
    const entries: JournalOp[] = [];
    for (const row of r.rows) {
      if (o.own !== undefined && row.writer === o.own) model.ownSeen = Math.max(model.ownSeen ?? 0, Number(row.change_id.slice(row.change_id.lastIndexOf(':') + 1)));
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

export interface LoadOptions {
  wasmPath?: string;
  logger: StoreLogger;
  /** Told the read model's own changes (the store's write-behind). */
  onChange?: (e: JournalOp) => void;
  /** Whether the schema has snapshots (`ew_snapshots`). */
  snapshots: boolean;
  /** Track the last change of this writer read (`ownSeen`). */
  own?: string;
  /** Compact on the way when this many settled changes follow the latest snapshot (an open). */
  compaction?: { after: number; settleSeconds: number };
  gaveUp?: () => boolean;
}

export interface LoadReport {
  snapshotSeq: number;
  replayed: number;
  compacted: boolean;
}

/**
 * A read model of the whole state: the latest snapshot and the changes after it. Another worker compacting
 * while this one reads can delete changes under it: when the latest snapshot is then no longer the one it
 * started from (or wrote), it loads again.
 */
export async function loadReadModel(pool: Pool, o: LoadOptions): Promise<{ model: ReadModel; report: LoadReport }> {
  const waiting = { logger: o.logger, what: 'reading the state database', gaveUp: o.gaveUp };
  for (let attempt = 1; ; attempt++) {
    const snap = o.snapshots ? await retryOnDisconnect(() => loadSnapshot(pool), waiting) : undefined;
    const mirror = await SqlJsCheckpointStore.open({ wasmPath: o.wasmPath, logger: o.logger, ...(o.onChange ? { onChange: o.onChange } : {}), ...(snap ? { data: snap.data } : {}) });
    const model: ReadModel = { mirror, docWriters: new Map(snap?.docWriters ?? []), lastSeq: snap?.seq ?? 0 };
    const report: LoadReport = { snapshotSeq: model.lastSeq, replayed: 0, compacted: false };
    let base = model.lastSeq;
    try {
      if (o.compaction) {
        // the settled changes first: the read model is then exactly the state as of `upTo`, to snapshot
        const settled = await settledChanges(pool, model.lastSeq, o.compaction.settleSeconds);
        if (settled.count >= o.compaction.after) {
          report.replayed += await replayChanges(pool, model, { upTo: settled.upTo, logger: o.logger, gaveUp: o.gaveUp });
          if (await compactAt(pool, model, settled.count, o.logger)) {
            report.compacted = true;
            base = model.lastSeq;
          }
        }
      }
      report.replayed += await replayChanges(pool, model, { logger: o.logger, gaveUp: o.gaveUp, ...(o.own !== undefined ? { own: o.own } : {}) });
      if (!o.snapshots || (await retryOnDisconnect(() => latestSnapshotSeq(pool), waiting)) === base) return { model, report };
    } catch (e) {
      mirror.close();
      throw e;
    }
    mirror.close();
    if (attempt >= 5) throw new StoreIoError('the state database was compacted again and again while this worker read it; open it again');
  }
}
