/**
 * Feedback around runs: window progress (ProgressLocation.Window) while a folder runs, and an end-of-run
 * summary notification with "Show Failed", "Open Report" and "Export Dataset…". Runs triggered by watch mode only log.
 *
 * Window progress always spins (the API has no paused or determinate form), so a paused run ends it and
 * Resume starts it again: while paused, the status-bar item's pause icon ("3/8 · paused") is the only sign.
 */
import * as vscode from 'vscode';
import type { RunProgress } from '../core/events';
import type { Logger } from '../core/logger';
import type { RunSummary } from '../core/pipeline';
import { CommandIds, notify } from './commands/register';
import { Disposable } from './dispose';
import { DOCUMENTS_VIEW_ID } from './statusBar';
import type { FinishedRun, FolderRuns, WorkspaceRuns } from './workspaceRuns';

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function summaryMessage(folderName: string | undefined, s: RunSummary): string {
  const where = folderName ? ` in ${folderName}` : '';
  const c = s.counts;
  const parts = [`${s.done} done`];
  if (s.skipped) parts.push(`${s.skipped} unchanged`);
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.deadLettered) parts.push(`${c.deadLettered} dead-lettered`);
  if (s.rejected) parts.push(`${s.rejected} rejected`);
  if (c.pending) parts.push(`${c.pending} pending`);
  const head = s.status === 'completed' ? `Extraction finished${where}` : `Extraction stopped${where}${s.reason ? ` (${s.reason})` : ''}`;
  return `${head}: ${parts.join(', ')} · ${formatDuration(s.durationMs)}.`;
}

export function progressMessage(p: RunProgress): string {
  const total = p.total - p.rejected;
  return `${p.done}/${total}${p.failed + p.deadLettered ? ` · ${p.failed + p.deadLettered} failed` : ''}${p.paused ? ' · paused' : ''}`;
}

export interface RunFeedbackOptions {
  logger: Logger;
  /** Focuses the Documents view on the failed / dead-lettered documents. */
  showFailed: () => Promise<void>;
  /** Writes and opens the CSV report. */
  openReport: () => Promise<unknown>;
}

export class RunFeedback extends Disposable {
  readonly #o: RunFeedbackOptions;
  readonly #active = new Map<string, { report: (p: RunProgress) => void; end: () => void }>();
  readonly #multi: () => boolean;

  constructor(runs: WorkspaceRuns, options: RunFeedbackOptions) {
    super();
    this.#o = options;
    this.#multi = () => runs.folders().length > 1;
    this._register(runs.onEvent(({ folder, event }) => {
      if (event.type === 'run/started' || event.type === 'run/resumed') this.#begin(folder);
      else if (event.type === 'run/progress') this.#active.get(folder.key)?.report(event.progress);
      else if (event.type === 'run/paused' || event.type === 'run/finished') this.#end(folder.key);
      else if (event.type === 'run/budget-reached') this.#budgetReached(folder, event.budget, event.cost);
    }));
    this._register(runs.onDidFinishRun((e) => this.#summarize(e)));
    this._register({ dispose: () => [...this.#active.keys()].forEach((k) => this.#end(k)) });
  }

  #begin(folder: FolderRuns): void {
    this.#end(folder.key);
    let end!: () => void;
    const finished = new Promise<void>((r) => (end = r));
    let reporter: vscode.Progress<{ message?: string }> | undefined;
    let last: RunProgress | undefined = folder.pipeline?.progress(); // after a resume: where the run is
    const title = this.#multi() ? `Extracting ${folder.name}` : 'Extracting';
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, (progress) => {
      reporter = progress;
      if (last) progress.report({ message: progressMessage(last) });
      return finished;
    });
    this.#active.set(folder.key, {
      report: (p) => {
        last = p;
        reporter?.report({ message: progressMessage(p) });
      },
      end,
    });
  }

  #end(key: string): void {
    const a = this.#active.get(key);
    this.#active.delete(key);
    a?.end();
  }

  /** The run paused at its budget: say so, with the way on (Resume) and the way out (Stop). */
  #budgetReached(folder: FolderRuns, budget: number, cost: number): void {
    const where = this.#multi() ? ` in ${folder.name}` : '';
    const message = `Budget of ${budget} reached${where} (spent ${cost.toFixed(4)}): the run is paused. Resume goes on past the budget.`;
    notify('warning', message, {
      Resume: () => vscode.commands.executeCommand(CommandIds.resume),
      Stop: () => vscode.commands.executeCommand(CommandIds.stop),
    });
  }

  #summarize({ folder, summary, trigger }: FinishedRun): void {
    const message = summaryMessage(this.#multi() ? folder.name : undefined, summary);
    this.#o.logger.info(message);
    if (trigger === 'watch' && !summary.fatalError) return;
    const actions: Record<string, () => unknown> = {};
    const troubled = summary.counts.failed + summary.counts.deadLettered;
    if (troubled) actions['Show Failed'] = () => this.#o.showFailed();
    actions['Open Report'] = () => this.#o.openReport();
    if (summary.counts.done) actions['Export Dataset…'] = () => vscode.commands.executeCommand(CommandIds.exportDataset);
    if (summary.fatalError) {
      const fatal = `Extraction stopped: [${summary.fatalError.code}] ${summary.fatalError.message}`;
      const fatalActions: Record<string, () => unknown> = { 'Show Log': () => vscode.commands.executeCommand(CommandIds.showLog) };
      if (summary.fatalError.code === 'AUTH_FAILED') fatalActions['Set API Key'] = () => vscode.commands.executeCommand(CommandIds.setApiKey);
      notify('error', fatal, fatalActions);
      return;
    }
    notify(troubled ? 'warning' : 'info', message, actions);
  }
}

export async function focusDocuments(): Promise<void> {
  await vscode.commands.executeCommand(`${DOCUMENTS_VIEW_ID}.focus`);
}
