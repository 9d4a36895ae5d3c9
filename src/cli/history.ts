/**
 * `extraction-workbench history <path> [--state <dir>] [--json]`: one document's attempts and dead-letter
 * history, with the raw reply of failed answers where one was kept. Reads the state folder read-only, so
 * it also works while a run (this CLI elsewhere, or VS Code) has the store open.
 *
 * Text: one block per attempt, raw replies indented and cut to a screenful (with a note); `--json`: one
 * JSON object with everything (replies whole, as stored). Exit 0, or 2 with a one-line reason (no state
 * folder, unknown document).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { formatHistoryText, readDocumentHistory, type DocumentHistory } from '../app/documentHistory';
import { redactUrl } from '../store/pg/url';
import { stateTargetOf, type StateTarget } from './stateTarget';
import { openStore } from '../app/session';
import { savedRootOf } from './docPaths';
import type { CheckpointStore } from '../store/types';

const EXIT_OK = 0;
const EXIT_USAGE = 2;

function fail(message: string): number {
  process.stderr.write(`extraction-workbench: ${message}\n`);
  return EXIT_USAGE;
}

/** The stored path of `given`: as given, or a file path made relative to the folder of the last run. */
function candidates(given: string, stateDir: string): string[] {
  const out = [given.split(path.sep).join('/')];
  const root = savedRootOf(stateDir);
  const abs = path.resolve(given);
  if (root && abs.startsWith(root + path.sep)) out.push(path.relative(root, abs).split(path.sep).join('/'));
  return [...new Set(out)];
}

function historyOf(store: CheckpointStore, given: string, stateDir: string): DocumentHistory | undefined {
  for (const p of candidates(given, stateDir)) {
    const h = readDocumentHistory(store, p, stateDir);
    if (h) return h;
  }
  return undefined;
}

export async function cmdHistory(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { state: { type: 'string' }, json: { type: 'boolean', default: false } } });
  if (positionals.length !== 1) return fail('history needs exactly one <path> (as `status` and `dlq list` show it)');
  let target: StateTarget;
  try {
    target = stateTargetOf(values.state, process.cwd(), (m) => new Error(m));
  } catch (e) {
    return fail((e as Error).message);
  }
  const stateDir = target.stateDir;
  if (!target.url && !fs.existsSync(stateDir)) return fail(`No extraction state in ${stateDir} (use --state <dir>)`);
  const none = () => undefined;
  const logger = { trace: none, debug: none, info: none, warn: (m: string | Error) => process.stderr.write(`[warn] ${m instanceof Error ? m.message : m}\n`), error: none };
  // read-only: works while a run has the store open
  const store = await openStore(stateDir, { logger, readOnly: true, ...(target.url ? { url: target.url } : {}) });
  try {
    const history = historyOf(store, positionals[0], stateDir);
    if (!history) return fail(`No document "${positionals[0]}" in ${target.url ? redactUrl(target.url) : stateDir}`);
    if (values.json) process.stdout.write(JSON.stringify(history) + '\n');
    else process.stdout.write(formatHistoryText(history, { relativeTo: process.cwd() }));
    return EXIT_OK;
  } finally {
    store.close();
  }
}
