/**
 * The documents of a state folder from the command line, as the window's Documents view shows them:
 *
 *   extraction-workbench list [--stage <stage>] [--limit <n>] [--state <dir>] [--json]
 *     documents with stage, attempts, last error and update time, most recently updated first (so the
 *     newest failures come first); `--json`: one JSON object per line. Read-only: works while a run holds
 *     the folder.
 *   extraction-workbench dlq remove <path>...|--all [--state <dir>] [--json]
 *     takes documents out of the dead-letter queue without a retry (they go back to pending, as "Remove
 *     from Dead-Letter Queue" in the window); asks nothing, prints what it removed. A path that is not in
 *     the queue: nothing is removed, exit 1 naming it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../app/session';
import type { Logger } from '../core/logger';
import { ACTIVE_STAGES, type DocumentState, type Stage } from '../core/types';
import { releaseDeadLetter } from '../core/deadLetters';
import { openWhenReleased } from '../store';
import type { CheckpointStore, DocumentQuery } from '../store/types';
import { normalisePaths, savedRootOf } from './docPaths';
import { stateTargetOf, type StateTarget } from './stateTarget';

const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** What `--stage` accepts: `running` is any in-flight stage, `rejected` the documents a run leaves out. */
export const LIST_STAGES = ['pending', 'running', 'failed', 'done', 'dead-lettered', 'rejected'] as const;
type ListStage = (typeof LIST_STAGES)[number];

/** `--state <dir>` or a database (`--state postgres://…`, EXTRACTION_STATE_URL), for looking only. */
function lookTargetOf(state: string | undefined, usageError: (m: string) => Error): StateTarget {
  const target = stateTargetOf(state, process.cwd(), usageError);
  if (!target.url && !fs.existsSync(target.stateDir)) throw usageError(`No extraction state in ${target.stateDir} (use --state <dir>)`);
  return target;
}

function queryOf(stage: ListStage | undefined): DocumentQuery {
  if (!stage) return {};
  if (stage === 'rejected') return { readiness: ['rejected'] };
  const stages: readonly Stage[] = stage === 'running' ? ACTIVE_STAGES : [stage];
  return { stages, readiness: ['not-ready', 'ready'] };
}

/** A document as `list` shows it. */
export interface ListedDocument {
  path: string;
  stage: string;
  attempts: number;
  errorCode: string | null;
  errorMessage: string | null;
  updatedAt: string;
  /** Mixed folders: the job chosen for the document (by its globs or a classification; `none`: no job fits). */
  job?: string;
}

function listed(d: DocumentState): ListedDocument {
  const rejected = d.readiness === 'rejected';
  return {
    path: d.path,
    stage: rejected ? 'rejected' : d.stage,
    attempts: d.attempts,
    // a rejection with a code of its own (`[NO_MATCHING_JOB] …`) shows that code
    errorCode: d.lastError?.code ?? (rejected ? (/^\[(NO_MATCHING_JOB)\]/.exec(d.rejectReason ?? '')?.[1] ?? 'REJECTED') : null),
    errorMessage: d.lastError?.message ?? (rejected ? (d.rejectReason ?? null) : null),
    updatedAt: new Date(d.updatedAt).toISOString(),
    ...(d.job !== undefined ? { job: d.job } : {}),
  };
}

/**
 * Mixed folders: documents by the job chosen for them (`none`: classified as no job's), job names in
 * alphabetical order; undefined when no
 * document has one (a single-job folder).
 */
export function jobCounts(store: Pick<CheckpointStore, 'listDocuments'>): Record<string, number> | undefined {
  const counts: Record<string, number> = {};
  let any = false;
  for (const d of store.listDocuments()) {
    if (d.job === undefined) continue;
    counts[d.job] = (counts[d.job] ?? 0) + 1;
    any = true;
  }
  return any ? Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : undefined;
}

export async function cmdList(argv: string[], usageError: (m: string) => Error): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { state: { type: 'string' }, stage: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const stage = values.stage;
  if (stage !== undefined && !(LIST_STAGES as readonly string[]).includes(stage)) throw usageError(`Unknown --stage "${stage}": use ${LIST_STAGES.join(', ')}`);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw usageError(`--limit must be a whole number ≥ 1, got "${values.limit}"`);
  const target = lookTargetOf(values.state, usageError);
  const store = await openStore(target.stateDir, { logger: quiet, readOnly: true, ...(target.url ? { url: target.url } : {}) });
  let docs: DocumentState[];
  try {
    docs = store.listDocuments(queryOf(stage as ListStage | undefined));
  } finally {
    store.close();
  }
  // most recently updated first: the newest failures at the top
  docs.sort((a, b) => b.updatedAt - a.updatedAt || (a.path < b.path ? -1 : 1));
  const shown = (limit ? docs.slice(0, limit) : docs).map(listed);
  if (values.json) {
    for (const d of shown) process.stdout.write(JSON.stringify(d) + '\n');
  } else if (!shown.length) {
    process.stdout.write(stage ? `No ${stage} documents.\n` : 'No documents yet.\n');
  } else {
    for (const d of shown) process.stdout.write(`${d.path}\t${d.stage}\t${d.attempts} attempt(s)\t${d.updatedAt}${d.job !== undefined ? `\tjob ${d.job}` : ''}${d.errorCode ? `\t[${d.errorCode}] ${d.errorMessage ?? ''}` : ''}\n`);
    if (shown.length < docs.length) process.stdout.write(`… ${docs.length - shown.length} more (--limit ${limit})\n`);
  }
  return 0;
}

export async function cmdDlqRemove(argv: string[], usageError: (m: string) => Error): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { state: { type: 'string' }, all: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } } });
  if (values.all === positionals.length > 0) throw usageError('dlq remove needs <path>... or --all (not both)');
  const target = lookTargetOf(values.state, usageError);
  const stateDir = target.stateDir;
  const root = target.url ? undefined : savedRootOf(stateDir);
  // a database: a fleet shares it, nothing to wait for (its dead claim is given back with the letter: changeWriter.ts)
  const store = await openWhenReleased(() => openStore(stateDir, { logger: quiet, ...(target.url ? { url: target.url } : {}) }), {
    waitMs: 10_000,
    onWait: (pid) => process.stderr.write(`the state folder is in use by process ${pid}; waiting up to 10 s for it…\n`),
  });
  try {
    const paths = values.all ? store.listDeadLetters().map((l) => l.path) : root ? normalisePaths(positionals, root) : positionals.map((p) => p.split(path.sep).join('/'));
    const unknown = paths.filter((p) => !store.getDeadLetter(p));
    if (unknown.length) {
      process.stderr.write(`extraction-workbench: not in the dead-letter queue (nothing removed): ${unknown.join(', ')}\n`);
      return 1;
    }
    // as the window's "Remove from Dead-Letter Queue": out of the queue, back to pending
    for (const p of paths) releaseDeadLetter(store, p, Date.now());
    await store.flush();
    if (values.json) for (const p of paths) process.stdout.write(JSON.stringify({ removed: p }) + '\n');
    else if (!paths.length) process.stdout.write('The dead-letter queue is empty.\n');
    else for (const p of paths) process.stdout.write(`removed ${p}\n`);
    return 0;
  } finally {
    store.close();
  }
}
