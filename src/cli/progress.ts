/** CLI progress: a live bar on a TTY, plain lines otherwise, NDJSON events on stdout with --json. */
import { describeWait, type Disposable, type EventBus, type PipelineEvent, type RunProgress } from '../core/events';
import type { RunSummary } from '../core/pipeline';

export interface ProgressOptions {
  json: boolean;
  stream: NodeJS.WriteStream;
  out: NodeJS.WritableStream;
}

function fmtEta(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  const s = Math.round(ms / 1000);
  return s < 60 ? ` · ETA ${s}s` : ` · ETA ${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function progressLine(p: RunProgress, now = Date.now()): string {
  const finished = p.done + p.deadLettered;
  const considered = p.total - p.rejected;
  const waiting = p.waitingForProvider ? ` · ${describeWait(p.waitingForProvider, now)}` : '';
  return `${finished}/${considered} done · ${p.inFlight} running · ${p.failed} failed · ${p.deadLettered} dead-lettered · ${p.docsPerMinute.toFixed(1)} docs/min${fmtEta(p.etaMs)}${p.paused ? ' · paused' : ''}${waiting}`;
}

export class ProgressReporter {
  readonly #sub: Disposable;
  readonly #o: ProgressOptions;
  readonly #tty: boolean;
  #lastLine = 0;

  constructor(events: EventBus, options: ProgressOptions) {
    this.#o = options;
    this.#tty = !options.json && !!options.stream.isTTY;
    this.#sub = events.on((e) => this.#onEvent(e));
  }

  #onEvent(e: PipelineEvent): void {
    if (this.#o.json) this.#o.out.write(JSON.stringify(e) + '\n');
    if (e.type === 'run/progress') {
      if (this.#tty) {
        const bar = this.#bar(e.progress);
        this.#o.stream.write(`\r\x1b[2K${bar} ${progressLine(e.progress)}`);
      } else if (!this.#o.json && Date.now() - this.#lastLine >= 2000) {
        this.#lastLine = Date.now();
        this.#o.stream.write(progressLine(e.progress) + '\n');
      }
      return;
    }
    if (this.#o.json) return;
    const msg =
      e.type === 'doc/dead-lettered'
        ? `dead-lettered ${e.path}: [${e.error.code}] ${e.error.message}`
        : e.type === 'doc/retry'
          ? `retry ${e.path} in ${Math.round(e.delayMs / 100) / 10}s (attempt ${e.attempt} failed: ${e.error.code})`
          : e.type === 'doc/failed'
            ? `failed ${e.path}: [${e.error.code}] ${e.error.message}`
            : e.type === 'doc/rejected'
              ? `rejected ${e.path}: ${e.reason}`
              : e.type === 'run/provider-waiting'
                ? `the provider is failing ([${e.code}] ${e.message}): ${describeWait(e)}; no document uses up attempts meanwhile`
                : e.type === 'run/provider-recovered'
                  ? `the provider answers again after ${Math.round((e.at - e.since) / 1000)} s: going on`
                  : undefined;
    if (msg) this.#o.stream.write((this.#tty ? '\r\x1b[2K' : '') + msg + '\n');
  }

  #bar(p: RunProgress): string {
    const width = 24;
    const considered = Math.max(1, p.total - p.rejected);
    const filled = Math.round(((p.done + p.deadLettered) / considered) * width);
    return `[${'#'.repeat(filled)}${'.'.repeat(Math.max(0, width - filled))}]`;
  }

  finish(s: RunSummary): void {
    if (this.#tty) this.#o.stream.write('\r\x1b[2K');
    const c = s.counts;
    const lines = [
      `Run ${s.runId} ${s.status}${s.reason ? `: ${s.reason}` : ''}`,
      `  ${c.done} done (${s.done} this run, ${s.skipped} unchanged), ${c.failed} failed, ${c.deadLettered} dead-lettered, ${c.pending} pending, ${c.rejected} rejected`,
      `  tokens ${s.tokensIn} in / ${s.tokensOut} out · cost ${s.cost.toFixed(4)} · ${(s.durationMs / 1000).toFixed(1)}s`,
    ];
    if (s.rejectedTooLarge) lines.push(`  ${s.rejectedTooLarge} document(s) too large to read (raise the file size limit to include them)`);
    if (s.fatalError) lines.push(`  stopped by [${s.fatalError.code}] ${s.fatalError.message}`);
    this.#o.stream.write(lines.join('\n') + '\n');
  }

  dispose(): void {
    this.#sub.dispose();
  }
}
