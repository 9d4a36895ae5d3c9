/**
 * Status bar item (left): `$(file-text) Extraction: idle`, `$(sync~spin) 123/456 · 3 failed` during a run,
 * `$(debug-pause) …` while paused, `$(debug-disconnect) … · waiting for the provider` during a provider outage
 * (the tooltip says since when and when the next try is; redrawn every second meanwhile). Updated from
 * run/progress events, at most every `throttleMs`.
 * A click focuses the Documents view. The tooltip says which model and endpoint runs use (per folder), and
 * in Restricted Mode that runs are off: a workspace cannot point runs at a server of its choosing
 * (`extractionWorkbench.baseUrl` is a restricted setting), and this shows what applies instead.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { describeWait, type PipelineEvent, type ProviderWait, type RunProgress } from '../core/events';
import { Disposable } from './dispose';
import type { FolderRuns, WorkspaceRuns } from './workspaceRuns';
import { Throttle } from './throttle';
import { DOCUMENTS_VIEW_ID } from './tree/viewId';

export { DOCUMENTS_VIEW_ID };

export interface StatusSnapshot {
  running: boolean;
  paused: boolean;
  done: number;
  total: number;
  failed: number;
  /** A provider outage the run waits through. */
  waiting?: ProviderWait;
}

/** Health shown by the item: an icon after the text when not healthy, the reasons in the tooltip. */
export interface HealthStatusSource {
  overall(): { level: 'healthy' | 'degraded' | 'unhealthy'; reasons: ReadonlyArray<{ message: string }> };
  readonly onDidChange: vscode.Event<unknown>;
}

export function statusText(s: StatusSnapshot): string {
  if (!s.running) return '$(file-text) Extraction: idle';
  const failed = s.failed ? ` · ${s.failed} failed` : '';
  if (s.waiting && !s.paused) return `$(debug-disconnect) ${s.done}/${s.total}${failed} · waiting for the provider`;
  return `${s.paused ? '$(debug-pause)' : '$(sync~spin)'} ${s.done}/${s.total}${failed}${s.paused ? ' · paused' : ''}`;
}

/**
 * What runs use and where their results go, per folder ("Runs use gpt-4o-mini at https://…; results in
 * extracted/"), and the Restricted Mode notice.
 */
export function endpointLines(folders: readonly Pick<FolderRuns, 'name' | 'root' | 'runSettings'>[], trusted: boolean): string[] {
  const lines: string[] = [];
  if (!trusted) lines.push('Restricted Mode: runs are off until this workspace is trusted, and its setting extractionWorkbench.baseUrl is not used.');
  for (const f of folders) {
    try {
      const s = f.runSettings();
      lines.push(`${folders.length > 1 ? `${f.name}: r` : 'R'}uns ${trusted ? 'use' : 'would use'} ${s.model} at ${s.baseURL}; results in ${shownFolder(f.root, s.outDir)}`);
    } catch {
      // no job (no config and no earlier run) or a broken config: nothing to say here
    }
  }
  return lines;
}

/** `dir` relative to `root` with a trailing `/` when inside it ("extracted/"), else the absolute path. */
function shownFolder(root: string, dir: string): string {
  const rel = path.relative(root, dir);
  if (!rel) return './';
  return rel.startsWith('..') || path.isAbsolute(rel) ? dir : `${rel.split(path.sep).join('/')}/`;
}

export class RunStatusBar extends Disposable {
  readonly #item: vscode.StatusBarItem;
  readonly #runs: WorkspaceRuns;
  readonly #progress = new Map<string, RunProgress>();
  readonly #throttle: Throttle;
  readonly #health: HealthStatusSource | undefined;
  /** Redraws every second while the run waits for the provider (the countdown to the next try). */
  #countdown: ReturnType<typeof setInterval> | undefined;

  constructor(runs: WorkspaceRuns, options: { throttleMs?: number; health?: HealthStatusSource; onDidChangeJob?: vscode.Event<unknown> } = {}) {
    super();
    this.#runs = runs;
    this.#throttle = this._register(new Throttle(() => this.#render(), options.throttleMs ?? 250));
    this.#item = this._register(vscode.window.createStatusBarItem('extractionWorkbench.status', vscode.StatusBarAlignment.Left, 100));
    this.#item.name = 'Extraction Workbench';
    this.#item.command = { command: `${DOCUMENTS_VIEW_ID}.focus`, title: 'Show Documents' };
    this._register(runs.onEvent(({ folder, event }) => this.#onEvent(folder.key, event)));
    this._register(runs.onDidChangeState(() => this.#schedule(true)));
    // what runs would use: settings, trust, folders, the job in extraction.config.json
    this._register(vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('extractionWorkbench') && this.#schedule(false)));
    this._register(vscode.workspace.onDidGrantWorkspaceTrust(() => this.#schedule(true)));
    this._register(runs.onDidChangeFolders(() => this.#schedule(false)));
    if (options.onDidChangeJob) this._register(options.onDidChangeJob(() => this.#schedule(false)));
    this.#health = options.health;
    if (this.#health) this._register(this.#health.onDidChange(() => this.#schedule(true)));
    this.#throttle.runNow();
    this.#item.show();
    this._register({ dispose: () => this.#setCountdown(false) });
  }

  /** The text shown now (tests read it). */
  get text(): string {
    return this.#item.text;
  }

  /** The tooltip shown now (tests read it). */
  get tooltip(): string {
    return typeof this.#item.tooltip === 'string' ? this.#item.tooltip : (this.#item.tooltip?.value ?? '');
  }

  #onEvent(key: string, e: PipelineEvent): void {
    switch (e.type) {
      case 'run/progress':
        this.#progress.set(key, e.progress);
        this.#schedule(false);
        break;
      case 'run/finished':
        this.#progress.delete(key);
        this.#schedule(true);
        break;
      case 'run/started':
      case 'run/paused':
      case 'run/resumed':
        this.#schedule(true);
        break;
      default:
        break;
    }
  }

  #schedule(now: boolean): void {
    if (now) this.#throttle.runNow();
    else this.#throttle.schedule();
  }

  snapshot(): StatusSnapshot {
    const s: StatusSnapshot = { running: false, paused: false, done: 0, total: 0, failed: 0 };
    const active = this.#runs.folders().filter((f) => f.running);
    s.running = active.length > 0;
    s.paused = s.running && active.every((f) => f.paused);
    for (const f of active) {
      const p = this.#progress.get(f.key) ?? f.pipeline?.progress();
      if (!p) continue;
      s.done += p.done;
      s.total += p.total - p.rejected;
      s.failed += p.failed + p.deadLettered;
      s.waiting ??= p.waitingForProvider;
    }
    return s;
  }

  #setCountdown(on: boolean): void {
    if (on && !this.#countdown) this.#countdown = setInterval(() => this.#throttle.runNow(), 1000);
    if (!on && this.#countdown) {
      clearInterval(this.#countdown);
      this.#countdown = undefined;
    }
  }

  #render(): void {
    if (this.isDisposed) return;
    const s = this.snapshot();
    const health = this.#health?.overall();
    const healthIcon = health && health.level !== 'healthy' ? ` $(${health.level === 'unhealthy' ? 'error' : 'warning'})` : '';
    this.#item.text = statusText(s) + healthIcon;
    this.#setCountdown(!!s.waiting);
    const waiting = s.waiting
      ? ` The provider is failing ([${s.waiting.code}] ${s.waiting.message}): ${describeWait(s.waiting)}. No document uses up attempts meanwhile.`
      : '';
    const state = s.running
      ? `Extraction ${s.paused ? 'paused' : 'running'}: ${s.done} of ${s.total} documents done${s.failed ? `, ${s.failed} failed` : ''}.${waiting} Click to show the documents.`
      : 'Extraction Workbench: no run in progress. Click to show the documents.';
    const tooltip = [state, ...endpointLines(this.#runs.folders(), vscode.workspace.isTrusted)].join('\n');
    this.#item.tooltip = health ? [`Health: ${health.level}`, ...health.reasons.map((r) => `• ${r.message}`), '', tooltip].join('\n') : tooltip;
    this.#item.backgroundColor =
      health?.level === 'unhealthy' ? new vscode.ThemeColor('statusBarItem.errorBackground') : health?.level === 'degraded' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }
}
