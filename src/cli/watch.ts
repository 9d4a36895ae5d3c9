/**
 * `extraction-workbench watch <folder> [run flags]`: the window's watch mode, headless. A run of the folder
 * first (as `run`), then new and changed documents are queued as files change — fs.watch over the folder
 * (recursive), debounced; which changes are documents is decided as in the window (src/app/watchChanges.ts:
 * the job's globs, `.gitignore` files, the output and state folders). A change during a run joins it; else a
 * run starts for the changed documents. Each run's summary is printed when it ends.
 *
 * Until SIGINT, SIGTERM or SIGHUP (or `extraction-workbench stop` from another process): in-flight requests
 * are cancelled, the state is saved, exit 0. A second signal exits at once (130). `pause`/`resume` from
 * another process pause and resume the current run; `retry --priority high` retries documents ahead of it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { retryHeld, watchControl } from '../app/runControl';
import type { Session } from '../app/session';
import { changedDocuments } from '../app/watchChanges';
import { inAlwaysSkippedFolder, toPosix } from '../core/lister';
import type { RunHandle } from '../core/pipeline';
import { ProgressReporter } from './progress';

export const WATCH_USAGE = `  extraction-workbench watch <folder> [same options as run]        # run, then re-run new and changed documents until Ctrl+C`;

/** Changes are collected this long after the last one before they are queued (the window's default). */
export const WATCH_DEBOUNCE_MS = 750;

const EXIT_OK = 0;
const EXIT_INTERRUPTED = 130;

export async function cmdWatch(session: Session, options: { json: boolean; debounceMs?: number }): Promise<number> {
  const { settings, pipeline } = session;
  const root = settings.root;
  const reporter = new ProgressReporter(pipeline.events, { json: options.json, stream: process.stderr, out: process.stdout });
  const say = (m: string): void => {
    if (!options.json) process.stderr.write(m + '\n');
  };
  const runs = new Map<string, Promise<void>>();
  const track = (handle: RunHandle | undefined) => {
    if (!handle || runs.has(handle.runId)) return;
    runs.set(
      handle.runId,
      handle.done.then(
        (summary) => {
          reporter.finish(summary);
          if (!stopping) say(`Watching ${root} for new and changed documents (Ctrl+C to stop)…`);
        },
        (err) => void process.stderr.write(`[error] run ${handle.runId}: ${(err as Error)?.message ?? err}\n`),
      ),
    );
  };

  // the output and state folders change with every result: not even a debounce timer for them
  const own = [settings.outDir, settings.stateDir].map((d) => toPosix(path.relative(root, d))).filter((r) => r && !r.startsWith('..'));
  const isOwn = (rel: string) => own.some((d) => rel === d || rel.startsWith(d + '/'));
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let flushing = Promise.resolve();
  const flush = async () => {
    timer = undefined;
    const candidates = [...pending];
    pending.clear();
    if (stopping || !candidates.length) return;
    try {
      const paths = await changedDocuments(settings, candidates);
      if (!paths.length || stopping) return;
      say(`Watch: ${paths.length} new or changed document(s) queued: ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ', …' : ''}`);
      track(pipeline.enqueue(paths, { trigger: 'watch', priority: 0 }));
    } catch (err) {
      process.stderr.write(`[warn] watch: could not queue changed documents: ${(err as Error)?.message ?? err}\n`);
    }
  };
  const onChange = (filename: string | Buffer | null) => {
    if (filename === null || stopping) return;
    const rel = toPosix(String(filename));
    if (!rel || isOwn(rel) || inAlwaysSkippedFolder(rel)) return;
    pending.add(rel);
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => (flushing = flushing.then(flush)), options.debounceMs ?? WATCH_DEBOUNCE_MS);
  };

  let stopping = false;
  let interrupted = false;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`\n${sig} again: exiting now; completed documents are saved.\n`);
      process.exit(EXIT_INTERRUPTED);
    }
    interrupted = true;
    process.stderr.write(`\n${sig}: stopping watch mode; in-flight requests are cancelled and state is saved…\n`);
    stopping = true;
    stop();
  };
  const control = watchControl(settings.stateDir, (r) => {
    process.stderr.write(`${r.command}${r.paths ? ` ${r.paths.join(', ')}` : ''} requested from ${r.by}\n`);
    if (r.command === 'retry') track(retryHeld(pipeline, session.store, r.paths ?? []));
    else if (r.command === 'pause') pipeline.pause(`Paused from ${r.by}`);
    else if (r.command === 'resume') pipeline.resume();
    else {
      stopping = true;
      stop();
    }
  });
  // watching starts before the first run, so nothing written meanwhile is missed
  const watcher = fs.watch(root, { recursive: true }, (_event, filename) => onChange(filename));
  watcher.on('error', (err) => {
    process.stderr.write(`[error] watch: the folder cannot be watched any more (${err.message}); stopping\n`);
    stopping = true;
    stop();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  try {
    // a fleet: take part in the run under way (one run id for every worker), as `run` does
    const join = await session.joinableRun();
    track(pipeline.start({ trigger: 'cli', ...(join ? { join } : {}) }));
    await stopped;
  } finally {
    watcher.close();
    if (timer) clearTimeout(timer);
    control.dispose();
    await flushing;
    await pipeline.shutdown(10_000);
    // a run the shutdown could not end in time is recorded as interrupted: the next run resumes it
    await Promise.race([Promise.all(runs.values()), new Promise((r) => setTimeout(r, 10_000).unref())]);
    reporter.dispose();
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
    await session.close();
  }
  say(interrupted ? 'Watch mode stopped.' : 'Watch mode stopped on request.');
  return EXIT_OK;
}
