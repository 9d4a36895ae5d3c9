/**
 * The CLI and the editor on one folder: the window holds the checkpoint store's lock only while it runs
 * or changes something, so `extraction-workbench run` (the extension's own dist/cli.js, in a child
 * process, against the local model server) can run on the folder the window has open. Meanwhile the
 * Documents tree follows the CLI's progress from the store read-only, a run started in the window is
 * refused with a message that names the other process, and once the CLI has finished the window can run
 * again. The suite works on its own folder (cli-run/) and removes its documents and results at the end.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LOCK_FILE } from '../../src/store';
import type { ExtensionApi } from '../../src/vscode/api';
import type { DashboardPanel } from '../../src/vscode/dashboard/dashboardPanel';
import type { FolderRuns } from '../../src/vscode/workspaceRuns';
import { startModelServer, type ModelServer } from '../support/modelServer';
import { activateFirstFolder, EXTENSION_ID, removeSuiteDocuments, SuiteSettings, waitFor } from './support';

const C = 'extractionWorkbench.';
const DIR = 'cli-run';

type ShowMessage = (message: string, ...rest: unknown[]) => Thenable<unknown>;

describe('Extraction Workbench: a CLI run on the folder the window has open', function () {
  this.timeout(120_000);

  let api: ExtensionApi;
  let server: ModelServer;
  let folder: FolderRuns;
  let root: string;
  let cli: ChildProcess | undefined;
  let panel: DashboardPanel | undefined;
  const docs = [`${DIR}/quick-1.txt`, `${DIR}/quick-2.txt`, `${DIR}/slow.txt`];
  let releaseSlow!: () => void;
  const slowReleased = new Promise<void>((resolve) => (releaseSlow = resolve));
  const [quick1, quick2, slow] = docs;
  const watched = `${DIR}/arrived-during-cli.txt`;
  /** Documents the later tests add (removed at the end with the others). */
  const extra: string[] = [];
  const settings = new SuiteSettings(() => folder);
  const stageOf = (rel: string) => folder.store?.getDocument(rel)?.stage;
  const errors: string[] = [];
  const win = vscode.window as unknown as { showErrorMessage: ShowMessage };
  const originalShowError = win.showErrorMessage;

  /** `extraction-workbench run` on the workspace folder's cli-run/ documents (the extension's own dist/cli.js). */
  const runCli = (concurrency = 1) => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    const stderr: string[] = [];
    const child = spawn(process.execPath, [path.join(ext.extensionPath, 'dist', 'cli.js'), 'run', root, '--base-url', server.url, '--concurrency', String(concurrency), '--include', `${DIR}/**`], {
      env: { ...process.env, OPENAI_API_KEY: 'test', ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
    cli = child;
    return { child, stderr, exited: new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))) };
  };

  before(async () => {
    ({ api, folder } = await activateFirstFolder());
    root = folder.root;
    server = await startModelServer({ latencyMs: 20 });
    await settings.set('baseUrl', server.url);
    for (const [i, rel] of docs.entries()) {
      const file = path.join(root, ...rel.split('/'));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, `Invoice L-${i + 1}\nVendor: Shared State Ltd\nTotal: ${10 + i}.00 EUR\n`);
    }
    // the CLI stays busy on this one (and holds the lock) until the test lets it go: longer than the window
    // waits for a lock (10 s), however slow the machine
    server.setScript(slow, [{ reply: { invoice_number: 'L-3', invoice_date: '2024-05-01', vendor: 'Shared State Ltd', total: 12, currency: 'EUR', line_items: [] }, holdUntil: slowReleased }]);
    win.showErrorMessage = (message: string, ...rest: unknown[]) => {
      errors.push(message);
      return originalShowError(message, ...rest);
    };
  });

  after(async () => {
    panel?.dispose();
    win.showErrorMessage = originalShowError;
    cli?.kill('SIGKILL');
    await waitFor('the window to be idle', () => !folder.running, 60_000).catch(() => undefined);
    if (folder) await removeSuiteDocuments(api, folder, DIR, [...docs, ...extra]);
    await settings.restore();
    await server?.close();
  });

  it('an idle window does not hold the lock: it shows the state read-only', async () => {
    await folder.openStore();
    await waitFor('the window to give the lock back', () => !folder.writable, 10_000);
    assert.ok(folder.store, 'the state is shown');
    const lock = path.join(folder.stateDir(), LOCK_FILE);
    assert.ok(!fs.existsSync(lock), `no lock file (${fs.existsSync(lock) ? fs.readFileSync(lock, 'utf8') : ''})`);
  });

  it('the CLI runs on the folder; the tree follows its progress; a run in the window is refused, naming the CLI', async () => {
    // two model slots: the slow document holds one, the quick ones go through the other in whichever order
    // they are read (documents read ahead race for a slot)
    const { exited, stderr } = runCli(2);

    // the quick documents are done in the store the CLI writes: the window's view shows them without a run of its own
    await waitFor('the tree to show the CLI\'s first documents done', () => stageOf(quick1) === 'done' && stageOf(quick2) === 'done', 30_000);
    assert.ok(!folder.running, 'the window runs nothing');
    await waitFor('the tree model to count them', () => {
      api.treeModel.flush();
      return api.treeModel.counts(folder.key).done >= 2;
    }, 10_000);
    await waitFor('the CLI to be on the slow document', () => server.requestsFor(slow).length > 0, 10_000);
    assert.notEqual(stageOf(slow), 'done');

    // the Run Dashboard shows the CLI's run and follows it
    panel = await vscode.commands.executeCommand<DashboardPanel>(`${C}openDashboard`);
    assert.ok(panel, 'the dashboard opens');
    const cliRun = folder.store?.latestRun();
    assert.equal(cliRun?.trigger, 'cli', `the latest run is the CLI's (${JSON.stringify(cliRun)})`);
    await waitFor('the dashboard to show the CLI\'s run', () => panel?.ready && panel.model?.run.id === cliRun?.id && panel.model.metrics.documents.succeeded === 2, 20_000);

    // Extract Workspace now: refused with a message that names the CLI's process
    errors.length = 0;
    const started = await vscode.commands.executeCommand<string[] | undefined>(`${C}extractWorkspace`);
    assert.ok(!started?.length, 'no run started in the window');
    await waitFor('an error message', () => errors.length > 0, 20_000);
    assert.match(errors[0], new RegExp(`in use by process ${cli?.pid}`));
    assert.match(errors[0], /follows its progress/);

    releaseSlow();
    assert.equal(await exited, 0, `the CLI run succeeded (stderr: ${stderr.join('')})`);
    await waitFor('the tree to show the slow document done', () => stageOf(slow) === 'done', 20_000);
    await waitFor('the dashboard to count the third document', () => panel?.model?.metrics.documents.succeeded === 3, 20_000);
    for (const rel of docs) assert.ok(fs.existsSync(path.join(root, 'extracted', ...`${rel}.json`.split('/'))), `result of ${rel}`);
    assert.deepEqual(docs.map((d) => server.requestsFor(d).length), [1, 1, 1], 'each document sent once, by the CLI');
  });

  it('once the CLI has finished the window runs again, and gives the lock back after its run', async () => {
    fs.writeFileSync(path.join(root, DIR, 'quick-1.txt'), 'Invoice L-1b\nVendor: Shared State Ltd\nTotal: 11.00 EUR\n');
    const n = await vscode.commands.executeCommand<number>(`${C}extractCurrentFile`, vscode.Uri.file(path.join(root, DIR, 'quick-1.txt')));
    assert.equal(n, 1);
    await waitFor('the changed document extracted again', () => server.requestsFor(quick1).length === 2, 30_000);
    await waitFor('the run to finish', () => !folder.running, 30_000);
    assert.equal(stageOf(quick1), 'done');
    await waitFor('the window to give the lock back', () => !folder.writable, 10_000);
  });
  it('watch mode keeps a change seen while the CLI holds the state, and queues it once the CLI has finished', async () => {
    const slow2 = `${DIR}/slow-2.txt`;
    const reply = { invoice_number: 'L-4', invoice_date: '2024-05-02', vendor: 'Shared State Ltd', total: 13, currency: 'EUR', line_items: [] };
    server.setScript(slow2, [{ reply, latencyMs: 15_000 }]); // longer than the window waits for a lock (10 s)
    fs.writeFileSync(path.join(root, ...slow2.split('/')), 'Invoice L-4\nVendor: Shared State Ltd\nTotal: 13.00 EUR\n');
    extra.push(slow2);
    const { exited, stderr } = runCli();
    await waitFor('the CLI to be on the slow document', () => server.requestsFor(slow2).length > 0, 20_000);
    await settings.set('watch', true);
    await waitFor('the folder to be watched', () => api.watchMode.watching.includes(folder.key));
    await new Promise((r) => setTimeout(r, 300)); // let the file watcher start
    fs.writeFileSync(path.join(root, ...watched.split('/')), 'Invoice L-9\nVendor: Shared State Ltd\nTotal: 19.00 EUR\n');
    extra.push(watched);
    assert.equal(await exited, 0, `the CLI run succeeded (stderr: ${stderr.join('')})`);
    assert.equal(server.requestsFor(watched).length, 0, 'the CLI had listed the folder before the document arrived');
    await waitFor(`${watched} extracted by watch mode after the CLI`, () => stageOf(watched) === 'done', 40_000);
    assert.equal(server.requestsFor(watched).length, 1);
    assert.equal(folder.store?.latestRun()?.trigger, 'watch');
    await settings.set('watch', undefined);
    await waitFor('the window to be idle', () => !folder.running, 30_000);
  });

  it('Pause, Resume and Stop in the window act on a CLI run (through the state folder), and the CLI says who asked', async () => {
    const held = `${DIR}/held-by-cli.txt`;
    const reply = { invoice_number: 'L-5', invoice_date: '2024-05-03', vendor: 'Shared State Ltd', total: 14, currency: 'EUR', line_items: [] };
    server.setScript(held, [{ reply, latencyMs: 60_000 }]); // the CLI is on it until it is stopped
    // the last test's watch mode must be off (it would queue the new document in the window) and the window idle
    await waitFor('watch mode off', () => !api.watchMode.watching.includes(folder.key), 20_000);
    await waitFor('the window to be idle without the lock', () => !folder.running && !folder.writable, 20_000);
    fs.writeFileSync(path.join(root, ...held.split('/')), 'Invoice L-5\nVendor: Shared State Ltd\nTotal: 14.00 EUR\n');
    extra.push(held);
    const { exited, stderr } = runCli();
    let ended = false;
    void exited.then(() => (ended = true));
    await waitFor('the CLI to be on the held document', () => server.requestsFor(held).length > 0 || ended, 30_000);
    assert.ok(!ended, `the CLI run ended early: ${stderr.join('')}`);
    await waitFor('the window to see the CLI\'s run', () => folder.foreignRun()?.status === 'running', 20_000);
    assert.equal(folder.running, false, 'the run is not the window\'s');
    assert.equal(api.contextKeys.get('extractionWorkbench.running'), true, 'Pause and Stop are offered for the CLI\'s run');

    await vscode.commands.executeCommand(`${C}pause`);
    await waitFor('the CLI\'s run to be paused', () => folder.foreignRun()?.status === 'paused', 20_000);
    await waitFor('the context key to say paused', () => api.contextKeys.get('extractionWorkbench.paused'), 10_000);
    await vscode.commands.executeCommand(`${C}resume`);
    await waitFor('the CLI\'s run to run again', () => folder.foreignRun()?.status === 'running', 20_000);
    await vscode.commands.executeCommand(`${C}stop`);
    assert.equal(await exited, 1, 'stopped with a document left');
    const said = stderr.join('');
    assert.match(said, /pause requested from \d+@/);
    assert.match(said, /resume requested from \d+@/);
    assert.match(said, /Run \S+ stopped: Stopped from \d+@/);
    await waitFor('the window to show the stopped run', () => folder.store?.latestRun()?.status === 'stopped', 20_000);
    assert.equal(stageOf(held), 'pending', 'the document the CLI was on is pending again');
    assert.equal(fs.existsSync(path.join(folder.stateDir(), LOCK_FILE)), false, 'the CLI gave the lock back');
  });
});
