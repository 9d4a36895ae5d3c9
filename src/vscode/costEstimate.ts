/**
 * The cost estimate in the editor: before Extract Workspace / Extract Folder… start a run, and the
 * "Estimate Cost" command. The estimate itself is the core's (`src/app/estimateRun.ts`, shared with the
 * CLI); here it runs under a cancellable progress notification and its result is shown in a modal dialog.
 *
 * Before a run, a folder is only estimated when `extractionWorkbench.confirmCost` is on and its model has a
 * known price: a free (local) model never costs a wait for conversions that cannot lead to a question. The
 * dialog only appears when the estimate is above `extractionWorkbench.confirmCostAbove`.
 */
import * as vscode from 'vscode';
import { describeEstimate, priceFor, type RunEstimate } from '../app/estimateRun';
import { CancelledError } from '../core/errors';
import type { Logger } from '../core/logger';
import { Throttle } from './throttle';
import type { FolderRuns } from './workspaceRuns';

/** The button that starts the run in the estimate dialogs. */
export const START_EXTRACTION = 'Start Extraction';

export interface EstimateTarget {
  folder: FolderRuns;
  /** Only these documents (relative paths); default: the folder as a run lists it. */
  paths?: readonly string[];
}

export interface FolderEstimate {
  folder: FolderRuns;
  estimate: RunEstimate;
}

/** Estimates every target under one cancellable progress notification; undefined when the user cancelled. */
export async function estimateWithProgress(targets: readonly EstimateTarget[], title: string): Promise<FolderEstimate[] | undefined> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const ac = new AbortController();
    const cancel = token.onCancellationRequested(() => ac.abort());
    let message = '';
    const report = new Throttle(() => progress.report({ message }), 200);
    try {
      const out: FolderEstimate[] = [];
      for (const t of targets) {
        const where = targets.length > 1 ? `${t.folder.name}: ` : '';
        const estimate = await t.folder.estimate({
          ...(t.paths ? { paths: t.paths } : {}),
          signal: ac.signal,
          onProgress: (p) => {
            message = `${where}${p.counted} document${p.counted === 1 ? '' : 's'} counted, ${p.unchanged} up to date (${p.path})`;
            report.schedule();
          },
        });
        out.push({ folder: t.folder, estimate });
      }
      return out;
    } catch (err) {
      if (err instanceof CancelledError || ac.signal.aborted) return undefined;
      throw err;
    } finally {
      report.dispose();
      cancel.dispose();
    }
  });
}

/** Totals over folders: documents, requests and cost (cost only over folders with a price). */
function totals(estimates: readonly FolderEstimate[]): { documents: number; requests: number; cost: number; priced: boolean } {
  return {
    documents: estimates.reduce((n, e) => n + e.estimate.documents, 0),
    requests: estimates.reduce((n, e) => n + e.estimate.requests, 0),
    cost: estimates.reduce((n, e) => n + e.estimate.cost, 0),
    priced: estimates.some((e) => e.estimate.price !== undefined),
  };
}

/** The dialog's detail text: the estimate's lines, per folder when there are several. */
export function estimateDetail(estimates: readonly FolderEstimate[]): string {
  const multi = estimates.length > 1;
  return estimates.map((e) => [...(multi ? [`${e.folder.name}:`] : []), ...describeEstimate(e.estimate).map((l) => (multi ? `  ${l}` : l))].join('\n')).join('\n\n');
}

function logEstimates(logger: Logger, estimates: readonly FolderEstimate[]): void {
  for (const e of estimates) logger.info(`Estimate for ${e.folder.name} with ${e.estimate.model}: ${describeEstimate(e.estimate).join('; ')}`);
}

/** Whether a run of this folder is estimated first: confirmation on, and a model with a price. */
export function wantsConfirmation(folder: FolderRuns): boolean {
  return folder.settings().confirmCost && priceFor(folder.runSettings()) !== undefined;
}

/**
 * Asks before a run when its estimated cost is above the folder's `confirmCostAbove`. True: start (nothing
 * to ask, or the user chose Start Extraction); false: the user cancelled the estimate or the dialog, and
 * nothing may be queued.
 */
export async function confirmRunCost(targets: readonly EstimateTarget[], logger: Logger): Promise<boolean> {
  const wanted = targets.filter((t) => wantsConfirmation(t.folder));
  if (!wanted.length) return true;
  // a missing API key or a broken config is reported now, not after every document was converted
  for (const t of wanted) await t.folder.prepare();
  const estimates = await estimateWithProgress(wanted, 'Estimating the cost of the run');
  if (!estimates) {
    logger.info('Cost estimate cancelled: no extraction started');
    return false;
  }
  logEstimates(logger, estimates);
  const above = estimates.filter((e) => e.estimate.price !== undefined && e.estimate.cost > e.folder.settings().confirmCostAbove);
  if (!above.length) return true;
  const t = totals(estimates);
  const threshold = above[0].folder.settings().confirmCostAbove;
  const choice = await vscode.window.showWarningMessage(
    `Extract ${t.documents} document${t.documents === 1 ? '' : 's'} for an estimated ~${t.cost.toFixed(4)}?`,
    {
      modal: true,
      detail: `${estimateDetail(estimates)}\n\nAsked because the estimate is above ${threshold} (setting extractionWorkbench.confirmCostAbove; extractionWorkbench.confirmCost turns this question off).`,
    },
    START_EXTRACTION,
  );
  if (choice !== START_EXTRACTION) {
    logger.info('Extraction not started: the cost estimate was declined');
    return false;
  }
  return true;
}

/**
 * The "Estimate Cost" command: shows the estimate of `targets` (nothing is sent). Resolves with the
 * estimates, whether the user then started the run, or undefined when the estimate was cancelled.
 */
export async function showEstimate(targets: readonly EstimateTarget[], logger: Logger): Promise<{ estimates: FolderEstimate[]; start: boolean } | undefined> {
  const estimates = await estimateWithProgress(targets, 'Estimating the cost of extraction');
  if (!estimates) return undefined;
  logEstimates(logger, estimates);
  const t = totals(estimates);
  const what = `${t.documents} document${t.documents === 1 ? '' : 's'} to extract, ${t.requests} request${t.requests === 1 ? '' : 's'}`;
  const choice = await vscode.window.showInformationMessage(
    t.priced ? `Estimated cost: ~${t.cost.toFixed(4)} (${what})` : `Cost unknown: no price for the model (${what})`,
    { modal: true, detail: `${estimateDetail(estimates)}\n\nNothing was sent to the model.` },
    ...(t.documents > 0 ? [START_EXTRACTION] : []),
  );
  return { estimates, start: choice === START_EXTRACTION };
}
