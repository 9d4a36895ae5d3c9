/**
 * `extraction-workbench watch`: a run, then new and changed documents as files change, until a signal
 * (clean stop, exit 0) — the window's watch mode, headless.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { until } from '../support/assertions';
import { ndjson, runCli, startCli } from '../support/cli';
import { startModelServer, type ModelServer } from '../support/modelServer';

const SCHEMA = { type: 'object', properties: { invoice_number: { type: 'string' } } };

describe('CLI watch: headless watch mode', function () {
  this.timeout(120_000);
  let server: ModelServer;
  let root: string;

  before(async () => {
    server = await startModelServer({ latencyMs: 1 });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-watch-'));
  });
  after(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('runs the folder, then extracts new, changed and copied-in documents that match the job, and stops cleanly on SIGINT', async () => {
    fs.writeFileSync(path.join(root, 'a.txt'), 'Invoice A-1\n');
    fs.writeFileSync(path.join(root, '.gitignore'), 'private/\n');
    const schema = path.join(root, 'schema.json');
    fs.writeFileSync(schema, JSON.stringify(SCHEMA));
    const out = path.join(root, 'extracted');
    const result = (p: string) => path.join(out, `${p}.json`);
    const hashOf = (p: string) => (JSON.parse(fs.readFileSync(result(p), 'utf8')) as { metadata: { contentHash: string } }).metadata.contentHash;
    const { child, result: exited } = startCli(['watch', root, '--schema', schema, '--base-url', server.url, '--include', '**/*.txt']);
    let stderr = '';
    child.stderr!.on('data', (d: string) => (stderr += d));
    try {
      await until(() => fs.existsSync(result('a.txt')), 'the first run to extract a.txt', 60_000);
      await until(() => stderr.includes('Watching '), 'watch mode to say it is watching', 30_000);
      const first = hashOf('a.txt');
      // new, changed, a folder copied in, an ignored one, a type the job does not include
      fs.writeFileSync(path.join(root, 'b.txt'), 'Invoice B-2\n');
      fs.writeFileSync(path.join(root, 'a.txt'), 'Invoice A-1 (corrected)\n');
      const copied = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-watch-copy-'));
      fs.mkdirSync(path.join(copied, 'deep'));
      fs.writeFileSync(path.join(copied, 'deep', 'c.txt'), 'Invoice C-3\n');
      fs.cpSync(copied, path.join(root, 'batch'), { recursive: true });
      fs.rmSync(copied, { recursive: true, force: true });
      fs.mkdirSync(path.join(root, 'private'));
      fs.writeFileSync(path.join(root, 'private', 'secret.txt'), 'Invoice S\n');
      fs.writeFileSync(path.join(root, 'notes.md'), '# not a document of this job\n');
      await until(() => fs.existsSync(result('b.txt')) && fs.existsSync(result('batch/deep/c.txt')), 'b.txt and the copied-in batch/deep/c.txt to be extracted', 30_000);
      await until(() => hashOf('a.txt') !== first, 'the changed a.txt to be extracted again', 30_000);
      assert.ok(stderr.includes('new or changed document(s) queued'), stderr);
    } finally {
      child.kill('SIGINT');
    }
    const r = await exited;
    assert.equal(r.code, 0, stderr);
    assert.match(stderr, /SIGINT: stopping watch mode/);
    assert.match(stderr, /Watch mode stopped\./);
    assert.equal(server.requestsFor('private/secret.txt').length, 0, 'a .gitignored file is no document');
    assert.equal(server.requestsFor('notes.md').length, 0, 'neither is a type the job leaves out');
    assert.ok(!fs.existsSync(result('private/secret.txt')));
    const docs = ndjson((await runCli(['list', '--state', path.join(root, '.extraction'), '--json'])).stdout);
    assert.deepEqual(docs.map((d) => `${d.path}:${d.stage}`).sort(), ['a.txt:done', 'b.txt:done', 'batch/deep/c.txt:done']);
  });
});
