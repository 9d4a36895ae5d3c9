/**
 * Registers the command table: each handler is wrapped with the Restricted Mode check (commands that start
 * runs) and one error reporter that turns known errors into a message with the right action button.
 */
import * as vscode from 'vscode';
import { ErrorCodes, ExtractionError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import { MissingApiKeyError } from '../secrets';
import { NoConfigError } from '../workspaceRuns';
import type { CommandSpec } from './types';

export const CommandIds = {
  extractWorkspace: 'extractionWorkbench.extractWorkspace',
  extractFolder: 'extractionWorkbench.extractFolder',
  extractCurrentFile: 'extractionWorkbench.extractCurrentFile',
  extractSelected: 'extractionWorkbench.extractSelected',
  estimateCost: 'extractionWorkbench.estimateCost',
  pause: 'extractionWorkbench.pause',
  resume: 'extractionWorkbench.resume',
  stop: 'extractionWorkbench.stop',
  retry: 'extractionWorkbench.retry',
  retryFailed: 'extractionWorkbench.retryFailed',
  reprocessDeadLetters: 'extractionWorkbench.reprocessDeadLetters',
  removeDeadLetter: 'extractionWorkbench.removeDeadLetter',
  openSource: 'extractionWorkbench.openSource',
  openResult: 'extractionWorkbench.openResult',
  revealInExplorer: 'extractionWorkbench.revealInExplorer',
  copyError: 'extractionWorkbench.copyError',
  setApiKey: 'extractionWorkbench.setApiKey',
  clearApiKey: 'extractionWorkbench.clearApiKey',
  setStatePassword: 'extractionWorkbench.setStatePassword',
  clearStatePassword: 'extractionWorkbench.clearStatePassword',
  selectJob: 'extractionWorkbench.selectJob',
  showLog: 'extractionWorkbench.showLog',
  exportReport: 'extractionWorkbench.exportReport',
  exportDataset: 'extractionWorkbench.exportDataset',
  createConfig: 'extractionWorkbench.createConfig',
  loadMore: 'extractionWorkbench.loadMore',
  refresh: 'extractionWorkbench.refresh',
} as const;

/** Shows a message without waiting for it to be dismissed; runs the chosen action. */
export function notify(kind: 'info' | 'warning' | 'error', message: string, actions: Record<string, () => unknown> = {}): void {
  const items = Object.keys(actions);
  const shown =
    kind === 'info' ? vscode.window.showInformationMessage(message, ...items) : kind === 'warning' ? vscode.window.showWarningMessage(message, ...items) : vscode.window.showErrorMessage(message, ...items);
  void shown.then((choice) => {
    if (choice) void Promise.resolve(actions[choice]?.()).catch(() => undefined);
  });
}

export function showRestrictedMode(): void {
  notify('warning', 'Extraction runs are disabled in Restricted Mode: they read workspace files and send them to a model. Trust this workspace to run them; results and state can still be viewed.', {
    'Manage Workspace Trust': () => vscode.commands.executeCommand('workbench.trust.manage'),
  });
}

/**
 * One place that turns errors into messages a person can act on. `folder` names the workspace folder the
 * error belongs to, when there are several.
 */
export function reportError(err: unknown, logger: Logger, folder?: string): void {
  const where = folder ? `${folder}: ` : '';
  if (err instanceof NoConfigError) {
    notify('warning', err.message, { 'Create Extraction Config': () => vscode.commands.executeCommand(CommandIds.createConfig) });
    return;
  }
  if (err instanceof MissingApiKeyError) {
    notify('error', `${where}${err.message}`, { 'Set API Key': () => vscode.commands.executeCommand(CommandIds.setApiKey) });
    return;
  }
  if (err instanceof ExtractionError && (err.code === ErrorCodes.INVALID_CONFIG || err.code === ErrorCodes.INVALID_SCHEMA)) {
    logger.error(`${where}[${err.code}] ${err.message}`);
    notify('error', `${where}${err.message}`, { 'Show Log': () => vscode.commands.executeCommand(CommandIds.showLog) });
    return;
  }
  logger.error(err instanceof Error && !folder ? err : `${where}${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  notify('error', `Extraction Workbench: ${where}${err instanceof Error ? err.message : String(err)}`, { 'Show Log': () => vscode.commands.executeCommand(CommandIds.showLog) });
}

/** The handler of one command as registered: the Restricted Mode check, then the error reporter. */
export function commandHandler(spec: CommandSpec, logger: Logger): (...args: unknown[]) => Promise<unknown> {
  return async (...args: unknown[]) => {
    if (spec.startsRun && !vscode.workspace.isTrusted) {
      showRestrictedMode();
      return undefined;
    }
    try {
      return await spec.run(...args);
    } catch (err) {
      reportError(err, logger);
      return undefined;
    }
  };
}

export function registerCommands(table: readonly CommandSpec[], logger: Logger): vscode.Disposable[] {
  return table.map((spec) => vscode.commands.registerCommand(spec.id, commandHandler(spec, logger)));
}
