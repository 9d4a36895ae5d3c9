/**
 * Run health and the run dashboard, composed: health monitor (status bar, tree summary), notifier,
 * tree revealer and the dashboard panel. `activate()` creates the monitor before the tree model (the model
 * shows its summaries) and this feature once the tree view exists.
 */
import * as vscode from 'vscode';
import type { Logger } from '../../core/logger';
import { Disposable } from '../dispose';
import type { DocumentsModel, TreeNode } from '../tree/documentsModel';
import type { WorkspaceRuns } from '../workspaceRuns';
import { RunDashboard } from './dashboardPanel';
import { readHealthSettings } from './healthConfig';
import { HealthMonitor } from './healthMonitor';
import { HealthNotifier } from './healthNotifier';
import { TreeRevealer } from './reveal';

export const DashboardCommandIds = {
  openDashboard: 'extractionWorkbench.openDashboard',
  showDeadLetters: 'extractionWorkbench.showDeadLetters',
} as const;

/** A logger that writes each distinct warning once (settings are read on every health computation). */
function warnOnce(logger: Logger): Logger {
  const seen = new Set<string>();
  return {
    ...logger,
    warn: (m, ...a) => {
      const key = String(m);
      if (seen.has(key)) return;
      seen.add(key);
      logger.warn(m, ...a);
    },
  };
}

/** The health monitor on its own (created before the tree model, which shows its summaries). */
export function createHealthMonitor(runs: WorkspaceRuns, logger: Logger): HealthMonitor {
  const settingsLog = warnOnce(logger);
  return new HealthMonitor(runs, { settings: () => readHealthSettings(settingsLog), logger });
}

export interface DashboardFeatureOptions {
  extensionUri: vscode.Uri;
  runs: WorkspaceRuns;
  health: HealthMonitor;
  model: DocumentsModel;
  treeView: vscode.TreeView<TreeNode>;
  logger: Logger;
  showLog: () => unknown;
}

export class DashboardFeature extends Disposable {
  readonly health: HealthMonitor;
  readonly revealer: TreeRevealer;
  readonly dashboard: RunDashboard;
  readonly notifier: HealthNotifier;

  constructor(o: DashboardFeatureOptions) {
    super();
    this.health = o.health;
    this.revealer = new TreeRevealer(o.runs, o.model, o.treeView);
    this.notifier = this._register(
      new HealthNotifier(o.health, {
        logger: o.logger,
        enabled: () => readHealthSettings().notify,
        showDeadLetters: (key) => this.revealer.showDeadLetters(key),
        showLog: o.showLog,
        openDashboard: (key) => this.dashboard.open({ folderKey: key }),
        multiFolder: () => o.runs.folders().length > 1,
      }),
    );
    this.dashboard = this._register(
      new RunDashboard({ extensionUri: o.extensionUri, runs: o.runs, health: o.health, revealer: this.revealer, notifier: this.notifier, settings: () => readHealthSettings(o.logger), logger: o.logger }),
    );
  }
}
