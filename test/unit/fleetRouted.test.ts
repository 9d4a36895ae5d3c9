/**
 * A routed (classify) run on PostgreSQL: two CLI workers share a mixed folder's run; the job each document
 * was given (by its globs or a classification) is recorded in the database, and `status` and `list` of
 * another process show it; the results in the database carry it; a worker started later asks nothing again.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { ErrorCodes } from '../../src/core/errors';
import { PgCheckpointStore } from '../../src/store/pg/pgStore';
import { ndjson, runCli, startCli } from '../support/cli';
import { isClassification, mixedFolder, responder, type Fixture } from '../support/mixedFolder';
import { pgFleetFixture } from '../support/pgFleet';

describe('a routed (classify) run on PostgreSQL', function () {
  this.timeout(120_000);
  const pg = pgFleetFixture({ server: { latencyMs: 1, responder } });
  let f: Fixture;
  before(() => {
    f = mixedFolder(pg.server);
    f.writeConfig();
  });
  after(() => {
    if (f) fs.rmSync(f.root, { recursive: true, force: true });
  });

  it('records the chosen job in the database: status, list and results of another process show it; nothing is asked again', async () => {
    const url = pg.cluster.database('routed');
    const args = [...f.args, '--state', url, '--concurrency', '1'];
    const runs = await Promise.all([0, 1].map(() => startCli(args).result));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    // each document classified once across the two workers (the receipt under docs/receipts/ by its globs)
    assert.deepEqual(pg.server.requests.filter(isClassification).map((q) => q.document).sort(), ['docs/invoice-1.txt', 'docs/notes.txt', 'docs/till.txt']);
    assert.deepEqual(pg.server.requests.filter((q) => !isClassification(q)).map((q) => q.document).sort(), ['docs/invoice-1.txt', 'docs/receipts/r2.txt', 'docs/till.txt']);

    // another process, from the database only
    const status = JSON.parse((await runCli(['status', '--state', url, '--json'])).stdout) as Record<string, unknown>;
    assert.equal(status.done, 3);
    assert.equal(status.rejected, 1);
    assert.deepEqual(status.jobs, { invoice: 1, receipt: 2, none: 1 });
    assert.match((await runCli(['status', '--state', url])).stdout, /By job: +invoice 1, none 1, receipt 2/);
    const listed = new Map(ndjson((await runCli(['list', '--state', url, '--json'])).stdout).map((d) => [d.path, d]));
    assert.equal(listed.get('docs/invoice-1.txt')?.job, 'invoice');
    assert.equal(listed.get('docs/till.txt')?.job, 'receipt');
    assert.equal(listed.get('docs/receipts/r2.txt')?.job, 'receipt');
    assert.equal(listed.get('docs/notes.txt')?.job, 'none');
    assert.equal(listed.get('docs/notes.txt')?.errorCode, ErrorCodes.NO_MATCHING_JOB);

    const store = await PgCheckpointStore.open({ url, readOnly: true, logger: { warn: () => undefined } });
    try {
      const invoice = await store.results.get('docs/invoice-1.txt');
      assert.deepEqual(invoice?.data, { invoiceNumber: 'INV-7', total: 99.5 });
      assert.equal(invoice?.metadata.job, 'invoice');
      assert.equal(invoice?.metadata.jobChosenBy, 'classification');
      assert.equal((await store.results.get('docs/receipts/r2.txt'))?.metadata.jobChosenBy, 'globs');
      assert.equal(await store.results.get('docs/notes.txt'), undefined, 'no result for a document no job fits');
      assert.ok(store.getDocument('docs/invoice-1.txt')?.jobKey, 'the classification key is recorded');
    } finally {
      await store.closeAndWait();
    }

    // a worker started later: every choice is in the database, nothing is classified or extracted again
    pg.server.reset();
    const later = await runCli(args);
    assert.equal(later.code, 0, later.stderr);
    assert.equal(pg.server.requests.length, 0, pg.server.requests.map((q) => q.document).join(', '));
  });
});
