/**
 * Review routing without VS Code: which done documents need review (ReviewQueue over real result files)
 * and the Documents tree model's "Needs review" group (a view of Done, recounted when a review changes).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventBus } from '../../src/core/events';
import type { DocumentState, Stage } from '../../src/core/types';
import { writeResult } from '../../src/export/jsonExporter';
import { GROUNDING_CONFIDENCE, withConfidence } from '../../src/extract/confidence';
import { groundValues } from '../../src/extract/grounding';
import { convertTextBytes } from '../../src/convert/text';
import { ReviewQueue, resultMinConfidence } from '../../src/vscode/review/reviewQueue';
import { DocumentsModel, type DocNode, type GroupNode } from '../../src/vscode/tree/documentsModel';
import { MemoryCheckpointStore } from '../fakes/memoryStore';

const TEXT = 'Harbour Lights Ltd\nInvoice H-12\nTotal EUR 40.00\n';

function doc(p: string, stage: Stage, updatedAt = 1): DocumentState {
  return { path: p, size: 10, mtimeMs: 1, readiness: 'ready', stage, attempts: 1, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt };
}

async function result(outDir: string, p: string, data: unknown, withConf = true): Promise<void> {
  const g = groundValues(data, convertTextBytes(Buffer.from(TEXT), 'text'));
  const grounding = withConf ? withConfidence(g) : g;
  const metadata = { runId: 'r', model: 'm', schemaHash: 'h', fingerprint: 'f', contentHash: 'c', converter: 'text', attempts: 1, requests: 1, tokensIn: 0, tokensOut: 0, cost: 0, startedAt: '', finishedAt: '' };
  await writeResult(outDir, { formatVersion: 1, source: p, data, grounding, metadata });
}

describe('review queue', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-review-queue-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the lowest confidence of a result, also from results written before confidences', async () => {
    await result(dir, 'sure.txt', { vendor: 'Harbour Lights Ltd', total: 40 });
    await result(dir, 'unsure.txt', { vendor: 'Quayside GmbH', total: 40 });
    await result(dir, 'old.txt', { vendor: 'Quayside GmbH', total: 40 }, false);
    assert.equal(resultMinConfidence(dir, 'sure.txt'), GROUNDING_CONFIDENCE.normalized, '40 is found as 40.00');
    assert.equal(resultMinConfidence(dir, 'unsure.txt'), 0.2);
    assert.equal(resultMinConfidence(dir, 'old.txt'), 0.2, 'the same rule for an old result');
    assert.equal(resultMinConfidence(dir, 'missing.txt'), 1, 'no result: nothing to route');
  });

  it('routes done, unreviewed documents below the threshold; the tree groups them under Needs review and Done', async () => {
    await result(dir, 'sure.txt', { vendor: 'Harbour Lights Ltd', total: 40 });
    await result(dir, 'unsure.txt', { vendor: 'Quayside GmbH', total: 40 });
    await result(dir, 'failed.txt', { vendor: 'Quayside GmbH', total: 40 });
    const store = new MemoryCheckpointStore();
    store.putDocument(doc('sure.txt', 'done'));
    store.putDocument(doc('unsure.txt', 'done'));
    store.putDocument(doc('failed.txt', 'failed'));
    const reviewed = new Set<string>();
    let threshold = 0.6;
    const queue = new ReviewQueue();
    const m = new DocumentsModel(
      { folders: () => [{ key: 'k', name: 'k', store, events: new EventBus() }], onDidChangeFolders: () => ({ dispose() {} }) },
      { throttleMs: 10_000, review: { needsReview: (key, docs) => queue.filter(key, { outDir: dir, threshold, reviewed: (p) => reviewed.has(p) }, docs) } },
    );
    const groups = () => m.children().filter((n): n is GroupNode => n.kind === 'group');
    const paths = (id: string) => {
      const g = groups().find((x) => x.group === id);
      return g ? (m.children(g) as DocNode[]).map((d) => d.doc.path) : [];
    };
    assert.deepEqual(groups().map((g) => `${g.label} ${g.count}`), ['Needs review 1', 'Done 2', 'Failed 1']);
    assert.deepEqual(paths('needsReview'), ['unsure.txt']);
    assert.deepEqual(paths('done'), ['sure.txt', 'unsure.txt']);

    reviewed.add('unsure.txt');
    m.reviewChanged('k');
    assert.deepEqual(groups().map((g) => g.label), ['Done', 'Failed'], 'marked reviewed: the group is empty and hidden');
    reviewed.delete('unsure.txt');
    m.reviewChanged();
    assert.deepEqual(paths('needsReview'), ['unsure.txt']);
    threshold = 0.1;
    m.reviewChanged();
    assert.deepEqual(paths('needsReview'), [], 'below a threshold of 0.1: nothing');
    m.dispose();
  });
});
