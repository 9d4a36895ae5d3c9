/**
 * Entry of the VS Code extension (dist/extension.js), kept small so the host loads and activates it fast
 * (issue #15: under 100 ms). activate() only creates the output channel and the shells the window needs at
 * once: a handler for every command contributed in package.json, the Documents view with a deferred data
 * provider, and the Review panel serializer. The run machinery — src/vscode/workbench.ts, bundled apart as
 * dist/workbench.js — is required on first use (a command, the view asking for its elements, the API) or
 * on the next turn of the event loop after activate() returned; then the shells forward to it.
 * All behaviour lives in src/vscode/; the core (src/core, src/app, …) never imports `vscode`.
 */
import * as vscode from 'vscode';
import { REVIEW_VIEW_TYPE } from './shared/reviewViewType';
import { describeActivation, timeActivation } from './vscode/activationTime';
import type { ExtensionApi } from './vscode/api';
import { DeferredTreeProvider } from './vscode/tree/deferredProvider';
import type { TreeNode } from './vscode/tree/documentsModel';
import { DOCUMENTS_VIEW_ID } from './vscode/tree/viewId';
import { WorkbenchLoader } from './vscode/workbenchLoader';
import type { Workbench } from './vscode/workbench';

/** Time deactivate() gives in-flight documents before the store is closed. */
const SHUTDOWN_TIMEOUT_MS = 3000;

let loader: WorkbenchLoader<Workbench> | undefined;
let log: vscode.LogOutputChannel | undefined;

/** The workbench bundle, required when first needed (esbuild.js makes this a require of ./workbench.js beside this bundle). */
function requireWorkbench(): typeof import('./vscode/workbench') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./vscode/workbench') as typeof import('./vscode/workbench');
}

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const timed = timeActivation();
  const channel = vscode.window.createOutputChannel('Extraction Workbench', { log: true });
  context.subscriptions.push(channel);
  log = channel;
  try {
    const api = compose(context, channel);
    const activation = timed();
    channel.info(describeActivation(activation));
    loader?.loadSoon();
    return Object.defineProperty(api, 'activation', { value: activation, enumerable: true }) as ExtensionApi;
  } catch (err) {
    channel.error(err instanceof Error ? err : String(err));
    void vscode.window.showErrorMessage(`Extraction Workbench failed to start: ${(err as Error)?.message ?? err}`);
    throw err;
  }
}

function compose(context: vscode.ExtensionContext, channel: vscode.LogOutputChannel): Omit<ExtensionApi, 'activation'> {
  const own = <T extends vscode.Disposable>(d: T): T => {
    context.subscriptions.push(d);
    return d;
  };
  const contributed = ((context.extension.packageJSON as { contributes?: { commands?: Array<{ command: string }> } }).contributes?.commands ?? []).map((c) => c.command);
  const tree = own(new DeferredTreeProvider<TreeNode>(() => workbench.get()));
  const treeView = own(vscode.window.createTreeView<TreeNode>(DOCUMENTS_VIEW_ID, { treeDataProvider: tree, showCollapseAll: true, canSelectMany: true }));
  const workbench = new WorkbenchLoader<Workbench>(
    () => requireWorkbench().openWorkbench({ context, channel, treeView, attachTree: (p) => tree.attach(p), registered: new Set(contributed) }),
    (outcome) => {
      if ('ms' in outcome) channel.info(`Workbench loaded in ${outcome.ms.toFixed(0)} ms`);
      else {
        const err = outcome.error;
        channel.error(err instanceof Error ? err : String(err));
        void vscode.window.showErrorMessage(`Extraction Workbench failed to start: ${(err as Error)?.message ?? err}`);
      }
    },
  );
  loader = workbench;
  own(workbench);

  for (const id of contributed) {
    own(
      vscode.commands.registerCommand(id, (...args: unknown[]) => {
        const handler = workbench.get().commands.get(id);
        if (!handler) throw new Error(`Extraction Workbench has no handler for the command ${id}`);
        return handler(...args);
      }),
    );
  }
  own(
    vscode.window.registerWebviewPanelSerializer(REVIEW_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, state) => workbench.get().reviewPanels.deserializeWebviewPanel(panel, state),
    }),
  );

  // the services load with the workbench when first read (tests and other extensions read them after activation)
  return {
    get runs() {
      return workbench.get().runs;
    },
    get treeModel() {
      return workbench.get().treeModel;
    },
    get treeProvider() {
      return workbench.get().treeProvider;
    },
    treeView,
    get statusBar() {
      return workbench.get().statusBar;
    },
    get contextKeys() {
      return workbench.get().contextKeys;
    },
    get watchMode() {
      return workbench.get().watchMode;
    },
    get apiKeys() {
      return workbench.get().apiKeys;
    },
    get statePasswords() {
      return workbench.get().statePasswords;
    },
    get restored() {
      return workbench.ready.then((w) => w.restored);
    },
  };
}

export async function deactivate(): Promise<void> {
  const current = loader?.loaded;
  loader?.dispose();
  loader = undefined;
  try {
    await current?.runs.shutdown(SHUTDOWN_TIMEOUT_MS);
  } catch (err) {
    log?.error(err instanceof Error ? err : String(err));
  }
}
