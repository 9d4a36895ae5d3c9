/**
 * Show History (Documents view context menu): a document's attempts, errors and raw replies as a read-only
 * Markdown document, the same history as `extraction-workbench history <path>`.
 *
 * The document is virtual (`extraction-history:` URIs, read-only in the editor) and computed from the
 * folder's checkpoint store each time it is opened or shown again, so it is never stale and nothing is
 * written to disk. The content provider is registered while history documents are open: the first Show
 * History registers it, closing the last such document disposes it.
 */
import * as vscode from 'vscode';
import { formatHistoryMarkdown, readDocumentHistory } from '../../app/documentHistory';
import type { WorkspaceRuns } from '../workspaceRuns';
import { notify } from './register';
import { docTargets } from './targets';
import type { CommandServices, CommandSpec } from './types';

export const HistoryCommandIds = {
  showHistory: 'extractionWorkbench.showHistory',
} as const;

export const HISTORY_SCHEME = 'extraction-history';

interface HistoryTarget {
  folderKey: string;
  path: string;
}

/** `extraction-history:/<folder>/<path>.history.md?<folder key and path, base64url JSON>` */
export function historyUri(folderName: string, target: HistoryTarget): vscode.Uri {
  const query = Buffer.from(JSON.stringify(target), 'utf8').toString('base64url');
  return vscode.Uri.from({ scheme: HISTORY_SCHEME, path: `/${folderName}/${target.path}.history.md`, query });
}

function targetOf(uri: vscode.Uri): HistoryTarget | undefined {
  try {
    const t = JSON.parse(Buffer.from(uri.query, 'base64url').toString('utf8')) as Partial<HistoryTarget>;
    return typeof t.folderKey === 'string' && typeof t.path === 'string' ? { folderKey: t.folderKey, path: t.path } : undefined;
  } catch {
    return undefined;
  }
}

/** Provides the history documents and opens them. */
export class HistoryDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  readonly #runs: WorkspaceRuns;
  readonly #onDidChange = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.#onDidChange.event;
  /** The provider registration and the close listener, while history documents are open. */
  #registered: vscode.Disposable[] = [];

  constructor(runs: WorkspaceRuns) {
    this.#runs = runs;
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const target = targetOf(uri);
    const folder = target && this.#runs.get(target.folderKey);
    if (!target || !folder) return '# History\n\nThis workspace folder is no longer open.\n';
    const store = await folder.openStore();
    const history = readDocumentHistory(store, target.path, folder.stateDir());
    return history ? formatHistoryMarkdown(history) : `# History of \`${target.path}\`\n\nNothing is recorded for this document.\n`;
  }

  /** Opens (or shows again, read anew) the history of a document; returns the document. */
  async show(target: HistoryTarget, folderName: string): Promise<vscode.TextDocument> {
    this.#register();
    const uri = historyUri(folderName, target);
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (open) this.#onDidChange.fire(uri); // read the store again
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true });
    return doc;
  }

  #register(): void {
    if (this.#registered.length) return;
    this.#registered = [
      vscode.workspace.registerTextDocumentContentProvider(HISTORY_SCHEME, this),
      vscode.workspace.onDidCloseTextDocument((closed) => {
        if (!vscode.workspace.textDocuments.some((d) => d !== closed && d.uri.scheme === HISTORY_SCHEME)) this.#unregister();
      }),
    ];
  }

  #unregister(): void {
    for (const d of this.#registered.splice(0)) d.dispose();
  }

  dispose(): void {
    this.#unregister();
    this.#onDidChange.dispose();
  }
}

export function historyCommands(s: CommandServices): CommandSpec[] {
  const documents = new HistoryDocuments(s.runs);
  return [
    {
      id: HistoryCommandIds.showHistory,
      // returns the history document (in-process callers such as tests read it)
      run: async (arg?: unknown, args?: unknown) => {
        const node = docTargets(arg, args, s.treeView)[0];
        const folder = node && s.runs.get(node.folderKey);
        if (!node || !folder) {
          notify('info', 'Pick a document in the Documents view to see its history.');
          return undefined;
        }
        return documents.show({ folderKey: node.folderKey, path: node.doc.path }, folder.name);
      },
    },
  ];
}
