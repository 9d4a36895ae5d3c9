/**
 * Mixed folders (router jobs): a folder of invoices, receipts and an unrelated document, run through the CLI
 * against the local model server, which answers the classification requests by what the document says.
 * Each document is extracted with the job its globs or its classification chose; the unrelated one ends
 * rejected with NO_MATCHING_JOB; choices are recorded (store, status, list, result metadata) and not asked
 * again — after a second run, after a crash — unless the document or the router changes; a failed
 * classification is retried like an extraction.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, selectJob } from '../../src/app/config';
import { loadSavedSettings, saveSettings, type RunSettings } from '../../src/app/session';
import { DEFAULT_SETTINGS } from '../../src/vscode/extensionSettings';
import { resolveRunSettings } from '../../src/vscode/runSettings';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import { latestOutcomes } from '../../src/core/health';
import { SqlJsCheckpointStore } from '../../src/store';
import { ndjson, runCli, startCli } from '../support/cli';
import { CLASSIFY_COST, CLASSIFY_USAGE, EXTRACT_COST, INVOICE_SCHEMA, isClassification, mixedFolder, responder, type Fixture } from '../support/mixedFolder';
import { requestSchema, startModelServer, type ModelServer } from '../support/modelServer';
import { until } from '../support/assertions';

function result(f: Fixture, doc: string): { data: Record<string, unknown>; metadata: Record<string, unknown> } {
  return JSON.parse(fs.readFileSync(path.join(f.out, `${doc}.json`), 'utf8')) as { data: Record<string, unknown>; metadata: Record<string, unknown> };
}

async function storeDocs(f: Fixture) {
  const store = await SqlJsCheckpointStore.open({ dir: f.state, readOnly: true });
  try {
    return new Map(store.listDocuments().map((d) => [d.path, d]));
  } finally {
    store.close();
  }
}

describe('mixed folders: a router job classifies each document and runs it with the job that fits', function () {
  this.timeout(120_000); // several CLI processes per test
  let server: ModelServer;
  const roots: string[] = [];
  before(async () => {
    server = await startModelServer({ latencyMs: 1, responder });
  });
  beforeEach(() => server.reset());
  after(async () => {
    await server.close();
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  });
  const fixture = (): Fixture => {
    const f = mixedFolder(server);
    roots.push(f.root);
    f.writeConfig();
    return f;
  };

  it('extracts the invoice and the receipts with their jobs, rejects the unrelated document with NO_MATCHING_JOB, and records every choice', async () => {
    const f = fixture();
    const r = await runCli(f.args);
    assert.equal(r.code, 0, r.stderr);

    // classification requests: one per document the globs do not claim, with the cheap model and an enum of the jobs
    const classified = server.requests.filter(isClassification);
    assert.deepEqual(classified.map((q) => q.document).sort(), ['docs/invoice-1.txt', 'docs/notes.txt', 'docs/till.txt']);
    for (const q of classified) {
      assert.equal(q.body?.model, 'cheap-classifier');
      const schema = requestSchema(q.body) as { properties: { job: { enum: string[] } } };
      assert.deepEqual(schema.properties.job.enum, ['invoice', 'receipt', 'none']);
      assert.match(String(q.body?.messages?.[0]?.content), /- invoice: Supplier invoices with an invoice number and a total/);
    }
    // extraction requests: the big model, the chosen job's schema
    const extracted = server.requests.filter((q) => !isClassification(q));
    assert.deepEqual(extracted.map((q) => q.document).sort(), ['docs/invoice-1.txt', 'docs/receipts/r2.txt', 'docs/till.txt']);
    for (const q of extracted) assert.equal(q.body?.model, 'big-extractor');

    const invoice = result(f, 'docs/invoice-1.txt');
    assert.deepEqual(invoice.data, { invoiceNumber: 'INV-7', total: 99.5 });
    assert.equal(invoice.metadata.job, 'invoice');
    assert.equal(invoice.metadata.jobChosenBy, 'classification');
    assert.deepEqual(invoice.metadata.classification, { model: 'cheap-classifier', requests: 1, tokensIn: 100, tokensOut: 5, cost: CLASSIFY_COST });
    const till = result(f, 'docs/till.txt');
    assert.deepEqual(till.data, { shop: 'Corner Shop', total: 4.2 });
    assert.equal(till.metadata.job, 'receipt');
    const r2 = result(f, 'docs/receipts/r2.txt');
    assert.equal(r2.metadata.job, 'receipt');
    assert.equal(r2.metadata.jobChosenBy, 'globs');
    assert.equal(r2.metadata.classification, undefined);
    assert.ok(!fs.existsSync(path.join(f.out, 'docs', 'notes.txt.json')), 'no result for a document no job fits');

    // the run's cost counts the classifications (three) and the extractions (three)
    const expected = 3 * CLASSIFY_COST + 3 * EXTRACT_COST;
    assert.match(r.stderr, new RegExp(`cost ${expected.toFixed(4).replace('.', '\\.')}`));
    const docs = await storeDocs(f);
    assert.equal(docs.get('docs/notes.txt')?.cost, CLASSIFY_COST);
    assert.equal(docs.get('docs/invoice-1.txt')?.cost, CLASSIFY_COST + EXTRACT_COST);
    assert.equal(docs.get('docs/receipts/r2.txt')?.cost, EXTRACT_COST);

    // recorded per document: status (by job) and list
    const status = JSON.parse((await runCli(['status', '--state', f.state, '--json'])).stdout) as Record<string, unknown>;
    assert.equal(status.done, 3);
    assert.equal(status.rejected, 1);
    assert.equal(status.failed, 0);
    assert.equal(status.deadLetters, 0);
    assert.deepEqual(status.jobs, { invoice: 1, receipt: 2, none: 1 });
    const listed = new Map(ndjson((await runCli(['list', '--state', f.state, '--json'])).stdout).map((d) => [d.path, d]));
    assert.equal(listed.get('docs/invoice-1.txt')?.job, 'invoice');
    assert.equal(listed.get('docs/receipts/r2.txt')?.job, 'receipt');
    const notes = listed.get('docs/notes.txt')!;
    assert.equal(notes.job, 'none');
    assert.equal(notes.stage, 'rejected');
    assert.equal(notes.errorCode, ErrorCodes.NO_MATCHING_JOB);
    assert.match(String(notes.errorMessage), /none of the jobs fits this document \(invoice, receipt\)/);
    const text = await runCli(['status', '--state', f.state]);
    assert.match(text.stdout, /By job: +invoice 1, none 1, receipt 2/);

    // health's window of finished documents leaves the settled unrelated one out (it did not fail)
    const store = await SqlJsCheckpointStore.open({ dir: f.state, readOnly: true });
    try {
      assert.equal(store.listAttempts({ path: 'docs/notes.txt' })[0]?.errorCode, ErrorCodes.NO_MATCHING_JOB);
      assert.deepEqual(store.recentDocumentOutcomes!(100).map((o) => o.outcome), ['done', 'done', 'done']);
      assert.deepEqual(latestOutcomes(store.listAttempts()).map((o) => o.outcome), ['done', 'done', 'done']);
    } finally {
      store.close();
    }
  });

  it('asks nothing again on the next run; a changed document, or a changed router, is classified again', async () => {
    const f = fixture();
    assert.equal((await runCli(f.args)).code, 0);
    server.reset();
    const again = await runCli(f.args);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(server.requests.length, 0, 'done documents and the settled unrelated one cost nothing');
    assert.ok(ndjson(again.stdout).some((e) => e.type === 'doc/rejected' && e.path === 'docs/notes.txt'), 'the unrelated document is still reported rejected');

    // the unrelated document becomes an invoice
    fs.writeFileSync(path.join(f.root, 'docs', 'notes.txt'), 'Garden Supplies Ltd\nINVOICE G-1\nTotal 12.00\n');
    server.reset();
    assert.equal((await runCli(f.args)).code, 0);
    assert.deepEqual(server.requests.map((q) => [q.document, isClassification(q)]), [
      ['docs/notes.txt', true],
      ['docs/notes.txt', false],
    ]);
    assert.equal(result(f, 'docs/notes.txt').metadata.job, 'invoice');
    assert.equal((await storeDocs(f)).get('docs/notes.txt')?.readiness, 'ready');

    // a routed job's schema changes: the documents are extracted again, none is classified again
    fs.writeFileSync(path.join(f.root, 'schema', 'invoice.json'), JSON.stringify({ ...INVOICE_SCHEMA, properties: { ...INVOICE_SCHEMA.properties, dueDate: { type: 'string' } } }));
    server.reset();
    assert.equal((await runCli(f.args)).code, 0);
    assert.equal(server.requests.filter(isClassification).length, 0);
    assert.deepEqual(server.requests.map((q) => q.document).sort(), ['docs/invoice-1.txt', 'docs/notes.txt', 'docs/receipts/r2.txt', 'docs/till.txt']);
    assert.equal(result(f, 'docs/invoice-1.txt').metadata.jobChosenBy, 'earlier classification');

    // a new description for a job: every classified document is classified again (the globs' one is not)
    f.writeConfig((c) => (c.jobs[2].description = 'Receipts from shops and restaurants'));
    server.reset();
    assert.equal((await runCli(f.args)).code, 0);
    assert.deepEqual(server.requests.filter(isClassification).map((q) => q.document).sort(), ['docs/invoice-1.txt', 'docs/notes.txt', 'docs/till.txt']);
  });

  it('a run killed during an extraction resumes without classifying the document again', async () => {
    const f = fixture();
    // the invoice is classified, then its extraction never answers
    server.setScript('docs/invoice-1.txt', [{ reply: { job: 'invoice' }, usage: CLASSIFY_USAGE }, { hang: true }]);
    const { child, result: exited } = startCli([...f.args, '--concurrency', '1']);
    await until(() => server.requestsFor('docs/invoice-1.txt').length === 2, 'the invoice was classified and its extraction sent', 60_000);
    child.kill('SIGKILL');
    await exited;
    const before = (await storeDocs(f)).get('docs/invoice-1.txt');
    assert.equal(before?.job, 'invoice', 'the choice was recorded before the extraction');
    assert.notEqual(before?.stage, 'done');

    server.reset();
    const resumed = await runCli(f.args);
    assert.equal(resumed.code, 0, resumed.stderr);
    const requests = server.requestsFor('docs/invoice-1.txt');
    assert.equal(requests.length, 1);
    assert.equal(isClassification(requests[0]), false, 'only the extraction was sent again');
    const invoice = result(f, 'docs/invoice-1.txt');
    assert.equal(invoice.metadata.job, 'invoice');
    assert.equal(invoice.metadata.jobChosenBy, 'earlier classification');
  });

  it('a failed or unusable classification is retried like an extraction failure; one that keeps failing is dead-lettered', async () => {
    const f = fixture();
    server.setScript('docs/invoice-1.txt', [{ status: 500 }, { content: 'I think it is a banana' }]);
    // the till receipt's classification never works
    server.setScript('docs/till.txt', [{ status: 400, message: 'bad request for till' }]);
    const r = await runCli([...f.args, '--max-attempts', '3']);
    assert.equal(r.code, 1, r.stderr);
    const events = ndjson(r.stdout);
    const retries = events.filter((e) => e.type === 'doc/retry' && e.path === 'docs/invoice-1.txt').map((e) => (e.error as { code: string }).code);
    assert.deepEqual(retries, ['SERVER_ERROR', ErrorCodes.MALFORMED_OUTPUT]);
    const invoice = result(f, 'docs/invoice-1.txt');
    assert.equal(invoice.metadata.attempts, 3);
    assert.equal(invoice.metadata.job, 'invoice');
    const dead = events.find((e) => e.type === 'doc/dead-lettered' && e.path === 'docs/till.txt');
    assert.equal((dead?.error as { code: string } | undefined)?.code, 'BAD_REQUEST');
    const docs = await storeDocs(f);
    assert.equal(docs.get('docs/till.txt')?.stage, 'dead-lettered');
    assert.equal(docs.get('docs/till.txt')?.job, undefined, 'no choice recorded for a document never classified');
  });

  it('a provider without structured outputs: the classification falls back to JSON mode, as extractions do', async () => {
    const f = fixture();
    server.setSupports({ jsonSchema: false });
    try {
      const r = await runCli([...f.args, '--concurrency', '1']);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      server.setSupports({});
    }
    const classified = server.requests.filter(isClassification);
    const formats = classified.map((q) => (q.body?.response_format as { type?: string } | undefined)?.type);
    // the first request learns that json_schema is refused; the others go in JSON mode straight away
    assert.deepEqual(formats, ['json_schema', 'json_object', 'json_object', 'json_object']);
    assert.equal(result(f, 'docs/invoice-1.txt').metadata.job, 'invoice');
    assert.equal(result(f, 'docs/till.txt').metadata.job, 'receipt');
    assert.equal((await storeDocs(f)).get('docs/notes.txt')?.job, 'none');
  });

  it('the estimate counts the classification requests a run would make, and none once every choice is recorded', async () => {
    const f = fixture();
    const estimateArgs = ['estimate', ...f.args.slice(1).filter((a) => a !== '--json'), '--json'];
    const before = JSON.parse((await runCli(estimateArgs)).stdout) as { documents: number; requests: number; cost: number; classification: { model: string; requests: number; tokensIn: number; cost: number } };
    assert.equal(server.requests.length, 0, 'an estimate sends nothing');
    // four documents extracted (three of them still to classify), three classification requests
    assert.equal(before.documents, 4);
    assert.equal(before.classification.model, 'cheap-classifier');
    assert.equal(before.classification.requests, 3);
    assert.equal(before.requests, 4 + 3);
    assert.ok(before.classification.tokensIn > 0);
    assert.equal(before.classification.cost, (before.classification.tokensIn * 1000 + 3 * 8 * 1000) / 1e6);
    assert.ok(before.cost > before.classification.cost, 'the total includes the extractions');
    const text = await runCli(estimateArgs.filter((a) => a !== '--json'));
    assert.match(text.stdout, /Classification: 3 requests to cheap-classifier/);

    assert.equal((await runCli(f.args)).code, 0);
    const after = JSON.parse((await runCli(estimateArgs)).stdout) as { documents: number; unchanged: number; classification: { requests: number } };
    assert.equal(after.documents, 0);
    assert.equal(after.unchanged, 4);
    assert.equal(after.classification.requests, 0);
  });

  it('the window resolves a router job as the CLI does; saved settings keep the routed schemas relative to the state folder', () => {
    const f = fixture();
    const config = loadConfig(path.join(f.root, 'extraction.config.json'))!;
    const settings = resolveRunSettings(f.root, DEFAULT_SETTINGS, { kind: 'config', job: selectJob(config, undefined), configDir: f.root, config });
    assert.equal(settings.jobName, 'inbox');
    assert.equal(settings.schemaPath, path.join(f.root, 'schema', 'invoice.json'), 'the first routed job\'s schema stands for the run');
    assert.deepEqual(settings.include, ['docs/**']);
    assert.deepEqual(settings.route, {
      jobs: [
        { name: 'invoice', description: 'Supplier invoices with an invoice number and a total', schemaPath: path.join(f.root, 'schema', 'invoice.json') },
        { name: 'receipt', description: 'Till receipts of shops', schemaPath: path.join(f.root, 'schema', 'receipt.json'), include: ['docs/receipts/**'] },
      ],
      model: 'cheap-classifier',
      maxChars: 500,
      price: { inputPer1M: 1000, outputPer1M: 1000 },
    });
    saveSettings(settings);
    const onDisk = JSON.parse(fs.readFileSync(path.join(f.state, 'settings.json'), 'utf8')) as RunSettings;
    assert.deepEqual(onDisk.route?.jobs.map((j) => j.schemaPath), ['../schema/invoice.json', '../schema/receipt.json']);
    assert.deepEqual(loadSavedSettings(f.state)?.route, settings.route);
    // a window without the config file (the saved settings) runs the same router
    assert.deepEqual(resolveRunSettings(f.root, DEFAULT_SETTINGS, { kind: 'saved', saved: loadSavedSettings(f.state)! }).route, settings.route);
  });

  it('checks the router in extraction.config.json: named jobs exist, have a schema, and are not "none"', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-classify-config-'));
    roots.push(dir);
    const file = path.join(dir, 'extraction.config.json');
    const check = (jobs: unknown[], message: RegExp | undefined) => {
      fs.writeFileSync(file, JSON.stringify({ jobs }));
      if (!message) return loadConfig(file);
      assert.throws(
        () => loadConfig(file),
        (e: Error) => e instanceof ExtractionError && e.code === ErrorCodes.INVALID_CONFIG && message.test(e.message),
      );
      return undefined;
    };
    const invoice = { name: 'invoice', schema: 'i.json', description: 'Invoices' };
    assert.ok(check([{ name: 'inbox', classify: { jobs: ['invoice'] } }, invoice], undefined));
    check([{ name: 'inbox', classify: { jobs: ['invoice', 'memo'] } }, invoice], /classify\.jobs names "memo", which is not a job here \(jobs: inbox, invoice\)/);
    check([{ name: 'inbox', classify: { jobs: ['none'] } }, invoice], /cannot name "none"/);
    check([{ name: 'inbox', classify: { jobs: ['inbox'] } }, invoice], /"inbox", a router job/);
    check([{ name: 'inbox', classify: { jobs: ['invoice', 'invoice'] } }, invoice], /names "invoice" twice/);
    check([{ name: 'plain' }], /jobs\.0\.schema: is required/);
    check([{ name: 'inbox', classify: { jobs: ['invoice'], maxChars: 10 } }, invoice], /classify\.maxChars/);
  });
});
