/** What a command acts on: tree nodes (clicked, or the multi-selection), URIs, or a picked folder. */
import * as vscode from 'vscode';
import type { DocNode, TreeNode } from '../tree/documentsModel';
import type { FolderRuns, WorkspaceRuns } from '../workspaceRuns';

function isTreeNode(v: unknown): v is TreeNode {
  return !!v && typeof v === 'object' && 'kind' in v && 'id' in v && typeof (v as { id: unknown }).id === 'string';
}

/**
 * Documents a tree command applies to. Menus pass (clicked, selection[]); the clicked item wins when it is
 * not part of the selection. Without arguments (keybinding): the view's selection.
 */
export function docTargets(arg: unknown, args: unknown, treeView: vscode.TreeView<TreeNode>): DocNode[] {
  let nodes: TreeNode[];
  const selection = Array.isArray(args) ? args.filter(isTreeNode) : [];
  if (isTreeNode(arg)) nodes = selection.some((n) => n.id === arg.id) ? selection : [arg];
  else nodes = [...treeView.selection];
  return nodes.filter((n): n is DocNode => n.kind === 'doc');
}

/** Groups documents by their folder. */
export function byFolder(runs: WorkspaceRuns, nodes: readonly DocNode[]): Map<FolderRuns, string[]> {
  const out = new Map<FolderRuns, string[]>();
  for (const n of nodes) {
    const f = runs.get(n.folderKey);
    if (!f) continue;
    const list = out.get(f) ?? [];
    list.push(n.doc.path);
    out.set(f, list);
  }
  return out;
}

export function isUri(v: unknown): v is vscode.Uri {
  return v instanceof vscode.Uri;
}

/** URIs from an Explorer context menu: (clicked, selected[]). */
export function uriTargets(arg: unknown, args: unknown): vscode.Uri[] {
  const selected = Array.isArray(args) ? args.filter(isUri) : [];
  if (selected.length) return selected;
  return isUri(arg) ? [arg] : [];
}

/** The one folder among `candidates`, or the one the user picks; undefined when cancelled or none. */
export async function pickFolder(candidates: readonly FolderRuns[], placeHolder: string): Promise<FolderRuns | undefined> {
  if (candidates.length <= 1) return candidates[0];
  const picked = await vscode.window.showQuickPick(
    candidates.map((f) => ({ label: f.name, description: f.root, folder: f })),
    { placeHolder, ignoreFocusOut: true },
  );
  return picked?.folder;
}

/** The URI of the active editor or tab (works for binary files such as PDFs shown by a custom editor). */
export function activeResource(): vscode.Uri | undefined {
  const editor = vscode.window.activeTextEditor;
  if (editor && editor.document.uri.scheme === 'file') return editor.document.uri;
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) return input.uri;
  return undefined;
}
