import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { argvWithEnv, envNameOf, RUN_OPTIONS, withEnvNames } from '../../src/cli/runEnv';
import { ndjson, REPO_ROOT, runCli } from '../support/cli';
import { startModelServer, type ModelServer } from '../support/modelServer';

const SCHEMA = { type: 'object', properties: { invoice_number: { type: 'string' } }, required: ['invoice_number'] };

describe('CLI parity with the window: list, dlq remove, EXTRACTION_* variables, help', function () {
  this.timeout(120_000); // several CLI processes per test (each starts a Node bundle)
  let server: ModelServer;
  let root: string;
  let state: string;
  let schema: string;

  before(async () => {
    server = await startModelServer({ latencyMs: 1 });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-parity-'));
    for (const name of ['a', 'b', 'c']) fs.writeFileSync(path.join(root, `${name}.txt`), `Invoice ${name}\n`);
    schema = path.join(root, 'schema.json');
    fs.writeFileSync(schema, JSON.stringify(SCHEMA));
    server.setScript('b.txt', [{ status: 400, message: 'bad b' }]);
    server.setScript('c.txt', [{ status: 400, message: 'bad c' }]);
    // the run's flags come from the environment here
    const r = await runCli(['run', root], { EXTRACTION_SCHEMA: schema, EXTRACTION_BASE_URL: server.url, EXTRACTION_INCLUDE: '**/*.txt;*.md', EXTRACTION_JSON: 'yes' });
    assert.equal(r.code, 1, r.stderr);
    assert.ok(ndjson(r.stdout).some((e) => e.type === 'run/finished'), 'EXTRACTION_JSON=yes acts as --json');
    state = path.join(root, '.extraction');
  });
  after(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('lists documents with stage, attempts and last error, filtered by stage and limited', async () => {
    const all = await runCli(['list', '--state', state, '--json']);
    assert.equal(all.code, 0, all.stderr);
    const docs = ndjson(all.stdout);
    assert.deepEqual(docs.map((d) => d.path).sort(), ['a.txt', 'b.txt', 'c.txt']);
    const times = docs.map((d) => Date.parse(String(d.updatedAt)));
    assert.deepEqual(times, [...times].sort((x, y) => y - x), 'most recently updated first');
    const dead = ndjson((await runCli(['list', '--state', state, '--stage', 'dead-lettered', '--json'])).stdout);
    assert.deepEqual(dead.map((d) => d.path).sort(), ['b.txt', 'c.txt']);
    for (const d of dead) {
      assert.equal(d.stage, 'dead-lettered');
      assert.equal(d.errorCode, 'BAD_REQUEST');
      assert.equal(d.attempts, 1);
    }
    const done = await runCli(['list', '--state', state, '--stage', 'done']);
    assert.match(done.stdout, /^a\.txt\tdone\t1 attempt\(s\)\t\d{4}-/);
    const limited = await runCli(['list', '--state', state, '--limit', '1']);
    assert.equal(limited.stdout.trim().split('\n').length, 2);
    assert.match(limited.stdout, /… 2 more \(--limit 1\)/);
    const bad = await runCli(['list', '--state', state, '--stage', 'finished']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Unknown --stage "finished"/);
  });

  it('dlq remove takes documents out of the queue (back to pending), and an unknown path removes nothing (exit 1)', async () => {
    const unknown = await runCli(['dlq', 'remove', 'b.txt', 'nope.txt', '--state', state]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /not in the dead-letter queue \(nothing removed\): nope\.txt/);
    assert.equal(ndjson((await runCli(['dlq', 'list', '--state', state, '--json'])).stdout).length, 2);
    const one = await runCli(['dlq', 'remove', path.join(root, 'b.txt'), '--state', state]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, 'removed b.txt\n');
    const b = ndjson((await runCli(['list', '--state', state, '--json'])).stdout).find((d) => d.path === 'b.txt');
    assert.equal(b?.stage, 'pending');
    const rest = await runCli(['dlq', 'remove', '--all', '--state', state, '--json']);
    assert.deepEqual(ndjson(rest.stdout), [{ removed: 'c.txt' }]);
    const empty = await runCli(['dlq', 'remove', '--all', '--state', state]);
    assert.equal(empty.stdout, 'The dead-letter queue is empty.\n');
    assert.equal((await runCli(['dlq', 'remove', '--state', state])).code, 2, 'neither paths nor --all');
  });

  it('a flag wins over its variable, and a bad variable gets the flag\'s error naming the variable', async () => {
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-env-'));
    for (const name of ['x', 'y']) fs.writeFileSync(path.join(fresh, `${name}.txt`), `Invoice ${name}\n`);
    try {
      const byEnv = await runCli(['estimate', fresh, '--json'], { EXTRACTION_SCHEMA: schema, EXTRACTION_INCLUDE: '*.txt' });
      assert.equal(byEnv.code, 0, byEnv.stderr);
      assert.equal(JSON.parse(byEnv.stdout).documents, 2);
      const byFlag = await runCli(['estimate', fresh, '--json', '--include', 'x.txt'], { EXTRACTION_SCHEMA: schema, EXTRACTION_INCLUDE: '*.txt' });
      assert.equal(JSON.parse(byFlag.stdout).documents, 1, '--include wins over EXTRACTION_INCLUDE');
      // --max-file-size-mb (here from its variable): a larger file is left out unread
      fs.writeFileSync(path.join(fresh, 'big.txt'), 'Invoice big\n'.repeat(110_000));
      const small = await runCli(['estimate', fresh, '--json'], { EXTRACTION_SCHEMA: schema, EXTRACTION_MAX_FILE_SIZE_MB: '1' });
      const skipped = JSON.parse(small.stdout).skipped as Array<{ path: string; reason: string }>;
      assert.deepEqual(skipped.map((x) => x.path), ['big.txt']);
      assert.match(skipped[0].reason, /Too large: .* over the 1(\.0)? MB limit/);
      const roomy = await runCli(['estimate', fresh, '--json', '--max-file-size-mb', '2'], { EXTRACTION_SCHEMA: schema, EXTRACTION_MAX_FILE_SIZE_MB: '1' });
      assert.deepEqual(JSON.parse(roomy.stdout).skipped, [], 'the flag wins');
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
    const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [{ EXTRACTION_CONCURRENCY: 'lots' }, /--concurrency must be a whole number ≥ 1, got "lots" \(set by EXTRACTION_CONCURRENCY\)/],
      [{ EXTRACTION_MODE: 'yaml' }, /--mode "yaml": .* \(set by EXTRACTION_MODE\)/],
      [{ EXTRACTION_RETRY_JITTER: '7' }, /--retry-\*: .* \(set by EXTRACTION_RETRY_JITTER\)/],
      [{ EXTRACTION_MAX_FILE_SIZE_MB: '5000' }, /--max-file-size-mb must be at most 4096, got "5000" \(set by EXTRACTION_MAX_FILE_SIZE_MB\)/],
      [{ EXTRACTION_LOG_REQUESTS: 'maybe' }, /EXTRACTION_LOG_REQUESTS "maybe": expected 1\/0, true\/false/],
    ];
    for (const [env, message] of cases) {
      const r = await runCli(['estimate', root], { EXTRACTION_SCHEMA: schema, ...env });
      assert.equal(r.code, 2, JSON.stringify(env));
      assert.match(r.stderr, message);
    }
    const flag = await runCli(['estimate', root, '--concurrency', 'x'], { EXTRACTION_SCHEMA: schema });
    assert.doesNotMatch(flag.stderr, /set by/, 'a flag\'s own error names no variable');
  });

  it('maps flags to variables by one rule, and merges them without touching given flags', () => {
    assert.equal(envNameOf('max-attempts'), 'EXTRACTION_MAX_ATTEMPTS');
    const usage = (m: string) => new Error(m);
    const r = argvWithEnv(['run', 'x', '-v', '--model', 'm1'], { EXTRACTION_MODEL: 'm2', EXTRACTION_VERBOSE: '0', EXTRACTION_EXCLUDE: 'a/**; b/{c,d}/*', EXTRACTION_BUDGET: ' ' }, usage);
    assert.deepEqual(r.argv, ['run', 'x', '-v', '--model', 'm1', '--exclude=a/**', '--exclude=b/{c,d}/*']);
    assert.deepEqual([...r.fromEnv], [['exclude', 'EXTRACTION_EXCLUDE']]);
    assert.equal(withEnvNames('--retry-*: jitter: too big', new Map([['retry-jitter', 'EXTRACTION_RETRY_JITTER']])), '--retry-*: jitter: too big (set by EXTRACTION_RETRY_JITTER)');
  });

  it('--help and the README name every run flag and the variable rule', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    for (const flag of Object.keys(RUN_OPTIONS)) {
      assert.ok(help.stdout.includes(`--${flag}`), `--help lists --${flag}`);
      assert.ok(readme.includes(`--${flag}`), `README lists --${flag}`);
    }
    for (const text of [help.stdout, readme]) assert.match(text, /EXTRACTION_MAX_ATTEMPTS/);
    for (const cmd of ['list', 'dlq remove', 'export']) assert.match(help.stdout, new RegExp(`extraction-workbench ${cmd} `));
    // a command's --help shows the same usage instead of "Unknown option"
    for (const cmd of ['estimate', 'run', 'dlq', 'eval']) {
      const r = await runCli([cmd, '--help']);
      assert.equal(r.code, 0, `${cmd} --help: ${r.stderr}`);
      assert.equal(r.stdout, help.stdout);
    }
  });
});
