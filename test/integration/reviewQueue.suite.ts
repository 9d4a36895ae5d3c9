/**
 * Review routing in a real VS Code: a done document with a value the document does not support (low
 * confidence) is listed under "Needs review" in the Documents tree — and still under Done — until it is
 * marked reviewed in the Review panel; the review.confidenceThreshold setting moves the line, and a job's
 * review.confidenceThreshold wins over it.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readResult } from '../../src/export/jsonExporter';
import type { Grounding } from '../../src/extract/grounding';
import type { ExtensionApi } from '../../src/vscode/api';
import type { ReviewPanel } from '../../src/vscode/review/reviewPanel';
import type { DocNode, GroupNode, TreeNode } from '../../src/vscode/tree/documentsModel';
import type { FolderRuns } from '../../src/vscode/workspaceRuns';
import { startModelServer, type ModelServer } from '../support/modelServer';
import { activateFirstFolder, removeSuiteDocuments, SuiteSettings, waitFor } from './support';

const DIR = 'review-queue-suite';
const LOW = `${DIR}/unsure.txt`;
const SURE = `${DIR}/sure.txt`;
const TEXT = ['Harbour Lights Ltd', 'Invoice no. H-12', 'Date: 2024-06-01', '', 'Lamp oil      4    40.00', '', 'Total due: EUR 40.00', ''].join('\n');
// the sample workspace's schema (invoice.schema.json), every value in the text
const GOOD = { invoice_number: 'H-12', invoice_date: '2024-06-01', vendor: 'Harbour Lights Ltd', total: 40, currency: 'EUR', line_items: [{ description: 'Lamp oil', quantity: 4, amount: 40 }] };
// the vendor is nowhere in the document: ungrounded, confidence 0.2
const INVENTED = { ...GOOD, vendor: 'Quayside Trading GmbH' };

describe('Extraction Workbench: Needs review', function () {
  this.timeout(60_000);

  let api: ExtensionApi;
  let folder: FolderRuns;
  let server: ModelServer;
  let panel: ReviewPanel | undefined;
  const settings = new SuiteSettings(() => folder);

  const group = (id: 'needsReview' | 'done'): GroupNode | undefined => {
    api.treeModel.flush();
    const roots = api.treeProvider.getChildren() as TreeNode[];
    return roots.find((n): n is GroupNode => n.kind === 'group' && n.group === id);
  };
  const pathsIn = (g: GroupNode | undefined): string[] =>
    g ? (api.treeProvider.getChildren(g) as TreeNode[]).filter((n): n is DocNode => n.kind === 'doc').map((n) => n.doc.path) : [];

  before(async () => {
    ({ api, folder } = await activateFirstFolder());
    await waitFor('no run in progress', () => !folder.running);
    server = await startModelServer({ responder: (req) => ({ reply: req.document === LOW ? INVENTED : GOOD }) });
    await settings.set('baseUrl', server.url);
    fs.mkdirSync(path.join(folder.root, DIR), { recursive: true });
    fs.writeFileSync(path.join(folder.root, ...LOW.split('/')), TEXT);
    fs.writeFileSync(path.join(folder.root, ...SURE.split('/')), TEXT);
    await folder.retry([LOW, SURE]);
    await waitFor('the results', async () => (await readResult(folder.outDir(), LOW)) && (await readResult(folder.outDir(), SURE)) && !folder.running);
  });

  after(async () => {
    panel?.panel.dispose();
    await server?.close();
    await settings.restore();
    if (folder) await removeSuiteDocuments(api, folder, DIR, [LOW, SURE]);
  });

  it('stores a confidence per value in the result, lowest for the ungrounded one', async () => {
    const g = (await readResult(folder.outDir(), LOW))!.grounding as Grounding;
    const vendor = g.fields.find((f) => f.pointer === '/vendor')!;
    assert.equal(vendor.status, 'ungrounded');
    assert.equal(g.summary.minConfidence, vendor.confidence);
    assert.ok(vendor.confidence! < 0.6, String(vendor.confidence));
    const sure = (await readResult(folder.outDir(), SURE))!.grounding as Grounding;
    assert.ok(sure.summary.minConfidence! >= 0.6, JSON.stringify(sure.fields));
  });

  it('lists the low-confidence document under "Needs review" and keeps it under Done', async () => {
    const needs = await waitFor('the Needs review group', () => group('needsReview'));
    const item = api.treeProvider.getTreeItem(needs);
    assert.equal(item.label, 'Needs review');
    assert.equal(item.contextValue, 'group.needsReview');
    assert.ok(pathsIn(needs).includes(LOW), pathsIn(needs).join(', '));
    assert.ok(!pathsIn(needs).includes(SURE), 'the grounded document does not need review');
    const done = group('done')!;
    assert.equal(done.count, api.treeModel.counts(folder.key).done, 'Done still counts every done document');
    const node = (api.treeProvider.getChildren(needs) as TreeNode[]).find((n): n is DocNode => n.kind === 'doc' && n.doc.path === LOW)!;
    assert.equal(api.treeProvider.getTreeItem(node).contextValue, 'document.done', 'the menus of done documents apply');
  });

  it('drops the document from "Needs review" once it is marked reviewed', async () => {
    const before = group('needsReview')!.count;
    panel = await vscode.commands.executeCommand<ReviewPanel>('extractionWorkbench.openReview', folder.uriOf(LOW));
    await waitFor('the document view', () => panel!.view);
    await panel!.handle({ type: 'review/markReviewed', reviewed: true });
    await waitFor('the document to leave Needs review', () => !pathsIn(group('needsReview')).includes(LOW));
    assert.equal(group('needsReview')?.count ?? 0, before - 1);
    assert.ok(pathsIn(group('done')).includes(LOW), 'still done');
    // unmarked: back in the queue
    await panel!.handle({ type: 'review/markReviewed', reviewed: false });
    await waitFor('the document back in Needs review', () => pathsIn(group('needsReview')).includes(LOW));
  });

  it('follows the review.confidenceThreshold setting', async () => {
    await settings.set('review.confidenceThreshold', 0);
    await waitFor('no document below a threshold of 0', () => !pathsIn(group('needsReview')).includes(LOW));
    await settings.set('review.confidenceThreshold', 0.6);
    await waitFor('back with 0.6', () => pathsIn(group('needsReview')).includes(LOW));
  });

  it('a job\'s review.confidenceThreshold wins over the setting', async () => {
    const file = folder.configPath;
    const original = fs.readFileSync(file, 'utf8');
    try {
      const config = JSON.parse(original) as { jobs: Array<Record<string, unknown>> };
      for (const job of config.jobs) job.review = { confidenceThreshold: 0 };
      fs.writeFileSync(file, JSON.stringify(config, null, 2));
      await waitFor('no document below the job\'s threshold of 0', () => !pathsIn(group('needsReview')).includes(LOW));
      assert.equal(folder.reviewThreshold(), 0);
      assert.equal(folder.settings().reviewConfidenceThreshold, 0.6, 'the setting is unchanged');
    } finally {
      fs.writeFileSync(file, original);
    }
    await waitFor('the setting\'s threshold again', () => pathsIn(group('needsReview')).includes(LOW));
  });
});
