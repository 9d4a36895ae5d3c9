/**
 * The Documents tree over a large state: 10,000 documents written straight into a checkpoint store (the
 * same sql.js store and WASM the extension ships), shown through the tree model and provider. Checks
 * paging (first page ≤ page size plus a "Load more…" node), the Pending/Rejected split, and that a burst of
 * pipeline events becomes one batched refresh of the changed groups, not a refresh per event.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EventBus } from '../../src/core/events';
import type { DocumentState, Stage } from '../../src/core/types';
import { SqlJsCheckpointStore } from '../../src/store/sqlStore';
import type { CheckpointStore } from '../../src/store/types';
import { DocumentsModel, type DocNode, type GroupNode, type MoreNode, type TreeNode } from '../../src/vscode/tree/documentsModel';
import { DocumentsProvider } from '../../src/vscode/tree/documentsProvider';
import { EXTENSION_ID } from './support';

const TOTAL = 10_000;
const PAGE = 500;

function doc(p: string, stage: Stage, extra: Partial<DocumentState> = {}): DocumentState {
  return { path: p, size: 100, mtimeMs: 1, readiness: 'ready', stage, attempts: stage === 'pending' ? 0 : 1, tokensIn: 10, tokensOut: 5, cost: 0, updatedAt: 1, ...extra };
}

describe('Extraction Workbench: Documents tree over 10,000 documents', function () {
  this.timeout(60_000);

  let dir: string;
  let store: CheckpointStore;
  let bus: EventBus;
  let model: DocumentsModel;
  let provider: DocumentsProvider;
  const refreshes: Array<readonly TreeNode[] | undefined> = [];

  before(async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-paging-'));
    store = await SqlJsCheckpointStore.open({ dir, wasmPath: path.join(ext.extensionPath, 'dist', 'sql-wasm.wasm') });
    // 9,000 done, 600 dead-lettered, 300 pending, 100 rejected (stage pending, readiness rejected)
    for (let i = 0; i < TOTAL; i++) {
      const p = `docs/${String(i).padStart(5, '0')}.pdf`;
      // a mixed folder's choices: the first done document classified as an invoice, the rejected ones as no job's
      if (i < 9000) store.putDocument(doc(p, 'done', { durationMs: 1200, ...(i === 0 ? { job: 'invoice', jobKey: 'k' } : {}) }));
      else if (i < 9600) store.putDocument(doc(p, 'dead-lettered', { lastError: { code: 'BAD_REQUEST', message: 'rejected', stage: 'extracting', retryable: false } }));
      else if (i % 4 === 0) store.putDocument(doc(p, 'pending', { readiness: 'rejected', rejectReason: 'Too large', job: 'none', jobKey: 'k' }));
      else store.putDocument(doc(p, 'pending'));
    }
    bus = new EventBus();
    const folder = { key: 'test-folder', name: 'big', store, events: bus };
    model = new DocumentsModel({ folders: () => [folder], onDidChangeFolders: () => ({ dispose() {} }) }, { pageSize: PAGE, throttleMs: 100 });
    provider = new DocumentsProvider(model);
    model.onDidChange((nodes) => refreshes.push(nodes));
  });

  after(() => {
    provider?.dispose();
    model?.dispose();
    store?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const group = (id: GroupNode['group']): GroupNode => {
    const g = (provider.getChildren() as TreeNode[]).find((n): n is GroupNode => n.kind === 'group' && n.group === id);
    assert.ok(g, `group ${id} shown`);
    return g;
  };

  it('shows the non-empty status groups with their counts', () => {
    const roots = provider.getChildren() as GroupNode[];
    assert.deepEqual(
      roots.map((g) => [g.group, g.count]),
      [
        ['pending', 300],
        ['done', 9000],
        ['deadLettered', 600],
        ['rejected', 100],
      ],
    );
    const items = roots.map((g) => provider.getTreeItem(g));
    assert.deepEqual(items.map((i) => i.description), ['300', '9000', '600', '100']);
    assert.deepEqual(items.map((i) => (i.iconPath as vscode.ThemeIcon).id), ['circle-outline', 'pass', 'archive', 'circle-slash']);
  });

  it('renders the first page of a large group with a "Load more…" node, and pages on', () => {
    const done = group('done');
    const first = provider.getChildren(done) as TreeNode[];
    const docs = first.filter((n): n is DocNode => n.kind === 'doc');
    assert.ok(docs.length <= PAGE, 'at most one page of documents');
    assert.equal(docs.length, PAGE);
    const more = first[first.length - 1] as MoreNode;
    assert.equal(more.kind, 'more');
    assert.equal(first.length, PAGE + 1);
    const moreItem = provider.getTreeItem(more);
    assert.equal(moreItem.label, 'Load more…');
    assert.equal(moreItem.command?.command, 'extractionWorkbench.loadMore');
    assert.equal(moreItem.description, `${9000 - PAGE} more`);
    assert.equal(provider.getParent(more), done);
    assert.equal(docs[0].doc.path, 'docs/00000.pdf', 'ordered by path');
    assert.match(String((provider.getTreeItem(docs[0]).tooltip as vscode.MarkdownString).value), /Job: invoice \\?\(classified\\?\)/);

    model.loadMore(more);
    const second = provider.getChildren(done) as TreeNode[];
    assert.equal(second.filter((n) => n.kind === 'doc').length, 2 * PAGE);
    assert.equal(second[second.length - 1].kind, 'more');
    const ids = second.map((n) => n.id);
    assert.equal(new Set(ids).size, ids.length, 'ids are unique');
    assert.equal((second[0] as DocNode).id, docs[0].id, 'ids are stable across pages');
    assert.equal(second[0], docs[0], 'node objects are reused');
  });

  it('keeps rejected documents out of Pending and lists them under Rejected', () => {
    const pending = provider.getChildren(group('pending')) as TreeNode[];
    assert.equal(pending.length, 300, 'a small group has no load-more node');
    assert.ok(pending.every((n) => n.kind === 'doc' && n.doc.readiness !== 'rejected'));
    const rejected = provider.getChildren(group('rejected')) as DocNode[];
    assert.equal(rejected.length, 100);
    assert.ok(rejected.every((n) => n.doc.readiness === 'rejected'));
    const item = provider.getTreeItem(rejected[0]);
    assert.equal(item.contextValue, 'document.rejected');
    assert.match(String((item.tooltip as vscode.MarkdownString).value), /Too large/);
    assert.match(String((item.tooltip as vscode.MarkdownString).value), /Job: none fits \\?\(classified\\?\)/);
  });

  it('turns a burst of events into one refresh of the changed groups only', async () => {
    refreshes.length = 0;
    const flushesBefore = model.flushes;
    // 100 pending documents start and finish: 300 events in one tick
    const moved = (provider.getChildren(group('pending')) as DocNode[]).slice(0, 100).map((n) => n.doc.path);
    for (const p of moved) {
      store.patchDocument(p, { stage: 'reading', attempts: 1 });
      bus.emit({ type: 'doc/started', runId: 'r', path: p, attempt: 1 });
      store.patchDocument(p, { stage: 'done' });
      bus.emit({ type: 'doc/stage', runId: 'r', path: p, stage: 'reading' });
      bus.emit({ type: 'doc/completed', runId: 'r', path: p, resultPath: `${p}.json`, durationMs: 1, tokensIn: 1, tokensOut: 1, cost: 0 });
    }
    const deadline = Date.now() + 5000;
    while (model.flushes === flushesBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(model.flushes, flushesBefore + 1, 'one flush for the whole burst');
    assert.equal(refreshes.length, 1, 'one tree refresh');
    const changed = refreshes[0];
    assert.ok(changed, 'not a full refresh');
    assert.deepEqual(
      changed.map((n) => (n as GroupNode).group).sort(),
      ['done', 'pending'],
      'only the groups whose documents changed (running was entered and left within the batch, so it stays hidden)',
    );
    assert.equal(group('pending').count, 200);
    assert.equal(group('done').count, 9100);
    assert.equal(group('deadLettered').count, 600);
  });
});
