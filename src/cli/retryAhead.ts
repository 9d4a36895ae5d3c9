/**
 * `extraction-workbench retry <path>... --priority high`: when another process runs the folder (a CLI `run` or
 * `watch`), the documents are handed to it (a `retry` control record, src/app/runControl.ts) and it retries
 * them ahead of its queue — the pipeline's bypass for a person's request, as the window's Retry. Waits until
 * the documents show the retry in the state (their attempts reset), at most 10 s.
 *
 * With no process holding the folder, `retry` runs the documents itself (they are its only documents, so
 * first anyway): `retryAhead` returns undefined and the caller goes on as for a plain retry.
 */
import * as fs from 'node:fs';
import { loadSavedSettings, openStore } from '../app/session';
import { sendControl } from '../app/runControl';
import { lockHolder } from '../store';
import type { CheckpointStore } from '../store/types';
import { normalisePaths } from './docPaths';
import type { StateTarget } from './stateTarget';

/** How long the command waits for the holding process to take the documents. */
const ANSWER_WITHIN_MS = 10_000;

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

async function readOnly<T>(stateDir: string, read: (store: CheckpointStore) => T): Promise<T> {
  const store = await openStore(stateDir, { readOnly: true, logger: quiet });
  try {
    return read(store);
  } finally {
    store.close();
  }
}

/** Exit code once handed over (0 taken, 1 no answer in time); undefined when no other process holds the folder. */
export async function retryAhead(target: StateTarget, positionals: readonly string[], options: { root?: string; json: boolean }, usageError: (m: string) => Error): Promise<number | undefined> {
  if (target.url) throw usageError('--priority high is for a state folder; a fleet on PostgreSQL retries with plain retry');
  const stateDir = target.stateDir;
  if (!fs.existsSync(stateDir)) throw usageError(`No extraction state in ${stateDir} (use --state <dir>)`);
  const holder = lockHolder(stateDir);
  if (!holder) return undefined;
  const saved = loadSavedSettings(stateDir, options.root ? { root: options.root } : {});
  if (!saved) throw usageError(`No previous run in ${stateDir}: start one with "extraction-workbench run <folder>"`);
  const paths = normalisePaths([...positionals], saved.root);
  const unknown = await readOnly(stateDir, (s) => paths.filter((p) => !s.getDocument(p)));
  if (unknown.length) throw usageError(`Unknown document(s): ${unknown.join(', ')}`);
  const who = `process ${holder.pid ?? '?'}${holder.hostname ? `@${holder.hostname}` : ''}`;
  const sent = sendControl(stateDir, 'retry', Date.now(), paths);
  for (const end = Date.now() + ANSWER_WITHIN_MS; Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 200));
    // the holder resets the attempts of each document it takes (updatedAt ≥ the request)
    const taken = await readOnly(stateDir, (s) => paths.every((p) => (s.getDocument(p)?.updatedAt ?? 0) >= sent.at));
    if (taken) {
      if (options.json) process.stdout.write(JSON.stringify({ retried: paths, by: who, priority: 'high' }) + '\n');
      else process.stdout.write(`Retrying ${paths.join(', ')} ahead of the queue of the run in ${who}.\n`);
      return 0;
    }
  }
  process.stderr.write(
    `extraction-workbench: the folder is held by ${who}, which did not take the retry within ${ANSWER_WITHIN_MS / 1000} s ` +
      `(a VS Code window: use Retry there; or run retry again without --priority high once it is done).\n`,
  );
  return 1;
}
