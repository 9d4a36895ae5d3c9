/**
 * The Documents tree PROVIDER: maps the model's nodes to TreeItems (labels, codicons, ids, contextValues
 * that menus filter on). All state lives in {@link DocumentsModel}.
 */
import * as vscode from 'vscode';
import type { DocumentState, RunCounts } from '../../core/types';
import { Disposable } from '../dispose';
import { documentContextValue, groupContextValue, jobLine, type GroupId } from './groups';
import type { DocNode, DocumentsModel, FolderNode, GroupNode, MoreNode, SummaryNode, TreeNode } from './documentsModel';

export const LOAD_MORE_COMMAND = 'extractionWorkbench.loadMore';
export const OPEN_SOURCE_COMMAND = 'extractionWorkbench.openSource';
export const OPEN_DASHBOARD_COMMAND = 'extractionWorkbench.openDashboard';

/** The run waits for a failing provider. */
const WAITING_ICON = new vscode.ThemeIcon('debug-disconnect', new vscode.ThemeColor('problemsWarningIcon.foreground'));

const HEALTH_ICONS = {
  healthy: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  degraded: new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')),
  unhealthy: new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground')),
} as const;

const GROUP_ICONS: Record<GroupId, vscode.ThemeIcon> = {
  pending: new vscode.ThemeIcon('circle-outline'),
  running: new vscode.ThemeIcon('sync~spin'),
  needsReview: new vscode.ThemeIcon('eye', new vscode.ThemeColor('problemsWarningIcon.foreground')),
  done: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  deadLettered: new vscode.ThemeIcon('archive', new vscode.ThemeColor('problemsWarningIcon.foreground')),
  rejected: new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('disabledForeground')),
};

const DOC_ICONS: Record<GroupId, vscode.ThemeIcon> = {
  ...GROUP_ICONS,
  deadLettered: new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')),
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function summary(c: RunCounts): string {
  const parts = [`${c.done}/${c.total - c.rejected} done`];
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.deadLettered) parts.push(`${c.deadLettered} dead-lettered`);
  return parts.join(' · ');
}

export function describeDocument(doc: DocumentState, group: GroupId): string {
  switch (group) {
    case 'rejected':
      return 'rejected';
    case 'pending':
      return doc.attempts ? `pending · ${plural(doc.attempts, 'attempt')}` : 'pending';
    case 'needsReview':
      return 'needs review';
    case 'done':
      return doc.durationMs !== undefined ? `done · ${plural(doc.attempts, 'attempt')} · ${(doc.durationMs / 1000).toFixed(1)} s` : `done · ${plural(doc.attempts, 'attempt')}`;
    default:
      return `${doc.stage} · ${doc.attempts ? `attempt ${doc.attempts}` : 'not started'}`;
  }
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

function tooltip(doc: DocumentState, group: GroupId): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.supportHtml = false;
  md.appendMarkdown(`**${escapeMd(doc.path)}**\n\n`);
  md.appendMarkdown(`Stage: ${escapeMd(doc.stage)} · attempts: ${doc.attempts}\n\n`);
  const job = jobLine(doc);
  if (job) md.appendMarkdown(`${escapeMd(job)}\n\n`);
  if (group === 'rejected' && doc.rejectReason) md.appendMarkdown(`Rejected: ${escapeMd(doc.rejectReason)}\n\n`);
  if (doc.lastError && group !== 'done' && group !== 'needsReview') {
    md.appendMarkdown(`Error \`${escapeMd(doc.lastError.code)}\` in ${escapeMd(doc.lastError.stage)}:\n\n`);
    md.appendCodeblock(doc.lastError.message, 'text');
  }
  if (doc.tokensIn || doc.tokensOut) md.appendMarkdown(`\n\nTokens: ${doc.tokensIn} in, ${doc.tokensOut} out${doc.cost ? ` · cost ${doc.cost.toFixed(4)}` : ''}`);
  return md;
}

export class DocumentsProvider extends Disposable implements vscode.TreeDataProvider<TreeNode> {
  readonly #model: DocumentsModel;
  readonly #onDidChangeTreeData = this._register(new vscode.EventEmitter<TreeNode | TreeNode[] | undefined>());
  readonly onDidChangeTreeData = this.#onDidChangeTreeData.event;
  #suffix: ((node: DocNode) => string | undefined) | undefined;

  constructor(model: DocumentsModel) {
    super();
    this.#model = model;
    this._register(model.onDidChange((nodes) => this.#onDidChangeTreeData.fire(nodes ? [...nodes] : undefined)));
  }

  /** Appends `suffix(node)` to document descriptions (e.g. the review state); refreshes when `onDidChange` fires. */
  setDescriptionSuffix(suffix: (node: DocNode) => string | undefined, onDidChange: vscode.Event<unknown>): void {
    this.#suffix = suffix;
    this._register(onDidChange(() => this.#onDidChangeTreeData.fire(undefined)));
  }

  getChildren(element?: TreeNode): TreeNode[] {
    return this.#model.children(element);
  }

  getParent(element: TreeNode): TreeNode | undefined {
    return this.#model.parent(element);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    switch (node.kind) {
      case 'folder':
        return this.#folderItem(node);
      case 'group':
        return this.#groupItem(node);
      case 'doc':
        return this.#docItem(node);
      case 'more':
        return this.#moreItem(node);
      case 'summary':
        return this.#summaryItem(node);
    }
  }

  #summaryItem(node: SummaryNode): vscode.TreeItem {
    const { info } = node;
    const item = new vscode.TreeItem(info.label, vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = info.description;
    item.iconPath = info.waiting ? WAITING_ICON : HEALTH_ICONS[info.level];
    item.contextValue = `runSummary.${info.level}`;
    item.tooltip = [...info.details, '', 'Click to open the run dashboard.'].join('\n');
    item.command = { command: OPEN_DASHBOARD_COMMAND, title: 'Open Run Dashboard', arguments: [node] };
    item.accessibilityInformation = { label: `${info.label}, health ${info.level}, ${info.description}` };
    return item;
  }

  #folderItem(node: FolderNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Expanded);
    item.id = node.id;
    item.description = summary(node.counts);
    item.iconPath = new vscode.ThemeIcon('root-folder');
    item.contextValue = 'folder';
    return item;
  }

  #groupItem(node: GroupNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.label, node.group === 'running' || node.group === 'failed' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    item.id = node.id;
    item.description = String(node.count);
    item.iconPath = GROUP_ICONS[node.group];
    item.contextValue = groupContextValue(node.group);
    item.tooltip = `${plural(node.count, 'document')} ${node.label.toLowerCase()}`;
    return item;
  }

  #docItem(node: DocNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.doc.path, vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    const suffix = this.#suffix?.(node);
    item.description = describeDocument(node.doc, node.group) + (suffix ? ` · ${suffix}` : '');
    item.iconPath = DOC_ICONS[node.group];
    item.contextValue = documentContextValue(node.group);
    item.tooltip = tooltip(node.doc, node.group);
    item.command = { command: OPEN_SOURCE_COMMAND, title: 'Open Source', arguments: [node] };
    item.accessibilityInformation = { label: `${node.doc.path}, ${describeDocument(node.doc, node.group)}` };
    return item;
  }

  #moreItem(node: MoreNode): vscode.TreeItem {
    const item = new vscode.TreeItem('Load more…', vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = node.remaining ? `${node.remaining} more` : undefined;
    item.iconPath = new vscode.ThemeIcon('ellipsis');
    item.contextValue = 'loadMore';
    item.command = { command: LOAD_MORE_COMMAND, title: 'Load More', arguments: [node] };
    return item;
  }
}
