/**
 * Headless CLI: `extraction-workbench run|estimate|status|dlq|retry|export`. Same core and state as the extension.
 * Exit codes: 0 all done · 1 finished with failed, dead-lettered, unfinished or too large documents · 2 usage
 * or configuration error, or a run stopped by an error that concerns every document (key, quota, model,
 * provider outage over the limit, full disk) · 130 interrupted.
 */
import './threadPool'; // first: sizes libuv's thread pool before anything starts it
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_FILE, loadConfig } from '../app/config';
import { describeEstimate, estimateRun, type RunEstimate } from '../app/estimateRun';
import { isLoopback, LOCAL_PLACEHOLDER_KEY } from '../app/endpoint';
import { retryHeld, watchControl, type ControlRecord } from '../app/runControl';
import { PgCheckpointStore } from '../store/pg/pgStore';
import { watchPgControl } from '../store/pg/control';
import { stateTargetOf, type StateTarget } from './stateTarget';
import { DEFAULT_BASE_URL, loadSavedSettings, openSession, openStore, type RunSettings, type Session } from '../app/session';
import { ExtractionError, isStorageError, toExtractionError } from '../core/errors';
import { relPathProblem } from '../core/paths';
import { evaluateHealth, formatHealth, healthInputFromStore, healthSummary } from '../core/health';
import type { Logger } from '../core/logger';
import { listJournalFiles } from '../store/journal';
import { SNAPSHOT_FILE } from '../store/sqlStore';
import type { CheckpointStore } from '../store/types';
import type { RunSummary } from '../core/pipeline';
import type { RunRecord } from '../core/types';
import { cmdControl } from './control';
import { cmdExport, EXPORT_USAGE } from './export';
import { cmdEval, EVAL_HELP, EVAL_USAGE } from './eval';
import { cmdHistory } from './history';
import { cmdWatch, WATCH_USAGE } from './watch';
import { retryAhead } from './retryAhead';
import { ProgressReporter } from './progress';
import { normalisePaths } from './docPaths';
import { cmdDlqRemove, cmdList, jobCounts } from './documents';
import { ENV_HELP } from './runEnv';
import { resolveRunSettings } from './runFlags';
import { UsageError } from './usageError';
import { baselineWasmOnly, baselineWasmUnlessLarge } from './wasmTier';

export const EXIT_OK = 0;
export const EXIT_FAILURES = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;


const USAGE = `Usage:
  extraction-workbench run <folder> [--schema <file.json>] [--job <name>] [--out <dir>] [--state <dir>]
                           [--base-url <url>] [--model <name>] [--concurrency <n>] [--max-attempts <n>]
                           [--include <glob>]... [--exclude <glob>]... [--instructions <text>] [--budget <cost>] [--json]
                           [--mode auto|json_schema|json_object|text|tools] [--context-tokens <n>]
                           [--max-output-tokens <n>] [--max-output-tokens-cap <n>] [--max-tokens-param max_completion_tokens|max_tokens]
                           [--requests-per-minute <n>] [--tokens-per-minute <n>] [--max-reasks <n>] [--price <input>,<output>]
                           [--examples-max <n>]
                           [--pdf-max-pages <n>] [--pdf-timeout-seconds <n>] [--pdf-max-memory-mb <n>] [--pdf-workers <n>]
                           [--input text|images|auto]
                           [--ocr auto|always|off] [--ocr-languages eng,deu] [--ocr-timeout-seconds <n>] [--ocr-workers <n>] [--ocr-data-dir <dir>]
                           [--timeout-ms <n>] [--max-outage-minutes <n>] [--max-file-size-mb <n>]
                           [--retry-base-seconds <s>] [--retry-max-seconds <s>] [--retry-jitter <0..1>]
                           [--log-requests] [--history-retention-runs <n>] [--history-retention-days <n>] [--verbose|-v]
  extraction-workbench estimate <folder> [same options as run]      # tokens and cost before a run; sends nothing
${WATCH_USAGE}
  extraction-workbench status [--state <dir>] [--json]
  extraction-workbench list [--stage pending|running|failed|done|dead-lettered|rejected] [--limit <n>] [--state <dir>] [--json]
  extraction-workbench dlq list [--state <dir>] [--json]
  extraction-workbench dlq remove <path>...|--all [--state <dir>] [--json]   # out of the queue without a retry (back to pending)
  extraction-workbench dlq retry [<path>...|--all] [--state <dir>] [--root <folder>] [--note <text>] [--base-url <url>] [--model <name>] [--json]
  extraction-workbench pause|resume|stop [--state <dir>]             # a run held by another process (CLI or VS Code)
  extraction-workbench retry <path>... [--priority normal|high] [--state <dir>] [--root <folder>] [--base-url <url>] [--model <name>] [--json]
                           # --priority high: a run of the folder in another process (run, watch) takes them ahead of its queue
  extraction-workbench history <path> [--state <dir>] [--json]      # a document's attempts, errors and raw replies
${EXPORT_USAGE}
${EVAL_USAGE}

--state postgres://user@host:port/db (or EXTRACTION_STATE_URL) keeps the state in PostgreSQL: many run workers on
one or many machines share the folder's run, each document claimed by one; run --lease-seconds <s> (default 60).

Without --schema, the job (first one, or --job) of <folder>/${CONFIG_FILE} is used; flags win over its fields.
--price is per 1,000,000 input and output tokens (e.g. --price 0.15,0.6); --budget stops the run at that cost.
--requests-per-minute / --tokens-per-minute limit requests to the provider's limits (no 429s).
--examples-max <n> adds the n corrected documents most similar to each document to its prompt (0: none).
A provider outage pauses the run and probes the provider (2 s, doubling to 60 s); the run stops (exit 2)
only after --max-outage-minutes (default 30). 429s slow the run down; they do not use up attempts.
retry and dlq retry use --base-url/--model, else OPENAI_BASE_URL/OPENAI_MODEL, else the folder's job, else the last run's;
--root names the folder of a state folder kept outside it (run with --state elsewhere).
The API key comes from OPENAI_API_KEY (any value for local servers that ignore it).
--timeout-ms is per model request (default 120000); --max-file-size-mb rejects larger files unread (default 50),
except CSV, TSV and JSONL files: these are read as a stream up to the limit, the rows after it cut with a warning;
--verbose logs progress details on stderr.
${ENV_HELP}
${EVAL_HELP}`;

/** A window holds the state folder for a moment after each change: a run waits up to 10 s for it, as the window does. */
const LOCK_WAIT = {
  lockWaitMs: 10_000,
  onLockWait: (pid: number) => process.stderr.write(`the state folder is in use by process ${pid}; waiting up to 10 s for it…\n`),
};

function stderrLogger(verbose: boolean): Logger {
  const w = (lvl: string) => (m: string | Error, ...a: unknown[]) => process.stderr.write(`[${lvl}] ${m instanceof Error ? m.message : m}${a.length ? ' ' + a.map(String).join(' ') : ''}\n`);
  const none = () => {};
  return { trace: none, debug: verbose ? w('debug') : none, info: verbose ? w('info') : none, warn: w('warn'), error: w('error') };
}

function apiKeyFor(baseURL: string): string {
  const key = process.env.OPENAI_API_KEY;
  if (key) return key;
  if (isLoopback(baseURL)) return LOCAL_PLACEHOLDER_KEY;
  throw new UsageError('No API key: set OPENAI_API_KEY (or use --base-url with a local server)');
}

export function exitCodeOf(summary: RunSummary, interrupted: boolean): number {
  if (interrupted) return EXIT_INTERRUPTED;
  // stopped by an error that every document would hit: the message says what to change
  if (summary.fatalError) return EXIT_USAGE;
  const c = summary.counts;
  return c.failed + c.deadLettered > 0 || c.pending + c.running > 0 || summary.rejectedTooLarge > 0 || summary.status !== 'completed' ? EXIT_FAILURES : EXIT_OK;
}

/** Runs a session to the end, with progress and signal handling. */
async function drive(session: Session, start: () => { done: Promise<RunSummary> }, json: boolean): Promise<number> {
  const reporter = new ProgressReporter(session.pipeline.events, { json, stream: process.stderr, out: process.stdout });
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) {
      process.stderr.write(`\n${sig} again: exiting now; completed documents are saved.\n`);
      process.exit(EXIT_INTERRUPTED);
    }
    interrupted = true;
    process.stderr.write(`\n${sig}: stopping, in-flight requests are cancelled and state is saved…\n`);
    void session.pipeline.shutdown(10_000);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal); // a closed terminal: stop cleanly and give the lock back
  // Nothing left that could finish the run (no request, no timer, no file operation pending): a bug, but
  // never a silent exit 0 in the middle of a run. Say so and exit non-zero; state is saved, a rerun resumes.
  const onBeforeExit = (): void => {
    process.stderr.write('\nextraction-workbench: the run stopped making progress with documents unfinished (an internal error). Its state is saved: run the same command again to resume.\n');
    process.exit(EXIT_FAILURES);
  };
  process.once('beforeExit', onBeforeExit);
  // pause, resume and stop from another process (`extraction-workbench pause`, a VS Code window)
  const onControl = (r: ControlRecord) => {
    const by = `from ${r.by}`;
    if (r.command === 'retry') {
      // `retry --priority high` from another terminal: ahead of this run's queue
      const queued = retryHeld(session.pipeline, session.store, r.paths ?? []);
      process.stderr.write(`retry ${queued ? (r.paths ?? []).join(', ') : '(no known document)'} ahead of the queue, requested ${by}\n`);
      return;
    }
    if (r.command === 'pause') session.pipeline.pause(`Paused ${by}`);
    else if (r.command === 'resume') session.pipeline.resume();
    else void session.pipeline.stop(`Stopped ${by}`);
    process.stderr.write(`${r.command} requested ${by}\n`);
  };
  // a fleet on PostgreSQL takes its commands from the database (every worker), a state folder from its file
  const store = session.store;
  const control =
    store instanceof PgCheckpointStore
      ? watchPgControl(store.pool, store.workerId, onControl, () => (session.pipeline.paused ? 'paused' : 'running'), { logger: { warn: (m) => process.stderr.write(`[warn] ${m}\n`) } })
      : watchControl(session.settings.stateDir, onControl, { keepAlive: true });
  // headless: a budget pause would wait forever, so the run stops (state saved; run again to go on)
  const budgetWatch = session.pipeline.events.on((e) => {
    if (e.type === 'run/budget-reached') void session.pipeline.stop(`Budget of ${e.budget} reached (spent ${e.cost.toFixed(4)})`);
  });
  try {
    const summary = await start().done;
    reporter.finish(summary);
    return exitCodeOf(summary, interrupted);
  } finally {
    reporter.dispose();
    budgetWatch.dispose();
    control.dispose();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('beforeExit', onBeforeExit);
    await session.close();
  }
}

async function cmdRun(argv: string[]): Promise<number> {
  const { session, json } = await openRunSession(argv);
  // a fleet: take part in the run under way (one run id for every worker), else start one
  let join: RunRecord | undefined;
  try {
    join = await session.joinableRun();
  } catch (err) {
    await session.close();
    throw err;
  }
  return drive(session, () => session.pipeline.start({ trigger: 'cli', ...(join ? { join } : {}) }), json);
}

/** The session of `run` (and `watch`): settings from the flags and EXTRACTION_* variables. */
async function openRunSession(argv: string[]): Promise<{ session: Session; json: boolean }> {
  const { settings, json, verbose, stateUrl } = resolveRunSettings(argv);
  baselineWasmUnlessLarge(settings.stateDir, stateUrl);
  const session = await openSession(settings, { apiKey: apiKeyFor(settings.baseURL), logger: stderrLogger(verbose), ...LOCK_WAIT, ...(stateUrl ? { stateUrl } : {}) });
  return { session, json };
}

/** The folder's checkpoint store when it has one (else the estimate counts every document). */
async function storeForEstimate(stateDir: string): Promise<{ store?: CheckpointStore; note?: string }> {
  if (!fs.existsSync(path.join(stateDir, SNAPSHOT_FILE)) && !listJournalFiles(stateDir).length) return {};
  try {
    // read-only: an estimate next to a running run (or an open VS Code window) still sees what is done
    return { store: await openStore(stateDir, { logger: stderrLogger(false), readOnly: true }) };
  } catch (err) {
    return { note: (err as Error).message };
  }
}

/** Pre-run estimate: converts the documents that a run would send and counts tokens; nothing is sent to the model. */
async function cmdEstimate(argv: string[]): Promise<number> {
  const { settings, json } = resolveRunSettings(argv);
  const { store, note } = await storeForEstimate(settings.stateDir);
  let estimate: RunEstimate;
  try {
    estimate = await estimateRun({ settings, ...(store ? { store } : {}), assetsDir: __dirname });
  } finally {
    store?.close();
  }
  if (json) {
    process.stdout.write(JSON.stringify(estimate) + '\n');
  } else {
    process.stdout.write(
      [
        `Estimate for ${estimate.documents} document(s) with ${settings.model} (nothing was sent):`,
        ...describeEstimate(estimate).map((l) => `  ${l}`),
        ...(note ? [`  The checkpoint store could not be read: ${note}`] : []),
      ].join('\n') + '\n',
    );
  }
  return EXIT_OK;
}

function stateOf(values: { state?: string }): StateTarget {
  return stateTargetOf(values.state, process.cwd(), (m) => new UsageError(m));
}

/** The state to look at, read-only (works while runs have it open). */
async function openStateReadOnly(target: StateTarget): Promise<CheckpointStore> {
  if (!target.url && !fs.existsSync(target.stateDir)) throw new UsageError(`No extraction state in ${target.stateDir} (use --state <dir>)`);
  return openStore(target.stateDir, { logger: stderrLogger(false), readOnly: true, ...(target.url ? { url: target.url } : {}) });
}

async function cmdStatus(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { state: { type: 'string' }, json: { type: 'boolean', default: false } } });
  // read-only: works while a run (this CLI elsewhere, or VS Code) has the store open
  const store = await openStateReadOnly(stateOf(values));
  try {
    const counts = store.counts();
    const run = store.latestRun();
    const deadLetters = store.listDeadLetters();
    const active = run?.status === 'running' || run?.status === 'paused';
    const health = evaluateHealth(healthInputFromStore(store, { now: Date.now(), running: active, paused: run?.status === 'paused', runStartedAt: run?.startedAt }));
    const jobs = jobCounts(store);
    if (values.json) {
      process.stdout.write(
        JSON.stringify({
          runId: run?.id ?? null,
          runStatus: run?.status ?? null,
          startedAt: run ? new Date(run.startedAt).toISOString() : null,
          endedAt: run?.endedAt ? new Date(run.endedAt).toISOString() : null,
          ...counts,
          deadLetters: deadLetters.length,
          ...(jobs ? { jobs } : {}),
          health: healthSummary(health),
        }) + '\n',
      );
    } else {
      process.stdout.write(
        [
          `Run:           ${run ? `${run.id} (${run.status})` : 'none yet'}`,
          `Documents:     ${counts.total}`,
          `  done:        ${counts.done}`,
          `  pending:     ${counts.pending}`,
          `  running:     ${counts.running}`,
          `  failed:      ${counts.failed}`,
          `  dead-letter: ${counts.deadLettered}`,
          `  rejected:    ${counts.rejected}`,
          ...(jobs ? [`By job:        ${Object.entries(jobs).map(([j, n]) => `${j} ${n}`).join(', ')}`] : []),
          ...formatHealth(health),
        ].join('\n') + '\n',
      );
    }
  } finally {
    store.close();
  }
  return EXIT_OK;
}

/** Flags of `retry` and `dlq retry` that choose today's endpoint and model over the saved ones. */
const RETRY_OPTIONS = {
  state: { type: 'string' },
  root: { type: 'string' },
  'base-url': { type: 'string' },
  model: { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', short: 'v', default: false },
} as const;

/**
 * Reopens the folder of the last run (settings saved in the state folder) to process some documents again,
 * with today's endpoint and model: `--base-url`/`--model`, else OPENAI_BASE_URL/OPENAI_MODEL, else the job of
 * the folder's extraction.config.json, and only then the saved ones. The saved endpoint is data of the state
 * folder: the API key goes to it only when it is a local server or the endpoint a run would use anyway.
 */
async function sessionFromState(target: StateTarget, flags: { root?: string; baseURL?: string; model?: string; verbose: boolean }): Promise<Session> {
  const stateDir = target.stateDir;
  const root = flags.root === undefined ? undefined : path.resolve(flags.root);
  // the saved root is taken when it holds the state folder, or when --root names it
  const saved = loadSavedSettings(stateDir, root ? { root } : {});
  if (!saved) throw new UsageError(`No previous run${root ? ` of ${root}` : ''} in ${stateDir}: start one with "extraction-workbench run <folder>"`);
  const config = loadConfig(path.join(saved.root, CONFIG_FILE));
  const job = config ? (config.jobs.find((j) => j.name === saved.jobName) ?? config.jobs[0]) : undefined;
  const chosen = flags.baseURL ?? process.env.OPENAI_BASE_URL ?? job?.baseURL;
  const baseURL = chosen ?? saved.baseURL;
  if (chosen === undefined && process.env.OPENAI_API_KEY && baseURL !== DEFAULT_BASE_URL && !isLoopback(baseURL)) {
    throw new UsageError(`The last run used ${baseURL} (saved in ${stateDir}); the API key is not sent there unless you say so: pass --base-url <url>`);
  }
  const settings: RunSettings = { ...saved, baseURL, model: flags.model ?? process.env.OPENAI_MODEL ?? job?.model ?? saved.model };
  return openSession(settings, { apiKey: apiKeyFor(settings.baseURL), logger: stderrLogger(flags.verbose), ...LOCK_WAIT, ...(target.url ? { stateUrl: target.url } : {}) });
}

async function cmdDlq(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'remove') return cmdDlqRemove(rest, (m) => new UsageError(m));
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { ...RETRY_OPTIONS, all: { type: 'boolean', default: false }, note: { type: 'string' } },
  });
  const target = stateOf(values);
  if (sub === 'list') {
    const store = await openStateReadOnly(target);
    try {
      const letters = store.listDeadLetters();
      if (values.json) for (const l of letters) process.stdout.write(JSON.stringify(l) + '\n');
      else if (!letters.length) process.stdout.write('The dead-letter queue is empty.\n');
      else for (const l of letters) process.stdout.write(`${l.path}\t${l.stage}\t${l.code}\t${l.attempts} attempt(s)\t${l.message}\n`);
    } finally {
      store.close();
    }
    return EXIT_OK;
  }
  if (sub === 'retry') {
    if (!values.all && !positionals.length) throw new UsageError('dlq retry needs <path>... or --all');
    const session = await sessionFromState(target, { root: values.root, baseURL: values['base-url'], model: values.model, verbose: values.verbose ?? false });
    let paths: string[];
    try {
      paths = values.all ? session.store.listDeadLetters().map((l) => l.path) : normalisePaths(positionals, session.settings.root);
    } catch (err) {
      await session.close();
      throw err;
    }
    if (values.all) {
      // dead letters whose path leads out of the folder (a state folder changed by hand) are left alone
      const unsafe = paths.filter((p) => relPathProblem(p) !== undefined);
      if (unsafe.length) process.stderr.write(`[warn] Not retried, their paths lead out of ${session.settings.root}: ${unsafe.map((p) => JSON.stringify(p)).join(', ')}\n`);
      paths = paths.filter((p) => !unsafe.includes(p));
    } else {
      const unknown = paths.filter((p) => !session.store.getDeadLetter(p));
      if (unknown.length) {
        await session.close();
        throw new UsageError(`Not in the dead-letter queue: ${unknown.join(', ')}`);
      }
    }
    const handle = paths.length ? session.pipeline.reprocessDeadLetters(paths, values.note) : undefined;
    if (!handle) {
      await session.close();
      process.stdout.write(session.store.listDeadLetters().length ? 'Nothing to retry.\n' : 'The dead-letter queue is empty.\n');
      return EXIT_OK;
    }
    return drive(session, () => handle, values.json ?? false);
  }
  throw new UsageError(`Unknown dlq command "${sub ?? ''}" (list, retry or remove)`);
}

async function cmdRetry(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...RETRY_OPTIONS, priority: { type: 'string' } },
  });
  if (!positionals.length) throw new UsageError('retry needs at least one <path>');
  if (values.priority !== undefined && values.priority !== 'normal' && values.priority !== 'high') throw new UsageError(`--priority must be normal or high, got "${values.priority}"`);
  if (values.priority === 'high') {
    // a run of the folder in another process takes the documents ahead of its queue
    const handed = await retryAhead(stateOf(values), positionals, { root: values.root, json: values.json ?? false }, (m) => new UsageError(m));
    if (handed !== undefined) return handed;
  }
  const target = stateOf(values);
  baselineWasmUnlessLarge(target.stateDir, target.url);
  const session = await sessionFromState(target, { root: values.root, baseURL: values['base-url'], model: values.model, verbose: values.verbose ?? false });
  let paths: string[];
  try {
    paths = normalisePaths(positionals, session.settings.root);
  } catch (err) {
    await session.close();
    throw err;
  }
  const unknown = paths.filter((p) => !session.store.getDocument(p));
  if (unknown.length) {
    await session.close();
    throw new UsageError(`Unknown document(s): ${unknown.join(', ')}`);
  }
  for (const p of paths) if (session.store.getDeadLetter(p)) session.store.markDeadLetterReprocessed(p, Date.now(), 'retry');
  return drive(session, () => session.pipeline.retry(paths), values.json ?? false);
}

/** Commands that read the state and end: they open sql.js once and run a few queries. */
const QUICK_COMMANDS = new Set(['status', 'list', 'dlq', 'history', 'pause', 'resume', 'stop', 'export', 'eval']);

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // `extraction-workbench <command> --help` shows the usage (before `--`, which ends the options)
  const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (cmd && (options.includes('--help') || options.includes('-h'))) {
    process.stdout.write(USAGE + '\n');
    return EXIT_OK;
  }
  if (QUICK_COMMANDS.has(cmd)) baselineWasmOnly();
  try {
    switch (cmd) {
      case 'run':
        return await cmdRun(rest);
      case 'estimate':
        return await cmdEstimate(rest);
      case 'watch': {
        const { session, json } = await openRunSession(rest);
        return await cmdWatch(session, { json });
      }
      case 'status':
        return await cmdStatus(rest);
      case 'list':
        return await cmdList(rest, (m) => new UsageError(m));
      case 'dlq':
        return await cmdDlq(rest);
      case 'retry':
        return await cmdRetry(rest);
      case 'pause':
      case 'resume':
      case 'stop':
        return await cmdControl(cmd, rest, (m) => new UsageError(m));
      case 'history':
        return await cmdHistory(rest);
      case 'export':
        return await cmdExport(rest, (m) => new UsageError(m));
      case 'eval':
        return await cmdEval(rest, (m) => new UsageError(m));
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE + '\n');
        return EXIT_OK;
      default:
        throw new UsageError(cmd ? `Unknown command "${cmd}"` : 'No command given');
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (err as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      process.stderr.write(`extraction-workbench: ${(err as Error).message}\n\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof ExtractionError) {
      process.stderr.write(`extraction-workbench: [${err.code}] ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (isStorageError(err) || (err as NodeJS.ErrnoException)?.syscall) {
      // the state folder or a file could not be written or read (a full disk…): the reason, not a stack
      const e = toExtractionError(err);
      process.stderr.write(`extraction-workbench: [${e.code}] ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof Error && /^Store[A-Za-z]*Error$/.test(err.name)) {
      // a locked, read-only or unreadable state folder: its message says which and what to do
      process.stderr.write(`extraction-workbench: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`extraction-workbench: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT_USAGE;
  }
}

/** `extraction-workbench … | head`: the reader went away; stop writing quietly (exit as `head` expects). */
function quietOnBrokenPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
    throw err;
  });
}

if (require.main === module) {
  quietOnBrokenPipe(process.stdout);
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
