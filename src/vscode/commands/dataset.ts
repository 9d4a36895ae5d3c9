/**
 * Export Dataset…: the results of a folder as one CSV, XLSX or JSONL file (src/export/dataset.ts), the
 * reviewer's corrections applied. A save dialog asks where (the format follows the extension chosen).
 *
 * Called programmatically (scripts, tests), the dialog is skipped by an argument: a file URI (`.csv`,
 * `.xlsx`, `.jsonl`), or `{ to: Uri | string, format?, withStatus?, bom?, folder?: <folder name> }`.
 * Returns the URI written, or undefined when cancelled or there was nothing to export.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CorrectionsStore } from '../../app/corrections';
import { readSchemaFile } from '../../app/config';
import { DATASET_FORMATS, exportDataset, formatOfFile, isDatasetFormat, type DatasetFormat } from '../../export/dataset';
import type { FolderRuns } from '../workspaceRuns';
import { CommandIds, notify } from './register';
import { isUri, pickFolder } from './targets';
import type { CommandServices, CommandSpec } from './types';

interface ExportArgs {
  to?: vscode.Uri;
  format?: DatasetFormat;
  withStatus?: boolean;
  bom?: boolean;
  folder?: string;
}

function argsOf(arg: unknown): ExportArgs {
  if (isUri(arg)) return { to: arg };
  if (!arg || typeof arg !== 'object') return {};
  const a = arg as Record<string, unknown>;
  const to = isUri(a.to) ? a.to : typeof a.to === 'string' ? vscode.Uri.file(a.to) : undefined;
  return {
    ...(to ? { to } : {}),
    ...(typeof a.format === 'string' && isDatasetFormat(a.format) ? { format: a.format } : {}),
    withStatus: a.withStatus === true,
    bom: a.bom === true,
    ...(typeof a.folder === 'string' ? { folder: a.folder } : {}),
  };
}

/** The job's schema (column order), or undefined when the folder has none to read. */
function schemaOf(folder: FolderRuns): Record<string, unknown> | undefined {
  try {
    return readSchemaFile(folder.runSettings().schemaPath);
  } catch {
    return undefined; // no config and no saved run, or an unreadable schema: columns in the order of the results
  }
}

export function datasetCommands(s: CommandServices): CommandSpec[] {
  return [
    {
      id: CommandIds.exportDataset,
      run: async (arg?: unknown) => {
        const a = argsOf(arg);
        await s.runs.restore();
        const withState = s.runs.folders().filter((f) => f.store);
        const candidates = a.folder ? withState.filter((f) => f.name === a.folder) : withState;
        if (!candidates.length) {
          notify('info', 'Nothing to export yet: no extraction has run in this workspace.');
          return undefined;
        }
        const folder = await pickFolder(candidates, 'Export the results of which folder?');
        if (!folder?.store) return undefined;
        const target =
          a.to ??
          (await vscode.window.showSaveDialog({
            title: 'Export Dataset',
            saveLabel: 'Export',
            filters: { 'CSV (one row per document)': ['csv'], 'Excel workbook': ['xlsx'], 'JSON Lines': ['jsonl'] },
            defaultUri: vscode.Uri.joinPath(folder.folder.uri, 'extraction-dataset.csv'),
          }));
        if (!target) return undefined;
        const format = a.format ?? formatOfFile(target.fsPath);
        if (!format) {
          notify('error', `Choose a file ending in ${DATASET_FORMATS.map((f) => `.${f}`).join(', ')} (the format follows the extension).`);
          return undefined;
        }
        const schema = schemaOf(folder);
        // the store held steady while it is written out: the window giving its lock back (or following another
        // process) would otherwise close it under a slow export
        const report = await folder.readStore((store) =>
          exportDataset({
            outDir: folder.outDir(),
            store,
            corrections: new CorrectionsStore(folder.stateDir()),
            to: target.fsPath,
            format,
            ...(schema ? { schema } : {}),
            withStatus: a.withStatus ?? false,
            bom: a.bom ?? false,
          }),
        );
        const extra = report.tables.length ? ` (line items: ${report.tables.map((t) => (format === 'csv' ? path.basename(t.target) : `sheet "${t.target}"`)).join(', ')})` : '';
        s.logger.info(`Exported ${report.documents} document(s) to ${report.files.join(', ')}`);
        notify('info', `Exported ${report.documents} document${report.documents === 1 ? '' : 's'} to ${path.basename(target.fsPath)}${extra}.`, {
          ...(format === 'xlsx' ? {} : { Open: () => vscode.window.showTextDocument(target) }),
          'Reveal in File Explorer': () => vscode.commands.executeCommand('revealFileInOS', target),
        });
        return target;
      },
    },
  ];
}
