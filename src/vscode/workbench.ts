/**
 * The run machinery of the extension, bundled apart as dist/workbench.js (issue #15): the workspace runs and
 * everything they pull in (src/app, src/core, src/extract, src/convert, src/store, src/export, openai, zod,
 * sql.js), the tree model, status bar, context keys, review panels, dashboard and the command handlers.
 *
 * dist/extension.js (src/extension.ts) activates without it: it registers the commands, the Documents view
 * and the review panel serializer as shells, and requires this bundle on first use or right after
 * activation, off the activation path. `openWorkbench` then wires what the shells forward to.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionApi } from './api';
import { commandHandler, commandTable, registerCommands } from './commands';
import { openReport } from './commands/report';
import { CommandIds, notify } from './commands/register';
import { readSettings } from './config';
import { ContextKeysController } from './contextKeys';
import { channelLogger } from './logger';
import { createHealthMonitor, DashboardFeature } from './dashboard/feature';
import { describeReview, ReviewPanels } from './review/reviewPanels';
import { RestrictedModeMessage } from './restrictedMode';
import { focusDocuments, RunFeedback } from './runFeedback';
import { ApiKeyStore, StatePasswordStore } from './secrets';
import { RunStatusBar } from './statusBar';
import { DocumentsModel, type TreeNode } from './tree/documentsModel';
import { DocumentsProvider } from './tree/documentsProvider';
import { WatchMode } from './watch';
import { WorkspaceRuns } from './workspaceRuns';

/** What the first-load bundle made at activation and hands over. */
export interface WorkbenchShell {
  readonly context: vscode.ExtensionContext;
  readonly channel: vscode.LogOutputChannel;
  /** The Documents view, created at activation with a provider that forwards to `attachTree`'s. */
  readonly treeView: vscode.TreeView<TreeNode>;
  attachTree(provider: vscode.TreeDataProvider<TreeNode>): void;
  /** Command ids the shell registered (those contributed in package.json): they forward to `commands`. */
  readonly registered: ReadonlySet<string>;
}

/** The loaded workbench: the API services, the command handlers and the review panels the shells forward to. */
export interface Workbench extends Omit<ExtensionApi, 'activation'> {
  readonly commands: ReadonlyMap<string, (...args: unknown[]) => Promise<unknown>>;
  readonly reviewPanels: ReviewPanels;
}

export function openWorkbench(shell: WorkbenchShell): Workbench {
  const { context, channel, treeView } = shell;
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

  const health = own(createHealthMonitor(workspaceRuns, logger));
  const reviewPanels = own(new ReviewPanels({ extensionUri: context.extensionUri, runs: workspaceRuns, logger, assetsDir: path.join(context.extensionPath, 'dist') }));
  const treeModel = own(new DocumentsModel(workspaceRuns, { summary: health, review: reviewPanels }));
  // marked reviewed (or corrected, rerun accepted): the "Needs review" group follows
  own(reviewPanels.onDidChangeReview((e) => treeModel.reviewChanged(e.folderKey)));
  own(vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('extractionWorkbench.review.confidenceThreshold') && treeModel.reviewChanged()));
  const treeProvider = own(new DocumentsProvider(treeModel));
  shell.attachTree(treeProvider);
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

  treeProvider.setDescriptionSuffix((node) => describeReview(reviewPanels.status(node.folderKey, node.doc.path)), reviewPanels.onDidChangeReview);

  const dashboard = own(new DashboardFeature({ extensionUri: context.extensionUri, runs: workspaceRuns, health, model: treeModel, treeView, logger, showLog: () => channel.show(true) }));

  const table = commandTable({ runs: workspaceRuns, model: treeModel, treeView, apiKeys, statePasswords, channel, logger }, reviewPanels, dashboard);
  const commands = new Map(table.map((spec) => [spec.id, commandHandler(spec, logger)]));
  // commands the shell did not register (none contributed in package.json is left out): registered here
  for (const d of registerCommands(
    table.filter((spec) => !shell.registered.has(spec.id)),
    logger,
  ))
    own(d);

  const restore = createRestore(workspaceRuns, treeModel, contextKeys, logger, context.subscriptions);
  const restored = restore();
  own(workspaceRuns.onDidAddFolders(() => void restore()));
  return { runs: workspaceRuns, treeModel, treeProvider, treeView, statusBar, contextKeys, watchMode, apiKeys, statePasswords, restored, commands, reviewPanels };
}

type ChannelLogger = ReturnType<typeof channelLogger>;

/**
 * Returns `restore()`: opens the stores of folders with state, so the tree shows the last state, and offers
 * to resume interrupted runs, once per folder. Called when the workbench opens and again for folders added
 * later (a .code-workspace the window resolves after the extension host started gives no folder at
 * activation). In Restricted Mode runs cannot start, so the offer waits until the workspace is trusted.
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
