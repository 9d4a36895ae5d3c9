/**
 * Compaction of the PostgreSQL change log. Opening a state replays its changes into a read model; without
 * compaction that is every change ever written. A snapshot row (`ew_snapshots`) holds the read model as of
 * change `seq` (the bytes of a sql.js database, with the writer of each document for the stale-change
 * filter); opening loads the latest snapshot and replays only the changes after it.
 *
 * Who compacts: a worker opening the state, when at least `compactAfter` settled changes follow the latest
 * snapshot. It has just built the state up to there itself, so the snapshot costs one export; it is written
 * under a short transaction-level advisory lock (workers opening together write one), and the changes it
 * covers are deleted in the same transaction. Only changes older than a few seconds are covered: a change
 * whose transaction got its `seq` earlier but commits later must not fall under a snapshot that missed it.
 *
 * A worker that was running meanwhile finds, at its next read of the others' changes, a snapshot past what
 * it has read: it loads the state again from the snapshot (see PgCheckpointStore.#reload).
 */
import type { Pool } from 'pg';
import type { StoreLogger } from '../options';
import type { ReadModel } from './replayLog';

/** The writer of the last applied change of a document, and that document's time (see PgCheckpointStore#isStale). */
export interface DocWriter {
  writer: string;
  updatedAt: number;
}

export interface PgSnapshot {
  seq: number;
  data: Uint8Array;
  docWriters: Array<[string, DocWriter]>;
}

/** Arbitrary constant: the advisory lock of compaction ("EWC1"). */
const COMPACT_LOCK = 0x45_57_43_31;

export const DEFAULT_COMPACT_AFTER = 20_000;
export const DEFAULT_COMPACT_SETTLE_SECONDS = 10;

/** The latest snapshot, or undefined (none yet). */
export async function loadSnapshot(pool: Pool): Promise<PgSnapshot | undefined> {
  const r = await pool.query<{ seq: string; data: Buffer; doc_writers: string }>('SELECT seq, data, doc_writers FROM ew_snapshots ORDER BY seq DESC LIMIT 1');
  const row = r.rows[0];
  if (!row) return undefined;
  return { seq: Number(row.seq), data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength), docWriters: JSON.parse(row.doc_writers) as Array<[string, DocWriter]> };
}

/** `seq` of the latest snapshot (0: none). */
export async function latestSnapshotSeq(pool: Pool): Promise<number> {
  const r = await pool.query<{ s: string | null }>('SELECT max(seq) AS s FROM ew_snapshots');
  return Number(r.rows[0].s ?? 0);
}

/** The last settled change (older than `settleSeconds`) and how many settled changes follow `after`. */
export async function settledChanges(pool: Pool, after: number, settleSeconds: number): Promise<{ upTo: number; count: number }> {
  const r = await pool.query<{ up_to: string | null; n: string }>(
    `SELECT max(seq) AS up_to, count(*) AS n FROM ew_changes WHERE seq > $1 AND written_at < now() - make_interval(secs => $2)`,
    [after, settleSeconds],
  );
  return { upTo: Number(r.rows[0].up_to ?? 0), count: Number(r.rows[0].n) };
}

/**
 * Writes a snapshot as of change `seq` and deletes the changes (and older snapshots) it covers, in one
 * transaction under the compaction lock. False when another worker holds the lock or a snapshot as recent
 * is there already (nothing written).
 */
export async function writeSnapshot(pool: Pool, snapshot: PgSnapshot & { changes: number }): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const got = (await client.query<{ got: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS got', [COMPACT_LOCK])).rows[0].got;
    const latest = got ? Number((await client.query<{ s: string | null }>('SELECT max(seq) AS s FROM ew_snapshots')).rows[0].s ?? 0) : 0;
    if (!got || latest >= snapshot.seq) {
      await client.query('ROLLBACK');
      return false;
    }
    await client.query('INSERT INTO ew_snapshots (seq, data, doc_writers, changes) VALUES ($1, $2, $3, $4)', [
      snapshot.seq,
      Buffer.from(snapshot.data.buffer, snapshot.data.byteOffset, snapshot.data.byteLength),
      JSON.stringify(snapshot.docWriters),
      snapshot.changes,
    ]);
    await client.query('DELETE FROM ew_changes WHERE seq <= $1', [snapshot.seq]);
    await client.query('DELETE FROM ew_snapshots WHERE seq < $1', [snapshot.seq]);
    await client.query('COMMIT');
    return true;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/**
 * Snapshots a read model that holds exactly the changes up to `model.lastSeq` (an open that has replayed
 * the settled changes and made none of its own) and deletes what it covers. False when another worker
 * did it meanwhile; a failure is logged, not thrown (the open goes on: the log is still whole).
 */
export async function compactAt(pool: Pool, model: ReadModel, changes: number, logger: StoreLogger): Promise<boolean> {
  try {
    const data = model.mirror.exportBytes();
    const written = await writeSnapshot(pool, { seq: model.lastSeq, data, docWriters: [...model.docWriters], changes });
    if (written) logger.info?.(`checkpoint store: change log compacted (${changes} change(s) up to ${model.lastSeq} in a snapshot of ${data.byteLength} bytes)`);
    return written;
  } catch (e) {
    logger.warn(`checkpoint store: compacting the change log failed (it stays as it is): ${(e as Error).message}`);
    return false;
  }
}
