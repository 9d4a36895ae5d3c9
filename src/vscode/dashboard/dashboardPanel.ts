/**
 * The run dashboard: one webview panel (single instance) showing one folder's run — live while it runs,
 * or any finished run from the history — plus run comparison and metrics export.
 *
 * Protocol rules: nothing is posted before the page says `dashboard/ready` (and again after each reload
 * of a hidden page); every message is validated with the shared zod schemas in both directions. Live
 * updates are batched: pipeline events only mark the view dirty, and at most one update is posted per
 * `liveIntervalMs`, reading only the attempts recorded since the previous update.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { healthSummary } from '../../core/health';
import type { Logger } from '../../core/logger';
import { metricsToCsv, metricsToJson, type MetricsExportMeta } from '../../core/metrics';
import type { PipelineEvent } from '../../core/events';
import { parseFromWebview, toWebviewSchema, type ComparisonColumn, type DashboardModel, type ExportFormat, type FromWebview, type RunRow, type ToWebview } from '../../shared/dashboardProtocol';
import { pickFolder } from '../commands/targets';
import { Disposable } from '../dispose';
import type { FolderRuns, WorkspaceRuns } from '../workspaceRuns';
import type { HealthSettings } from './healthConfig';
import type { HealthMonitor } from './healthMonitor';
import type { HealthNotifier } from './healthNotifier';
import { dashboardHtml, dashboardResourceRoots } from './html';
import type { TreeRevealer } from './reveal';
import { runAccuracy } from '../../eval/runAccuracy';
import { comparisonColumn, dashboardModel, healthAtEnd, rowFromMetrics, RunMetricsReader, runRows } from './runData';
import { Throttle } from '../throttle';

export const DASHBOARD_VIEW_TYPE = 'extractionWorkbench.dashboard';

export interface DashboardOptions {
  extensionUri: vscode.Uri;
  runs: WorkspaceRuns;
  health: HealthMonitor;
  revealer: TreeRevealer;
  /** Only exposed through {@link DashboardPanel.services} (tests). */
  notifier?: HealthNotifier;
  settings: () => HealthSettings;
  logger: Logger;
  /** Minimum interval between live updates (default 400 ms: at most 2.5 per second). */
  liveIntervalMs?: number;
}

export type RenderReceipt = Extract<FromWebview, { type: 'dashboard/rendered' }>;

const LIVE_EVENTS = new Set<PipelineEvent['type']>(['doc/completed', 'doc/retry', 'doc/failed', 'doc/dead-lettered', 'run/progress', 'run/paused', 'run/resumed', 'run/provider-waiting', 'run/provider-recovered']);

/** Opens the dashboard and keeps its single panel. */
export class RunDashboard extends Disposable {
  readonly #o: DashboardOptions;
  #panel: DashboardPanel | undefined;

  constructor(options: DashboardOptions) {
    super();
    this.#o = options;
    this._register({ dispose: () => this.#panel?.dispose() });
  }

  /** The open panel, if any. */
  get panel(): DashboardPanel | undefined {
    return this.#panel;
  }

  /** Opens (or reveals) the dashboard on a folder's run: the active run, else the latest, unless `runId` is given. */
  async open(target: { folderKey?: string; runId?: string } = {}): Promise<DashboardPanel | undefined> {
    const folder = await this.#folderFor(target.folderKey);
    if (!folder) {
      void vscode.window.showInformationMessage('Open a folder first: the run dashboard shows the extraction runs of a workspace folder.');
      return undefined;
    }
    if (!folder.store && folder.hasState()) await folder.openStore();
    if (this.#panel && !this.#panel.isDisposed) {
      this.#panel.show(folder, target.runId);
      return this.#panel;
    }
    const panel = new DashboardPanel(this.#o, folder, target.runId);
    this.#panel = panel;
    panel.onDidDispose(() => {
      if (this.#panel === panel) this.#panel = undefined;
    });
    return panel;
  }

  async #folderFor(key: string | undefined): Promise<FolderRuns | undefined> {
    const runs = this.#o.runs;
    if (key) return runs.get(key);
    const folders = runs.folders();
    const active = folders.filter((f) => f.running);
    if (active.length === 1) return active[0];
    const withState = folders.filter((f) => f.store || f.hasState());
    if (withState.length <= 1) return withState[0] ?? folders[0];
    return pickFolder(withState, 'Show the runs of which folder?');
  }
}

export class DashboardPanel extends Disposable {
  readonly webviewPanel: vscode.WebviewPanel;
  readonly #o: DashboardOptions;
  #folder: FolderRuns;
  #runId: string | undefined;
  /** Follow the folder's newest run (switch when a run starts) unless an older run was picked. */
  #follow: boolean;
  #ready = false;
  #reader: RunMetricsReader | undefined;
  readonly #rowCache = new Map<string, RunRow>();
  readonly #liveUpdates: Throttle;
  #model: DashboardModel | undefined;
  /** Messages posted, by type (tests). */
  readonly posted: Partial<Record<ToWebview['type'], number>> = {};
  /** The page's last render receipt. */
  lastRendered: RenderReceipt | undefined;
  /** The last comparison posted, and what the page showed of it (tests). */
  lastComparison: ComparisonColumn[] | undefined;
  lastComparisonShown: { verdict: string; rows: number } | undefined;
  readonly #onDidRender = this._register(new vscode.EventEmitter<RenderReceipt>());
  readonly onDidRender = this.#onDidRender.event;
  readonly #onDidDispose = this._register(new vscode.EventEmitter<void>());
  readonly onDidDispose = this.#onDidDispose.event;

  constructor(options: DashboardOptions, folder: FolderRuns, runId: string | undefined) {
    super();
    this.#o = options;
    this.#folder = folder;
    this.#runId = runId;
    this.#follow = !runId;
    this.webviewPanel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, this.#title(), vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: dashboardResourceRoots(options.extensionUri),
      retainContextWhenHidden: false,
    });
    this.webviewPanel.iconPath = vscode.Uri.joinPath(options.extensionUri, 'media', 'icon.svg');
    this._register(this.webviewPanel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)));
    this._register(
      this.webviewPanel.onDidChangeViewState((e) => {
        // a hidden page is discarded and reloaded when shown again: it will say ready again
        if (!e.webviewPanel.visible) this.#ready = false;
      }),
    );
    this._register(this.webviewPanel.onDidDispose(() => this.dispose()));
    this._register(options.runs.onEvent(({ folder, event }) => folder.key === this.#folder.key && this.#onEvent(event)));
    // the store opened again: another process (a CLI run) changed the state, or this window took or gave back its lock
    this._register(this.#folder.onDidReloadStore(() => this.#postState()));
    this._register(options.health.onDidChange((key) => (key === undefined || key === this.#folder.key) && this.#isLive() && this.#scheduleUpdate()));
    this.#liveUpdates = this._register(new Throttle(() => this.#update(), () => this.#o.liveIntervalMs ?? 400));
    this.webviewPanel.webview.html = dashboardHtml(this.webviewPanel.webview, options.extensionUri);
  }

  override get isDisposed(): boolean {
    return super.isDisposed;
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.#onDidDispose.fire();
    super.dispose();
    this.webviewPanel.dispose();
  }

  get folder(): FolderRuns {
    return this.#folder;
  }

  /** The run shown. */
  get runId(): string | undefined {
    return this.#runId;
  }

  /** The page is ready and has been sent the state. */
  get ready(): boolean {
    return this.#ready;
  }

  /** The services behind the dashboard (in-process callers such as tests use them). */
  get services(): { health: HealthMonitor; revealer: TreeRevealer; notifier?: HealthNotifier } {
    return { health: this.#o.health, revealer: this.#o.revealer, ...(this.#o.notifier ? { notifier: this.#o.notifier } : {}) };
  }

  /** The last model posted (tests read it). */
  get model(): DashboardModel | undefined {
    return this.#model;
  }

  /** Shows a folder (and run) in the existing panel. */
  show(folder: FolderRuns, runId?: string): void {
    const changed = folder !== this.#folder || (runId !== undefined && runId !== this.#runId);
    this.#folder = folder;
    if (runId !== undefined || changed) {
      this.#runId = runId;
      this.#follow = !runId;
      this.#reader = undefined;
    }
    this.#rowCache.clear();
    this.webviewPanel.title = this.#title();
    this.webviewPanel.reveal();
    if (changed) this.#postState();
  }

  /** Writes the shown run's metrics as CSV or JSON (save dialog unless `target` is given). */
  async exportMetrics(format: ExportFormat, target?: vscode.Uri): Promise<vscode.Uri | undefined> {
    const model = this.#computeModel();
    if (!model) {
      this.#post({ type: 'dashboard/notice', level: 'warning', message: 'No run to export yet.' });
      return undefined;
    }
    const meta: MetricsExportMeta = {
      runId: model.run.id,
      status: model.run.live ? 'running' : model.run.status,
      trigger: model.run.trigger,
      startedAt: model.run.startedAt,
      ...(model.run.endedAt !== undefined ? { endedAt: model.run.endedAt } : {}),
      health: healthSummary(model.health),
    };
    const text = format === 'csv' ? metricsToCsv(model.metrics, meta) : metricsToJson(model.metrics, meta);
    if (!target) {
      target = await vscode.window.showSaveDialog({
        title: 'Export Run Metrics',
        saveLabel: 'Export',
        defaultUri: vscode.Uri.joinPath(this.#folder.folder.uri, `extraction-run-${model.run.id.replace(/[^\w.-]+/g, '_')}.${format}`),
        filters: format === 'csv' ? { 'CSV files': ['csv'] } : { 'JSON files': ['json'] },
      });
    }
    if (!target) return undefined;
    await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
    this.#o.logger.info(`Run dashboard: metrics of run ${model.run.id} exported to ${target.fsPath}`);
    this.#post({ type: 'dashboard/notice', level: 'info', message: `Metrics of run ${model.run.id} saved to ${path.basename(target.fsPath)}.` });
    return target;
  }

  // ------------------------------------------------------------------ messages

  /** Handles a message from the page (validated first; invalid ones are logged and dropped). */
  async receive(raw: unknown): Promise<void> {
    const msg = parseFromWebview(raw);
    if (!msg) {
      this.#o.logger.warn('Run dashboard: ignored an invalid message from the webview');
      return;
    }
    try {
      await this.#handle(msg);
    } catch (err) {
      this.#o.logger.error(err instanceof Error ? err : String(err));
      this.#post({ type: 'dashboard/notice', level: 'error', message: `${(err as Error)?.message ?? err}` });
    }
  }

  async #handle(msg: FromWebview): Promise<void> {
    switch (msg.type) {
      case 'dashboard/ready':
        this.#ready = true;
        if (msg.selectedRunId && this.#follow && this.#folder.store?.getRun(msg.selectedRunId) && !this.#isLiveRun(this.#runId)) this.#select(msg.selectedRunId);
        this.#postState();
        return;
      case 'dashboard/selectRun':
        this.#select(msg.runId);
        this.#postState();
        return;
      case 'dashboard/compare': {
        const store = this.#folder.store;
        const runs = msg.runIds.map((id) => store?.getRun(id));
        if (!store || !runs[0] || !runs[1]) {
          this.#post({ type: 'dashboard/notice', level: 'warning', message: 'One of the runs to compare no longer exists.' });
          return;
        }
        const now = Date.now();
        // accuracy against the corrections, on the checked documents each run has a result for
        const accuracy = (runId: string) => {
          try {
            return runAccuracy(this.#folder.stateDir(), this.#folder.outDir(), runId);
          } catch (err) {
            this.#o.logger?.warn(`Accuracy of run ${runId}: ${(err as Error).message}`);
            return undefined;
          }
        };
        this.#post({ type: 'dashboard/comparison', columns: [comparisonColumn(store, runs[0], now, accuracy(runs[0].id)), comparisonColumn(store, runs[1], now, accuracy(runs[1].id))] });
        return;
      }
      case 'dashboard/revealErrorCode': {
        const examples = this.#model?.metrics.topErrors.find((e) => e.code === msg.code)?.paths ?? [];
        const r = await this.#o.revealer.revealErrorCode(this.#folder.key, msg.code, examples);
        const message = r.path
          ? r.matches
            ? `${r.matches} document${r.matches === 1 ? '' : 's'} failed with ${msg.code}; ${r.path} is selected in the Documents view.`
            : `No document fails with ${msg.code} any more; ${r.path}, which did, is selected in the Documents view.`
          : `No document with ${msg.code} to show.`;
        this.#post({ type: 'dashboard/notice', level: r.path ? 'info' : 'warning', message });
        return;
      }
      case 'dashboard/revealDocument': {
        const node = await this.#o.revealer.revealDocument(this.#folder.key, msg.path);
        if (!node) this.#post({ type: 'dashboard/notice', level: 'warning', message: `${msg.path} is not in the Documents view.` });
        return;
      }
      case 'dashboard/export':
        await this.exportMetrics(msg.format);
        return;
      case 'dashboard/comparisonRendered':
        this.lastComparisonShown = { verdict: msg.verdict, rows: msg.rows };
        return;
      case 'dashboard/rendered':
        this.lastRendered = msg;
        this.#onDidRender.fire(msg);
        return;
    }
  }

  #post(msg: ToWebview): void {
    if (!this.#ready || this.isDisposed) return;
    const checked = toWebviewSchema.parse(msg);
    this.posted[checked.type] = (this.posted[checked.type] ?? 0) + 1;
    if (checked.type === 'dashboard/comparison') this.lastComparison = checked.columns;
    void this.webviewPanel.webview.postMessage(checked);
  }

  // ------------------------------------------------------------------ state

  #title(): string {
    return this.#o.runs.folders().length > 1 ? `Run Dashboard: ${this.#folder.name}` : 'Run Dashboard';
  }

  #select(runId: string): void {
    if (runId === this.#runId) return;
    this.#runId = runId;
    this.#reader = undefined;
    const latest = this.#folder.store?.latestRun();
    this.#follow = !latest || latest.id === runId;
  }

  #isLiveRun(runId: string | undefined): boolean {
    return !!runId && this.#folder.running && this.#folder.pipeline?.runId === runId;
  }

  #isLive(): boolean {
    return this.#isLiveRun(this.#currentRunId());
  }

  /** The run to show: the chosen one, else the active one, else the latest. */
  #currentRunId(): string | undefined {
    if (this.#runId) return this.#runId;
    if (this.#folder.running && this.#folder.pipeline?.runId) return this.#folder.pipeline.runId;
    try {
      return this.#folder.store?.latestRun()?.id;
    } catch {
      return undefined;
    }
  }

  #computeModel(): DashboardModel | undefined {
    const store = this.#folder.store;
    const runId = this.#currentRunId();
    if (!store || !runId) return undefined;
    const run = store.getRun(runId);
    if (!run) return undefined;
    const { thresholds } = this.#o.settings();
    if (!this.#reader || this.#reader.runId !== run.id || this.#reader.store !== store) this.#reader = new RunMetricsReader(store, run.id, { recentWindow: thresholds.successRateWindow });
    this.#reader.refresh();
    const now = Date.now();
    const live = this.#isLiveRun(run.id);
    const metrics = this.#reader.snapshot(run, now, live);
    const health = (live ? this.#o.health.health(this.#folder.key)?.report : undefined) ?? healthAtEnd(store, run, thresholds);
    const waiting = live ? this.#folder.pipeline?.progress()?.waitingForProvider : undefined;
    this.#model = dashboardModel(this.#folder.name, rowFromMetrics(run, metrics, health.level, live), health, metrics, now, waiting);
    return this.#model;
  }

  #postState(): void {
    if (!this.#ready) return;
    const store = this.#folder.store;
    if (!store) {
      this.#post({ type: 'dashboard/state', runs: [] });
      return;
    }
    try {
      const model = this.#computeModel();
      const liveRunId = this.#folder.running ? this.#folder.pipeline?.runId : undefined;
      const runs = runRows(store, { liveRunId, liveHealth: this.#o.health.health(this.#folder.key)?.report, thresholds: this.#o.settings().thresholds, cache: this.#rowCache });
      this.#liveUpdates.markRun();
      this.#post({ type: 'dashboard/state', runs, ...(model ? { selectedRunId: model.run.id, model } : {}) });
    } catch (err) {
      this.#o.logger.error(err instanceof Error ? err : String(err));
    }
  }

  #onEvent(e: PipelineEvent): void {
    if (e.type === 'run/started') {
      if (this.#follow) {
        this.#runId = undefined; // follow: the active run
        this.#reader = undefined;
      }
      this.#postState();
      return;
    }
    if (e.type === 'run/finished') {
      this.#rowCache.delete(e.runId);
      this.#postState();
      return;
    }
    if (LIVE_EVENTS.has(e.type) && this.#isLive()) this.#scheduleUpdate();
  }

  #scheduleUpdate(): void {
    if (!this.isDisposed) this.#liveUpdates.schedule();
  }

  #update(): void {
    if (!this.#ready || this.isDisposed) return;
    try {
      const model = this.#computeModel();
      if (model) this.#post({ type: 'dashboard/update', model });
    } catch (err) {
      this.#o.logger.error(err instanceof Error ? err : String(err));
    }
  }
}
