/**
 * The Review panel's host side in a real VS Code: the commands open a locked-down webview panel on a
 * document, and the messages a page sends (driven here through `ReviewPanel.handle`, validated exactly
 * as the page's own) correct fields, undo, mark reviewed, rerun with a diff to accept or reject, and
 * navigate. Results, corrections files and the Documents tree are checked on disk and through the API.
 * (The page itself is exercised by the UI scenario test/ui/scenarios/review.scenario.ts.)
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readResult } from '../../src/export/jsonExporter';
import type { HostMessage } from '../../src/shared/reviewProtocol';
import type { ExtensionApi } from '../../src/vscode/api';
import type { ReviewedResultFile } from '../../src/app/corrections';
import type { ReviewPanel } from '../../src/vscode/review/reviewPanel';
import type { FolderRuns } from '../../src/vscode/workspaceRuns';
import { startModelServer, type ModelServer } from '../support/modelServer';
import { activateFirstFolder, EXTENSION_ID, SuiteSettings, waitFor } from './support';

const DOC = 'review-suite/invoice-77.txt';
const TEXT = ['Kestrel Paper Mill Ltd', 'Invoice no. K-77-2024', 'Date: 05.03.2024', '', 'Copy paper A4      10    49.90', 'Toner cartridge     1   129.00', '', 'Total due: EUR 178.90', ''].join('\n');
const FIRST = {
  invoice_number: 'K-77-2024',
  invoice_date: '2024-03-05',
  vendor: 'Kestrel Paper Mill Ltd',
  total: 178.9,
  currency: 'EUR',
  line_items: [
    { description: 'Copy paper A4', quantity: 10, amount: 49.9 },
    { description: 'Toner cartridge', quantity: 1, amount: 129 },
  ],
};
const SECOND = { ...FIRST, total: 178.95, vendor: 'Kestrel Paper Mill' };



describe('Extraction Workbench: Review panel', function () {
  this.timeout(60_000);

  let api: ExtensionApi;
  let folder: FolderRuns;
  let server: ModelServer;
  let panel: ReviewPanel;
  let posted: HostMessage[] = [];
  const settings = new SuiteSettings(() => folder);
  const result = async () => (await readResult(folder.outDir(), DOC)) as ReviewedResultFile;
  const send = (msg: unknown) => panel.handle(msg);
  const lastPosted = <T extends HostMessage['type']>(type: T) => [...posted].reverse().find((m) => m.type === type) as Extract<HostMessage, { type: T }> | undefined;

  before(async () => {
    ({ api, folder } = await activateFirstFolder());
    await waitFor('no run in progress', () => !folder.running);
    server = await startModelServer({ responder: (req) => ({ reply: req.document === DOC && req.attempt > 1 ? SECOND : FIRST }) });
    await settings.set('baseUrl', server.url);
    fs.mkdirSync(path.join(folder.root, 'review-suite'), { recursive: true });
    fs.writeFileSync(path.join(folder.root, ...DOC.split('/')), TEXT);
    // the new document, and the sample PDF (already extracted when the documents suite ran first)
    await folder.retry([DOC, 'invoice-single-column.pdf']);
    await waitFor('the results', async () => (await readResult(folder.outDir(), DOC)) && (await readResult(folder.outDir(), 'invoice-single-column.pdf')) && !folder.running);
  });

  after(async () => {
    panel?.panel.dispose();
    await server?.close();
    await settings.restore();
  });

  it('"Open Review" opens a locked-down panel on the document with grounded fields', async () => {
    const p = await vscode.commands.executeCommand<ReviewPanel>('extractionWorkbench.openReview', folder.uriOf(DOC));
    assert.ok(p, 'the command returns the panel');
    panel = p;
    panel.onDidPost((m) => posted.push(m));
    const view = await waitFor('the document view', () => panel.view);
    assert.equal(view.path, DOC);
    assert.equal(view.stage, 'done');
    assert.equal(view.source.kind, 'text');
    assert.equal(view.source.kind === 'text' && view.source.text, TEXT);
    assert.deepEqual(view.data, FIRST);
    assert.ok(view.grounding);
    assert.equal(view.grounding.summary.ungrounded, 0, JSON.stringify(view.grounding.fields.filter((f) => f.status !== 'grounded')));
    const date = view.grounding.fields.find((f) => f.pointer === '/invoice_date');
    assert.deepEqual([date?.match, date?.line], ['normalized', 3]);
    assert.equal(view.canRun, true);
    assert.ok(view.nav.total >= 2);

    const html = panel.panel.webview.html;
    const nonce = /<script nonce="([^"]+)" src="[^"]+review\.js"><\/script>/.exec(html)?.[1];
    assert.ok(nonce && nonce.length >= 16, 'one script, with a nonce');
    assert.ok(html.includes(`script-src 'nonce-${nonce}'`), 'the CSP allows exactly that nonce');
    assert.match(html, /default-src 'none'/);
    assert.doesNotMatch(html, /unsafe-inline|unsafe-eval/);
    assert.equal((html.match(/<script/g) ?? []).length, 1, 'no inline scripts');
    assert.doesNotMatch(html, /\sstyle=|<style/, 'no inline styles');
    const roots = (panel.panel.webview.options.localResourceRoots ?? []).map((u) => u.fsPath).sort();
    // the extension's webview scripts, pdf.js cMaps and fonts, styles; and the document's own folder — nothing else
    const own = (...p: string[]) => path.join(ext().extensionPath, ...p);
    assert.deepEqual(roots, [own('dist', 'webview'), own('dist', 'pdfjs'), own('media'), path.join(folder.root, 'review-suite')].sort());
    assert.equal(panel.panel.title, 'Review: invoice-77.txt');
  });

  it('serves a PDF as a webview URI of its folder with page sizes for the overlay', async () => {
    const p = await vscode.commands.executeCommand<ReviewPanel>('extractionWorkbench.openReview', folder.uriOf('invoice-single-column.pdf'));
    assert.equal(p, panel, 'one panel, reused');
    const view = await waitFor('the PDF view', () => panel.view?.path === 'invoice-single-column.pdf' && panel.view);
    assert.equal(view.source.kind, 'pdf');
    if (view.source.kind !== 'pdf') return;
    assert.deepEqual(view.source.pages, [{ page: 1, width: 612, height: 792 }]);
    assert.equal(view.source.uri, panel.panel.webview.asWebviewUri(folder.uriOf('invoice-single-column.pdf')).toString());
    const roots = (panel.panel.webview.options.localResourceRoots ?? []).map((u) => u.fsPath);
    assert.ok(roots.includes(folder.root) && !roots.includes(path.join(folder.root, 'review-suite')), 'the resource roots follow the shown document');
    await vscode.commands.executeCommand('extractionWorkbench.openReview', folder.uriOf(DOC));
    await waitFor('back on the text document', () => panel.view?.path === DOC);
  });

  it('saves a valid correction apart from the model output and writes it into the result file', async () => {
    posted = [];
    await send({ type: 'review/correct', op: 'set', pointer: '/total', value: 178.99 });
    const r = await result();
    assert.deepEqual(r.data, FIRST, 'data stays the model output');
    assert.equal((r.corrected as typeof FIRST).total, 178.99);
    assert.equal(r.review?.corrections, 1);
    assert.deepEqual(r.review?.correctedFields, ['/total']);
    assert.equal(r.review?.correctionsFile, `.extraction/corrections/${DOC}.json`);
    const stored = JSON.parse(fs.readFileSync(path.join(folder.root, '.extraction', 'corrections', ...`${DOC}.json`.split('/')), 'utf8'));
    assert.equal(stored.corrections[0].previous, 178.9);
    assert.ok(stored.corrections[0].by && stored.corrections[0].at);
    const update = lastPosted('review/update');
    assert.ok(update, 'the page gets the corrected data');
    assert.equal((update.data as typeof FIRST).total, 178.99);
    assert.equal(update.grounding?.fields.find((f) => f.pointer === '/total')?.status, 'ungrounded', 'the corrected value is grounded again');
    assert.deepEqual(update.review.correctedPointers, ['/total']);
  });

  it('refuses invalid corrections with a message and leaves the files alone', async () => {
    const before = fs.readFileSync(path.join(folder.outDir(), `${DOC}.json`), 'utf8');
    posted = [];
    await send({ type: 'review/correct', op: 'set', pointer: '/total', value: 'a lot' });
    assert.match(lastPosted('review/error')?.message ?? '', /Not saved: expected number, received string/);
    await send({ type: 'review/correct', op: 'remove', pointer: '/line_items/7' });
    assert.match(lastPosted('review/error')?.message ?? '', /No item 7/);
    await send({ type: 'review/correct', op: 'set', pointer: 'total', value: 1 }); // not a pointer: dropped by the protocol
    await send({ type: 'review/nonsense' });
    assert.equal(fs.readFileSync(path.join(folder.outDir(), `${DOC}.json`), 'utf8'), before);
  });

  it('adds and removes array items, undoes, marks reviewed; the tree shows it', async () => {
    await send({ type: 'review/correct', op: 'add', pointer: '/line_items/-', value: { description: 'Stapler', quantity: 1, amount: 0 } });
    assert.equal(((await result()).corrected as typeof FIRST).line_items.length, 3);
    await send({ type: 'review/correct', op: 'remove', pointer: '/line_items/0' });
    assert.deepEqual(
      ((await result()).corrected as typeof FIRST).line_items.map((i) => i.description),
      ['Toner cartridge', 'Stapler'],
    );
    await send({ type: 'review/undo' });
    await send({ type: 'review/undo' });
    const r = await result();
    assert.equal(r.review?.corrections, 1);
    assert.equal((r.corrected as typeof FIRST).line_items.length, 2);
    await send({ type: 'review/markReviewed', reviewed: true });
    assert.equal((await result()).review?.reviewed, true);
    api.treeModel.flush();
    const node = await waitFor('the tree node', () => api.treeModel.findDocument(folder.key, DOC));
    const item = api.treeProvider.getTreeItem(node);
    assert.match(String(item.description), /✓ reviewed · 1 correction$/);
  });

  it('reruns with an extra instruction, shows the diff, and restores the previous result on reject', async () => {
    posted = [];
    const before = fs.readFileSync(path.join(folder.outDir(), `${DOC}.json`), 'utf8');
    await send({ type: 'review/rerun', instruction: 'Read the total carefully.' });
    assert.equal(lastPosted('review/rerun')?.rerun?.state, 'running');
    const diffLoad = await waitFor('the diff', () => posted.find((m) => m.type === 'review/load' && m.document.rerun?.state === 'diff') as Extract<HostMessage, { type: 'review/load' }> | undefined);
    const rerun = diffLoad.document.rerun;
    assert.ok(rerun?.state === 'diff');
    assert.deepEqual(
      rerun.changes.map((c) => [c.pointer, c.kind, c.before, c.after]),
      [
        ['/vendor', 'changed', 'Kestrel Paper Mill Ltd', 'Kestrel Paper Mill'],
        ['/total', 'changed', 178.9, 178.95],
      ],
    );
    assert.equal(rerun.instruction, 'Read the total carefully.');
    assert.ok(server.requestsFor(DOC).at(-1)?.userText.includes('Read the total carefully.'), 'the instruction reached the model');
    assert.equal(server.requestsFor(DOC).length, 2, 'the up-to-date result was not adopted: the model was asked again');
    await send({ type: 'review/correct', op: 'set', pointer: '/total', value: 1 });
    assert.match(lastPosted('review/error')?.message ?? '', /Accept or reject the rerun/);
    await send({ type: 'review/acceptRerun', accept: false });
    assert.equal(fs.readFileSync(path.join(folder.outDir(), `${DOC}.json`), 'utf8'), before, 'the previous result file, byte for byte');
    await waitFor('the view without a pending rerun', () => panel.view && !panel.view.rerun);
  });

  it('accepts a rerun: the new result stays and the corrections apply to it', async () => {
    posted = [];
    await send({ type: 'review/rerun' });
    await waitFor('the diff', () => panel.view?.rerun?.state === 'diff');
    assert.deepEqual(
      panel.view?.rerun?.state === 'diff' && panel.view.rerun.changes.map((c) => c.pointer),
      ['/vendor', '/total'],
    );
    assert.ok(!posted.some((m) => m.type === 'review/load' && m.document.rerun?.state === 'failed'), 'never shown as failed on the way');
    await send({ type: 'review/acceptRerun', accept: true });
    const r = await result();
    assert.equal((r.data as typeof FIRST).total, 178.95);
    assert.equal((r.corrected as typeof FIRST).total, 178.99, 'the reviewer\'s correction still applies');
    assert.equal((r.corrected as typeof FIRST).vendor, 'Kestrel Paper Mill');
    assert.equal(panel.view?.rerun, undefined);
    assert.equal(panel.view?.review.notice, undefined, 'no "earlier result" notice after accepting');
  });

  it('navigates to the next / previous document, with filters, and keeps its state for a reload', async () => {
    const start = panel.target!.path;
    const next = await panel.navigate('next', 'all');
    assert.ok(next && next !== start);
    await waitFor('the next document', () => panel.view?.path === next);
    assert.equal(await panel.navigate('previous', 'all'), start);
    // every other document is unreviewed; this one is reviewed, so "unreviewed" never lands here
    const unreviewed = await panel.navigate('next', 'unreviewed');
    assert.ok(unreviewed && unreviewed !== DOC);
    await send({ type: 'review/fieldSelected', pointer: '/vendor' });
    assert.deepEqual(panel.state(), { folderKey: folder.key, path: unreviewed, selected: '/vendor' });
  });
});

function ext(): vscode.Extension<unknown> {
  const e = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(e);
  return e;
}
