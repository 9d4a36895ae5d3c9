/**
 * Health of each workspace folder, kept current from pipeline events (batched: one recomputation per
 * `batchMs` at most, whatever the event rate) plus a slow tick while a run is active (a stuck run sends no
 * events). Each recomputation is O(1) store work: counts, the latest run, and the last N finished attempts.
 *
 * The status bar, the tree's run summary node, the notifier and the dashboard all read it from here.
 */
import * as vscode from 'vscode';
import { combineHealth, evaluateHealth, healthInputFromStore, type HealthReport } from '../../core/health';
import { describeWait, type PipelineEvent, type ProviderWait } from '../../core/events';
import type { Logger } from '../../core/logger';
import type { RunCounts, RunRecord } from '../../core/types';
import { Disposable } from '../dispose';
import type { RunSummaryInfo, RunSummarySource } from '../tree/documentsModel';
import type { FolderRuns, WorkspaceRuns } from '../workspaceRuns';
import { affectsHealthSettings, type HealthSettings } from './healthConfig';
import { Throttle } from '../throttle';

export interface FolderHealth {
  folderKey: string;
  folderName: string;
  report: HealthReport;
  running: boolean;
  paused: boolean;
  counts: RunCounts;
  /** The active run, else the latest one. */
  run?: RunRecord;
  /** The provider outage the active run waits through. */
  waiting?: ProviderWait;
}

export interface HealthMonitorOptions {
  settings: () => HealthSettings;
  logger: Logger;
  /** Minimum interval between recomputations driven by events (default 1000 ms). */
  batchMs?: number;
  /** Recomputation interval while a run is active, for the no-progress rule (default 15 s). */
  tickMs?: number;
  now?: () => number;
}

/** Events that change what the summary says at once (not batched). */
const IMMEDIATE = new Set<PipelineEvent['type']>(['run/started', 'run/finished', 'run/paused', 'run/resumed', 'run/provider-waiting', 'run/provider-recovered']);

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export class HealthMonitor extends Disposable implements RunSummarySource {
  readonly #runs: WorkspaceRuns;
  readonly #o: Required<Omit<HealthMonitorOptions, 'settings' | 'logger'>> & Pick<HealthMonitorOptions, 'settings' | 'logger'>;
  readonly #health = new Map<string, FolderHealth>();
  readonly #dirty = new Set<string>();
  readonly #onDidChange = this._register(new vscode.EventEmitter<string | undefined>());
  /** Fires with the key of the folder whose health or run summary changed. */
  readonly onDidChange: vscode.Event<string | undefined> = this.#onDidChange.event;
  readonly #throttle: Throttle;
  #computations = 0;

  constructor(runs: WorkspaceRuns, options: HealthMonitorOptions) {
    super();
    this.#runs = runs;
    this.#o = { batchMs: 1000, tickMs: 15_000, now: Date.now, ...options };
    this._register(runs.onEvent(({ folder, event }) => this.#mark(folder.key, IMMEDIATE.has(event.type))));
    this._register(runs.onDidChangeState((f) => (f ? this.#mark(f.key, true) : this.#markAll())));
    this._register(runs.onDidChangeFolders(() => this.#markAll()));
    this._register(vscode.workspace.onDidChangeConfiguration((e) => affectsHealthSettings(e) && this.#markAll()));
    const tick = setInterval(() => {
      for (const f of runs.folders()) if (f.running) this.#mark(f.key, false);
    }, this.#o.tickMs);
    this._register({ dispose: () => clearInterval(tick) });
    this.#throttle = this._register(new Throttle(() => this.#flush(), () => this.#o.batchMs));
    this.#markAll();
  }

  /** Recomputations so far (tests wait on it). */
  get computations(): number {
    return this.#computations;
  }

  /** Health of one folder, undefined when it has no state yet. */
  health(folderKey: string): FolderHealth | undefined {
    return this.#health.get(folderKey);
  }

  all(): FolderHealth[] {
    return [...this.#health.values()];
  }

  /** The worst health over all folders. */
  overall(): HealthReport {
    return combineHealth(
      this.all().map((h) => h.report),
      this.#o.now(),
    );
  }

  /** Recomputes every folder now (commands and tests). */
  refresh(): void {
    for (const f of this.#runs.folders()) this.#dirty.add(f.key);
    this.#throttle.runNow();
  }

  // RunSummarySource (the tree's run summary node)
  get(folderKey: string): RunSummaryInfo | undefined {
    const h = this.#health.get(folderKey);
    if (!h || h.counts.total === 0) return undefined;
    const { report, run } = h;
    const label = h.running ? (h.paused ? 'Run paused' : h.waiting ? 'Waiting for the provider' : 'Run in progress') : run ? `Last run ${run.status}` : 'No run yet';
    const c = h.counts;
    const parts: string[] = [report.level];
    if (report.reasons.length) parts.push(plural(report.reasons.length, 'issue'));
    parts.push(`${c.done}/${c.total - c.rejected} done`);
    if (c.failed + c.deadLettered) parts.push(`${c.failed + c.deadLettered} failed`);
    const details = [`Health: ${report.level}`, ...report.reasons.map((r) => `• ${r.message}`)];
    if (h.waiting) {
      // the tree is not redrawn every second: the time of the next try, not a countdown
      parts.unshift(describeWait(h.waiting, this.#o.now(), 'at').replace(/^waiting for the provider /, ''));
      details.unshift(`The provider is failing ([${h.waiting.code}] ${h.waiting.message}): ${describeWait(h.waiting, this.#o.now(), 'at')}. No document starts or uses up attempts meanwhile; the run goes on when it answers.`, '');
    }
    if (run) details.push('', `Run ${run.id} (${run.trigger}), ${h.running ? (h.paused ? 'paused' : 'running') : run.status}, started ${new Date(run.startedAt).toLocaleString()}`);
    return { level: report.level, label, description: parts.join(' · '), details, ...(run ? { runId: run.id } : {}), ...(h.running && h.waiting ? { waiting: true } : {}) };
  }

  // ------------------------------------------------------------------ internals

  #markAll(): void {
    for (const f of this.#runs.folders()) this.#dirty.add(f.key);
    for (const key of this.#health.keys()) if (!this.#runs.get(key)) this.#dirty.add(key);
    this.#schedule(true);
  }

  #mark(key: string, now: boolean): void {
    this.#dirty.add(key);
    this.#schedule(now);
  }

  #schedule(now: boolean): void {
    if (this.isDisposed) return;
    if (now) this.#throttle.scheduleSoon();
    else this.#throttle.schedule();
  }

  #flush(): void {
    if (this.isDisposed) return;
    this.#computations++;
    const keys = [...this.#dirty];
    this.#dirty.clear();
    const { thresholds } = this.#o.settings();
    for (const key of keys) {
      const folder = this.#runs.get(key);
      const before = this.#health.get(key);
      const next = folder ? this.#compute(folder, thresholds) : undefined;
      if (next) this.#health.set(key, next);
      else this.#health.delete(key);
      if (fingerprint(before) !== fingerprint(next)) this.#onDidChange.fire(key);
    }
  }

  #compute(folder: FolderRuns, thresholds: HealthSettings['thresholds']): FolderHealth | undefined {
    const store = folder.store;
    if (!store) return undefined;
    try {
      const running = folder.running;
      const paused = folder.paused;
      const latest = store.latestRun();
      const activeId = folder.pipeline?.runId;
      const run = running && activeId ? (store.getRun(activeId) ?? latest) : latest;
      const now = this.#o.now();
      const input = healthInputFromStore(store, { now, running, paused, ...(running && run ? { runStartedAt: run.startedAt } : {}) }, thresholds.successRateWindow);
      const waiting = running ? folder.pipeline?.progress()?.waitingForProvider : undefined;
      return { folderKey: folder.key, folderName: folder.name, report: evaluateHealth(input, thresholds), running, paused, counts: store.counts(), ...(run ? { run } : {}), ...(waiting ? { waiting } : {}) };
    } catch (err) {
      // the store was closed while shutting down
      this.#o.logger.debug(`health of ${folder.name} not computed: ${(err as Error)?.message ?? err}`);
      return undefined;
    }
  }
}

function fingerprint(h: FolderHealth | undefined): string {
  if (!h) return '';
  return JSON.stringify([h.report.level, h.report.reasons.map((r) => r.message), h.running, h.paused, h.counts, h.run?.id, h.run?.status, h.waiting?.since, h.waiting?.nextTryAt]);
}
