/**
 * Composition root of the VS Code extension: creates the services, registers the command table and the
 * UI, and returns the API object. All behaviour lives in src/vscode/; the core (src/core, src/app, …)
 * never imports `vscode`.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describeActivation, timeActivation } from './vscode/activationTime';
import type { ExtensionApi } from './vscode/api';
import { commandTable, registerCommands } from './vscode/commands';
import { openReport } from './vscode/commands/report';
import { CommandIds, notify } from './vscode/commands/register';
import { readSettings } from './vscode/config';
import { ContextKeysController } from './vscode/contextKeys';
import { channelLogger } from './vscode/logger';
import { createHealthMonitor, DashboardFeature } from './vscode/dashboard/feature';
import { describeReview, ReviewPanels } from './vscode/review/reviewPanels';
import { REVIEW_VIEW_TYPE } from './shared/reviewProtocol';
import { RestrictedModeMessage } from './vscode/restrictedMode';
import { focusDocuments, RunFeedback } from './vscode/runFeedback';
import { ApiKeyStore, StatePasswordStore } from './vscode/secrets';
import { DOCUMENTS_VIEW_ID, RunStatusBar } from './vscode/statusBar';
import { DocumentsModel, type TreeNode } from './vscode/tree/documentsModel';
import { DocumentsProvider } from './vscode/tree/documentsProvider';
import { WatchMode } from './vscode/watch';
import { WorkspaceRuns } from './vscode/workspaceRuns';

/** Time deactivate() gives in-flight documents before the store is closed. */
const SHUTDOWN_TIMEOUT_MS = 3000;

let runs: WorkspaceRuns | undefined;
let log: vscode.LogOutputChannel | undefined;

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const timed = timeActivation();
  const channel = vscode.window.createOutputChannel('Extraction Workbench', { log: true });
  context.subscriptions.push(channel);
  log = channel;
  const logger = channelLogger(channel);
  try {
    const api = compose(context, channel);
    const activation = timed();
    logger.info(describeActivation(activation));
    return { ...api, activation };
  } catch (err) {
    logger.error(err instanceof Error ? err : String(err));
    void vscode.window.showErrorMessage(`Extraction Workbench failed to start: ${(err as Error)?.message ?? err}`);
    throw err;
  }
}

function compose(context: vscode.ExtensionContext, channel: vscode.LogOutputChannel): Omit<ExtensionApi, 'activation'> {
  const logger = channelLogger(channel);
  const own = <T extends vscode.Disposable>(d: T): T => {
    context.subscriptions.push(d);
    return d;
  };
  const apiKeys = new ApiKeyStore(context.secrets);
  const statePasswords = new StatePasswordStore(context.secrets);
  const workspaceRuns = own(
    new WorkspaceRuns({
      logger,
      assetsDir: path.join(context.extensionPath, 'dist'),
      settings: (folder) => readSettings(folder.uri),
      apiKey: (baseURL) => apiKeys.resolve(baseURL),
      statePassword: () => statePasswords.get(),
      memento: context.workspaceState,
    }),
  );
  runs = workspaceRuns;

  const health = own(createHealthMonitor(workspaceRuns, logger));
  const reviewPanels = own(new ReviewPanels({ extensionUri: context.extensionUri, runs: workspaceRuns, logger, assetsDir: path.join(context.extensionPath, 'dist') }));
  const treeModel = own(new DocumentsModel(workspaceRuns, { summary: health, review: reviewPanels }));
  // marked reviewed (or corrected, rerun accepted): the "Needs review" group follows
  own(reviewPanels.onDidChangeReview((e) => treeModel.reviewChanged(e.folderKey)));
  own(vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('extractionWorkbench.review.confidenceThreshold') && treeModel.reviewChanged()));
  const treeProvider = own(new DocumentsProvider(treeModel));
  const treeView = own(vscode.window.createTreeView<TreeNode>(DOCUMENTS_VIEW_ID, { treeDataProvider: treeProvider, showCollapseAll: true, canSelectMany: true }));
  const updateBadge = () => {
    const c = treeModel.counts();
    const n = c.failed + c.deadLettered;
    treeView.badge = n ? { value: n, tooltip: `${n} document${n === 1 ? '' : 's'} failed or dead-lettered` } : undefined;
  };
  own(treeModel.onDidFlush(updateBadge));
  own(new RestrictedModeMessage(treeView, treeModel));

  const contextKeys = own(new ContextKeysController(workspaceRuns));
  // a job's review.confidenceThreshold wins over the setting: the group follows the config file too
  own(contextKeys.onDidChangeConfigFile(() => treeModel.reviewChanged()));
  const statusBar = own(new RunStatusBar(workspaceRuns, { health, onDidChangeJob: contextKeys.onDidChangeConfigFile }));
  const showFailed = async () => {
    await focusDocuments();
    for (const f of workspaceRuns.folders()) {
      for (const g of ['failed', 'deadLettered'] as const) {
        const node = treeModel.group(f.key, g);
        if (node && node.count > 0) await treeView.reveal(node, { expand: true, focus: g === 'failed' || !treeModel.group(f.key, 'failed')?.count }).then(undefined, () => undefined);
      }
    }
  };
  own(new RunFeedback(workspaceRuns, { logger, showFailed, openReport: () => openReport(workspaceRuns) }));
  const watchMode = own(new WatchMode(workspaceRuns, logger, { onDidChangeConfigFile: contextKeys.onDidChangeConfigFile }));
  own(apiKeys.onDidChange(() => logger.info('API key changed')));
  own(
    statePasswords.onDidChange(() => {
      logger.info('State database password changed');
      workspaceRuns.reopenDatabases();
    }),
  );

  own(vscode.window.registerWebviewPanelSerializer(REVIEW_VIEW_TYPE, reviewPanels));
  treeProvider.setDescriptionSuffix((node) => describeReview(reviewPanels.status(node.folderKey, node.doc.path)), reviewPanels.onDidChangeReview);

  const dashboard = own(new DashboardFeature({ extensionUri: context.extensionUri, runs: workspaceRuns, health, model: treeModel, treeView, logger, showLog: () => channel.show(true) }));

  for (const d of registerCommands(commandTable({ runs: workspaceRuns, model: treeModel, treeView, apiKeys, statePasswords, channel, logger }, reviewPanels, dashboard), logger)) own(d);

  const restore = createRestore(workspaceRuns, treeModel, contextKeys, logger, context.subscriptions);
  const restored = restore();
  own(workspaceRuns.onDidAddFolders(() => void restore()));
  return { runs: workspaceRuns, treeModel, treeProvider, treeView, statusBar, contextKeys, watchMode, apiKeys, statePasswords, restored };
}

type ChannelLogger = ReturnType<typeof channelLogger>;

/**
 * Returns `restore()`: opens the stores of folders with state, so the tree shows the last state, and offers
 * to resume interrupted runs, once per folder. Called at activation and again for folders added later (a
 * .code-workspace the window resolves after the extension host started gives no folder at activation). In
 * Restricted Mode runs cannot start, so the offer waits until the workspace is trusted.
 */
function createRestore(workspaceRuns: WorkspaceRuns, model: DocumentsModel, contextKeys: ContextKeysController, logger: ChannelLogger, subscriptions: vscode.Disposable[]): () => Promise<void> {
  const offered = new Set<string>();
  const offerResume = (): void => {
    const interrupted = workspaceRuns.folders().filter((f) => !offered.has(f.key) && f.interruptedRun());
    if (!interrupted.length) return;
    for (const f of interrupted) offered.add(f.key);
    const c = interrupted.reduce((n, f) => n + (f.store?.counts().pending ?? 0) + (f.store?.counts().failed ?? 0), 0);
    const where = interrupted.length === 1 && workspaceRuns.folders().length > 1 ? ` in ${interrupted[0].name}` : '';
    logger.info(`The last run${where} was interrupted with ${c} document(s) left`);
    notify('info', `The last extraction run${where} was interrupted with ${c} document${c === 1 ? '' : 's'} left.`, {
      Resume: () => vscode.commands.executeCommand(CommandIds.resume),
    });
  };
  subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(offerResume));
  return async () => {
    try {
      await workspaceRuns.restore();
      model.reload();
      contextKeys.update();
      if (vscode.workspace.isTrusted) offerResume();
      else if (workspaceRuns.folders().some((f) => f.interruptedRun())) logger.info('The last run was interrupted; it can be resumed once this workspace is trusted (Restricted Mode)');
    } catch (err) {
      logger.error(err instanceof Error ? err : String(err));
    }
  };
}

export async function deactivate(): Promise<void> {
  const current = runs;
  runs = undefined;
  try {
    await current?.shutdown(SHUTDOWN_TIMEOUT_MS);
  } catch (err) {
    log?.error(err instanceof Error ? err : String(err));
  }
}
