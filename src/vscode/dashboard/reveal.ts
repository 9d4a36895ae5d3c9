/**
 * Leads from the dashboard and the health notification to the documents behind a number: focuses the
 * Documents view, expands the failed / dead-letter group and selects the first document concerned.
 */
import * as vscode from 'vscode';
import { DOCUMENTS_VIEW_ID } from '../statusBar';
import type { DocNode, DocumentsModel, GroupNode, TreeNode } from '../tree/documentsModel';
import type { GroupId } from '../tree/groups';
import type { WorkspaceRuns } from '../workspaceRuns';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RevealResult {
  /** The document selected in the tree, if any. */
  path?: string;
  /** The group that was expanded. */
  group?: GroupId;
  /** Documents that currently match (capped at the scan limit). */
  matches: number;
}

export class TreeRevealer {
  constructor(
    private readonly runs: WorkspaceRuns,
    private readonly model: DocumentsModel,
    private readonly treeView: vscode.TreeView<TreeNode>,
  ) {}

  /** Focuses the Documents view and expands (and selects) a status group of a folder. */
  async showGroup(folderKey: string, group: GroupId, select = true): Promise<GroupNode | undefined> {
    this.model.flush();
    const node = this.model.group(folderKey, group);
    if (!node || node.count === 0) return undefined;
    await vscode.commands.executeCommand(`${DOCUMENTS_VIEW_ID}.focus`);
    await this.#reveal(node, { expand: true, select, focus: select });
    return node;
  }

  /** "Show Dead Letters": the dead-letter group of the folder (or of the first folder that has any). */
  async showDeadLetters(folderKey?: string): Promise<GroupNode | undefined> {
    this.model.flush();
    const keys = folderKey ? [folderKey] : this.runs.folders().map((f) => f.key);
    for (const key of keys) {
      if ((this.model.group(key, 'deadLettered')?.count ?? 0) > 0) return this.showGroup(key, 'deadLettered');
    }
    await vscode.commands.executeCommand(`${DOCUMENTS_VIEW_ID}.focus`);
    return undefined;
  }

  /** Selects one document in the tree (expanding its group). */
  async revealDocument(folderKey: string, path: string): Promise<DocNode | undefined> {
    this.model.flush();
    const node = this.model.findDocument(folderKey, path);
    if (!node) return undefined;
    await vscode.commands.executeCommand(`${DOCUMENTS_VIEW_ID}.focus`);
    await this.#reveal(node.parent, { expand: true, select: false, focus: false });
    await this.#reveal(node, { select: true, focus: true, expand: false });
    return node;
  }

  /**
   * The documents whose last error has `code`: the failed group is searched first, then dead letters
   * (at most `scanLimit` rows each); the first match is selected. When no document has the code any more
   * (they succeeded on a retry), the run's example paths are tried wherever those documents are now.
   */
  async revealErrorCode(folderKey: string, code: string, examplePaths: readonly string[] = [], scanLimit = 5000): Promise<RevealResult> {
    const store = this.runs.get(folderKey)?.store;
    if (!store) return { matches: 0 };
    const found: Array<{ path: string; group: GroupId }> = [];
    for (const [stage, group] of [
      ['failed', 'failed'],
      ['dead-lettered', 'deadLettered'],
    ] as const) {
      for (let offset = 0; offset < scanLimit; offset += 500) {
        const rows = store.listDocuments({ stages: [stage], offset, limit: 500 });
        for (const d of rows) if (d.lastError?.code === code && d.readiness !== 'rejected') found.push({ path: d.path, group });
        if (rows.length < 500) break;
      }
    }
    const first = found[0];
    if (first) {
      const node = await this.revealDocument(folderKey, first.path);
      if (!node) await this.showGroup(folderKey, first.group);
      return { path: first.path, group: first.group, matches: found.length };
    }
    for (const p of examplePaths) {
      const node = await this.revealDocument(folderKey, p);
      if (node) return { path: p, group: node.group, matches: 0 };
    }
    return { matches: 0 };
  }

  /** TreeView.reveal, retried: right after the view becomes visible it may not know the node yet. */
  async #reveal(node: TreeNode, options: { select: boolean; focus: boolean; expand: boolean }): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await this.treeView.reveal(node, options);
        return;
      } catch (err) {
        if (i >= 20) throw err;
        await sleep(100);
      }
    }
  }
}
