/** A document's history as text and Markdown (shared by `history` and Show History). */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatHistoryMarkdown, formatHistoryText, readDocumentHistory } from '../../src/app/documentHistory';
import type { AttemptRecord } from '../../src/core/types';
import { SqlJsCheckpointStore } from '../../src/store';
import { RequestLog } from '../../src/store/requestLog';
import { MemoryCheckpointStore } from '../fakes/memoryStore';

const T = Date.UTC(2026, 0, 2, 3, 4, 5);

function att(over: Partial<AttemptRecord>): AttemptRecord {
  return { runId: 'r1', path: 'a.txt', attempt: 1, stageReached: 'extracting', startedAt: T, endedAt: T + 1234, durationMs: 1234, outcome: 'retry', tokensIn: 10, tokensOut: 2, cost: 0.0012, ...over };
}

describe('document history', () => {
  it('gathers state, attempts with replies, dead letters and request logs; undefined for an unknown document', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-doc-history-'));
    const s = await SqlJsCheckpointStore.open({ dir: stateDir, logger: { warn: () => undefined } });
    try {
      s.putDocument({ path: 'a.txt', size: 1, mtimeMs: 1, readiness: 'ready', stage: 'failed', attempts: 1, tokensIn: 10, tokensOut: 2, cost: 0, updatedAt: T });
      s.recordAttempt(att({ errorCode: 'MALFORMED_OUTPUT', errorMessage: 'not JSON', rawReply: 'nope', requests: 2, model: 'm' }));
      s.recordAttempt(att({ runId: 'r0', path: 'b.txt' }));
      const log = new RequestLog({ stateDir });
      log.write({ at: T, runId: 'r1', path: 'a.txt', messages: [] });
      log.close();
      const h = readDocumentHistory(s, 'a.txt', stateDir);
      assert.ok(h);
      assert.equal(h.document?.stage, 'failed');
      assert.deepEqual(
        h.attempts.map((a) => [a.rawReply, a.requests, a.model]),
        [['nope', 2, 'm']],
      );
      assert.deepEqual(h.requestLogs, [{ runId: 'r1', file: path.join(stateDir, 'requests', 'r1.ndjson') }]);
      assert.deepEqual(readDocumentHistory(s, 'b.txt', stateDir)?.document, undefined, 'history without a document');
      assert.equal(readDocumentHistory(s, 'c.txt', stateDir), undefined);
      assert.match(formatHistoryText(h, { relativeTo: stateDir }), /^Request logs:\n {2}requests\/r1\.ndjson$/m);
      assert.equal(readDocumentHistory(new MemoryCheckpointStore(), 'a.txt'), undefined, 'a store without dead-letter history');
    } finally {
      s.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('text: notes a reply the store cut, and cuts long lines of replies to the character limit', () => {
    const text = formatHistoryText(
      { path: 'a.txt', attempts: [att({ rawReply: 'x'.repeat(5000), rawReplyTruncated: true, errorCode: 'TRUNCATED_OUTPUT', errorMessage: 'cut off' })], deadLetterHistory: [], requestLogs: [] },
      { maxReplyChars: 100, fullReplyHint: 'see --json' },
    );
    assert.match(text, /^Now: no longer in the state \(only its history is left\)$/m);
    assert.match(text, /^ {2}#1 {2}run r1 {2}2026-01-02 03:04:05Z {2}1\.2 s {2}reached extracting {2}retry$/m);
    assert.match(text, /^ {6}tokens 10 in \/ 2 out · cost 0\.0012$/m);
    assert.match(text, /raw reply \(5000 characters; the store kept the first 64 KB of a longer reply\):\n {8}x{100}\n {8}… 4900 more characters not shown \(see --json\)$/m);
  });

  it('Markdown: replies whole in fences longer than their backticks, free text escaped', () => {
    const reply = 'a ``` b ```` c';
    const markdown = formatHistoryMarkdown({
      path: 'we`ird.txt',
      document: { path: 'we`ird.txt', size: 1, mtimeMs: 1, readiness: 'ready', stage: 'failed', attempts: 1, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 1, lastError: { code: 'X_Y', message: '*bold* <b>html</b> [link](x)', stage: 'extracting', retryable: true } },
      attempts: [att({ rawReply: reply, errorCode: 'X_Y', errorMessage: '*bold*' })],
      deadLetterHistory: [],
      requestLogs: [],
    });
    assert.match(markdown, /^# History of `` we`ird\.txt ``$/m);
    assert.ok(markdown.includes(`\`\`\`\`\`text\n${reply}\n\`\`\`\`\``), markdown);
    assert.match(markdown, /^\*\*Now:\*\* failed · last error `X_Y` \\\*bold\\\* \\<b\\>html\\<\/b\\> \\\[link\\\]\(x\) \(stage extracting\)/m);
    assert.match(markdown, /^- Error `X_Y`: \\\*bold\\\*$/m);
  });
});
