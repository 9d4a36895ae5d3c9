/**
 * The cost estimate before a run, in a real VS Code against the local model server (gpt-4o-mini, which has a
 * list price): Extract Workspace / Extract Folder… estimate, ask in a modal dialog, and start only when
 * confirmed; cancelling the dialog or the estimate queues nothing; "Estimate Cost" shows what is left to
 * send; free models and `confirmCost: false` skip the question.
 *
 * The modal dialogs are answered by stubbing `vscode.window.showWarningMessage` / `showInformationMessage`
 * (the test shares the extension's `vscode` API object); non-modal messages pass through. The suite works on
 * its own folder (cost-test/) and removes its documents, results and settings at the end, so the sample
 * documents are untouched for the suites after it. It runs after the dashboard suite (suites run in file
 * name order), whose health figures count every document finished before them.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunEstimate } from '../../src/app/estimateRun';
import type { ExtensionApi } from '../../src/vscode/api';
import type { FolderRuns } from '../../src/vscode/workspaceRuns';
import { startModelServer, type ModelServer } from '../support/modelServer';
import { activateFirstFolder, removeSuiteDocuments, SuiteSettings, waitFor } from './support';

const C = 'extractionWorkbench.';
const DIR = 'cost-test';
const START = 'Start Extraction';



interface ModalCall {
  kind: 'warning' | 'info';
  message: string;
  detail: string;
  items: string[];
}

type ShowMessage = (message: string, ...rest: unknown[]) => Thenable<unknown>;
type WithProgress = typeof vscode.window.withProgress;

describe('Extraction Workbench: cost estimate before a run', function () {
  this.timeout(90_000);

  let api: ExtensionApi;
  let server: ModelServer;
  let folder: FolderRuns;
  let root: string;
  const docs = Array.from({ length: 4 }, (_, i) => `${DIR}/invoice-${i + 1}.txt`);
  const budgetDocs = Array.from({ length: 6 }, (_, i) => `${DIR}/budget/invoice-${i + 1}.txt`);
  const settings = new SuiteSettings(() => folder);
  const store = () => {
    assert.ok(folder.store, 'the folder has an open checkpoint store');
    return folder.store;
  };
  const idle = () => waitFor('the run to finish', () => !folder.running, 60_000);
  const writeDoc = (rel: string, i: number) => {
    const file = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `Invoice C-${i}\nVendor: Cost Test Ltd\nTotal: ${100 + i}.00 EUR\n`);
  };

  // --- modal dialogs answered by the test
  const win = vscode.window as unknown as { showWarningMessage: ShowMessage; showInformationMessage: ShowMessage; withProgress: WithProgress };
  const original = { showWarningMessage: win.showWarningMessage, showInformationMessage: win.showInformationMessage, withProgress: win.withProgress };
  let modals: ModalCall[] = [];
  /** Non-modal warnings (they are shown as usual too). */
  let warnings: Array<{ message: string; items: string[] }> = [];
  let answer: string | undefined;
  /** Estimates (progress notifications that can be cancelled) started, and whether to cancel them at once. */
  let estimates = 0;
  let cancelEstimate = false;

  const stub = (kind: ModalCall['kind'], show: ShowMessage): ShowMessage =>
    function (this: unknown, message: string, ...rest: unknown[]) {
      const options = rest[0] as vscode.MessageOptions | undefined;
      if (!options || typeof options !== 'object' || !options.modal) {
        if (kind === 'warning') warnings.push({ message, items: rest.filter((r): r is string => typeof r === 'string') });
        return show.call(vscode.window, message, ...rest);
      }
      modals.push({ kind, message, detail: options.detail ?? '', items: rest.slice(1).map(String) });
      return Promise.resolve(answer);
    };

  before(async () => {
    ({ api, folder } = await activateFirstFolder());
    root = folder.root;
    server = await startModelServer({ latencyMs: 0 });
    await settings.set('baseUrl', server.url);
    await settings.set('concurrency', 2);
    // ask before any run of a model with a price (gpt-4o-mini, the default model, has one)
    await settings.set('confirmCostAbove', 0);
    docs.forEach((rel, i) => writeDoc(rel, i + 1));
    win.showWarningMessage = stub('warning', original.showWarningMessage);
    win.showInformationMessage = stub('info', original.showInformationMessage);
    win.withProgress = ((options, task) => {
      if (options.location !== vscode.ProgressLocation.Notification || !options.cancellable) return original.withProgress.call(vscode.window, options, task);
      estimates++;
      const source = new vscode.CancellationTokenSource();
      const running = task({ report: () => undefined }, source.token);
      if (cancelEstimate) source.cancel();
      return Promise.resolve(running).finally(() => source.dispose());
    }) as WithProgress;
  });

  beforeEach(() => {
    modals = [];
    warnings = [];
    answer = undefined;
    estimates = 0;
    cancelEstimate = false;
    server.reset();
  });

  after(async () => {
    win.showWarningMessage = original.showWarningMessage;
    win.showInformationMessage = original.showInformationMessage;
    win.withProgress = original.withProgress;
    await folder?.stop().catch(() => undefined);
    await idle().catch(() => undefined);
    if (folder) await removeSuiteDocuments(api, folder, DIR, [...docs, ...budgetDocs, `${DIR}/late.txt`, `${DIR}/later.txt`]);
    await server?.close();
    await settings.restore();
  });

  it('Extract Workspace, declined in the dialog: no run starts, nothing is queued or sent', async () => {
    await folder.openStore();
    const runBefore = store().latestRun()?.id;
    const countsBefore = store().counts();
    const started = await vscode.commands.executeCommand<string[]>(`${C}extractWorkspace`);
    assert.deepEqual(started, [], 'no run id');
    assert.equal(modals.length, 1, 'one question');
    const [modal] = modals;
    assert.equal(modal.kind, 'warning');
    assert.match(modal.message, /^Extract \d+ documents for an estimated ~\d+\.\d{4}\?$/);
    assert.deepEqual(modal.items, [START]);
    for (const line of [/^Documents: \d+/m, /^Requests: \d+/m, /^Input tokens: [\d,]+$/m, /^Output tokens: ~[\d,]+ \(estimated\)$/m, /^Cost: ~\d+\.\d{4} .* at 0\.15 \/ 0\.6 per 1M input \/ output tokens$/m]) {
      assert.match(modal.detail, line);
    }
    assert.match(modal.detail, /extractionWorkbench\.confirmCostAbove/);
    assert.equal(folder.running, false);
    assert.equal(store().latestRun()?.id, runBefore, 'no run recorded');
    assert.deepEqual(store().counts(), countsBefore, 'no document queued');
    assert.equal(server.stats.total, 0, 'nothing sent');
  });

  it('Extract Folder…, declined: the folder\'s documents are not queued', async () => {
    const queued = await vscode.commands.executeCommand<number>(`${C}extractFolder`, vscode.Uri.file(path.join(root, DIR)));
    assert.equal(queued, 0);
    assert.equal(modals.length, 1);
    assert.match(modals[0].message, /^Extract 4 documents for an estimated/);
    assert.match(modals[0].detail, /^Documents: 4$/m);
    for (const rel of docs) assert.equal(store().getDocument(rel), undefined, `${rel} not queued`);
    assert.equal(folder.running, false);
    assert.equal(server.stats.total, 0);
  });

  it('Extract Folder…, estimate cancelled while it runs: nothing is asked, queued or sent', async () => {
    cancelEstimate = true;
    const queued = await vscode.commands.executeCommand<number>(`${C}extractFolder`, vscode.Uri.file(path.join(root, DIR)));
    assert.equal(queued, 0);
    assert.equal(estimates, 1, 'the estimate started');
    assert.equal(modals.length, 0, 'no question after a cancelled estimate');
    for (const rel of docs) assert.equal(store().getDocument(rel), undefined);
    assert.equal(server.stats.total, 0);
  });

  it('Extract Folder…, confirmed: the run starts and extracts the folder\'s documents', async () => {
    answer = START;
    const queued = await vscode.commands.executeCommand<number>(`${C}extractFolder`, vscode.Uri.file(path.join(root, DIR)));
    assert.equal(queued, docs.length);
    assert.equal(modals.length, 1);
    await waitFor('the folder\'s documents to be done', () => docs.every((rel) => store().getDocument(rel)?.stage === 'done'));
    await idle();
    assert.equal(server.stats.total, docs.length, 'one request per document');
    for (const rel of docs) assert.ok(fs.existsSync(path.join(root, 'extracted', ...rel.split('/')) + '.json'), `result of ${rel}`);
  });

  it('Estimate Cost shows what is left to send (nothing once done), without sending anything', async () => {
    const dir = vscode.Uri.file(path.join(root, DIR));
    const done = await vscode.commands.executeCommand<RunEstimate[]>(`${C}estimateCost`, dir);
    assert.equal(done?.length, 1);
    assert.deepEqual([done[0].documents, done[0].unchanged], [0, docs.length]);
    assert.equal(modals.length, 1);
    assert.equal(modals[0].kind, 'info');
    assert.match(modals[0].message, /^Estimated cost: ~0\.0000 \(0 documents to extract, 0 requests\)$/);
    assert.deepEqual(modals[0].items, [], 'nothing to start');
    assert.match(modals[0].detail, /Nothing was sent to the model\./);

    writeDoc(`${DIR}/late.txt`, 9);
    modals = [];
    const later = await vscode.commands.executeCommand<RunEstimate[]>(`${C}estimateCost`, dir);
    assert.equal(later?.[0].documents, 1, 'the new document');
    assert.ok(later[0].cost > 0);
    assert.deepEqual(modals[0].items, [START]);
    assert.equal(server.stats.total, 0, 'an estimate sends nothing');
    assert.equal(store().getDocument(`${DIR}/late.txt`), undefined, 'and queues nothing');
  });

  it('no question when confirmCost is off, nor for a model without a price (not even an estimate)', async () => {
    await settings.set('confirmCost', false);
    try {
      const queued = await vscode.commands.executeCommand<number>(`${C}extractFolder`, vscode.Uri.file(path.join(root, DIR, 'late.txt')));
      assert.equal(queued, 1);
      await waitFor('late.txt done', () => store().getDocument(`${DIR}/late.txt`)?.stage === 'done');
      await idle();
    } finally {
      await settings.set('confirmCost', undefined);
    }
    await settings.set('model', 'local-test-model');
    writeDoc(`${DIR}/later.txt`, 10);
    const queued = await vscode.commands.executeCommand<number>(`${C}extractFolder`, vscode.Uri.file(path.join(root, DIR, 'later.txt')));
    assert.equal(queued, 1);
    await waitFor('later.txt done', () => store().getDocument(`${DIR}/later.txt`)?.stage === 'done');
    await idle();
    assert.equal(modals.length, 0, 'no question');
    assert.equal(estimates, 0, 'no estimate');
    assert.equal(server.requests.at(-1)?.body?.model, 'local-test-model');
  });

  it('the budget setting pauses the run at that cost and says so, with Resume and Stop', async () => {
    await settings.set('model', undefined);
    await settings.set('concurrency', 1);
    await settings.set('confirmCost', false);
    await settings.set('budget', 0.0000001);
    budgetDocs.forEach((rel, i) => writeDoc(rel, 20 + i));
    // answers take a while, so the run pauses with documents still waiting
    server.setLatency(200);
    try {
      const queued = await vscode.commands.executeCommand<number>(`${C}extractFolder`, vscode.Uri.file(path.join(root, DIR, 'budget')));
      assert.equal(queued, budgetDocs.length);
      await waitFor('the run to pause at the budget', () => folder.paused);
      const warning = await waitFor('the budget warning', () => warnings.find((w) => /^Budget of 1e-7 reached \(spent \d+\.\d{4}\): the run is paused\./.test(w.message)));
      assert.deepEqual(warning.items, ['Resume', 'Stop']);
      assert.ok(budgetDocs.some((rel) => store().getDocument(rel)?.stage === 'pending'), 'documents left when the run paused');
    } finally {
      server.setLatency(0);
      await folder.stop();
      await idle();
      for (const key of ['budget', 'confirmCost']) await settings.set(key, undefined);
      await settings.set('concurrency', 2);
    }
  });
});
