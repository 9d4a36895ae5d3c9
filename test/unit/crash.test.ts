/**
 * Crash safety: `kill -9` the CLI at random moments of a 1,000-document run, ten times, resuming each time.
 * At the end every document is done exactly once, every result file is valid JSON, and no document the CLI
 * had reported done was requested from the model again.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ndjson, runCli, startCli } from '../support/cli';
import { startModelServer, type ModelServer } from '../support/modelServer';
import { seededRandom } from '../support/random';

const DOCS = 1000;
const KILLS = 10;


describe('crash safety (kill -9)', function () {
  this.timeout(300_000);
  let server: ModelServer;
  before(async () => {
    server = await startModelServer({ latencyMs: 8, recordBodies: false });
  });
  after(async () => {
    await server.close();
  });

  it(`kill -9 ${KILLS} times during a ${DOCS}-document run loses and repeats nothing that was done`, async () => {
    const seed = Number(process.env.CRASH_SEED ?? 20261124);
    const random = seededRandom(seed);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-crash-'));
    const docsDir = path.join(root, 'docs');
    fs.mkdirSync(docsDir);
    for (let i = 0; i < DOCS; i++) fs.writeFileSync(path.join(docsDir, `d${String(i).padStart(4, '0')}.txt`), `Document ${i}\nAmount ${i}\n`);
    const schema = path.join(root, 'schema.json');
    fs.writeFileSync(schema, JSON.stringify({ type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] }));
    const args = ['run', docsDir, '--schema', schema, '--base-url', server.url, '--out', path.join(root, 'out'), '--state', path.join(root, 'state'), '--concurrency', '16', '--json'];

    /** Documents the CLI reported done (the event is emitted only after the durable checkpoint). */
    const reportedDone = new Set<string>();
    let kills = 0;
    for (let i = 0; i < KILLS; i++) {
      const before = new Map(server.stats.perDocument);
      const { child, result } = startCli(args);
      // kill at a random moment once the run is under way: after a random number of model requests
      // (not a fixed time, so a slow, loaded machine still gets kills in the middle of the run)
      const startTotal = server.stats.total;
      const killAfter = startTotal + 1 + Math.floor(random() * 120);
      const t0 = Date.now();
      while (server.stats.total < killAfter && child.exitCode === null && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 2));
      child.kill('SIGKILL');
      const r = await result;
      if (r.signal === 'SIGKILL') kills++;
      // a document reported done in an earlier segment must not have been requested in this one
      for (const p of reportedDone) {
        assert.equal(server.stats.perDocument.get(p) ?? 0, before.get(p) ?? 0, `${p} was done before kill ${i} and was requested again`);
      }
      for (const e of ndjson(r.stdout)) if (e.type === 'doc/completed') reportedDone.add(String(e.path));
    }
    assert.ok(kills >= KILLS - 1, `the CLI was really killed (${kills} times)`);
    assert.ok(reportedDone.size > 0 && reportedDone.size < DOCS, `kills happened mid-run (${reportedDone.size} done before the last resume)`);

    const before = new Map(server.stats.perDocument);
    const final = await runCli(args);
    assert.equal(final.code, 0, final.stderr);
    for (const p of reportedDone) assert.equal(server.stats.perDocument.get(p) ?? 0, before.get(p) ?? 0, `${p} was requested again after being done`);

    const status = JSON.parse((await runCli(['status', '--state', path.join(root, 'state'), '--json'])).stdout);
    assert.equal(status.total, DOCS);
    assert.equal(status.done, DOCS);
    assert.equal(status.pending + status.running + status.failed + status.deadLettered, 0);
    // every document done exactly once: one result file each, valid JSON, about the right document
    const files = fs.readdirSync(path.join(root, 'out')).filter((f) => f.endsWith('.json'));
    assert.equal(files.length, DOCS);
    for (const f of files) {
      const json = JSON.parse(fs.readFileSync(path.join(root, 'out', f), 'utf8'));
      assert.equal(`${json.source}.json`, f);
    }
  });
});
