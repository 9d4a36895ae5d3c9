/** The command table: every command is one entry, registered in one loop (see register.ts). */
import type * as vscode from 'vscode';
import type { Logger } from '../../core/logger';
import type { ApiKeyStore, StatePasswordStore } from '../secrets';
import type { DocumentsModel, TreeNode } from '../tree/documentsModel';
import type { WorkspaceRuns } from '../workspaceRuns';

/** What command handlers work with, passed in explicitly (no service locator). */
export interface CommandServices {
  readonly runs: WorkspaceRuns;
  readonly model: DocumentsModel;
  readonly treeView: vscode.TreeView<TreeNode>;
  readonly apiKeys: ApiKeyStore;
  readonly statePasswords: StatePasswordStore;
  readonly channel: vscode.LogOutputChannel;
  readonly logger: Logger;
}

export interface CommandSpec {
  /** Full command id, as contributed in package.json. */
  readonly id: string;
  /**
   * Starts or resumes extraction runs (reads workspace files, talks to a model): refused in Restricted Mode
   * with a message; its menu entries also carry `when: isWorkspaceTrusted`.
   */
  readonly startsRun?: boolean;
  readonly run: (...args: unknown[]) => unknown;
}
