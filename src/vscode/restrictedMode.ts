/**
 * Restricted Mode in the Documents view. The welcome view that explains it only shows while the tree is
 * empty; with the state of earlier runs in the tree the same explanation goes into the view's message line
 * above the documents, so the missing run actions never go unexplained.
 */
import * as vscode from 'vscode';
import { Disposable } from './dispose';
import type { DocumentsModel, TreeNode } from './tree/documentsModel';

export const RESTRICTED_TREE_MESSAGE = 'Restricted Mode: runs are off until you trust this workspace. The state of earlier runs and their results can still be viewed.';

export class RestrictedModeMessage extends Disposable {
  readonly #treeView: vscode.TreeView<TreeNode>;
  readonly #model: DocumentsModel;

  constructor(treeView: vscode.TreeView<TreeNode>, model: DocumentsModel) {
    super();
    this.#treeView = treeView;
    this.#model = model;
    this._register(model.onDidChange(() => this.update()));
    this._register(vscode.workspace.onDidGrantWorkspaceTrust(() => this.update()));
    this.update();
  }

  update(): void {
    const message = !vscode.workspace.isTrusted && this.#model.roots().length > 0 ? RESTRICTED_TREE_MESSAGE : undefined;
    if (this.#treeView.message !== message) this.#treeView.message = message;
  }
}
