/**
 * Evaluate commands: the accuracy of a folder's results against the reviewers' corrections or a folder of
 * truth files (src/eval/), shown as a Markdown report in the editor. Thin glue: the CLI's `eval` does the same.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { CORRECTIONS_TRUTH, evaluate } from '../../eval/evaluate';
import { reportMarkdown, type EvalReport } from '../../eval/report';
import type { FolderRuns } from '../workspaceRuns';
import { notify } from './register';
import { isUri } from './targets';
import type { CommandServices, CommandSpec } from './types';

export const EvalCommandIds = {
  evaluateCorrections: 'extractionWorkbench.evaluateCorrections',
  evaluateTruthFolder: 'extractionWorkbench.evaluateTruthFolder',
} as const;

async function show(markdown: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: markdown });
  await vscode.window.showTextDocument(doc, { preview: false });
}

function title(f: FolderRuns, multi: boolean, what: string): string {
  return `Extraction accuracy${multi ? ` of ${f.folder.name}` : ''} against ${what}`;
}

export function evaluateCommands(s: CommandServices): CommandSpec[] {
  return [
    {
      // every folder with corrected or reviewed documents; returns the reports (scripts, tests)
      id: EvalCommandIds.evaluateCorrections,
      run: async (): Promise<EvalReport[]> => {
        await s.runs.restore();
        const folders = s.runs.folders();
        const reports: { f: FolderRuns; r: EvalReport }[] = [];
        for (const f of folders) {
          if (!f.hasState() || !fs.existsSync(f.outDir())) continue;
          const r = evaluate({ outDir: f.outDir(), truth: CORRECTIONS_TRUTH, stateDir: f.stateDir() });
          if (r.documents) reports.push({ f, r });
        }
        if (!reports.length) {
          notify('info', 'No corrected or reviewed documents yet: correct fields or mark documents reviewed in the Review panel, then evaluate against them.');
          return [];
        }
        await show(reports.map(({ f, r }) => reportMarkdown(r, title(f, folders.length > 1, "the reviewers' corrections"))).join('\n'));
        return reports.map((x) => x.r);
      },
    },
    {
      // a folder URI argument skips the dialog (scripts, tests)
      id: EvalCommandIds.evaluateTruthFolder,
      run: async (arg?: unknown): Promise<EvalReport | undefined> => {
        await s.runs.restore();
        let truth = isUri(arg) ? arg : undefined;
        if (!truth) {
          const base = s.runs.folders()[0]?.folder.uri;
          const picked = await vscode.window.showOpenDialog({
            title: 'Evaluate Against Ground Truth Folder',
            openLabel: 'Evaluate',
            canSelectFolders: true,
            canSelectFiles: false,
            canSelectMany: false,
            ...(base ? { defaultUri: base } : {}),
          });
          truth = picked?.[0];
        }
        if (!truth) return undefined;
        const folder = s.runs.folderOf(truth) ?? s.runs.folders()[0];
        if (!folder) {
          notify('info', 'Open a workspace folder with extraction results to evaluate them.');
          return undefined;
        }
        const r = evaluate({ outDir: folder.outDir(), truth: truth.fsPath });
        await show(reportMarkdown(r, title(folder, s.runs.folders().length > 1, vscode.workspace.asRelativePath(truth))));
        return r;
      },
    },
  ];
}
