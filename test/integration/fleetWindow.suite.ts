/**
 * The window on a PostgreSQL state (issue #13): `extractionWorkbench.stateUrl` names a database of a
 * throwaway cluster (test/support/postgres.ts), and the window works on it beside CLI workers
 * (`extraction-workbench run --state postgres://…`, the extension's own dist/cli.js in a child process):
 *   - a URL with a password in the setting is refused with a message that says how to move it;
 *   - a run started in the window and a CLI worker share one run of a folder: each document is claimed by
 *     one of them and done exactly once, and the window's tree shows them all;
 *   - a window that runs nothing follows a CLI worker's progress live from the database's notifications
 *     (LISTEN/NOTIFY), with no poll timer;
 *   - the review of a document whose result file is not on this machine shows its result from the
 *     database, a correction and a rejected rerun go back to the database, and Open Result shows the
 *     database's result;
 *   - three CLI workers and the window share one run, one worker is killed with SIGKILL while it holds
 *     claims and has a request in flight: every document ends done exactly once.
 * The suite adds a job "fleet" (its own folder fleet-run/) to extraction.config.json and puts back the
 * config, the saved settings and the job selection at the end; the folder's own state is not touched.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Pool } from 'pg';
import type { ReviewedResultFile } from '../../src/app/corrections';
import type { ResultFile } from '../../src/export/jsonExporter';
import type { ExtensionApi } from '../../src/vscode/api';
import type { ReviewPanel } from '../../src/vscode/review/reviewPanel';
import type { FolderRuns } from '../../src/vscode/workspaceRuns';
import { requestSchema, sampleForSchema, startModelServer, type ModelServer } from '../support/modelServer';
import { startPostgres, type PgCluster } from '../support/postgres';
import { activateFirstFolder, EXTENSION_ID, SuiteSettings, waitFor } from './support';

const DIR = 'fleet-run';
const JOB = 'fleet';

type ShowMessage = (message: string, ...rest: unknown[]) => Thenable<unknown>;

describe('Extraction Workbench: the window on a PostgreSQL state with a fleet of CLI workers', function () {
  this.timeout(180_000);

  let api: ExtensionApi;
  let folder: FolderRuns;
  let root: string;
  let cluster: PgCluster;
  let url: string;
  let server: ModelServer;
  let configBefore: string;
  let savedSettingsBefore: string | undefined;
  let jobBefore: string | undefined;
  const children: ChildProcess[] = [];
  const settings = new SuiteSettings(() => folder);
  const errors: string[] = [];
  const win = vscode.window as unknown as { showErrorMessage: ShowMessage };
  const originalShowError = win.showErrorMessage;
  // more than a worker claims ahead of its work (max(16, 4 × concurrency) queued): the window gets a share
  const docs = Array.from({ length: 40 }, (_, i) => `${DIR}/f-${String(i + 1).padStart(2, '0')}.txt`);
  const stageOf = (rel: string) => folder.store?.getDocument(rel)?.stage;
  const write = (rel: string, n: number) => {
    const file = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `Invoice F-${n}\nVendor: Fleet Ltd\nTotal: ${100 + n}.00 EUR\n`);
  };

  /** `extraction-workbench run` of the job "fleet" on the database: one CLI worker (`--json`: its events on stdout). */
  const cliWorker = (o: { leaseSeconds?: number } = {}) => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    const stderr: string[] = [];
    const child = spawn(
      process.execPath,
      [path.join(ext.extensionPath, 'dist', 'cli.js'), 'run', root, '--job', JOB, '--state', url, '--base-url', server.url, '--concurrency', '1', '--lease-seconds', String(o.leaseSeconds ?? 5), '--json'],
      { env: { ...process.env, OPENAI_API_KEY: 'test', ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const stdout: string[] = [];
    child.stdout?.on('data', (d: Buffer) => stdout.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
    children.push(child);
    const events = () =>
      stdout
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { type: string; path?: string; runId?: string });
    const completed = () =>
      events()
        .filter((e) => e.type === 'doc/completed')
        .map((e) => String(e.path));
    /** The run this worker started or joined (its `run/started` event). */
    const runId = () => events().find((e) => e.type === 'run/started')?.runId;
    return { child, stderr, completed, runId, exited: new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))) };
  };

  before(async () => {
    ({ api, folder } = await activateFirstFolder());
    root = folder.root;
    cluster = await startPostgres();
    url = cluster.database('fleet_window');
    server = await startModelServer({ latencyMs: 300 });
    await settings.set('baseUrl', server.url);
    for (const [i, rel] of docs.entries()) write(rel, i + 1);
    // a job of its own: the window's run and the CLI workers extract fleet-run/ only, with the same schema,
    // instructions and model (so both see a document done by the other as done)
    configBefore = fs.readFileSync(folder.configPath, 'utf8');
    const config = JSON.parse(configBefore) as { jobs: Array<Record<string, unknown>> };
    const base = config.jobs[0];
    config.jobs.push({ name: JOB, include: [`${DIR}/**`], schema: base.schema, instructions: base.instructions });
    fs.writeFileSync(folder.configPath, JSON.stringify(config, null, 2) + '\n');
    jobBefore = folder.selectedJob;
    await folder.selectJob(JOB);
    const saved = path.join(folder.stateDir(), 'settings.json');
    savedSettingsBefore = fs.existsSync(saved) ? fs.readFileSync(saved, 'utf8') : undefined;
    win.showErrorMessage = (message: string, ...rest: unknown[]) => {
      errors.push(message);
      return originalShowError(message, ...rest);
    };
  });

  after(async () => {
    win.showErrorMessage = originalShowError;
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (folder) {
      await waitFor('the window to be idle', () => !folder.running, 60_000).catch(() => undefined);
      await settings.restore();
      // back on the state folder
      await waitFor('the folder state to be open again', () => !folder.database && folder.store?.dir !== undefined, 30_000).catch(() => undefined);
      if (configBefore !== undefined) fs.writeFileSync(folder.configPath, configBefore);
      await folder.selectJob(jobBefore);
      const saved = path.join(folder.stateDir(), 'settings.json');
      if (savedSettingsBefore !== undefined) fs.writeFileSync(saved, savedSettingsBefore);
      fs.rmSync(path.join(root, DIR), { recursive: true, force: true });
      fs.rmSync(path.join(folder.outDir(), DIR), { recursive: true, force: true });
      fs.rmSync(path.join(folder.stateDir(), 'corrections', DIR), { recursive: true, force: true });
      api.treeModel.reload();
    }
    await server?.close();
    cluster?.destroy();
  });

  it('a state URL with a password in the settings is refused, with how to move the password', async () => {
    errors.length = 0;
    await settings.set('stateUrl', url.replace('://ew@', '://ew:hunter2@'));
    await waitFor('an error message', () => errors.find((m) => /holds a password/.test(m)), 20_000);
    const message = errors.find((m) => /holds a password/.test(m))!;
    assert.match(message, /Set State Database Password/);
    assert.doesNotMatch(message, /hunter2/, 'the password is not repeated');
    assert.equal(folder.database, undefined, 'no database opened');
  });

  it('opens the database of extractionWorkbench.stateUrl: the tree shows its (empty) state', async () => {
    await settings.set('stateUrl', url);
    await waitFor('the window to open the state database', () => folder.database && folder.store === folder.database.store, 30_000);
    assert.equal(folder.store?.dir, undefined, 'the state is not a folder');
    assert.equal(folder.store?.countDocuments(), 0, 'a new database: no documents yet');
    await waitFor('the tree to show the empty state', () => {
      api.treeModel.flush();
      return api.treeModel.counts(folder.key).done === 0;
    });
  });

  it('a run from the window and a CLI worker share the run: every document done exactly once', async () => {
    const cli = cliWorker();
    // the worker is under way before the window joins
    await waitFor('the CLI worker to send its first document', () => docs.some((d) => server.requestsFor(d).length > 0), 60_000);
    const handle = await folder.start('palette');
    assert.ok(handle, 'the window started a run');
    const summary = await handle.done;
    assert.equal(summary.status, 'completed');
    assert.equal(await cli.exited, 0, `the CLI worker succeeded (stderr: ${cli.stderr.join('')})`);

    assert.deepEqual(
      docs.map((d) => server.requestsFor(d).length),
      docs.map(() => 1),
      'each document sent to the model once, by one worker',
    );
    assert.ok(summary.done >= 1, `the window extracted some (${summary.done})`);
    assert.ok(summary.done < docs.length, `the CLI worker extracted some (the window did ${summary.done} of ${docs.length})`);
    for (const rel of docs) assert.ok(fs.existsSync(path.join(folder.outDir(), ...`${rel}.json`.split('/'))), `result of ${rel}`);
    // the window's state holds the CLI worker's documents too (from the database)
    await waitFor('every document done in the window', () => docs.every((d) => stageOf(d) === 'done'), 30_000);
    await waitFor('the tree model to count them', () => {
      api.treeModel.flush();
      return api.treeModel.counts(folder.key).done === docs.length;
    }, 20_000);
  });

  it('an idle window follows a CLI worker live from the database\'s notifications, without polling', async () => {
    const more = [`${DIR}/g-1.txt`, `${DIR}/g-2.txt`, `${DIR}/g-3-slow.txt`];
    for (const [i, rel] of more.entries()) write(rel, 20 + i);
    // the last one takes long: the first ones must show while the worker is still running
    server.setScript(more[2], [{ reply: { invoice_number: 'F-22', invoice_date: '2024-05-01', vendor: 'Fleet Ltd', total: 122, currency: 'EUR', line_items: [] }, latencyMs: 8_000 }]);
    await waitFor('the window to be idle', () => !folder.running, 30_000);
    const polls = folder.followStats.polls;
    const calls = folder.database!.feed.stats.calls;
    const cli = cliWorker();
    await waitFor('the tree to show the worker\'s first documents done', () => stageOf(more[0]) === 'done' && stageOf(more[1]) === 'done', 30_000);
    assert.equal(cli.child.exitCode, null, 'the worker is still on the slow document');
    assert.ok(!folder.running, 'the window runs nothing');
    assert.notEqual(stageOf(more[2]), 'done');
    await waitFor('the tree model to count them', () => {
      api.treeModel.flush();
      return api.treeModel.counts(folder.key).done === docs.length + 2;
    }, 20_000);
    assert.equal(await cli.exited, 0, `the CLI worker succeeded (stderr: ${cli.stderr.join('')})`);
    await waitFor('the slow document done in the window', () => stageOf(more[2]) === 'done', 30_000);
    assert.ok(folder.database!.feed.stats.calls > calls, 'told by the change feed');
    assert.equal(folder.followStats.polls, polls, 'no poll timer fired');
  });

  it('reviews a document whose result file is not on this machine from the database; corrections and a rejected rerun go back to it; Open Result shows it', async () => {
    const rel = docs[0];
    const file = path.join(folder.outDir(), ...`${rel}.json`.split('/'));
    const written = JSON.parse(fs.readFileSync(file, 'utf8')) as ResultFile;
    // as on another machine: the worker's result file is not here
    fs.rmSync(file);
    const panel = await vscode.commands.executeCommand<ReviewPanel>('extractionWorkbench.openReview', folder.uriOf(rel));
    assert.ok(panel, 'the review opened');
    try {
      const view = await waitFor('the review of the document', () => panel.view?.path === rel && panel.view, 30_000);
      assert.equal(view.stage, 'done');
      assert.deepEqual(view.data, written.data, 'the result from the database');
      await panel.handle({ type: 'review/correct', op: 'set', pointer: '/vendor', value: 'Fleet Corrected Ltd' });
      const stored = (await folder.store?.results?.get(rel)) as ReviewedResultFile | undefined;
      assert.deepEqual(stored?.data, written.data, 'the model’s data stays');
      assert.equal((stored?.corrected as { vendor?: string } | undefined)?.vendor, 'Fleet Corrected Ltd', 'the correction is in the database');
      assert.equal(stored?.review?.corrections, 1);
      assert.equal(fs.existsSync(file), false, 'no result file is made up here');
      assert.equal((panel.view?.data as { vendor?: string } | undefined)?.vendor, 'Fleet Corrected Ltd');
      // undone again: the database's result has no correction left (and the folder's corrections index is clean)
      await panel.handle({ type: 'review/undo' });
      const after = (await folder.store?.results?.get(rel)) as ReviewedResultFile | undefined;
      assert.equal(after?.corrected, undefined);
      assert.equal(after?.review, undefined);
      // "Open Result" shows the database's result (an untitled JSON document) when the file is not here
      api.treeModel.flush();
      const node = await waitFor(`a tree node for ${rel}`, () => api.treeModel.findDocument(folder.key, rel));
      const uri = await vscode.commands.executeCommand<vscode.Uri>('extractionWorkbench.openResult', node, [node]);
      assert.equal(uri?.scheme, 'untitled');
      const opened = await waitFor('the result in the active editor', () => vscode.window.activeTextEditor?.document.uri.toString() === uri?.toString() && vscode.window.activeTextEditor.document);
      assert.deepEqual((JSON.parse(opened.getText()) as ResultFile).data, written.data);
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
      // a rerun from here, rejected: the database holds the result from before again
      server.setScript(rel, [{ reply: { ...(written.data as object), vendor: 'Rerun Ltd' } }]);
      await panel.handle({ type: 'review/rerun' });
      await waitFor('the diff of the rerun', () => panel.view?.rerun?.state === 'diff', 60_000);
      assert.equal(((await folder.store?.results?.get(rel))?.data as { vendor?: string }).vendor, 'Rerun Ltd', 'the rerun’s result in the database');
      await panel.handle({ type: 'review/acceptRerun', accept: false });
      const restored = await folder.store?.results?.get(rel);
      assert.deepEqual(restored?.data, written.data, 'the previous result back in the database');
      assert.equal(restored?.metadata.runId, written.metadata.runId);
    } finally {
      panel.panel.dispose();
    }
  });

  it('three CLI workers and the window share one run; one worker killed with SIGKILL mid-run: every document done exactly once', async () => {
    // more than the three CLI workers claim ahead of their work (16 each while their answers wait): the window gets a share
    const batch = Array.from({ length: 72 }, (_, i) => `${DIR}/h-${String(i + 1).padStart(2, '0')}.txt`);
    for (const [i, rel] of batch.entries()) write(rel, 40 + i);
    await waitFor('the window to be idle', () => !folder.running, 30_000);
    // every answer waits until the victim is killed: all four workers have a request in flight, none is answered
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    server.setResponder((req) => ({ reply: sampleForSchema(requestSchema(req.body)), holdUntil: gate }));
    const pool = (folder.store as unknown as { pool: Pool }).pool;
    const ownerOf = async (paths: string[]) => new Map((await pool.query<{ path: string; owner: string | null }>('SELECT path, owner FROM ew_claims WHERE path = ANY($1)', [paths])).rows.map((r) => [r.path, r.owner]));
    const pidOf = (owner: string | null | undefined) => Number(owner?.split(':').at(-2));
    const asked = () => batch.filter((d) => server.requestsFor(d).length > 0);
    try {
      const workers = [0, 1, 2].map(() => cliWorker({ leaseSeconds: 3 }));
      const victim = workers[0];
      await waitFor('the three CLI workers to have a request in flight each', async () => {
        const owners = await ownerOf(asked());
        return workers.every((w) => [...owners.values()].some((o) => pidOf(o) === w.child.pid));
      }, 60_000);
      const handle = await folder.start('palette');
      assert.ok(handle, 'the window started a run');
      await waitFor('the window to have a request in flight too', async () => [...(await ownerOf(asked())).values()].some((o) => pidOf(o) === process.pid), 60_000);
      // the victim holds claims (some queued, one asked): kill it while its request waits for the answer
      const claims = await ownerOf(batch);
      const victimClaims = batch.filter((d) => pidOf(claims.get(d)) === victim.child.pid);
      const victimAsked = asked().filter((d) => pidOf(claims.get(d)) === victim.child.pid);
      assert.ok(victimClaims.length >= 1 && victimAsked.length === 1, `the victim holds ${victimClaims.length} claim(s), ${victimAsked.length} asked`);
      victim.child.kill('SIGKILL');
      assert.equal(await victim.exited, null, 'killed');
      open();

      const summary = await handle.done;
      assert.equal(summary.status, 'completed');
      for (const w of workers.slice(1)) assert.equal(await w.exited, 0, `a surviving CLI worker succeeded (stderr: ${w.stderr.join('')})`);

      // completions: each document once, across the surviving CLI workers and the window
      const byCli = workers.flatMap((w) => w.completed()).filter((d) => batch.includes(d));
      assert.equal(victim.completed().length, 0, 'the victim finished nothing (every answer waited)');
      assert.equal(new Set(byCli).size, byCli.length, 'no document completed twice by the CLI workers');
      assert.equal(byCli.length + summary.done, batch.length, `CLI ${byCli.length} + window ${summary.done} = ${batch.length}`);
      assert.ok(summary.done >= 1 && byCli.length >= 1, 'both the window and the CLI workers extracted some');
      // the shared state: every document done, one done attempt and one stored result each
      await folder.store?.refresh?.();
      await waitFor('every document done in the window', () => batch.every((d) => stageOf(d) === 'done'), 30_000);
      const doneAttempts = new Map<string, number>();
      for (const a of folder.store!.listAttempts()) if (a.outcome === 'done' && batch.includes(a.path)) doneAttempts.set(a.path, (doneAttempts.get(a.path) ?? 0) + 1);
      assert.deepEqual(batch.map((d) => doneAttempts.get(d) ?? 0), batch.map(() => 1), 'one done attempt per document');
      // the window took part in a run of the CLI workers (joined it: one run id), it did not start its own —
      // any of theirs: workers started together may each start one, and the victim's may be the latest
      const cliRuns = new Set(workers.map((w) => w.runId()));
      assert.ok(cliRuns.has(summary.runId), `the window's run ${summary.runId} is one of the CLI workers' (${[...cliRuns].join(', ')})`);
      const stored = (await pool.query<{ path: string; source: string }>(`SELECT path, result->>'source' AS source FROM ew_results WHERE path = ANY($1)`, [batch])).rows;
      assert.deepEqual(stored.map((r) => r.path).sort(), batch, 'one result per document in the database');
      for (const r of stored) assert.equal(r.source, r.path);
      for (const d of batch) assert.ok(fs.existsSync(path.join(folder.outDir(), ...`${d}.json`.split('/'))), `result file of ${d}`);
      // the model: one successful extraction per document; the victim's asked document twice (its answer was
      // never received), no other one
      for (const d of batch) {
        const answered = server.requestsFor(d).filter((r) => r.status === 200).length;
        const sent = server.requestsFor(d).length;
        assert.equal(answered, 1, `${d} answered ${answered}×`);
        assert.equal(sent, victimAsked.includes(d) ? 2 : 1, `${d} sent to the model ${sent}×${victimAsked.includes(d) ? ' (the victim’s)' : ''}`);
      }
    } finally {
      open?.();
      server.setResponder(undefined);
    }
  });
});
