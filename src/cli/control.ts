/**
 * `extraction-workbench pause|resume|stop [--state <dir>]`: controls a run that another process (a CLI run,
 * a VS Code window) holds on a state folder, and waits until the run's status says it was done.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { sendControl, type ControlCommand } from '../app/runControl';
import { openStore } from '../app/session';
import type { RunStatus } from '../core/types';
import { lockHolder } from '../store';
import { liveWorkers, sendPgControl } from '../store/pg/control';
import { connectPool } from '../store/pg/connect';
import { redactUrl } from '../store/pg/url';
import { stateTargetOf } from './stateTarget';

/** How long the command waits for the run to carry it out. */
const ANSWER_WITHIN_MS = 10_000;

const DONE: Record<ControlCommand, (s: RunStatus | undefined) => boolean> = {
  pause: (s) => s === 'paused',
  resume: (s) => s === 'running',
  stop: (s) => s !== 'running' && s !== 'paused',
};

const PAST: Record<ControlCommand, string> = { pause: 'Paused', resume: 'Resumed', stop: 'Stopped' };

async function latestRun(stateDir: string): Promise<{ id?: string; status?: RunStatus }> {
  const store = await openStore(stateDir, { readOnly: true, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
  try {
    const run = store.latestRun();
    return { id: run?.id, status: run?.status };
  } finally {
    store.close();
  }
}

/** Exit code: 0 done, 1 no run to control or no answer in time, 2 usage. */
export async function cmdControl(command: ControlCommand, argv: string[], usageError: (m: string) => Error): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { state: { type: 'string' } } });
  const target = stateTargetOf(values.state, process.cwd(), usageError);
  if (target.url) return controlFleet(command, target.url);
  const stateDir = target.stateDir;
  if (!fs.existsSync(stateDir)) throw usageError(`No extraction state in ${stateDir} (use --state <dir>)`);
  const holder = lockHolder(stateDir);
  const before = await latestRun(stateDir);
  if (!holder || (before.status !== 'running' && before.status !== 'paused')) {
    process.stderr.write(`extraction-workbench: no run is active in ${stateDir}: nothing to ${command}.\n`);
    return 1;
  }
  const who = `process ${holder.pid ?? '?'}${holder.hostname ? `@${holder.hostname}` : ''}`;
  if (DONE[command](before.status)) {
    process.stdout.write(`Run ${before.id} is already ${before.status} (${who}).\n`);
    return 0;
  }
  sendControl(stateDir, command);
  for (const end = Date.now() + ANSWER_WITHIN_MS; Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await latestRun(stateDir);
    if (now.id !== before.id || DONE[command](now.status) || (command === 'stop' && !lockHolder(stateDir))) {
      process.stdout.write(`${PAST[command]} run ${before.id} (${who}).\n`);
      return 0;
    }
  }
  process.stderr.write(`extraction-workbench: the run (${who}) did not answer within ${ANSWER_WITHIN_MS / 1000} s; the ${command} request stays in ${stateDir} and is carried out when it looks again.\n`);
  return 1;
}

/**
 * A fleet on PostgreSQL: the command goes to every worker; waits until each live worker has carried it out.
 * Exit 0 done, 1 no live worker or no answer in time.
 */
async function controlFleet(command: ControlCommand, url: string): Promise<number> {
  const quiet = { warn() {} };
  const pool = await connectPool(url, quiet, { max: 1 });
  try {
    const before = await liveWorkers(pool).catch(() => []);
    if (!before.length) {
      process.stderr.write(`extraction-workbench: no worker is active on ${redactUrl(url)}: nothing to ${command}.\n`);
      return 1;
    }
    const seq = await sendPgControl(pool, command);
    for (const end = Date.now() + ANSWER_WITHIN_MS; Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 200));
      // every worker that was live has carried it out, or has ended meanwhile
      const now = new Map((await liveWorkers(pool)).map((w) => [w.worker, w]));
      if (before.every((w) => (now.get(w.worker)?.controlSeq ?? seq) >= seq)) {
        const answered = before.filter((w) => now.has(w.worker)).length;
        if (!answered && command !== 'stop') {
          process.stderr.write(`extraction-workbench: the workers on ${redactUrl(url)} ended before the ${command} command reached them.\n`);
          return 1;
        }
        process.stdout.write(`${PAST[command]} ${answered || before.length} worker(s) on ${redactUrl(url)}.\n`);
        return 0;
      }
    }
    process.stderr.write(`extraction-workbench: not every worker answered within ${ANSWER_WITHIN_MS / 1000} s; the ${command} command stays in the database for them.\n`);
    return 1;
  } finally {
    await pool.end();
  }
}
