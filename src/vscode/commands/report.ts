/** Export Report: a CSV of every document (status, attempts, duration, tokens, cost, error). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { buildReport } from '../report';
import type { WorkspaceRuns } from '../workspaceRuns';
import { CommandIds, notify } from './register';
import { isUri } from './targets';
import type { CommandServices, CommandSpec } from './types';

/** The report of every folder with state; undefined when nothing has run yet. */
export async function reportText(runs: WorkspaceRuns): Promise<string | undefined> {
  await runs.restore();
  const folders = runs.folders().filter((f) => f.store);
  if (!folders.length) return undefined;
  const multi = folders.length > 1;
  return buildReport(folders.map((f) => ({ store: f.store!, prefix: multi ? `${f.name}/` : '' })));
}

/** Writes the report beside the state of the first folder and opens it (the "Open Report" action). */
export async function openReport(runs: WorkspaceRuns): Promise<vscode.Uri | undefined> {
  const text = await reportText(runs);
  const first = runs.folders().find((f) => f.store);
  if (text === undefined || !first) return undefined;
  const file = path.join(first.stateDir(), 'report.csv');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  const uri = vscode.Uri.file(file);
  await vscode.window.showTextDocument(uri, { preview: true });
  return uri;
}

export function reportCommands(s: CommandServices): CommandSpec[] {
  return [
    {
      id: CommandIds.exportReport,
      run: async (arg?: unknown) => {
        const text = await reportText(s.runs);
        if (text === undefined) {
          notify('info', 'Nothing to report yet: no extraction has run in this workspace.');
          return undefined;
        }
        // a .csv URI argument skips the dialog (scripts, tests)
        let target = isUri(arg) && arg.path.toLowerCase().endsWith('.csv') ? arg : undefined;
        if (!target) {
          const base = s.runs.folders()[0]?.folder.uri;
          target = await vscode.window.showSaveDialog({
            title: 'Export Extraction Report',
            saveLabel: 'Export',
            filters: { 'CSV files': ['csv'] },
            ...(base ? { defaultUri: vscode.Uri.joinPath(base, 'extraction-report.csv') } : {}),
          });
        }
        if (!target) return undefined;
        await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
        const rows = text.split('\r\n').length - 2;
        notify('info', `Report of ${rows} document${rows === 1 ? '' : 's'} saved to ${path.basename(target.fsPath)}.`, {
          Open: () => vscode.window.showTextDocument(target),
        });
        return target;
      },
    },
  ];
}
