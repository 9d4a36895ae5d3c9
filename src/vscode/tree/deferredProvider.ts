/**
 * The Documents view's data provider at activation, before the workbench bundle is loaded (issue #15): the
 * view is created with this shell, which forwards to the real provider once one is attached. The first
 * request before then (the view shown, a reveal) asks `load` to attach it — the workbench loads there,
 * outside activate().
 */
import * as vscode from 'vscode';

export class DeferredTreeProvider<T> implements vscode.TreeDataProvider<T>, vscode.Disposable {
  #target: vscode.TreeDataProvider<T> | undefined;
  #forward: vscode.Disposable | undefined;
  readonly #onDidChangeTreeData = new vscode.EventEmitter<T | T[] | undefined | null | void>();
  readonly onDidChangeTreeData = this.#onDidChangeTreeData.event;

  /** `load` attaches the provider (by calling `attach`) or throws. */
  constructor(private readonly load: () => void) {}

  /** Forwards to `provider` from now on; the view asks for its elements again. */
  attach(provider: vscode.TreeDataProvider<T>): void {
    this.#forward?.dispose();
    this.#target = provider;
    this.#forward = provider.onDidChangeTreeData?.((e) => this.#onDidChangeTreeData.fire(e));
    this.#onDidChangeTreeData.fire(undefined);
  }

  #provider(): vscode.TreeDataProvider<T> {
    if (!this.#target) this.load();
    if (!this.#target) throw new Error('The Documents view has no data provider');
    return this.#target;
  }

  getChildren(element?: T): vscode.ProviderResult<T[]> {
    return this.#provider().getChildren(element);
  }

  getTreeItem(element: T): vscode.TreeItem | Thenable<vscode.TreeItem> {
    return this.#provider().getTreeItem(element);
  }

  getParent(element: T): vscode.ProviderResult<T> {
    return this.#provider().getParent?.(element);
  }

  dispose(): void {
    this.#forward?.dispose();
    this.#onDidChangeTreeData.dispose();
  }
}
