/**
 * `retry --priority high`: a document retried while another process runs the folder is handed to that run
 * and goes ahead of its queue; with no other process, retry runs it itself.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { until } from '../support/assertions';
import { ndjson, runCli, startCli } from '../support/cli';
import { startModelServer, type ModelServer } from '../support/modelServer';

const SCHEMA = { type: 'object', properties: { invoice_number: { type: 'string' } } };

describe('CLI retry --priority high', function () {
  this.timeout(120_000);
  let server: ModelServer;
  let root: string;
  let schema: string;
  let state: string;

  before(async () => {
    server = await startModelServer({ latencyMs: 1 });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-priority-'));
    schema = path.join(root, 'schema.json');
    fs.writeFileSync(schema, JSON.stringify(SCHEMA));
    state = path.join(root, '.extraction');
    fs.writeFileSync(path.join(root, 'x.txt'), 'Invoice X\n');
    fs.writeFileSync(path.join(root, 'y.txt'), 'Invoice Y\n');
    server.setScript('x.txt', [{ status: 400, message: 'bad x' }]);
    server.setScript('y.txt', [{ status: 400, message: 'bad y' }]);
    const r = await runCli(['run', root, '--schema', schema, '--base-url', server.url, '--include', '*.txt']);
    assert.equal(r.code, 1, r.stderr);
  });
  after(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('hands the document to the run in another process, which takes it ahead of its queue', async () => {
    const queued = Array.from({ length: 40 }, (_, i) => `n${String(i).padStart(2, '0')}.txt`);
    for (const name of queued) fs.writeFileSync(path.join(root, name), `Invoice ${name}\n`);
    server.setLatency(250);
    let sentBeforeResume = -1;
    const run = startCli(['run', root, '--schema', schema, '--base-url', server.url, '--include', '*.txt', '--concurrency', '1']);
    try {
      await until(() => server.requests.some((q) => queued.includes(q.document)), 'the run to send its first document', 30_000);
      // paused, the run hands out no model slot: what comes first after the resume is up to the queue
      assert.equal((await runCli(['pause', '--state', state])).code, 0);
      const r = await runCli(['retry', 'x.txt', '--priority', 'high', '--state', state]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Retrying x\.txt ahead of the queue of the run in process \d+/);
      sentBeforeResume = server.requests.length;
      assert.equal((await runCli(['resume', '--state', state])).code, 0);
    } finally {
      const done = await run.result;
      assert.equal(done.code, 1, done.stderr); // y.txt stays dead-lettered
      assert.match(done.stderr, /retry x\.txt ahead of the queue, requested from \d+@/);
    }
    // the next model slot is x.txt's (the one document that held a slot at the pause may come first), with
    // the documents of the queue still waiting behind it
    const next = server.requests.slice(sentBeforeResume).map((q) => q.document);
    assert.ok(next.slice(0, 2).includes('x.txt'), `x.txt among the next requests: ${next.join(' ')}`);
    assert.ok(next.slice(next.indexOf('x.txt') + 1).some((d) => queued.includes(d)), `documents of the queue came after x.txt: ${next.join(' ')}`);
    const docs = new Map(ndjson((await runCli(['list', '--state', state, '--json'])).stdout).map((d) => [d.path, d]));
    assert.equal(docs.get('x.txt')?.stage, 'done');
    assert.equal(docs.get('y.txt')?.stage, 'dead-lettered');
  });

  it('with no other process it retries the document itself; a bad --priority is a usage error', async () => {
    server.setLatency(1);
    const r = await runCli(['retry', 'y.txt', '--priority', 'high', '--state', state]);
    assert.equal(r.code, 0, r.stderr);
    const y = ndjson((await runCli(['list', '--state', state, '--json'])).stdout).find((d) => d.path === 'y.txt');
    assert.equal(y?.stage, 'done');
    const bad = await runCli(['retry', 'y.txt', '--priority', 'urgent', '--state', state]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--priority must be normal or high, got "urgent"/);
  });
});
