/** What `activate()` returns: the services tests (and other extensions) need, instead of globals. */
import type * as vscode from 'vscode';
import type { ActivationTime } from './activationTime';
import type { RunStatusBar } from './statusBar';
import type { ContextKeysController } from './contextKeys';
import type { ApiKeyStore } from './secrets';
import type { DocumentsModel, TreeNode } from './tree/documentsModel';
import type { DocumentsProvider } from './tree/documentsProvider';
import type { WatchMode } from './watch';
import type { WorkspaceRuns } from './workspaceRuns';

export interface ExtensionApi {
  readonly runs: WorkspaceRuns;
  readonly treeModel: DocumentsModel;
  readonly treeProvider: DocumentsProvider;
  readonly treeView: vscode.TreeView<TreeNode>;
  readonly statusBar: RunStatusBar;
  readonly contextKeys: ContextKeysController;
  readonly watchMode: WatchMode;
  readonly apiKeys: ApiKeyStore;
  /** Resolves once the stores of folders with state are open (the tree shows the last state). */
  readonly restored: Promise<void>;
  /** How long loading the bundle and activate() took (src/vscode/activationTime.ts). */
  readonly activation: ActivationTime;
}
