/** Commands on documents of the tree: retry, dead letters, open source/result, reveal, copy error, history, paging. */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { resultAbsPath } from '../../export/jsonExporter';
import type { DocNode, GroupNode, MoreNode, TreeNode } from '../tree/documentsModel';
import { historyCommands } from './history';
import { CommandIds, notify } from './register';
import { byFolder, docTargets } from './targets';
import type { CommandServices, CommandSpec } from './types';

function isGroupOrMore(v: unknown): v is GroupNode | MoreNode {
  return !!v && typeof v === 'object' && ((v as TreeNode).kind === 'group' || (v as TreeNode).kind === 'more');
}

export function errorText(node: DocNode): string | undefined {
  const d = node.doc;
  if (node.group === 'rejected') return d.rejectReason;
  if (node.group === 'done' || !d.lastError) return undefined;
  return `${d.path}: [${d.lastError.code}] ${d.lastError.message} (stage ${d.lastError.stage}, ${d.attempts} attempt${d.attempts === 1 ? '' : 's'})`;
}

export function documentCommands(s: CommandServices): CommandSpec[] {
  const one = (arg: unknown, args: unknown): DocNode | undefined => docTargets(arg, args, s.treeView)[0];
  return [
    {
      id: CommandIds.retry,
      startsRun: true,
      run: async (arg?: unknown, args?: unknown) => {
        let n = 0;
        for (const [f, paths] of byFolder(s.runs, docTargets(arg, args, s.treeView))) {
          await f.retry(paths);
          n += paths.length;
        }
        return n;
      },
    },
    {
      id: CommandIds.retryFailed,
      startsRun: true,
      run: async () => {
        let n = 0;
        for (const f of s.runs.folders()) if (f.store || f.hasState()) n += await f.retryFailed();
        if (!n) notify('info', 'No failed documents to retry.');
        return n;
      },
    },
    {
      id: CommandIds.reprocessDeadLetters,
      startsRun: true,
      run: async () => {
        let n = 0;
        for (const f of s.runs.folders()) if (f.store || f.hasState()) n += await f.reprocessDeadLetters(undefined, 'reprocessed from VS Code');
        if (!n) notify('info', 'The dead-letter queue is empty.');
        return n;
      },
    },
    {
      id: CommandIds.removeDeadLetter,
      run: async (arg?: unknown, args?: unknown) => {
        const nodes = docTargets(arg, args, s.treeView).filter((n) => n.group === 'deadLettered');
        for (const [f, paths] of byFolder(s.runs, nodes)) for (const p of paths) await f.removeDeadLetter(p);
        return nodes.length;
      },
    },
    {
      id: CommandIds.openSource,
      run: async (arg?: unknown, args?: unknown) => {
        const node = one(arg, args);
        const f = node && s.runs.get(node.folderKey);
        if (!node || !f) return;
        const uri = f.uriOf(node.doc.path);
        if (!fs.existsSync(uri.fsPath)) {
          notify('warning', `${node.doc.path} no longer exists.`);
          return;
        }
        await vscode.commands.executeCommand('vscode.open', uri, { preview: true });
      },
    },
    {
      id: CommandIds.openResult,
      run: async (arg?: unknown, args?: unknown) => {
        const node = one(arg, args);
        const f = node && s.runs.get(node.folderKey);
        if (!node || !f) return undefined;
        const file = resultAbsPath(f.outDir(), node.doc.path);
        if (!fs.existsSync(file)) {
          // a fleet's database: the result a worker on another machine wrote, as an untitled JSON document
          const stored = await f.store?.results?.get(node.doc.path);
          if (stored) {
            const doc = await vscode.workspace.openTextDocument({ language: 'json', content: JSON.stringify(stored, null, 2) + '\n' });
            await vscode.window.showTextDocument(doc, { preview: true });
            return doc.uri;
          }
          notify('warning', `${node.doc.path} has no result file yet.`);
          return undefined;
        }
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
        await vscode.window.showTextDocument(doc, { preview: true });
        return doc.uri;
      },
    },
    {
      id: CommandIds.revealInExplorer,
      run: async (arg?: unknown, args?: unknown) => {
        const node = one(arg, args);
        const f = node && s.runs.get(node.folderKey);
        if (node && f) await vscode.commands.executeCommand('revealInExplorer', f.uriOf(node.doc.path));
      },
    },
    {
      id: CommandIds.copyError,
      run: async (arg?: unknown, args?: unknown) => {
        const texts = docTargets(arg, args, s.treeView)
          .map(errorText)
          .filter((t): t is string => !!t);
        if (!texts.length) {
          notify('info', 'No error recorded for this document.');
          return undefined;
        }
        const text = texts.join('\n');
        await vscode.env.clipboard.writeText(text);
        return text;
      },
    },
    {
      id: CommandIds.loadMore,
      run: (arg?: unknown) => {
        if (isGroupOrMore(arg)) s.model.loadMore(arg);
      },
    },
    {
      id: CommandIds.refresh,
      run: async () => {
        await s.runs.restore();
        s.model.reload();
      },
    },
    ...historyCommands(s),
  ];
}
