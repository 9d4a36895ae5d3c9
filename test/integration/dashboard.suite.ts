/**
 * Run dashboard and health in a real VS Code, against the local model server: a run with scripted 400
 * errors (BAD_REQUEST dead letters), an empty document and retried 500s. Checks the live dashboard
 * (the real webview renders and answers), its model, health in the status bar / tree / notification,
 * revealing an error code's documents in the tree, Show Dead Letters, export, history and comparison (also
 * on accuracy against a correction).
 *
 * The suite works on its own folder (dash-test/) and removes its documents, dead letters and files at the
 * end, so the suites after it start from the state they expect.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/vscode/api';
import type { DashboardPanel } from '../../src/vscode/dashboard/dashboardPanel';
import { CorrectionsStore } from '../../src/app/corrections';
import { readResult, resultAbsPath, type ResultFile } from '../../src/export/jsonExporter';
import type { JsonValue } from '../../src/shared/reviewProtocol';
import { comparisonColumn } from '../../src/vscode/dashboard/runData';
import type { DocNode, GroupNode, SummaryNode, TreeNode } from '../../src/vscode/tree/documentsModel';
import type { FolderRuns } from '../../src/vscode/workspaceRuns';
import { requestSchema, sampleForSchema, startModelServer, type ModelServer } from '../support/modelServer';
import { activateFirstFolder, removeSuiteDocuments, SuiteSettings, waitFor } from './support';

const C = 'extractionWorkbench.';
const DIR = 'dash-test';
const TOTAL = 30;
const BAD = 12; // answered with HTTP 400: dead-lettered with BAD_REQUEST
const EMPTY = `${DIR}/doc-30.txt`; // no text: dead-lettered with EMPTY_DOCUMENT
const FLAKY = [`${DIR}/doc-13.txt`, `${DIR}/doc-14.txt`]; // a 500 first, then fine: retried
/** Its answer waits until the dashboard has rendered the run live: the run cannot end before the page is up. */
const HELD = `${DIR}/doc-29.txt`;



describe('Extraction Workbench: run dashboard and health', function () {
  this.timeout(90_000);

  let api: ExtensionApi;
  let server: ModelServer;
  let folder: FolderRuns;
  let root: string;
  let panel: DashboardPanel;
  let firstRunId: string;
  let releaseHeld!: () => void;
  const heldUntilLive = new Promise<void>((r) => (releaseHeld = r));
  const docs = Array.from({ length: TOTAL }, (_, i) => `${DIR}/doc-${String(i + 1).padStart(2, '0')}.txt`);
  const settings = new SuiteSettings(() => folder);
  const store = () => {
    assert.ok(folder.store);
    return folder.store;
  };
  const idle = () => waitFor('the run to finish', () => !folder.running, 60_000);
  const readResultSync = (doc: string): ResultFile | undefined => {
    try {
      return JSON.parse(fs.readFileSync(resultAbsPath(folder.outDir(), doc), 'utf8')) as ResultFile;
    } catch {
      return undefined;
    }
  };

  before(async () => {
    ({ api, folder } = await activateFirstFolder());
    root = folder.root;
    server = await startModelServer({ latencyMs: 120 });
    await settings.set('baseUrl', server.url);
    await settings.set('concurrency', 2);
    await settings.set('maxAttempts', 2);
    for (const [i, rel] of docs.entries()) {
      const file = path.join(root, ...rel.split('/'));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, rel === EMPTY ? '   \n' : `Invoice D-${i + 1}\nVendor: Dash Co\nTotal: ${10 + i} EUR\n`);
      if (i < BAD) server.setScript(rel, [{ status: 400, message: 'The request is invalid' }]);
    }
    for (const rel of FLAKY) server.setScript(rel, [{ status: 500 }]);
    server.setResponder(async (req) => {
      if (req.document === HELD) await heldUntilLive;
      return { reply: sampleForSchema(requestSchema(req.body)) ?? {} };
    });
  });

  after(async () => {
    releaseHeld();
    panel?.dispose();
    await folder?.stop().catch(() => undefined);
    await idle().catch(() => undefined);
    // leave the state as the next suites expect it: none of this suite's documents, nor its correction
    if (folder) {
      const corrections = new CorrectionsStore(folder.stateDir());
      while (corrections.undo(`${DIR}/doc-20.txt`));
      await removeSuiteDocuments(api, folder, DIR, docs);
    }
    await server?.close();
    await settings.restore();
  });

  it('opens during a run, renders in the webview and updates live', async () => {
    const queued = await vscode.commands.executeCommand<number>(`${C}extractFolder`, vscode.Uri.file(path.join(root, DIR)));
    assert.equal(queued, TOTAL);
    await waitFor('the first documents', () => server.stats.total >= 4);
    assert.ok(folder.running, 'the run is still going');
    const opened = await vscode.commands.executeCommand<DashboardPanel>(`${C}openDashboard`);
    assert.ok(opened, 'the command returns the panel');
    panel = opened;
    await waitFor('the page to say ready', () => panel.ready);
    const live = await waitFor('a live render', () => (panel.lastRendered?.live ? panel.lastRendered : undefined));
    assert.ok(live.charts >= 5, `charts rendered: ${live.charts}`);
    firstRunId = live.runId ?? '';
    assert.equal(firstRunId, folder.pipeline?.runId);
    releaseHeld(); // the run may end now (on a busy machine it used to end before the page was up)
    await idle();
    // when every other document was done before the page was up, the held one's completion is the last live
    // event: its update is posted at the next turn of the throttle (400 ms), which can come after the run ends
    await waitFor('live updates to be posted', () => (panel.posted['dashboard/update'] ?? 0) >= 1, 10_000);
    const final = await waitFor('the final render of the finished run', () => (panel.lastRendered && !panel.lastRendered.live && panel.lastRendered.errorCodes.includes('BAD_REQUEST') ? panel.lastRendered : undefined));
    assert.deepEqual([...final.errorCodes].sort(), ['BAD_REQUEST', 'EMPTY_DOCUMENT', 'SERVER_ERROR']);
  });

  it('shows the run\'s numbers: outcomes, top error codes, timeline, stages, slowest documents', () => {
    const m = panel.model?.metrics;
    assert.ok(m);
    assert.equal(panel.model?.run.id, firstRunId);
    assert.equal(m.documents.total, TOTAL);
    assert.equal(m.documents.succeeded, TOTAL - BAD - 1);
    assert.equal(m.documents.deadLettered, BAD + 1);
    assert.equal(m.outcomes.retry, FLAKY.length);
    assert.deepEqual(
      m.topErrors.map((e) => [e.code, e.attempts, e.documents]),
      [
        ['BAD_REQUEST', BAD, BAD],
        ['SERVER_ERROR', 2, 2],
        ['EMPTY_DOCUMENT', 1, 1],
      ],
    );
    assert.equal(
      m.timeline.points.reduce((n, p) => n + p.done, 0),
      TOTAL - BAD - 1,
    );
    const extracting = m.stages.find((s) => s.stage === 'extracting');
    assert.ok(extracting && extracting.attempts >= TOTAL - 1 && extracting.meanMs >= 100, 'extraction time is recorded (the server answers after 120 ms)');
    assert.equal(m.slowest.length, 10);
    assert.ok(m.tokensIn > 0);
  });

  it('reports health: unhealthy with its reasons in the status bar, the tree summary and a notification', async () => {
    const { health, notifier } = panel.services;
    health.refresh();
    const h = health.health(folder.key);
    assert.ok(h);
    assert.equal(h.report.level, 'unhealthy');
    assert.deepEqual(
      h.report.reasons.map((r) => r.code),
      ['LOW_SUCCESS_RATE', 'DEAD_LETTERS'],
    );
    await waitFor('the status bar health icon', () => api.statusBar.text.endsWith('$(error)'));
    assert.match(api.statusBar.text, /Extraction: idle/);
    assert.match(api.statusBar.tooltip, /^Health: unhealthy$/m);
    assert.match(api.statusBar.tooltip, /13 documents in the dead-letter queue/);

    api.treeModel.flush();
    const roots = api.treeProvider.getChildren() as TreeNode[];
    const summary = roots[0] as SummaryNode;
    assert.equal(summary.kind, 'summary', 'the run summary is the first node');
    assert.equal(summary.info.level, 'unhealthy');
    const item = api.treeProvider.getTreeItem(summary);
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'error');
    assert.equal(item.command?.command, `${C}openDashboard`);
    assert.match(String(item.description), /^unhealthy · 2 issues/);

    assert.ok(notifier, 'the notifier is wired');
    const shown = notifier.shown.find((n) => n.folderKey === folder.key);
    assert.ok(shown, 'a notification when health turned unhealthy');
    assert.match(shown.message, /is unhealthy: Only \d+ % of the last/);
    assert.deepEqual(shown.actions, ['Show Dead Letters', 'Show Log', 'Open Dashboard']);
  });

  it('clicking the run summary node opens the dashboard on the folder', async () => {
    const summary = api.treeModel.summary(folder.key);
    assert.ok(summary);
    const item = api.treeProvider.getTreeItem(summary);
    const again = await vscode.commands.executeCommand<DashboardPanel>(item.command!.command, ...(item.command!.arguments ?? []));
    assert.equal(again, panel, 'a single dashboard panel');
    assert.equal(again?.folder, folder);
  });

  it('reveals the documents of a top error code in the tree (dead-letter group, first one selected)', async () => {
    await panel.receive({ type: 'dashboard/revealErrorCode', code: 'BAD_REQUEST' });
    const selected = await waitFor('a selection in the tree', () => api.treeView.selection[0]);
    assert.equal(selected.kind, 'doc');
    const doc = selected as DocNode;
    assert.equal(doc.group, 'deadLettered');
    assert.equal(doc.doc.lastError?.code, 'BAD_REQUEST');
    assert.ok(docs.slice(0, BAD).includes(doc.doc.path));
  });

  it('Show Dead Letters focuses the dead-letter group', async () => {
    const node = await vscode.commands.executeCommand<GroupNode>(`${C}showDeadLetters`);
    assert.equal(node?.group, 'deadLettered');
    await waitFor('the group selected', () => api.treeView.selection.some((n) => n.id === node?.id));
  });

  it('ignores invalid messages from the page', async () => {
    const before = { ...panel.posted };
    await panel.receive({ type: 'dashboard/export', format: '../../etc/passwd' });
    await panel.receive({ type: 'nope' });
    assert.deepEqual(panel.posted, before);
  });

  it('exports the metrics as CSV and JSON', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-dash-'));
    const csv = await panel.exportMetrics('csv', vscode.Uri.file(path.join(dir, 'm.csv')));
    assert.ok(csv);
    const lines = fs.readFileSync(csv.fsPath, 'utf8').split('\r\n');
    assert.equal(lines[0], 'section,key,metric,value');
    assert.ok(lines.includes(`run,${firstRunId},health,unhealthy`));
    assert.ok(lines.includes(`summary,,documents.deadLettered,${BAD + 1}`));
    assert.ok(lines.includes(`errors,BAD_REQUEST,attempts,${BAD}`));
    const json = await panel.exportMetrics('json', vscode.Uri.file(path.join(dir, 'm.json')));
    assert.ok(json);
    const parsed = JSON.parse(fs.readFileSync(json.fsPath, 'utf8')) as { run: { runId: string }; metrics: { documents: { succeeded: number } } };
    assert.equal(parsed.run.runId, firstRunId);
    assert.equal(parsed.metrics.documents.succeeded, TOTAL - BAD - 1);
  });

  it('keeps a run history, shows a finished run, and compares two runs', async () => {
    // the server is fixed: reprocess the BAD_REQUEST dead letters in a second run
    const reprocessed = await folder.reprocessDeadLetters(docs.slice(0, BAD), 'server fixed');
    assert.equal(reprocessed, BAD);
    await waitFor('a second run', () => store().latestRun()?.id !== firstRunId);
    await idle();
    const secondRunId = store().latestRun()!.id;
    // following the newest run, the dashboard switched to it
    await waitFor('the dashboard on the second run', () => panel.lastRendered?.runId === secondRunId && !panel.lastRendered.live);
    assert.equal(panel.model?.metrics.documents.succeeded, BAD);
    // health at the end of a run is what the status bar said then: the last 100 documents of every run, each
    // by its latest outcome — the reprocessed dead letters count as done (29 of 30 succeeded, 1 dead letter
    // left) — the same as now, since nothing ran after it
    panel.services.health.refresh();
    assert.equal(panel.model?.run.health, 'healthy', 'health at the end of the second run');
    assert.equal(panel.services.health.health(folder.key)?.report.level, 'healthy', 'health now');
    assert.deepEqual(panel.model?.health.reasons, []);

    await panel.receive({ type: 'dashboard/selectRun', runId: firstRunId });
    await waitFor('the first run rendered', () => panel.lastRendered?.runId === firstRunId);
    assert.equal(panel.model?.run.health, 'unhealthy', 'health at the end of the first run');
    assert.equal(panel.model?.metrics.documents.deadLettered, BAD + 1);

    const compared = panel.posted['dashboard/comparison'] ?? 0;
    await panel.receive({ type: 'dashboard/compare', runIds: [firstRunId, secondRunId] });
    assert.equal(panel.posted['dashboard/comparison'], compared + 1);
    const a = comparisonColumn(store(), store().getRun(firstRunId)!, Date.now());
    const b = comparisonColumn(store(), store().getRun(secondRunId)!, Date.now());
    assert.equal(a.successRate, (TOTAL - BAD - 1) / TOTAL);
    assert.equal(b.successRate, 1);
    assert.ok(a.docsPerMinute > 0 && b.docsPerMinute > 0);
  });

  it('compares two runs on accuracy against the corrections, beside cost and time', async () => {
    // a document of the first run is corrected (its vendor); a third run extracts it again, right this time
    const doc = `${DIR}/doc-20.txt`;
    const before = (await readResult(folder.outDir(), doc))!;
    assert.equal(before.metadata.runId, firstRunId);
    const corrections = new CorrectionsStore(folder.stateDir());
    corrections.add(doc, before, 'set', '/vendor', 'Dash Co', (before.data as { vendor?: JsonValue }).vendor ?? null);
    server.setResponder((req) => ({ reply: { ...(sampleForSchema(requestSchema(req.body)) as object), vendor: 'Dash Co' } }));
    await folder.retry([doc], { force: true });
    await waitFor('the third run', () => store().latestRun()?.id !== firstRunId && (readResultSync(doc)?.metadata.runId ?? firstRunId) !== firstRunId);
    await idle();
    const thirdRunId = readResultSync(doc)!.metadata.runId;

    panel.lastComparisonShown = undefined; // the page's receipt of the earlier comparison
    await panel.receive({ type: 'dashboard/compare', runIds: [firstRunId, thirdRunId] });
    const [a, b] = await waitFor('the comparison', () => (panel.lastComparison?.[1]?.runId === thirdRunId ? panel.lastComparison : undefined));
    // the first run's result of the document was kept when the third run started (it is a checked document)
    assert.equal(a.accuracy?.documents, 1);
    assert.equal(b.accuracy?.documents, 1);
    assert.equal(a.accuracy?.fields.find((f) => f.name === 'vendor')?.accuracy, 0);
    assert.equal(b.accuracy?.fields.find((f) => f.name === 'vendor')?.accuracy, 1);
    assert.equal(b.accuracy?.overall, 1);
    assert.ok(a.accuracy!.overall! < 1);
    const shown = await waitFor('the page\'s verdict', () => panel.lastComparisonShown);
    const points = ((b.accuracy!.overall! - a.accuracy!.overall!) * 100).toFixed(1).replace(/\.0$/, '');
    assert.match(shown.verdict, new RegExp(`^B \\(.+\\) against A \\(.+\\): \\+${points.replace('.', '\\.')} pt accuracy`), shown.verdict);
    assert.ok(shown.rows > 10, 'accuracy rows beside the cost and time rows');
  });
});
