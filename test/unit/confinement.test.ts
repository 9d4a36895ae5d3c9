/**
 * Everything stays inside the workspace folder (issue #17, "Confinement"), checked with the real CLI
 * (dist/cli.js), the real store and the test model server: links are not followed out of the folder or in
 * loops, the output folder is never read back, what the lister leaves out is reported, paths and folders
 * from a state folder or a config file cannot lead out of it, the API key is not sent to a saved endpoint
 * nobody chose today, and result files are written inside the output folder or not at all.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSavedSettings, openSession, openStore } from '../../src/app/session';
import { ErrorCodes, ExtractionError, isRunFatalCode } from '../../src/core/errors';
import { CorrectionsStore } from '../../src/app/corrections';
import { rerunBackupFile, saveRerunBackup } from '../../src/vscode/review/reviewData';
import { checkOutputWritable, resultNameProblem, writeFileAtomic, writeResult, type ResultFile } from '../../src/export/jsonExporter';
import { CLI, ndjson, REPO_ROOT, runCli, type CliResult } from '../support/cli';
import { startModelServer, type ModelServer } from '../support/modelServer';

const SCHEMA = { type: 'object', properties: { invoice_number: { type: 'string' } }, required: ['invoice_number'] };
const SECRET = 'SECRET-4f1c9e';
const AS_ROOT = process.getuid?.() === 0;
/** `nobody`: as root, the checks that need a user whom permissions stop run the CLI as this user. */
const NOBODY = 65534;

interface Workspace {
  /** Temp folder holding the workspace folder and things outside it. */
  dir: string;
  root: string;
  schema: string;
  state: string;
}

/** `<dir>/ws` with invoices, a schema outside it, and `<dir>/secret.txt` (what must never be sent). */
function workspace(docs: Record<string, string> = { 'inv0.txt': 'Invoice INV-0\nTotal: 1 EUR\n' }): Workspace {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-confine-'));
  const root = path.join(dir, 'ws');
  for (const [rel, text] of Object.entries(docs)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(dir, 'secret.txt'), `${SECRET}\n`);
  const schema = path.join(dir, 'invoice.schema.json');
  fs.writeFileSync(schema, JSON.stringify(SCHEMA));
  return { dir, root, schema, state: path.join(root, '.extraction') };
}

let cliCopy: string | undefined;
/**
 * The CLI bundle where `nobody` can read it: the checkout may sit in a folder only root can enter (a CI clone
 * in a 0700 temp folder), so the bundle and its assets are copied once to a world-readable temp folder.
 */
function cliForNobody(): string {
  if (!cliCopy) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-copy-'));
    fs.cpSync(path.dirname(CLI), dir, { recursive: true });
    chmodTree(dir);
    cliCopy = path.join(dir, path.basename(CLI));
  }
  return cliCopy;
}

function chmodTree(p: string): void {
  const st = fs.lstatSync(p);
  fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const name of fs.readdirSync(p)) chmodTree(path.join(p, name));
}

/** Runs the CLI as `nobody` (owner of `dir` then) when the tests run as root, where permissions stop nothing. */
function runCliAsUser(dir: string, args: string[]): Promise<CliResult> {
  if (!AS_ROOT) return runCli(args);
  chownTree(dir, NOBODY);
  const child = spawn(process.execPath, [cliForNobody(), ...args], { env: { ...process.env, OPENAI_API_KEY: '' }, uid: NOBODY, gid: NOBODY, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

function chownTree(p: string, uid: number): void {
  fs.lchownSync(p, uid, uid);
  if (fs.lstatSync(p).isDirectory()) for (const name of fs.readdirSync(p)) chownTree(path.join(p, name), uid);
}

describe('confinement to the workspace folder (CLI)', function () {
  this.timeout(60_000);
  let server: ModelServer;
  const cleanup: string[] = [];

  beforeEach(async () => {
    server = await startModelServer({ latencyMs: 1 });
  });
  afterEach(async () => {
    await server.close();
    for (const d of cleanup.splice(0)) {
      if (AS_ROOT || !fs.existsSync(d)) fs.rmSync(d, { recursive: true, force: true });
      else {
        chmodTree(d);
        fs.rmSync(d, { recursive: true, force: true });
      }
    }
  });

  function chmodTree(p: string): void {
    const st = fs.lstatSync(p);
    if (!st.isDirectory()) return;
    fs.chmodSync(p, 0o755);
    for (const name of fs.readdirSync(p)) chmodTree(path.join(p, name));
  }

  function ws(docs?: Record<string, string>): Workspace {
    const w = workspace(docs);
    cleanup.push(w.dir);
    return w;
  }

  const run = (w: Workspace, ...extra: string[]) => runCli(['run', w.root, '--schema', w.schema, '--base-url', server.url, '--include', '**/*.txt', '--json', ...extra]);
  const sent = () => server.requests.map((r) => r.userText).join('\n');
  const warnings = (r: CliResult) => ndjson(r.stdout).filter((e) => e.type === 'run/warning');

  it('a link loop and a link to the output folder are not followed: each document is requested once', async () => {
    const w = ws({ 'inv0.txt': 'Invoice INV-0', 'docs/inv1.txt': 'Invoice INV-1' });
    fs.symlinkSync('.', path.join(w.root, 'self'));
    fs.symlinkSync('extracted', path.join(w.root, 'results'));
    assert.equal((await run(w)).code, 0);
    assert.equal(server.stats.total, 2);
    // a second run: the results (extracted/*.json, also reachable as results/) are not read back as input
    fs.writeFileSync(path.join(w.root, 'extracted', 'note.txt'), 'not a document');
    const again = await run(w);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(server.stats.total, 2, 'nothing requested again');
    assert.deepEqual(
      warnings(again).map((e) => [e.path, e.code]),
      [['self', 'LINK_LOOP']],
    );
  });

  it('a link to a file or folder outside the workspace is not read, with a LINK_OUTSIDE warning', async () => {
    const w = ws();
    fs.symlinkSync(path.join(w.dir, 'secret.txt'), path.join(w.root, 'environ.txt'));
    fs.symlinkSync(w.dir, path.join(w.root, 'parent'));
    if (fs.existsSync('/proc/self/environ')) fs.symlinkSync('/proc/self/environ', path.join(w.root, 'proc-environ.txt'));
    const r = await runCli(['run', w.root, '--schema', w.schema, '--base-url', server.url, '--include', '**/*.txt', '--json'], { OPENAI_API_KEY: 'sk-must-not-leave' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(server.requests.map((q) => q.document), ['inv0.txt']);
    assert.doesNotMatch(sent(), new RegExp(`${SECRET}|sk-must-not-leave`));
    assert.deepEqual(warnings(r).map((e) => e.code), warnings(r).map(() => 'LINK_OUTSIDE'));
    assert.deepEqual(warnings(r).map((e) => e.path).sort(), ['environ.txt', 'parent', ...(fs.existsSync('/proc/self/environ') ? ['proc-environ.txt'] : [])].sort());
    assert.match(r.stderr, /\[warn\] environ\.txt: \[LINK_OUTSIDE\]/);
  });

  it('a folder it cannot read is reported (FILE_UNREADABLE), not skipped silently', async function () {
    if (process.platform === 'win32') this.skip();
    const w = ws({ 'inv0.txt': 'Invoice INV-0', 'locked/inv1.txt': 'Invoice INV-1' });
    fs.chmodSync(path.join(w.root, 'locked'), 0o000);
    const r = await runCliAsUser(w.dir, ['run', w.root, '--schema', w.schema, '--base-url', server.url, '--include', '**/*.txt', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(server.requests.map((q) => q.document), ['inv0.txt']);
    assert.deepEqual(
      warnings(r).map((e) => [e.path, e.code]),
      [['locked', 'FILE_UNREADABLE']],
    );
    assert.match(r.stderr, /\[warn\] locked: \[FILE_UNREADABLE\]/);
  });

  describe('paths from the state folder', () => {
    /** A run that dead-letters inv0.txt, then a dead letter `../secret.txt` written into its store. */
    async function craftedDeadLetter(): Promise<Workspace> {
      const w = ws();
      server.setScript('inv0.txt', [{ status: 400 }]);
      assert.equal((await run(w)).code, 1);
      const store = await openStore(w.state);
      try {
        const now = Date.now();
        store.putDocument({ path: '../secret.txt', size: 20, mtimeMs: now, readiness: 'ready', stage: 'dead-lettered', attempts: 1, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: now });
        store.putDeadLetter({ path: '../secret.txt', runId: 'crafted', stage: 'extracting', code: 'BAD_REQUEST', message: 'crafted', attempts: 1, at: now });
        await store.flush();
      } finally {
        store.close();
      }
      return w;
    }

    it('dlq retry and retry never read a dead letter or document whose path leads out of the folder', async () => {
      const w = await craftedDeadLetter();
      const explicit = await runCli(['dlq', 'retry', '../secret.txt', '--state', w.state]);
      assert.equal(explicit.code, 2, explicit.stderr);
      assert.match(explicit.stderr, /\[PATH_OUTSIDE_ROOT\] Path "\.\.\/secret\.txt" has a "\.\." segment/);
      const retry = await runCli(['retry', '../secret.txt', '--state', w.state]);
      assert.equal(retry.code, 2, retry.stderr);
      assert.match(retry.stderr, /PATH_OUTSIDE_ROOT/);
      const all = await runCli(['dlq', 'retry', '--all', '--state', w.state, '--base-url', server.url]);
      assert.equal(all.code, 1, all.stderr); // the crafted letter is still in the dead-letter queue
      assert.match(all.stderr, /Not retried, their paths lead out of .*"\.\.\/secret\.txt"/);
      assert.deepEqual(server.requests.map((q) => q.document), ['inv0.txt', 'inv0.txt'], 'inv0.txt retried, the crafted letter not read');
      assert.doesNotMatch(sent(), new RegExp(SECRET));
      assert.ok(!fs.existsSync(path.join(w.dir, 'secret.txt.json')), 'nothing written next to it');
    });

    it('the pipeline rejects such a path without reading it (PATH_OUTSIDE_ROOT), whoever queues it', async () => {
      const w = await craftedDeadLetter();
      const session = await openSession(
        { root: w.root, outDir: path.join(w.root, 'extracted'), stateDir: w.state, schemaPath: w.schema, baseURL: server.url, model: 'm', concurrency: 2, maxAttempts: 2, timeoutMs: 10_000, maxFileBytes: 1e6 },
        { apiKey: 'k', assetsDir: path.join(REPO_ROOT, 'dist') },
      );
      try {
        const rejected: string[] = [];
        session.pipeline.events.on((e) => {
          if (e.type === 'doc/rejected') rejected.push(`${e.path}: ${e.reason}`);
        });
        await session.pipeline.reprocessDeadLetters(['../secret.txt'])!.done;
        await session.pipeline.retry(['../secret.txt', '/etc/hostname']).done;
        assert.equal(server.requests.length, 1, 'only the first run asked the model');
        assert.equal(rejected.length, 3);
        for (const r of rejected) assert.match(r, /\[PATH_OUTSIDE_ROOT\]/);
        assert.equal(session.store.getDocument('../secret.txt')?.readiness, 'rejected');
      } finally {
        await session.close();
      }
    });

    it('retry of a document that became a link out of the folder does not read it', async () => {
      const w = ws();
      server.setScript('inv0.txt', [{ status: 400 }]);
      assert.equal((await run(w)).code, 1);
      fs.rmSync(path.join(w.root, 'inv0.txt'));
      fs.symlinkSync(path.join(w.dir, 'secret.txt'), path.join(w.root, 'inv0.txt'));
      const r = await runCli(['retry', 'inv0.txt', '--state', w.state, '--base-url', server.url, '--json']);
      assert.equal(server.requests.length, 1, r.stderr);
      assert.doesNotMatch(sent(), new RegExp(SECRET));
      const rejected = ndjson(r.stdout).find((e) => e.type === 'doc/rejected');
      assert.match(String(rejected?.reason), /\[PATH_OUTSIDE_ROOT\] Link leads out of the folder/);
    });

    it('a crafted settings.json cannot move the output folder or the root out of the workspace', async () => {
      const w = ws();
      server.setScript('inv0.txt', [{ status: 400 }]);
      assert.equal((await run(w)).code, 1);
      const file = path.join(w.state, 'settings.json');
      const original = JSON.parse(fs.readFileSync(file, 'utf8'));
      fs.writeFileSync(file, JSON.stringify({ ...original, outDir: '../../x' }));
      const out = await runCli(['dlq', 'retry', '--all', '--state', w.state, '--base-url', server.url]);
      assert.equal(out.code, 2, out.stderr);
      assert.match(out.stderr, /\[INVALID_CONFIG\] .*settings\.json: outDir ".*" is not inside the folder/);
      fs.writeFileSync(file, JSON.stringify({ ...original, root: '../..', outDir: '../../x' }));
      const root = await runCli(['retry', 'inv0.txt', '--state', w.state, '--base-url', server.url]);
      assert.equal(root.code, 2, root.stderr);
      assert.match(root.stderr, /\[INVALID_CONFIG\] .*settings\.json: root ".*" is not the folder that holds this state folder/);
      fs.mkdirSync(path.join(w.dir, 'elsewhere'));
      fs.symlinkSync(path.join(w.dir, 'elsewhere'), path.join(w.root, 'out-link'));
      fs.writeFileSync(file, JSON.stringify({ ...original, outDir: '../out-link' }));
      const link = await runCli(['dlq', 'retry', '--all', '--state', w.state, '--base-url', server.url]);
      assert.equal(link.code, 2, link.stderr);
      assert.match(link.stderr, /settings\.json: outDir ".*out-link" is a link out of the folder/);
      assert.equal(server.requests.length, 1, 'nothing was retried');
      assert.ok(!fs.existsSync(path.join(w.dir, 'x')), 'nothing written outside (<state>/../../x)');
      assert.deepEqual(fs.readdirSync(path.join(w.dir, 'elsewhere')), []);
    });

    it('a state folder kept outside its folder is used when --root names the folder', async () => {
      const w = ws();
      const state = path.join(w.dir, 'state');
      server.setScript('inv0.txt', [{ status: 400 }]);
      assert.equal((await run(w, '--state', state)).code, 1);
      const unnamed = await runCli(['dlq', 'retry', '--all', '--state', state, '--base-url', server.url]);
      assert.equal(unnamed.code, 2, unnamed.stderr);
      assert.match(unnamed.stderr, /is not the folder that holds this state folder.*--root/);
      const named = await runCli(['dlq', 'retry', '--all', '--state', state, '--root', w.root, '--base-url', server.url]);
      assert.equal(named.code, 0, named.stderr);
      assert.ok(fs.existsSync(path.join(w.root, 'extracted', 'inv0.txt.json')));
    });

    it('an extraction.config.json cannot send results out of the workspace (outDir)', async () => {
      const w = ws();
      fs.writeFileSync(path.join(w.root, 'extraction.config.json'), JSON.stringify({ jobs: [{ name: 'j', schema: '../invoice.schema.json', outDir: '../../x' }] }));
      const r = await runCli(['run', w.root, '--base-url', server.url]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /\[INVALID_CONFIG\] extraction\.config\.json: jobs\.0\.outDir: must be a folder inside the workspace folder: "\.\.\/\.\.\/x" leads out of it/);
      assert.equal(server.requests.length, 0);
    });
  });

  describe('retries use today\'s endpoint, model and key', () => {
    it('the key is not sent to a saved endpoint nobody chose today; --base-url/--model and OPENAI_BASE_URL reach a server that moved', async () => {
      const w = ws({ 'inv0.txt': 'Invoice INV-0', 'inv1.txt': 'Invoice INV-1', 'inv2.txt': 'Invoice INV-2' });
      server.setScript([{ status: 400 }, { status: 400 }, { status: 400 }]);
      assert.equal((await run(w)).code, 1);
      await server.close();
      server = await startModelServer({ latencyMs: 1 }); // the local server moved to another port
      const file = path.join(w.state, 'settings.json');
      const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
      fs.writeFileSync(file, JSON.stringify({ ...saved, baseURL: 'http://0.0.0.0:9/v1' }));
      const refused = await runCli(['dlq', 'retry', '--all', '--state', w.state], { OPENAI_API_KEY: 'sk-test-key' });
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /The last run used http:\/\/0\.0\.0\.0:9\/v1 .*pass --base-url <url>/);
      fs.writeFileSync(file, JSON.stringify(saved)); // the old port: where the documents failed before

      const flags = await runCli(['dlq', 'retry', 'inv0.txt', '--state', w.state, '--base-url', server.url, '--model', 'today-model'], { OPENAI_API_KEY: 'sk-test-key' });
      assert.equal(flags.code, 1, flags.stderr); // inv1 and inv2 are still dead letters
      assert.deepEqual(server.requests.map((q) => [q.document, q.body?.model, q.headers.authorization]), [['inv0.txt', 'today-model', 'Bearer sk-test-key']]);
      assert.equal(JSON.parse(fs.readFileSync(path.join(w.root, 'extracted', 'inv0.txt.json'), 'utf8')).metadata.model, 'today-model');

      fs.writeFileSync(file, JSON.stringify(saved));
      const env = await runCli(['retry', 'inv1.txt', '--state', w.state], { OPENAI_BASE_URL: server.url });
      assert.equal(env.code, 1, env.stderr);
      assert.deepEqual(server.requests.map((q) => q.document), ['inv0.txt', 'inv1.txt']);
      assert.ok(fs.existsSync(path.join(w.root, 'extracted', 'inv1.txt.json')));
    });
  });

  describe('result files', () => {
    it('are not written through a link in the output folder (EXPORT_FAILED names the link)', async () => {
      const w = ws({ 'sub/inv0.txt': 'Invoice INV-0', 'inv1.txt': 'Invoice INV-1' });
      fs.mkdirSync(path.join(w.dir, 'elsewhere'));
      fs.mkdirSync(path.join(w.root, 'extracted'));
      fs.symlinkSync(path.join(w.dir, 'elsewhere'), path.join(w.root, 'extracted', 'sub'));
      const r = await run(w);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /sub\/inv0\.txt: attempt 1 failed in exporting: \[EXPORT_FAILED\] .*extracted\/sub is a link out of the output folder/);
      assert.deepEqual(fs.readdirSync(path.join(w.dir, 'elsewhere')), [], 'nothing written through the link');
      assert.ok(fs.existsSync(path.join(w.root, 'extracted', 'inv1.txt.json')));
    });

    it('a 250-byte name is written (short temp file); a name whose result name passes 255 bytes is rejected before any request', async () => {
      const long = `${'n'.repeat(246)}.txt`; // 250 bytes
      const tooLong = `${'t'.repeat(247)}.txt`; // 251 bytes: "<name>.json" is 256
      const w = ws({ [long]: 'Invoice INV-0', [tooLong]: 'Invoice INV-1' });
      const r = await run(w);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(w.root, 'extracted', `${long}.json`)));
      assert.deepEqual(server.requests.map((q) => q.document), [long]);
      const rejected = ndjson(r.stdout).find((e) => e.type === 'doc/rejected');
      assert.equal(rejected?.path, tooLong);
      assert.match(String(rejected?.reason), /Name too long: its result file name would be 256 bytes/);
    });

    it('an output folder that cannot be written stops the run before any request (OUTPUT_UNWRITABLE, exit 2)', async () => {
      const w = ws();
      fs.writeFileSync(path.join(w.dir, 'a-file'), 'x');
      const notADir = await run(w, '--out', path.join(w.dir, 'a-file', 'out'));
      assert.equal(notADir.code, 2, notADir.stderr);
      assert.match(notADir.stderr, /\[OUTPUT_UNWRITABLE\] Cannot write to the output folder .*a-file\/out/);
      const readOnly = path.join(w.root, 'extracted');
      fs.mkdirSync(readOnly);
      fs.chmodSync(readOnly, 0o555);
      const r = await runCliAsUser(w.dir, ['run', w.root, '--schema', w.schema, '--base-url', server.url, '--include', '**/*.txt']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /\[OUTPUT_UNWRITABLE\] Cannot write to the output folder .*extracted: EACCES/);
      assert.equal(server.requests.length, 0, 'nothing was paid for');
    });
  });
});

describe('confinement to the workspace folder (in process)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-confine-unit-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writeFileAtomic and writeResult write a 250-byte name (the temp file name does not grow with it)', async () => {
    const name = `${'n'.repeat(245)}.json`; // 250 bytes
    assert.equal(writeFileAtomic(path.join(dir, name), 'sync\n'), true);
    assert.equal(fs.readFileSync(path.join(dir, name), 'utf8'), 'sync\n');
    const source = `${'r'.repeat(246)}.txt`; // its result name is 255 bytes: the longest there is
    assert.equal(resultNameProblem(source), undefined);
    assert.match(resultNameProblem(`x${source}`) ?? '', /256 bytes/);
    const out = path.join(dir, 'out');
    const file = await writeResult(out, { formatVersion: 1, source, data: {}, metadata: {} as ResultFile['metadata'] });
    assert.equal(path.basename(file), `${source}.json`);
    assert.deepEqual(fs.readdirSync(out), [`${source}.json`], 'no temp file left');
  });

  it('writeResult checks a folder once per run, creates it again when it was removed, and never writes through a link put there', async () => {
    const out = path.join(dir, 'out');
    const verified = new Set<string>();
    const result = (source: string): ResultFile => ({ formatVersion: 1, source, data: { source }, metadata: {} as ResultFile['metadata'] });
    await writeResult(out, result('sub/a.txt'), { verifiedFolders: verified });
    assert.deepEqual([...verified], [path.join(out, 'sub')]);
    // someone clears the output folder during the run: the next result still lands, in a new folder
    fs.rmSync(out, { recursive: true });
    await writeResult(out, result('sub/b.txt'), { verifiedFolders: verified });
    assert.deepEqual(fs.readdirSync(path.join(out, 'sub')), ['b.txt.json']);
    // ...and when what is there now is a link out of the output folder, it is refused as always
    fs.rmSync(path.join(out, 'sub'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'elsewhere'));
    fs.symlinkSync(path.join(dir, 'elsewhere'), path.join(out, 'sub'));
    fs.rmSync(path.join(dir, 'elsewhere'), { recursive: true }); // a dangling link: writing through it fails with ENOENT
    await assert.rejects(writeResult(out, result('sub/c.txt'), { verifiedFolders: verified }), (e: unknown) => e instanceof ExtractionError && e.code === ErrorCodes.EXPORT_FAILED);
    assert.ok(!fs.existsSync(path.join(dir, 'elsewhere')), 'the link was not followed to create its target');
  });

  it('writeResult refuses a document path that leads out of the output folder (PATH_OUTSIDE_ROOT)', async () => {
    const out = path.join(dir, 'out');
    await assert.rejects(writeResult(out, { formatVersion: 1, source: '../../escaped.txt', data: {}, metadata: {} as ResultFile['metadata'] }), (e: unknown) => e instanceof ExtractionError && e.code === ErrorCodes.PATH_OUTSIDE_ROOT && !e.retryable);
    assert.ok(!fs.existsSync(path.join(dir, 'escaped.txt.json')) && !fs.existsSync(path.join(path.dirname(dir), 'escaped.txt.json')));
  });

  it('checkOutputWritable: OUTPUT_UNWRITABLE (run-fatal) for a folder that cannot be created or written, nothing left behind otherwise', async () => {
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    await assert.rejects(checkOutputWritable(path.join(dir, 'file', 'out')), (e: unknown) => e instanceof ExtractionError && e.code === ErrorCodes.OUTPUT_UNWRITABLE && isRunFatalCode(e.code));
    await checkOutputWritable(path.join(dir, 'new', 'out'));
    assert.deepEqual(fs.readdirSync(path.join(dir, 'new', 'out')), [], 'the probe file is removed');
  });

  it('a window\'s saved settings (root known): the saved output folder must be inside its folder; another folder\'s settings are not used', () => {
    const root = path.join(dir, 'ws');
    const stateDir = path.join(root, '.cache', 'state'); // a nested state folder is fine when the root is known
    fs.mkdirSync(stateDir, { recursive: true });
    const write = (o: Record<string, unknown>) =>
      fs.writeFileSync(path.join(stateDir, 'settings.json'), JSON.stringify({ root: '../..', outDir: '../../extracted', stateDir: '.', schemaPath: '../../s.json', baseURL: 'http://127.0.0.1:1/v1', model: 'm', concurrency: 1, maxAttempts: 1, timeoutMs: 1000, maxFileBytes: 1000, ...o }));
    write({});
    assert.equal(loadSavedSettings(stateDir, { root })?.outDir, path.join(root, 'extracted'));
    assert.throws(() => loadSavedSettings(stateDir), /root ".*" is not the folder that holds this state folder/, 'without the root, a nested state folder names it');
    write({ outDir: '../../../x' });
    assert.throws(() => loadSavedSettings(stateDir, { root }), (e: unknown) => e instanceof ExtractionError && e.code === ErrorCodes.INVALID_CONFIG && /settings\.json: outDir ".*" is not inside the folder/.test(e.message));
    write({ stateDir: '/somewhere/else' });
    assert.equal(loadSavedSettings(stateDir, { root })?.stateDir, stateDir, 'the state folder is where the file is, whatever it says');
    assert.equal(loadSavedSettings(stateDir, { root: path.join(dir, 'other') }), undefined);
  });
});

describe('confinement: review files of a document path from the store', () => {
  it('corrections and rerun backups of a path that leads out of the folder are not written (PATH_OUTSIDE_ROOT)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-confine-review-'));
    try {
      const stateDir = path.join(dir, 'ws', '.extraction');
      const isOutside = (e: unknown) => e instanceof ExtractionError && e.code === ErrorCodes.PATH_OUTSIDE_ROOT;
      const corrections = new CorrectionsStore(stateDir);
      assert.throws(() => corrections.setReviewed('../../../escaped', true), isOutside);
      assert.throws(() => saveRerunBackup(stateDir, { formatVersion: 1, source: '../../../escaped', startedAt: '', previous: null }), isOutside);
      assert.equal(corrections.fileOf('docs/a.pdf'), path.join(stateDir, 'corrections', 'docs', 'a.pdf.json'));
      assert.equal(rerunBackupFile(stateDir, 'docs/a.pdf'), path.join(stateDir, 'review-reruns', 'docs', 'a.pdf.json'));
      assert.deepEqual(fs.readdirSync(dir), [], 'nothing written (escaped.json would be here)');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
