import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { multiPagePdf } from '../fixtures/pdf/generate';
import { ndjson, runCli, startCli } from '../support/cli';
import { startModelServer, type ModelServer } from '../support/modelServer';

const SCHEMA = {
  type: 'object',
  properties: { invoice_number: { type: 'string' }, total: { type: 'number' } },
  required: ['invoice_number', 'total'],
};

function workspace(n: number): { root: string; schema: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-'));
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(root, `inv${i}.txt`), `Invoice INV-${i}\nTotal: ${i}.50 EUR\n`);
  const schema = path.join(root, 'invoice.schema.json');
  fs.writeFileSync(schema, JSON.stringify(SCHEMA));
  return { root, schema };
}

describe('CLI', function () {
  this.timeout(60_000);
  let server: ModelServer;

  beforeEach(async () => {
    server = await startModelServer({ latencyMs: 2 });
  });
  afterEach(async () => {
    await server.close();
  });

  const run = (root: string, schema: string, ...extra: string[]) => runCli(['run', root, '--schema', schema, '--base-url', server.url, '--include', '**/*.txt', ...extra]);

  it('extracts a folder, exits 0, and a second run requests nothing again', async () => {
    const { root, schema } = workspace(5);
    const r = await run(root, schema);
    assert.equal(r.code, 0, r.stderr);
    for (let i = 0; i < 5; i++) {
      const result = JSON.parse(fs.readFileSync(path.join(root, 'extracted', `inv${i}.txt.json`), 'utf8'));
      assert.equal(result.source, `inv${i}.txt`);
      assert.equal(typeof result.data.invoice_number, 'string');
    }
    assert.equal(server.stats.total, 5);
    const again = await run(root, schema);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(server.stats.total, 5, 'no document was requested again');
    assert.match(again.stderr, /5 unchanged/);

    const status = await runCli(['status', '--state', path.join(root, '.extraction'), '--json']);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.equal(s.total, 5);
    assert.equal(s.done, 5);
    assert.equal(s.pending, 0);
    assert.equal(s.running, 0);
    assert.equal(s.failed, 0);
    assert.equal(s.deadLettered, 0);
    assert.equal(typeof s.runId, 'string');
  });

  it('--out and --state typed on the command line are relative to the current folder, as export --out is', async () => {
    const { root, schema } = workspace(2);
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-cwd-'));
    const r = await runCli(['run', root, '--schema', schema, '--base-url', server.url, '--include', '**/*.txt', '--out', 'results', '--state', 'state'], {}, cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(cwd, 'results', 'inv1.txt.json')), 'the results are in ./results of the current folder');
    assert.ok(!fs.existsSync(path.join(root, 'results')), 'not in the document folder');
    const exported = await runCli(['export', '--out', 'results', '--state', 'state', '--to', 'all.csv', '--schema', schema], {}, cwd);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(fs.readFileSync(path.join(cwd, 'all.csv'), 'utf8').trim().split(/\r?\n/).length, 3, 'a header and the two documents');
  });

  it('prints NDJSON events on stdout with --json', async () => {
    const { root, schema } = workspace(2);
    const r = await run(root, schema, '--json');
    assert.equal(r.code, 0, r.stderr);
    const events = ndjson(r.stdout);
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'run/started');
    assert.equal(types.filter((t) => t === 'doc/completed').length, 2);
    assert.equal(types.at(-1), 'run/finished');
  });

  it('exits 1 with dead letters, lists them, and reprocesses them', async () => {
    const { root, schema } = workspace(3);
    server.setScript('inv1.txt', [{ status: 400 }]);
    const r = await run(root, schema);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /dead-lettered inv1\.txt: \[BAD_REQUEST\]/);
    const state = path.join(root, '.extraction');
    const list = await runCli(['dlq', 'list', '--state', state, '--json']);
    const letters = ndjson(list.stdout);
    assert.equal(letters.length, 1);
    assert.equal(letters[0].path, 'inv1.txt');
    assert.equal(letters[0].code, 'BAD_REQUEST');
    assert.equal(letters[0].stage, 'extracting');
    const retry = await runCli(['dlq', 'retry', '--all', '--state', state, '--note', 'server fixed']);
    assert.equal(retry.code, 0, retry.stderr);
    const after = JSON.parse((await runCli(['status', '--state', state, '--json'])).stdout);
    assert.equal(after.done, 3);
    assert.equal(after.deadLettered, 0);
    assert.equal(server.requestsFor('inv1.txt').length, 2);
  });

  it('a folder moved after its run (e.g. downloaded from CI) keeps working from its new place', async () => {
    const { root, schema } = workspace(2);
    server.setScript('inv1.txt', [{ status: 400 }]);
    assert.equal((await run(root, schema)).code, 1);
    const saved = JSON.parse(fs.readFileSync(path.join(root, '.extraction', 'settings.json'), 'utf8'));
    assert.deepEqual([saved.root, saved.outDir, saved.schemaPath, saved.stateDir], ['..', '../extracted', '../invoice.schema.json', '.'], 'paths are saved relative to the state folder');
    const moved = `${root}-moved`;
    fs.renameSync(root, moved);
    try {
      const retry = await runCli(['dlq', 'retry', '--all', '--state', path.join(moved, '.extraction')]);
      assert.equal(retry.code, 0, retry.stderr);
      assert.equal(server.requestsFor('inv1.txt').length, 2);
      const result = JSON.parse(fs.readFileSync(path.join(moved, 'extracted', 'inv1.txt.json'), 'utf8'));
      assert.equal(result.source, 'inv1.txt');
      assert.ok(!fs.existsSync(root), 'nothing was written at the old place');
    } finally {
      fs.rmSync(moved, { recursive: true, force: true });
    }
  });

  it('retries one document with retry <path>', async () => {
    const { root, schema } = workspace(2);
    server.setScript('inv0.txt', [{ status: 400 }]);
    assert.equal((await run(root, schema)).code, 1);
    const r = await runCli(['retry', 'inv0.txt', '--state', path.join(root, '.extraction')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(server.requestsFor('inv0.txt').length, 2);
    assert.equal(server.requestsFor('inv1.txt').length, 1);
  });

  it('waits out a 429, retries a 5xx and still exits 0 (the 429 uses no attempt)', async () => {
    const { root, schema } = workspace(2);
    server.setScript('inv0.txt', [{ status: 429, retryAfterMs: 50 }, { status: 503 }]);
    const r = await run(root, schema, '--max-attempts', '2');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(server.requestsFor('inv0.txt').length, 3);
    assert.match(r.stderr, /retry inv0\.txt in .* \(attempt 1 failed: SERVER_ERROR\)/);
    assert.doesNotMatch(r.stderr, /failed: RATE_LIMITED/);
  });

  it('stops the run with exit 2 and one clear message when the API key is rejected, after one request', async () => {
    await server.close();
    server = await startModelServer({ requireApiKey: 'right-key' });
    const { root, schema } = workspace(6);
    const r = await runCli(['run', root, '--schema', schema, '--base-url', server.url, '--include', '**/*.txt', '--concurrency', '4'], { OPENAI_API_KEY: 'wrong-key' });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /AUTH_FAILED/);
    assert.doesNotMatch(r.stderr + r.stdout, /wrong-key/, 'the key never appears in output');
    assert.ok(server.stats.total <= 2, `the run stopped after ${server.stats.total} requests instead of trying every document`);
    const s = JSON.parse((await runCli(['status', '--state', path.join(root, '.extraction'), '--json'])).stdout);
    assert.equal(s.deadLettered, 0);
  });

  it('exits 2 with a one-line reason for usage and configuration errors', async () => {
    const { root, schema } = workspace(1);
    const missing = await runCli(['run', path.join(root, 'nope'), '--schema', schema, '--base-url', server.url]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Folder not found/);

    const bad = path.join(root, 'bad.schema.json');
    fs.writeFileSync(bad, '{ not json');
    const badSchema = await runCli(['run', root, '--schema', bad, '--base-url', server.url]);
    assert.equal(badSchema.code, 2);
    assert.match(badSchema.stderr, /INVALID_SCHEMA.*not valid JSON/);

    const noKey = await runCli(['run', root, '--schema', schema, '--base-url', 'https://api.example.invalid/v1']);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /No API key: set OPENAI_API_KEY/);

    const noSchema = await runCli(['run', root, '--base-url', server.url]);
    assert.equal(noSchema.code, 2);
    assert.match(noSchema.stderr, /No --schema given and no extraction\.config\.json/);

    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown command "frobnicate"/);
    assert.equal(server.stats.total, 0);
  });

  it('reads the job from extraction.config.json', async () => {
    const { root } = workspace(2);
    fs.mkdirSync(path.join(root, 'schema'));
    fs.writeFileSync(path.join(root, 'schema', 'inv.json'), JSON.stringify(SCHEMA));
    fs.writeFileSync(path.join(root, 'extraction.config.json'), JSON.stringify({ jobs: [{ name: 'inv', schema: 'schema/inv.json', include: ['*.txt'], instructions: 'Be precise.' }] }));
    const r = await runCli(['run', root, '--base-url', server.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(server.stats.total, 2);
    assert.match(server.requests[0].userText, /Be precise\./);
  });

  it('stops at the --budget with state saved (exit 1), and a new run goes on', async () => {
    const { root, schema } = workspace(8);
    // gpt-4o-mini has a list price, so every request costs a little
    const r = await run(root, schema, '--model', 'gpt-4o-mini', '--concurrency', '1', '--budget', '0.0000001');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Budget of 1e-7 reached/);
    const s = JSON.parse((await runCli(['status', '--state', path.join(root, '.extraction'), '--json'])).stdout);
    assert.ok(s.done >= 1 && s.done < 8, `stopped early (${s.done} done)`);
    assert.equal(s.running, 0);
    const resumed = await run(root, schema, '--model', 'gpt-4o-mini');
    assert.equal(resumed.code, 0, resumed.stderr);
  });

  it('estimates tokens and cost before a run without sending anything', async () => {
    const { root, schema } = workspace(4);
    fs.writeFileSync(path.join(root, 'notes.xyz'), 'unsupported');
    const r = await runCli(['estimate', root, '--schema', schema, '--model', 'gpt-4o-mini', '--exclude', '*.schema.json', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.equal(e.documents, 4);
    assert.equal(e.requests, 4);
    assert.ok(e.tokensIn > 4 * 10, `tokens counted (${e.tokensIn})`);
    assert.ok(e.cost > 0);
    assert.equal(server.stats.total, 0, 'nothing was sent to the model');
    const text = await runCli(['estimate', root, '--schema', schema, '--model', 'gpt-4o-mini', '--include', '*.txt']);
    assert.match(text.stdout, /Estimate for 4 document\(s\) with gpt-4o-mini/);
  });

  it('status and dlq list work while a run has the store open (read-only, no lock needed)', async () => {
    const { root, schema } = workspace(4);
    server.setScript('inv0.txt', [{ status: 400 }]);
    // the third document's answer waits until the test has looked: the run is certainly under way meanwhile
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    server.setResponder(async (req) => {
      if (req.document === 'inv2.txt') await held;
      return { reply: { invoice_number: req.document, total: 1 } };
    });
    const state = path.join(root, '.extraction');
    // two model slots: inv2 holds one and the others go through the other, in whichever order they are read
    const { child, result } = startCli(['run', root, '--schema', schema, '--base-url', server.url, '--include', '**/*.txt', '--concurrency', '2']);
    let exited = false;
    void result.then(() => (exited = true));
    let seen: Record<string, number> | undefined;
    let last = 'no status read';
    const t0 = Date.now();
    try {
      // poll as a person would from a second terminal, until the run is visibly under way
      while (!exited && Date.now() - t0 < 30_000) {
        if (fs.existsSync(path.join(state, 'store.lock'))) {
          const status = await runCli(['status', '--state', state, '--json']);
          assert.equal(status.code, 0, status.stderr);
          const s = JSON.parse(status.stdout);
          last = status.stdout.trim();
          if (s.done + s.deadLettered >= 2 && s.pending + s.running >= 1 && !exited) {
            seen = s;
            const list = await runCli(['dlq', 'list', '--state', state, '--json']);
            assert.equal(list.code, 0, list.stderr);
            assert.deepEqual(ndjson(list.stdout).map((l) => l.path), ['inv0.txt']);
            break;
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      release();
      const r = await result;
      assert.equal(r.code, 1, r.stderr); // one dead letter
      child.kill();
    }
    assert.ok(seen, `status showed the run in progress (after ${Date.now() - t0} ms, exited ${exited}; last status: ${last})`);
    assert.equal(seen.total, 4);
  });

  it('the estimate leaves out documents a run would skip, and uses --price', async function () {
    this.timeout(240_000); // six CLI runs: minutes on a loaded machine
    const { root, schema } = workspace(4);
    fs.writeFileSync(path.join(root, 'notes.xyz'), 'unsupported');
    const estimate = async (...extra: string[]) => {
      const r = await runCli(['estimate', root, '--schema', schema, '--model', 'local-model', '--exclude', '*.schema.json', '--json', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { documents: number; unchanged: number; skipped: Array<{ path: string; reason: string }>; cost: number; price?: unknown; tokensIn: number; tokensOutEstimate: number; storeChecked: boolean };
    };
    const before = await estimate();
    assert.deepEqual([before.documents, before.unchanged, before.cost, before.price], [4, 0, 0, undefined], 'a model without a price costs nothing');
    assert.deepEqual(before.skipped, [{ path: 'notes.xyz', reason: 'Unsupported file type ".xyz"' }]);
    const priced = await estimate('--price', '2,8');
    assert.deepEqual(priced.price, { inputPer1M: 2, outputPer1M: 8 });
    assert.equal(priced.cost, (priced.tokensIn * 2 + priced.tokensOutEstimate * 8) / 1_000_000);

    const r = await run(root, schema, '--model', 'local-model', '--exclude', '*.schema.json');
    assert.equal(r.code, 0, r.stderr);
    fs.appendFileSync(path.join(root, 'inv2.txt'), 'Paid.\n');
    const after = await estimate();
    assert.equal(after.storeChecked, true);
    assert.deepEqual([after.documents, after.unchanged], [1, 3], 'only the changed document would be sent');
    const text = await runCli(['estimate', root, '--schema', schema, '--model', 'local-model', '--exclude', '*.schema.json']);
    assert.match(text.stdout, /Documents: 1 \(not counted: 3 already done and unchanged, 1 unsupported, too large or unreadable\)/);
    assert.match(text.stdout, /Cost: unknown, no price known for model local-model/);
    assert.equal(server.stats.total, 4, 'estimates sent nothing');
  });

  it('PDF limits come from the job\'s pdf object, and a --pdf-* flag wins over its field', async () => {
    const { root } = workspace(0);
    fs.writeFileSync(path.join(root, 'three-pages.pdf'), await multiPagePdf(3));
    fs.writeFileSync(path.join(root, 'extraction.config.json'), JSON.stringify({ jobs: [{ name: 'pdf', schema: 'invoice.schema.json', include: ['*.pdf'], pdf: { maxPages: 2 } }] }));
    const sent = () => JSON.stringify(server.requestsFor('three-pages.pdf').map((r) => r.body?.messages));
    const fromJob = await runCli(['run', root, '--base-url', server.url]);
    assert.equal(fromJob.code, 0, fromJob.stderr);
    assert.match(sent(), /tok2x/);
    assert.doesNotMatch(sent(), /tok3x/, 'the job\'s page limit');
    server.reset();
    const flagged = await runCli(['run', root, '--base-url', server.url, '--state', path.join(root, 'state2'), '--out', path.join(root, 'out2'), '--pdf-max-pages', '1']);
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.match(sent(), /tok1x/);
    assert.doesNotMatch(sent(), /tok2x/, 'the flag\'s page limit');
  });

  it('provider options come from the job, and flags win over it', async () => {
    const { root } = workspace(2);
    fs.writeFileSync(path.join(root, 'extraction.config.json'), JSON.stringify({ jobs: [{ name: 'inv', schema: 'invoice.schema.json', include: ['*.txt'], mode: 'json_object', maxTokensParam: 'max_tokens', maxOutputTokens: 100 }] }));
    server.setResponder((req) => ({ reply: { invoice_number: req.document, total: 1 } }));
    const fromJob = await runCli(['run', root, '--base-url', server.url]);
    assert.equal(fromJob.code, 0, fromJob.stderr);
    assert.deepEqual(
      server.requests.map((r) => [r.body?.response_format?.type, r.body?.max_tokens, r.body?.max_completion_tokens]),
      [
        ['json_object', 100, undefined],
        ['json_object', 100, undefined],
      ],
    );
    server.reset();
    const flagged = await runCli(['run', root, '--base-url', server.url, '--state', path.join(root, 'state2'), '--out', path.join(root, 'out2'), '--mode', 'text', '--max-output-tokens', '77']);
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.equal(server.requests.length, 2);
    for (const r of server.requests) {
      assert.equal(r.body?.response_format, undefined, 'text mode: no response format');
      assert.equal(r.body?.max_tokens, 77, 'the job\'s field name, the flag\'s budget');
    }
  });

  it('checks provider flags like the job fields and names the flag', async () => {
    const { root, schema } = workspace(1);
    const cases: Array<[string[], RegExp]> = [
      [['--mode', 'fast'], /--mode "fast": Invalid option: expected one of "auto"\|"json_schema"/],
      [['--requests-per-minute', '0'], /--requests-per-minute "0": Too small/],
      [['--context-tokens', 'lots'], /--context-tokens "lots": Invalid input: expected number, received NaN/],
      [['--price', '0.15'], /--price "0.15": inputPer1M: Invalid input/],
      [['--max-tokens-param', 'max_output_tokens'], /--max-tokens-param "max_output_tokens": Invalid option/],
      [['--pdf-workers', '0'], /--pdf-workers "0": Too small/],
      [['--pdf-max-memory-mb', '8'], /--pdf-max-memory-mb "8": Too small/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli(['run', root, '--schema', schema, '--base-url', server.url, ...flags]);
      assert.equal(r.code, 2, flags.join(' '));
      assert.match(r.stderr, message);
    }
    assert.equal(server.stats.total, 0);
  });

  it('exits 130 on SIGINT with state saved and nothing left running', async () => {
    const { root, schema } = workspace(6);
    server.setLatency(3000);
    const { child, result } = startCli(['run', root, '--schema', schema, '--base-url', server.url, '--include', '**/*.txt', '--concurrency', '2']);
    const t0 = Date.now();
    // the first request goes alone (slow start) and takes 3 s: it is in flight when the signal comes
    while (server.stats.inFlight < 1 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const r = await result;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /SIGINT: stopping/);
    const s = JSON.parse((await runCli(['status', '--state', path.join(root, '.extraction'), '--json'])).stdout);
    assert.equal(s.running, 0);
    assert.equal(s.pending, 6);
    server.setLatency(1);
    const resumed = await run(root, schema);
    assert.equal(resumed.code, 0, resumed.stderr);
  });
});
