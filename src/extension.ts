import * as vscode from 'vscode';

// Temporary composition root; the VS Code layer lands in src/vscode/.
export function activate(context: vscode.ExtensionContext): void {
  const tree: vscode.TreeDataProvider<string> = {
    getTreeItem: (e) => new vscode.TreeItem(e),
    getChildren: () => [],
  };
  context.subscriptions.push(vscode.window.createTreeView('extractionWorkbench.documents', { treeDataProvider: tree }));
  const status = vscode.window.createStatusBarItem('extractionWorkbench.status', vscode.StatusBarAlignment.Left, 100);
  status.name = 'Extraction Workbench';
  status.text = '$(file-text) Extraction: idle';
  status.command = 'extractionWorkbench.documents.focus';
  status.show();
  context.subscriptions.push(status);
  context.subscriptions.push(vscode.commands.registerCommand('extractionWorkbench.extractWorkspace', () => vscode.window.showInformationMessage('Not wired yet')));
}

export function deactivate(): void {}
