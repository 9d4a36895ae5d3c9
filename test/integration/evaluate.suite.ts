/**
 * The Evaluate commands in a real VS Code: a document extracted through a local model server, a field
 * corrected as the Review panel records it, then "Evaluate Against Corrections" and "Evaluate Against
 * Ground Truth Folder…" (with a folder argument instead of the dialog) report the model's accuracy in a
 * Markdown editor.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EvalReport } from '../../src/eval/report';
import { readResult } from '../../src/export/jsonExporter';
import type { ExtensionApi } from '../../src/vscode/api';
import { CorrectionsStore } from '../../src/app/corrections';
import type { FolderRuns } from '../../src/vscode/workspaceRuns';
import { startModelServer, type ModelServer } from '../support/modelServer';
import { activateFirstFolder, removeSuiteDocuments, SuiteSettings, waitFor } from './support';

const DIR = 'evaluate-suite';
const DOC = `${DIR}/invoice-5.txt`;
const ANSWER = { invoice_number: 'E-5', invoice_date: '2024-03-05', vendor: 'Heron Supplies', total: 12.5, currency: 'EUR', line_items: [] };

describe('Extraction Workbench: Evaluate commands', function () {
  this.timeout(60_000);
  let api: ExtensionApi;
  let folder: FolderRuns;
  let server: ModelServer;
  let truthDir: string;
  const settings = new SuiteSettings(() => folder);

  before(async () => {
    ({ api, folder } = await activateFirstFolder());
    await waitFor('no run in progress', () => !folder.running);
    server = await startModelServer({ responder: () => ({ reply: ANSWER }) });
    await settings.set('baseUrl', server.url);
    fs.mkdirSync(path.join(folder.root, DIR), { recursive: true });
    fs.writeFileSync(path.join(folder.root, ...DOC.split('/')), 'Heron Supplies\nInvoice E-5, 5 March 2024\nTotal EUR 13.00\n');
    await folder.retry([DOC]);
    await waitFor('the result', async () => (await readResult(folder.outDir(), DOC)) && !folder.running);
    truthDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-eval-truth-'));
  });

  after(async () => {
    const corrections = new CorrectionsStore(folder.stateDir());
    while (corrections.undo(DOC));
    await server?.close();
    await settings.restore();
    await removeSuiteDocuments(api, folder, DIR, [DOC]);
    fs.rmSync(truthDir, { recursive: true, force: true });
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('"Evaluate Against Corrections" scores the model\'s answer against the corrected value', async () => {
    const corrections = new CorrectionsStore(folder.stateDir());
    corrections.add(DOC, await readResult(folder.outDir(), DOC), 'set', '/total', 13, 12.5);
    await corrections.exportToResult(folder.root, folder.outDir(), DOC);
    const reports = await vscode.commands.executeCommand<EvalReport[]>('extractionWorkbench.evaluateCorrections');
    assert.equal(reports?.length, 1, 'one workspace folder with corrections');
    const mine = reports[0].mismatches.filter((m) => m.source === DOC);
    assert.deepEqual(
      mine.map((m) => [m.at, m.kind, m.expected, m.actual]),
      [['total', 'wrong', 13, 12.5]],
    );
    const editor = await waitFor('the report', () => (vscode.window.activeTextEditor?.document.languageId === 'markdown' ? vscode.window.activeTextEditor : undefined));
    const text = editor.document.getText();
    assert.match(text, /^# Extraction accuracy against the reviewers' corrections$/m);
    assert.match(text, new RegExp(`^\\| ${DOC.replace(/[./]/g, '\\$&')} \\| total \\| wrong \\| 13 \\| 12\\.5 \\|$`, 'm'));
  });

  it('"Evaluate Against Ground Truth Folder…" scores the results against truth files', async () => {
    fs.mkdirSync(path.join(truthDir, DIR), { recursive: true });
    fs.writeFileSync(path.join(truthDir, DIR, 'invoice-5.txt.json'), JSON.stringify([{ ...ANSWER, total: '12.50', invoice_date: '5 Mar 2024' }]));
    const r = await vscode.commands.executeCommand<EvalReport>('extractionWorkbench.evaluateTruthFolder', vscode.Uri.file(truthDir));
    assert.ok(r, 'the command returns the report');
    assert.equal(r.documents, 1);
    assert.deepEqual(r.mismatches, []);
    assert.deepEqual(r.fields.total, { correct: 1, total: 1, accuracy: 1, missing: 0, extra: 0 });
    const editor = await waitFor('the report', () => (vscode.window.activeTextEditor?.document.getText().includes('No mismatches.') ? vscode.window.activeTextEditor : undefined));
    assert.match(editor.document.getText(), /^\| \*\*Overall\*\* \| \d+ \| \d+ \| 100\.0% \| 0 \| 0 \|$/m);
  });
});
