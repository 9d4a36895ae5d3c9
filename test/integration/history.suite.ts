/**
 * Show History in a real VS Code: a document of the Documents view whose attempts failed with raw replies
 * opens as a read-only Markdown document with its attempts, errors and replies.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/vscode/api';
import type { FolderRuns } from '../../src/vscode/workspaceRuns';
import { activateFirstFolder, removeSuiteDocuments, waitFor } from './support';

const DIR = 'history-suite';
const REL = `${DIR}/broken invoice.txt`;
const REPLY_1 = '{"invoice_number": "INV-7", "total": 12,5 EUR';
const REPLY_2 = '{"invoice_number": "INV-7", "total": "twelve"}\n```\nnot closed';

describe('Extraction Workbench: Show History', function () {
  this.timeout(60_000);
  let api: ExtensionApi;
  let folder: FolderRuns;

  before(async () => {
    ({ api, folder } = await activateFirstFolder());
    fs.mkdirSync(path.join(folder.root, DIR), { recursive: true });
    fs.writeFileSync(path.join(folder.root, REL), 'Invoice INV-7\nTotal: 12.50 EUR\n');
    const t = Date.UTC(2026, 0, 2, 3, 4, 5);
    await folder.withWritableStore((s) => {
      s.putDocument({
        path: REL,
        size: 30,
        mtimeMs: t,
        readiness: 'ready',
        stage: 'dead-lettered',
        attempts: 2,
        lastError: { code: 'SCHEMA_MISMATCH', message: 'total: must be number', stage: 'validating', retryable: true },
        tokensIn: 80,
        tokensOut: 20,
        cost: 0,
        updatedAt: t,
      });
      const base = { runId: 'history-suite-run', path: REL, stageReached: 'validating' as const, tokensIn: 40, tokensOut: 10, cost: 0, requests: 1, model: 'local-model' };
      s.recordAttempt({ ...base, attempt: 1, startedAt: t, endedAt: t + 1500, durationMs: 1500, outcome: 'retry', errorCode: 'MALFORMED_OUTPUT', errorMessage: 'The answer is not JSON', rawReply: REPLY_1 });
      s.recordAttempt({ ...base, attempt: 2, startedAt: t + 2000, endedAt: t + 2600, durationMs: 600, outcome: 'dead-lettered', errorCode: 'SCHEMA_MISMATCH', errorMessage: 'total: must be number', rawReply: REPLY_2 });
      s.putDeadLetter({ path: REL, runId: 'history-suite-run', stage: 'validating', code: 'SCHEMA_MISMATCH', message: 'total: must be number', attempts: 2, at: t + 2600 });
    });
    api.treeModel.reload();
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await removeSuiteDocuments(api, folder, DIR, [REL]);
  });

  it('opens the attempts, errors and raw replies of a document as read-only Markdown', async () => {
    const node = await waitFor(`a tree node for ${REL}`, () => {
      api.treeModel.flush();
      return api.treeModel.findDocument(folder.key, REL);
    });
    const doc = await vscode.commands.executeCommand<vscode.TextDocument>('extractionWorkbench.showHistory', node, [node]);
    assert.ok(doc, 'the command returns the history document');
    assert.equal(doc.uri.scheme, 'extraction-history');
    assert.equal(doc.languageId, 'markdown');
    assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), doc.uri.toString(), 'it is shown');
    const text = doc.getText();
    assert.match(text, /^# History of `history-suite\/broken invoice\.txt`$/m);
    assert.match(text, /^### Attempt 1 · retry · run `history-suite-run`$/m);
    assert.match(text, /^- Error `MALFORMED_OUTPUT`: The answer is not JSON$/m);
    assert.match(text, /^### Attempt 2 · dead-lettered · run `history-suite-run`$/m);
    assert.match(text, /^- tokens 40 in \/ 10 out · cost 0 · 1 request · local-model$/m);
    assert.ok(text.includes(`\`\`\`text\n${REPLY_1}\n\`\`\``), 'the first raw reply, whole, in a code block');
    assert.ok(text.includes(`\`\`\`\`text\n${REPLY_2}\n\`\`\`\``), 'a reply with a fence in it gets a longer fence');
    assert.match(text, /^\*\*In the dead-letter queue:\*\* 2026-01-02 03:04:07Z, run `history-suite-run`, stage validating: `SCHEMA_MISMATCH` total: must be number · 2 attempts$/m);

    // read anew when shown again: a reprocessed dead letter moves to the history
    await folder.withWritableStore((s) => s.markDeadLetterReprocessed(REL, Date.UTC(2026, 0, 3), 'from the suite'));
    const again = await vscode.commands.executeCommand<vscode.TextDocument>('extractionWorkbench.showHistory', node, [node]);
    assert.equal(again?.uri.toString(), doc.uri.toString());
    const updated = await waitFor('the history to be read again', () => (again.getText().includes('## Dead-letter history (1)') ? again.getText() : undefined));
    assert.match(updated, /reprocessed 2026-01-03 00:00:00Z \(from the suite\)/);
    assert.doesNotMatch(updated, /In the dead-letter queue/);
  });
});
