/**
 * Large CSV / JSONL files in a CLI run: over --max-file-size-mb they are read as a stream up to the limit
 * (the result says what was cut) instead of being rejected; bad ones fail with their code and the run goes on.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ndjson, runCli } from '../support/cli';
import { startModelServer, type ModelServer } from '../support/modelServer';

const MB = 1024 * 1024;
const SCHEMA = { type: 'object', properties: { first_id: { type: 'string' } } };

describe('CLI: large CSV and JSONL files streamed up to --max-file-size-mb', function () {
  this.timeout(180_000);
  let server: ModelServer;
  let root: string;

  before(async () => {
    server = await startModelServer({ latencyMs: 1 });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-cli-stream-'));
  });
  after(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a 200 MB CSV is extracted from its first MB with a warning; bad CSV/JSONL fail with CORRUPT_INPUT; a large .txt is still rejected', async () => {
    const rows = ['id,amount'];
    for (let i = 1; i <= 120_000; i++) rows.push(`${i},${(i * 1.5).toFixed(2)}`);
    const huge = path.join(root, 'huge.csv');
    fs.writeFileSync(huge, rows.join('\n') + '\n');
    fs.truncateSync(huge, 200 * MB); // sparse: NUL bytes after the rows
    // over the limit, so streamed: a row of another width is kept, with a warning (as in a file read whole)
    fs.writeFileSync(path.join(root, 'mixed.csv'), 'a,b\n' + '1,2\n'.repeat(1000) + '1,2,3\n' + '1,2\n'.repeat(300_000));
    // under the limit, so read whole: a quoted field never closed fails it (as in a streamed file)
    fs.writeFileSync(path.join(root, 'open.csv'), 'a,b\n1,"never closed\n2,3\n');
    fs.writeFileSync(path.join(root, 'good.jsonl'), '{"id":1}\n{"id":2}\n');
    fs.writeFileSync(path.join(root, 'bad.ndjson'), '{"id":1}\nnot json\n');
    fs.writeFileSync(path.join(root, 'big.txt'), 'x'.repeat(2 * MB));
    const schema = path.join(root, 'schema.json');
    fs.writeFileSync(schema, JSON.stringify(SCHEMA));

    const out = path.join(root, 'out');
    const r = await runCli(['run', root, '--schema', schema, '--base-url', server.url, '--out', out, '--max-file-size-mb', '1', '--max-attempts', '1', '--include', '*.csv', '--include', '*.jsonl', '--include', '*.ndjson', '--include', '*.txt', '--json']);
    assert.equal(r.code, 1, r.stderr); // failures and a file too large
    assert.ok(ndjson(r.stdout).some((e) => e.type === 'run/finished'));
    const list = ndjson((await runCli(['list', '--state', path.join(root, '.extraction'), '--json'])).stdout);
    const byPath = new Map(list.map((d) => [d.path, d]));
    assert.equal(byPath.get('huge.csv')?.stage, 'done', JSON.stringify(byPath.get('huge.csv')));
    assert.equal(byPath.get('good.jsonl')?.stage, 'done');
    for (const p of ['open.csv', 'bad.ndjson']) assert.equal(byPath.get(p)?.errorCode, 'CORRUPT_INPUT', p);
    assert.equal(byPath.get('mixed.csv')?.stage, 'done');
    const mixed = JSON.parse(fs.readFileSync(path.join(out, 'mixed.csv.json'), 'utf8')) as { metadata: { convertWarnings?: string[] } };
    assert.ok(mixed.metadata.convertWarnings?.some((w) => /^1 row has another number of fields than the header's 2 \(first: line 1002, 3 fields\)/.test(w)), JSON.stringify(mixed.metadata.convertWarnings));
    assert.equal(byPath.get('big.txt')?.errorCode, 'REJECTED', 'a type read whole is still rejected over the limit');
    assert.match(r.stderr + r.stdout, /too large to read/);

    const result = JSON.parse(fs.readFileSync(path.join(out, 'huge.csv.json'), 'utf8')) as { metadata: { convertWarnings?: string[]; converter: string } };
    assert.equal(result.metadata.converter, 'csv');
    assert.match(result.metadata.convertWarnings?.[0] ?? '', /Only the first 1\.0 MB of the 200\.0 MB file were read .*--max-file-size-mb/);
    const sent = server.requestsFor('huge.csv').map((q) => JSON.stringify(q.body));
    assert.ok(sent.some((b) => b.includes('1000,1500.00')), 'the first rows reach the model');
    assert.ok(!sent.some((b) => b.includes('120000,180000.00')), 'rows past the limit do not');
    assert.match(r.stderr + r.stdout, /huge\.csv: Only the first 1\.0 MB/);
  });
});
