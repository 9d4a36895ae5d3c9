/**
 * Pause, resume and stop for a fleet: `extraction-workbench pause|resume|stop --state postgres://…` writes a
 * command into `ew_control`; every worker reads the commands after the last one it saw about once a second,
 * carries them out, and says so in `ew_workers` (status, last command, last seen), which the sender waits
 * for. The state-folder equivalent is app/runControl.ts (a file instead of a table).
 */
import * as os from 'node:os';
import type { Pool } from 'pg';
import type { ControlCommand, ControlRecord } from '../../app/runControl';
import type { Disposable } from '../../core/events';
import type { StoreLogger } from '../options';

/** A worker not seen for this long is gone (killed): the sender does not wait for it. */
export const WORKER_SILENT_AFTER_S = 10;

/** Writes a command for every worker; returns its sequence number. */
export async function sendPgControl(pool: Pool, command: ControlCommand): Promise<number> {
  const r = await pool.query<{ seq: string }>('INSERT INTO ew_control (command, sender) VALUES ($1, $2) RETURNING seq', [command, `${process.pid}@${os.hostname()}`]);
  return Number(r.rows[0].seq);
}

export interface FleetWorker {
  worker: string;
  status: string;
  controlSeq: number;
}

/** The workers seen lately (live ones). */
export async function liveWorkers(pool: Pool): Promise<FleetWorker[]> {
  const r = await pool.query<{ worker: string; status: string; control_seq: string }>(
    `SELECT worker, status, control_seq FROM ew_workers WHERE seen_at > now() - make_interval(secs => $1) ORDER BY worker`,
    [WORKER_SILENT_AFTER_S],
  );
  return r.rows.map((row) => ({ worker: row.worker, status: row.status, controlSeq: Number(row.control_seq) }));
}

/**
 * Calls `onCommand` for every command written after this call and reports the worker (`status()`) every
 * `intervalMs` (default 1 s). A failed poll (the database away) is tried again at the next tick. `dispose`
 * removes the worker from `ew_workers`.
 */
export function watchPgControl(
  pool: Pool,
  worker: string,
  onCommand: (record: ControlRecord) => void,
  status: () => string,
  options: { intervalMs?: number; logger?: StoreLogger } = {},
): Disposable {
  let seen: number | undefined;
  let busy = false;
  let disposed = false;
  const tick = async () => {
    if (busy || disposed) return;
    busy = true;
    try {
      if (seen === undefined) seen = Number((await pool.query<{ s: string | null }>('SELECT max(seq) AS s FROM ew_control')).rows[0].s ?? 0);
      const r = await pool.query<{ seq: string; command: ControlCommand; sender: string; sent_at: Date }>('SELECT seq, command, sender, sent_at FROM ew_control WHERE seq > $1 ORDER BY seq', [seen]);
      for (const row of r.rows) {
        seen = Number(row.seq);
        if (!disposed) onCommand({ seq: seen, command: row.command, at: row.sent_at.getTime(), by: row.sender });
      }
      if (!disposed) {
        await pool.query(
          `INSERT INTO ew_workers (worker, status, control_seq, seen_at) VALUES ($1, $2, $3, now())
           ON CONFLICT (worker) DO UPDATE SET status = EXCLUDED.status, control_seq = EXCLUDED.control_seq, seen_at = now()`,
          [worker, status(), seen],
        );
      }
    } catch (e) {
      options.logger?.warn(`Reading fleet commands failed (tried again in a moment): ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), options.intervalMs ?? 1000);
  return {
    dispose: () => {
      disposed = true;
      clearInterval(timer);
      void pool.query('DELETE FROM ew_workers WHERE worker = $1', [worker]).catch(() => undefined);
    },
  };
}
