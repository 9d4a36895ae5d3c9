/**
 * End-to-end runs in a real VS Code against the sample workspace (a temp copy of samples/invoices) and a
 * local OpenAI-compatible test server: Extract Workspace, the Documents tree model, pause/resume, retry,
 * Retry Failed, dead letters, Copy Error, Open Result, Export Report, Export Dataset, resume after an interrupted run.
 *
 * The server is loopback, so no API key is needed. Everything goes through `vscode.commands.executeCommand`
 * and the API object that `activate()` returns.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import * as vscode from 'vscode';
import { createMatcher, listFiles } from '../../src/core/lister';
import type { ExtensionApi } from '../../src/vscode/api';
import type { DocNode, GroupNode, TreeNode } from '../../src/vscode/tree/documentsModel';
import { GROUPS, groupOf } from '../../src/vscode/tree/groups';
import type { FolderRuns } from '../../src/vscode/workspaceRuns';
import { startModelServer, type ModelServer } from '../support/modelServer';
import { activateFirstFolder, sleep, SuiteSettings, waitFor } from './support';

const C = 'extractionWorkbench.';



describe('Extraction Workbench: runs, tree and commands', function () {
  this.timeout(60_000);

  let api: ExtensionApi;
  let server: ModelServer;
  let folder: FolderRuns;
  let root: string;
  /** Documents of the sample job (computed with the job's own globs). */
  let sampleDocs: string[];

  const store = () => {
    assert.ok(folder.store, 'the folder has an open checkpoint store');
    return folder.store;
  };
  const settings = new SuiteSettings(() => folder);
  const writeDoc = (rel: string, text: string) => {
    const file = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  };
  const docNode = async (rel: string): Promise<DocNode> => {
    api.treeModel.flush();
    const node = await waitFor(`a tree node for ${rel}`, () => api.treeModel.findDocument(folder.key, rel));
    assert.ok(node);
    return node;
  };
  const idle = () => waitFor('the run to finish', () => !folder.running);
  const stageOf = (rel: string) => store().getDocument(rel)?.stage;

  before(async () => {
    ({ api, folder } = await activateFirstFolder());
    root = folder.root;
    server = await startModelServer({ latencyMs: 0 });
    await settings.set('baseUrl', server.url);
    await settings.set('concurrency', 2);
    await settings.set('maxAttempts', 2);
    const job = folder.config()?.jobs[0];
    assert.ok(job, 'the sample has a job');
    const match = createMatcher(job.include, job.exclude);
    sampleDocs = [];
    for await (const file of listFiles(root, { skipDirs: [path.join(root, 'extracted'), path.join(root, '.extraction')] })) if (match(file.path)) sampleDocs.push(file.path);
    assert.ok(sampleDocs.length >= 3, `the sample has documents (${sampleDocs.join(', ')})`);
  });

  after(async () => {
    await folder?.stop().catch(() => undefined);
    await server?.close();
    await settings.restore();
  });

  it('sets the context keys the welcome views depend on', () => {
    assert.equal(api.contextKeys.get(`${C}hasConfig`), true);
    assert.equal(api.contextKeys.get(`${C}running`), false);
    assert.match(api.statusBar.text, /Extraction: idle/);
  });

  it('the status bar tooltip says which model and endpoint runs use and where results go', async () => {
    await waitFor('the tooltip to name the test server', () => api.statusBar.tooltip.includes(server.url));
    const line = api.statusBar.tooltip.split('\n').find((l) => l.startsWith('Runs use '));
    assert.ok(line?.endsWith(` at ${server.url}; results in extracted/`), `tooltip line: ${line}`);
  });

  it('Extract Workspace extracts every sample document; the tree model reports them done', async () => {
    const runIds = await vscode.commands.executeCommand<string[]>(`${C}extractWorkspace`);
    assert.equal(runIds?.length, 1, 'one run started');
    await waitFor('the tree model to report every sample document done', () => api.treeModel.counts(folder.key).done === sampleDocs.length);
    await idle();
    for (const rel of sampleDocs) {
      const result = path.join(root, 'extracted', ...rel.split('/')) + '.json';
      assert.ok(fs.existsSync(result), `result file for ${rel}`);
      const json = JSON.parse(fs.readFileSync(result, 'utf8')) as { source: string; data: Record<string, unknown> };
      assert.equal(json.source, rel);
      assert.ok('invoice_number' in json.data, 'the data has the schema\'s fields');
    }
    assert.equal(server.stats.total, sampleDocs.length, 'one model request per document');
    await waitFor('the status bar to show idle', () => /idle/.test(api.statusBar.text));
    assert.equal(api.contextKeys.get(`${C}hasState`), true);
  });

  it('shows status groups with counts that match the store, and documents with stable ids', async () => {
    api.treeModel.flush();
    const counts = store().counts();
    const roots = (await api.treeProvider.getChildren()) as TreeNode[];
    const groups = roots.filter((n): n is GroupNode => n.kind === 'group');
    assert.equal(roots[0]?.kind, 'summary', 'the run summary comes first');
    assert.equal(groups.length, roots.length - 1, 'one folder: the run summary, then the status groups');
    assert.ok(groups.length > 0);
    for (const g of groups) {
      if (g.group === 'needsReview') continue; // a view of Done, not a status (reviewQueue.suite.ts)
      assert.equal(g.count, counts[GROUPS[g.group].countKey], `count of ${g.label}`);
      const item = api.treeProvider.getTreeItem(g);
      assert.equal(item.description, String(g.count));
      assert.equal(item.contextValue, `group.${g.group}`);
      const children = api.treeProvider.getChildren(g) as TreeNode[];
      const docs = children.filter((n): n is DocNode => n.kind === 'doc');
      assert.equal(docs.length, Math.min(g.count, api.treeModel.pageSize));
      for (const d of docs) {
        assert.equal(groupOf(store().getDocument(d.doc.path)!), g.group, `${d.doc.path} is in the right group`);
        assert.equal(api.treeProvider.getParent(d), g);
      }
    }
    const done = groups.find((g) => g.group === 'done');
    assert.ok(done);
    const first = (api.treeProvider.getChildren(done) as DocNode[])[0];
    const item = api.treeProvider.getTreeItem(first);
    assert.equal(item.label, first.doc.path);
    assert.equal(item.contextValue, 'document.done');
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'pass');
    assert.match(String(item.description), /done/);
    // same id and same node object after a refresh
    api.treeModel.reload();
    const again = (api.treeProvider.getChildren(done) as DocNode[]).find((n) => n.doc.path === first.doc.path);
    assert.equal(again?.id, first.id);
  });

  it('reveals a document in the Documents view', async () => {
    await vscode.commands.executeCommand('extractionWorkbench.documents.focus');
    await waitFor('the view to be visible', () => api.treeView.visible);
    const node = await docNode(sampleDocs[0]);
    await waitFor('reveal to succeed', async () => {
      try {
        await api.treeView.reveal(node, { select: true, focus: false });
        return true;
      } catch {
        return false;
      }
    });
    await waitFor('the selection', () => api.treeView.selection.some((n) => n.id === node.id));
  });

  it('opens the result of a done document', async () => {
    const node = await docNode(sampleDocs[0]);
    const uri = await vscode.commands.executeCommand<vscode.Uri>(`${C}openResult`, node, [node]);
    assert.ok(uri, 'a result was opened');
    assert.ok(uri.fsPath.endsWith(`${sampleDocs[0]}.json`));
    await waitFor('the result in the active editor', () => vscode.window.activeTextEditor?.document.uri.fsPath === uri.fsPath);
  });

  it('pauses mid-run (nothing new starts) and resumes to the end', async () => {
    const batch = Array.from({ length: 10 }, (_, i) => `batch/doc-${String(i + 1).padStart(2, '0')}.txt`);
    batch.forEach((rel, i) => writeDoc(rel, `Invoice B-${i + 1}\nVendor: Batch Co\nTotal: ${100 + i} EUR\n`));
    server.setLatency(400);
    await vscode.commands.executeCommand(`${C}extractWorkspace`);
    await waitFor('the first requests', () => server.stats.total >= sampleDocs.length + 2);
    const paused = await vscode.commands.executeCommand<number>(`${C}pause`);
    assert.equal(paused, 1);
    assert.equal(folder.paused, true);
    await waitFor('the paused context key', () => api.contextKeys.get(`${C}paused`));
    await waitFor('the status bar to show the pause', () => api.statusBar.text.startsWith('$(debug-pause)'));
    await waitFor('in-flight documents to finish', () => folder.pipeline?.progress()?.inFlight === 0);
    const requests = server.stats.total;
    await sleep(1000);
    assert.equal(server.stats.total, requests, 'no request while paused');
    const pending = batch.filter((p) => stageOf(p) === 'pending').length;
    assert.ok(pending > 0, 'documents are left for later');
    const resumed = await vscode.commands.executeCommand<number>(`${C}resume`);
    assert.equal(resumed, 1);
    assert.equal(folder.paused, false);
    server.setLatency(0);
    await waitFor('every batch document done', () => batch.every((p) => stageOf(p) === 'done'));
    await idle();
    await waitFor('the tree model to count them', () => api.treeModel.counts(folder.key).done === sampleDocs.length + batch.length);
  });

  it('retries a dead-lettered document from its tree item', async () => {
    const rel = 'failing/bad-1.txt';
    writeDoc(rel, 'Invoice that the server rejects once\n');
    server.setScript(rel, [{ status: 400 }]);
    await vscode.commands.executeCommand(`${C}extractWorkspace`);
    await waitFor(`${rel} dead-lettered`, () => stageOf(rel) === 'dead-lettered');
    await idle();
    const node = await docNode(rel);
    assert.equal(node.group, 'deadLettered');
    assert.equal(api.treeProvider.getTreeItem(node).contextValue, 'document.deadLettered');
    const copied = await vscode.commands.executeCommand<string>(`${C}copyError`, node, [node]);
    assert.match(copied ?? '', /BAD_REQUEST/);
    assert.equal(await vscode.env.clipboard.readText(), copied);
    await vscode.commands.executeCommand(`${C}retry`, node, [node]);
    await waitFor(`${rel} done after the retry`, () => stageOf(rel) === 'done');
    assert.equal(store().getDeadLetter(rel), undefined, 'it left the dead-letter queue');
    await idle();
  });

  it('Retry Failed retries a document that failed with a run-fatal error', async () => {
    const rel = 'failing/auth.txt';
    writeDoc(rel, 'Invoice sent while the key is rejected\n');
    server.setScript(rel, [{ status: 401 }]);
    await vscode.commands.executeCommand(`${C}extractWorkspace`);
    await waitFor(`${rel} failed`, () => stageOf(rel) === 'failed');
    await idle();
    api.treeModel.flush();
    assert.equal(api.treeModel.group(folder.key, 'failed')?.count, 1);
    const n = await vscode.commands.executeCommand<number>(`${C}retryFailed`);
    assert.equal(n, 1);
    await waitFor(`${rel} done`, () => stageOf(rel) === 'done');
    await idle();
  });

  it('reprocesses all dead letters, and removes one without reprocessing', async () => {
    const letters = ['failing/dlq-1.txt', 'failing/dlq-2.txt', 'failing/remove-me.txt'];
    for (const rel of letters) {
      writeDoc(rel, `Invoice ${rel}\n`);
      server.setScript(rel, [{ status: 400 }]);
    }
    await vscode.commands.executeCommand(`${C}extractWorkspace`);
    await waitFor('three dead letters', () => letters.every((p) => stageOf(p) === 'dead-lettered'));
    await idle();
    assert.deepEqual(store().listDeadLetters().map((l) => l.path).sort(), letters);

    const removable = await docNode('failing/remove-me.txt');
    await vscode.commands.executeCommand(`${C}removeDeadLetter`, removable, [removable]);
    assert.equal(store().getDeadLetter('failing/remove-me.txt'), undefined);
    assert.equal(stageOf('failing/remove-me.txt'), 'pending');

    const n = await vscode.commands.executeCommand<number>(`${C}reprocessDeadLetters`);
    assert.equal(n, 2);
    await waitFor('the reprocessed documents done', () => stageOf('failing/dlq-1.txt') === 'done' && stageOf('failing/dlq-2.txt') === 'done');
    await idle();
    assert.deepEqual(store().listDeadLetters(), []);
    assert.equal(stageOf('failing/remove-me.txt'), 'pending', 'a removed dead letter is not reprocessed');
  });

  it('offers to resume an interrupted run and resumes it', async () => {
    const latest = store().latestRun();
    assert.ok(latest);
    // what a window closed mid-run leaves behind: the run still marked running, documents pending
    const { endedAt: _endedAt, totals: _totals, ...unfinished } = latest;
    await folder.withWritableStore((s) => s.putRun({ ...unfinished, id: 'interrupted-by-test', startedAt: latest.startedAt + 1, status: 'running', trigger: 'test' }, { durable: true }));
    api.contextKeys.update();
    assert.equal(folder.interruptedRun()?.id, 'interrupted-by-test');
    assert.equal(api.contextKeys.get(`${C}interrupted`), true);
    const n = await vscode.commands.executeCommand<number>(`${C}resume`);
    assert.equal(n, 1);
    await waitFor('the pending document done', () => stageOf('failing/remove-me.txt') === 'done');
    await idle();
    api.contextKeys.update();
    assert.equal(api.contextKeys.get(`${C}interrupted`), false);
  });

  it('extracts a folder, the current file and an Explorer multi-selection', async () => {
    const folderCount = await vscode.commands.executeCommand<number>(`${C}extractFolder`, vscode.Uri.file(path.join(root, 'batch')));
    assert.equal(folderCount, 10, 'every document of batch/');
    await idle();

    const runsBefore = store().listRuns().length;
    const current = vscode.Uri.file(path.join(root, sampleDocs[1]));
    await vscode.window.showTextDocument(current);
    assert.equal(await vscode.commands.executeCommand<number>(`${C}extractCurrentFile`), 1);
    await idle();
    assert.equal(store().listRuns().length, runsBefore + 1, 'a run for the current file');
    assert.equal(stageOf(sampleDocs[1]), 'done');

    // Explorer context menu: (clicked, selection[]); a selected folder is listed with the job's globs
    const clicked = vscode.Uri.file(path.join(root, 'batch', 'doc-01.txt'));
    const n = await vscode.commands.executeCommand<number>(`${C}extractSelected`, clicked, [clicked, vscode.Uri.file(path.join(root, 'failing'))]);
    const failingDocs = fs.readdirSync(path.join(root, 'failing')).length;
    assert.equal(n, 1 + failingDocs);
    await idle();
  });

  it('watch mode queues new documents that match the job', async () => {
    await settings.set('watch', true);
    await waitFor('the folder to be watched', () => api.watchMode.watching.includes(folder.key));
    await sleep(300); // let the file watcher start
    // .gitignore files (the root's and a nested one) rule out single changed files just as they rule them
    // out of a full listing; written first, so their events come before those of the documents below
    const gitignored = ['scratch/notes.txt', 'batch/doc-draft.txt', 'watched/private-1.txt'];
    writeDoc('.gitignore', 'scratch/\n*-draft.txt\n');
    writeDoc('watched/.gitignore', 'private-*.txt\n');
    await sleep(300);
    for (const p of gitignored) writeDoc(p, `Invoice in an ignored place: ${p}\n`);
    // a new folder (often reported as one event for the folder alone) and a file in an existing folder
    const rel = 'watched/arrived-later.txt';
    writeDoc(rel, 'Invoice W-1\nTotal: 5 EUR\n');
    writeDoc('watched/ignored.csv', 'not,a,document,of,the,job\n');
    writeDoc('batch/doc-11.txt', 'Invoice B-11\nTotal: 111 EUR\n');
    await waitFor(`${rel} and batch/doc-11.txt extracted by watch mode`, () => stageOf(rel) === 'done' && stageOf('batch/doc-11.txt') === 'done', 20_000);
    await idle();
    assert.equal(store().getDocument('watched/ignored.csv'), undefined, 'files outside the job\'s globs are not queued');
    for (const p of gitignored) assert.equal(store().getDocument(p), undefined, `${p} is excluded by a .gitignore and not queued`);
    const listing: string[] = [];
    for await (const f of listFiles(root, { gitignore: true })) listing.push(f.path);
    for (const p of gitignored) assert.ok(!listing.includes(p), `a full listing skips ${p} too`);
    // a folder excluded by .gitignore that arrives later is not listed into the run either
    writeDoc('scratch/later/more.txt', 'Invoice that arrives in an ignored folder\n');
    writeDoc('watched/arrived-last.txt', 'Invoice W-2\nTotal: 6 EUR\n');
    await waitFor('watched/arrived-last.txt extracted by watch mode', () => stageOf('watched/arrived-last.txt') === 'done', 20_000);
    await idle();
    assert.equal(store().getDocument('scratch/later/more.txt'), undefined, 'a file in an ignored folder is not queued');
    assert.equal(store().latestRun()?.trigger, 'watch');
    await settings.set('watch', undefined);
    await waitFor('watch mode off', () => !api.watchMode.watching.includes(folder.key));
  });

  it('keeps the API key in secret storage; loopback servers need none', async () => {
    assert.equal(await api.apiKeys.get(), undefined);
    assert.equal(await api.apiKeys.resolve(server.url), 'not-needed');
    await assert.rejects(api.apiKeys.resolve('https://api.example.invalid/v1'), /No API key/);
    await api.apiKeys.set('sk-test-secret');
    assert.equal(await api.apiKeys.resolve('https://api.example.invalid/v1'), 'sk-test-secret');
    await vscode.commands.executeCommand(`${C}clearApiKey`);
    assert.equal(await api.apiKeys.get(), undefined);
    const settings = JSON.stringify(vscode.workspace.getConfiguration('extractionWorkbench'));
    assert.ok(!settings.includes('sk-test-secret'), 'the key is not in the settings');
  });

  it('selects a job of extraction.config.json', async () => {
    assert.equal(await vscode.commands.executeCommand<string>(`${C}selectJob`, 'invoices'), 'invoices');
    assert.equal(folder.selectedJob, 'invoices');
    assert.equal(folder.runSettings().jobName, 'invoices');
  });

  it('exports a CSV report with a row per document', async () => {
    const target = vscode.Uri.file(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ew-report-')), 'report.csv'));
    const written = await vscode.commands.executeCommand<vscode.Uri>(`${C}exportReport`, target);
    assert.equal(written?.fsPath, target.fsPath);
    const lines = fs.readFileSync(target.fsPath, 'utf8').trimEnd().split('\r\n');
    assert.equal(lines[0], 'Document,Status,Attempts,Duration (s),Tokens in,Tokens out,Cost,Error');
    const rows = lines.slice(1).map((l) => l.split(','));
    assert.equal(rows.length, store().counts().total);
    const byPath = new Map(rows.map((r) => [r[0], r]));
    for (const rel of sampleDocs) {
      const row = byPath.get(rel);
      assert.ok(row, `a row for ${rel}`);
      assert.equal(row[1], 'Done');
      assert.ok(Number(row[2]) >= 1, 'attempts');
      assert.ok(Number(row[4]) > 0, 'tokens in');
    }
    const retried = byPath.get('failing/bad-1.txt');
    assert.equal(retried?.[1], 'Done');
  });

  it('exports the dataset (CSV with line items beside it, and XLSX) without a dialog when given a target', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-dataset-'));
    const target = vscode.Uri.file(path.join(dir, 'dataset.csv'));
    const written = await vscode.commands.executeCommand<vscode.Uri>(`${C}exportDataset`, target);
    assert.equal(written?.fsPath, target.fsPath);
    const rows = parse(fs.readFileSync(target.fsPath, 'utf8'), { columns: true }) as Array<Record<string, string>>;
    const done = store().listDocuments({ stages: ['done'] }).map((d) => d.path).sort();
    assert.deepEqual(rows.map((r) => r.source), done, 'one row per document with a result, in path order');
    const schema = JSON.parse(fs.readFileSync(folder.runSettings().schemaPath, 'utf8')) as { properties: Record<string, unknown> };
    const firstField = Object.keys(schema.properties)[0];
    assert.equal(Object.keys(rows[0])[0], 'source');
    assert.ok(Object.keys(rows[0])[1].startsWith(firstField), `the schema's first field comes first (${Object.keys(rows[0]).join(', ')})`);
    const withStatus = vscode.Uri.file(path.join(dir, 'status.xlsx'));
    await vscode.commands.executeCommand(`${C}exportDataset`, { to: withStatus, withStatus: true });
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(withStatus.fsPath);
    const sheet = wb.getWorksheet('documents');
    assert.ok(sheet);
    assert.deepEqual((sheet.getRow(1).values as unknown[]).slice(1, 3), ['source', '_stage']);
    assert.equal(sheet.rowCount - 1, store().listDocuments({ limit: 100_000 }).length, 'with status: every document, results or not');
  });

  it('leaves the status bar idle and the context keys off after the runs', async () => {
    await idle();
    await waitFor('idle status bar', () => /Extraction: idle/.test(api.statusBar.text));
    await waitFor('running context key off', () => !api.contextKeys.get(`${C}running`));
    assert.equal(api.contextKeys.get(`${C}paused`), false);
  });
});
