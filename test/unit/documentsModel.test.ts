/**
 * The Documents tree model over several workspace folders (a multi-root workspace): one node per folder
 * with state, each with its own groups, counts, ids and parent chain, and events of one folder refreshing
 * only that folder's nodes. The model is vscode-free, so it runs here on in-memory stores.
 */
import { strict as assert } from 'node:assert';
import { EventBus } from '../../src/core/events';
import { emptyCounts, type DocumentState, type Stage } from '../../src/core/types';
import { DocumentsModel, type DocNode, type FolderNode, type GroupNode, type ModelFolder, type TreeNode } from '../../src/vscode/tree/documentsModel';
import { MemoryCheckpointStore } from '../fakes/memoryStore';

function doc(p: string, stage: Stage): DocumentState {
  return { path: p, size: 10, mtimeMs: 1, readiness: 'ready', stage, attempts: stage === 'pending' ? 0 : 1, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 1 };
}

interface TestFolder extends ModelFolder {
  store: MemoryCheckpointStore | undefined;
  events: EventBus;
}

function folder(key: string, docs: Array<[string, Stage]> | undefined): TestFolder {
  let store: MemoryCheckpointStore | undefined;
  if (docs) {
    store = new MemoryCheckpointStore();
    for (const [p, stage] of docs) store.putDocument(doc(p, stage));
  }
  return { key, name: key.replace(/^file:\/\/\//, ''), store, events: new EventBus() };
}

function model(folders: TestFolder[]): { model: DocumentsModel; refreshes: Array<readonly TreeNode[] | undefined> } {
  const m = new DocumentsModel({ folders: () => folders, onDidChangeFolders: () => ({ dispose() {} }) }, { throttleMs: 10_000 });
  const refreshes: Array<readonly TreeNode[] | undefined> = [];
  m.onDidChange((nodes) => refreshes.push(nodes));
  return { model: m, refreshes };
}

const groupsOf = (m: DocumentsModel, n: TreeNode) => m.children(n).filter((c): c is GroupNode => c.kind === 'group');

describe('Documents tree model: several workspace folders', () => {
  it('shows one node per folder with state, each with its own groups, documents, ids and parents', () => {
    const north = folder('file:///north', [['a.txt', 'done'], ['b.txt', 'done'], ['c.txt', 'pending']]);
    const south = folder('file:///south', [['a.txt', 'done'], ['x.pdf', 'dead-lettered']]);
    const empty = folder('file:///empty', undefined); // no state yet: not shown
    const { model: m } = model([north, south, empty]);
    const roots = m.children();
    assert.deepEqual(roots.map((n) => [n.kind, (n as FolderNode).name]), [['folder', 'north'], ['folder', 'south']]);
    const [n, s] = roots as FolderNode[];
    assert.equal(n.counts.total, 3);
    assert.equal(s.counts.deadLettered, 1);
    assert.deepEqual(groupsOf(m, n).map((g) => `${g.label} ${g.count}`), ['Pending 1', 'Done 2']);
    assert.deepEqual(groupsOf(m, s).map((g) => `${g.label} ${g.count}`), ['Done 1', 'Dead-lettered 1']);
    const nDone = groupsOf(m, n).find((g) => g.group === 'done')!;
    const sDone = groupsOf(m, s).find((g) => g.group === 'done')!;
    assert.notEqual(nDone.id, sDone.id);
    const nDocs = m.children(nDone) as DocNode[];
    const sDocs = m.children(sDone) as DocNode[];
    assert.deepEqual(nDocs.map((d) => d.doc.path), ['a.txt', 'b.txt']);
    assert.deepEqual(sDocs.map((d) => d.doc.path), ['a.txt']);
    assert.notEqual(nDocs[0].id, sDocs[0].id, 'the same path in two folders is two items');
    // the parent chain that reveal() walks: document → group → folder → root
    assert.equal(m.parent(sDocs[0]), sDone);
    assert.equal(m.parent(sDone), s);
    assert.equal(m.parent(s), undefined);
    assert.equal(m.findDocument(south.key, 'x.pdf')?.folderKey, south.key);
    assert.deepEqual(m.counts(), { ...m.counts(), total: 5, done: 3, pending: 1, deadLettered: 1 });
  });

  it('still names the folder while only one of several folders has state', () => {
    const north = folder('file:///north', [['a.txt', 'done']]);
    const south = folder('file:///south', undefined);
    const { model: m } = model([north, south]);
    const roots = m.children();
    assert.deepEqual(roots.map((r) => r.kind), ['folder'], 'a folder node, not north\'s groups without a name');
    assert.equal((roots[0] as FolderNode).name, 'north');
    const done = groupsOf(m, roots[0])[0];
    assert.equal(m.parent(done), roots[0]);
  });

  it('a single-folder workspace shows its groups at the top', () => {
    const only = folder('file:///only', [['a.txt', 'done'], ['b.txt', 'failed']]);
    const { model: m } = model([only]);
    assert.deepEqual(m.children().map((r) => (r as GroupNode).label), ['Done', 'Failed']);
    assert.equal(m.parent(m.children()[0]), undefined);
  });

  it('events of one folder refresh that folder\'s nodes only', () => {
    // (two pending documents: the Pending group stays, so the refresh is of nodes, not of the tree's shape)
    const north = folder('file:///north', [['a.txt', 'done'], ['c.txt', 'pending'], ['d.txt', 'pending']]);
    const south = folder('file:///south', [['a.txt', 'done']]);
    const { model: m, refreshes } = model([north, south]);
    const [n, s] = m.children() as FolderNode[];
    groupsOf(m, n).forEach((g) => m.children(g));
    groupsOf(m, s).forEach((g) => m.children(g));
    north.store!.patchDocument('c.txt', { stage: 'done', attempts: 1 });
    north.events.emit({ type: 'doc/completed', runId: 'r', path: 'c.txt', resultPath: 'out/c.txt.json', durationMs: 5, tokensIn: 1, tokensOut: 1, cost: 0 });
    m.flush();
    const last = refreshes.at(-1);
    assert.ok(last, 'a refresh of some nodes, not of the whole tree');
    assert.ok(last.length > 0);
    assert.ok(last.every((node) => node.folderKey === north.key), `only north's nodes: ${last.map((x) => x.id).join(', ')}`);
    assert.ok(last.includes(n), 'north\'s folder node (its counts changed)');
    assert.equal(n.counts.done, 2);
    assert.equal(s.counts.done, 1);
  });

  it('the end of a run refreshes at once, not at the throttle’s next turn', () => {
    const north = folder('file:///north', [['a.txt', 'pending'], ['b.txt', 'pending']]);
    const { model: m, refreshes } = model([north]);
    m.children();
    north.store!.patchDocument('a.txt', { stage: 'extracting', attempts: 1 });
    north.events.emit({ type: 'doc/stage', runId: 'r', path: 'a.txt', stage: 'extracting' });
    const before = refreshes.length; // the throttle (10 s) holds this change back
    north.store!.patchDocument('a.txt', { stage: 'done' });
    north.events.emit({ type: 'doc/completed', runId: 'r', path: 'a.txt', resultPath: 'out/a.txt.json', durationMs: 5, tokensIn: 1, tokensOut: 1, cost: 0 });
    assert.equal(refreshes.length, before, 'documents are batched');
    const progress = { ...emptyCounts(), total: 2, done: 1, pending: 1, runId: 'r', inFlight: 0, docsPerMinute: 0, paused: false };
    north.events.emit({ type: 'run/finished', runId: 'r', status: 'completed', progress });
    assert.ok(refreshes.length > before, 'refreshed without waiting for the throttle');
    assert.equal(m.counts(north.key).done, 1);
    assert.equal(m.counts(north.key).running, 0);
  });
});
