/**
 * Corrections as few-shot examples (#14 part 4): the choice of examples (word-set similarity, never the
 * document itself), their fitting into the context budget, the prompt the local model server receives, and
 * the fingerprint — a new correction re-runs exactly the documents whose examples it changes — through a
 * real session (sql.js store, corrections store, pipeline) and through the CLI.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CorrectionsStore } from '../../src/app/corrections';
import { estimateRun } from '../../src/app/estimateRun';
import { openSession, type RunSettings } from '../../src/app/session';
import { chooseExamples, exampleCandidate, examplesTokens, fitExamples, MIN_EXCERPT_CHARS, type PromptExample } from '../../src/extract/examples';
import { OpenAIExtractor } from '../../src/extract/openaiExtractor';
import { SYSTEM_PROMPT } from '../../src/extract/prompt';
import { countChatTokens, countTokens } from '../../src/extract/tokens';
import { readResult, type ResultFile } from '../../src/export/jsonExporter';
import { runCli } from '../support/cli';
import { startModelServer, type ModelServer, type RecordedRequest } from '../support/modelServer';

const SCHEMA = {
  type: 'object',
  properties: { invoice_number: { type: ['string', 'null'] }, vendor: { type: ['string', 'null'] }, total: { type: ['number', 'null'] } },
  required: ['invoice_number', 'vendor', 'total'],
};

/** An ACME invoice: every ACME invoice shares the template's words. */
function acmeInvoice(n: string, total: string): string {
  return [
    'ACME Corporation — Industrial Supplies',
    'Harbour Road, Springfield',
    `Invoice ${n}`,
    'Bill to: Globex Limited, Accounts Payable',
    'Description: widgets, sprockets and assorted fasteners delivered by courier',
    `Total due: ${total} EUR`,
    'Payment terms: thirty days net. Thank you for your business.',
  ].join('\n');
}

const RECIPE = 'Grandmother\'s apple crumble\nPeel and slice apples, sprinkle cinnamon and sugar, cover with butter and oats, bake until golden.';

/** The document part of a recorded prompt (between the markers). */
function documentOf(req: RecordedRequest): string {
  const m = /--- BEGIN DOCUMENT ---\n([\s\S]*)\n--- END DOCUMENT ---/.exec(req.userText);
  return m ? m[1] : '';
}

/** Answers with the invoice number read from the document, so results differ by document. */
function answerFromDocument(req: RecordedRequest): { reply: unknown } {
  const doc = documentOf(req);
  return { reply: { invoice_number: /Invoice (\S+)/.exec(doc)?.[1] ?? null, vendor: /ACME/.test(doc) ? 'ACME' : null, total: null } };
}

describe('few-shot examples from corrections', function () {
  this.timeout(60_000);

  describe('choice and budget (pure)', () => {
    const a = exampleCandidate('acme/a.txt', acmeInvoice('A-1', '100.00'), { invoice_number: 'A-1', total: 100 });
    const b = exampleCandidate('acme/b.txt', acmeInvoice('B-2', '250.50'), { invoice_number: 'B-2', total: 250.5 });
    const other = exampleCandidate('other/b.txt', acmeInvoice('B-2', '250.50'), { invoice_number: 'B-2', total: 250.5 });
    const recipe = exampleCandidate('recipes/crumble.txt', RECIPE, { invoice_number: null });

    it('takes the most similar corrected documents, never the document itself nor an unrelated one', () => {
      const chosen = chooseExamples([recipe, b, a], 'acme/a.txt', acmeInvoice('A-1', '100.00'), 3);
      assert.deepEqual(chosen.examples.map((e) => e.source), ['acme/b.txt'], 'a is the document itself; the recipe shares no words');
      assert.notEqual(chosen.key, '');
      assert.deepEqual(chosen.examples[0].answer, { invoice_number: 'B-2', total: 250.5 });
      assert.equal(chosen.examples[0].text, acmeInvoice('B-2', '250.50'));
      const none = chooseExamples([recipe], 'acme/c.txt', acmeInvoice('C-3', '1.00'), 3);
      assert.deepEqual(none, { examples: [], key: '' });
      assert.deepEqual(chooseExamples([a, b], 'acme/c.txt', acmeInvoice('C-3', '1.00'), 0), { examples: [], key: '' }, 'max 0: none');
    });

    it('ties go to the same folder, then by path; at most max', () => {
      const chosen = chooseExamples([other, b, a], 'acme/c.txt', acmeInvoice('C-3', '5.00'), 2);
      // a, b and other have the same words (numbers left out): equal similarity
      assert.deepEqual(chosen.examples.map((e) => e.source), ['acme/a.txt', 'acme/b.txt']);
    });

    it('the key changes with a chosen example\'s answer, not with a candidate left out', () => {
      const base = chooseExamples([a, recipe], 'acme/c.txt', acmeInvoice('C-3', '5.00'), 1).key;
      const recipe2 = exampleCandidate('recipes/crumble.txt', RECIPE, { invoice_number: 'changed' });
      assert.equal(chooseExamples([a, recipe2], 'acme/c.txt', acmeInvoice('C-3', '5.00'), 1).key, base, 'the recipe is not an example of c');
      const a2 = exampleCandidate('acme/a.txt', acmeInvoice('A-1', '100.00'), { invoice_number: 'A-1', total: 101 });
      assert.notEqual(chooseExamples([a2, recipe], 'acme/c.txt', acmeInvoice('C-3', '5.00'), 1).key, base);
    });

    it('fits the room: whole when it fits, then shorter excerpts, then fewer examples; answers never cut', () => {
      const long = (source: string, word: string): PromptExample => ({ source, text: `${word} `.repeat(400).trim(), answer: { invoice_number: source } });
      const three = [long('x.txt', 'alpha'), long('y.txt', 'beta'), long('z.txt', 'gamma')];
      const full = examplesTokens(three);
      assert.deepEqual(fitExamples(three, full), three);
      const half = fitExamples(three, Math.floor(full / 2));
      assert.equal(half.length, 3, 'shortened excerpts come before dropping');
      assert.ok(half.every((e) => e.cut && e.text.length < three[0].text.length));
      assert.ok(examplesTokens(half) <= Math.floor(full / 2));
      // less than three examples at their shortest need (less text each), more than one does
      const fewer = fitExamples(three, examplesTokens(three.map((e) => ({ ...e, text: e.text.slice(0, MIN_EXCERPT_CHARS * 0.75), cut: true }))));
      assert.ok(fewer.length < 3 && fewer.length > 0, `${fewer.length} examples`);
      assert.deepEqual(fewer.map((e) => e.source), three.slice(0, fewer.length).map((e) => e.source), 'the least similar go first');
      for (const e of fewer) assert.deepEqual(e.answer, { invoice_number: e.source });
      assert.deepEqual(fitExamples(three, 5), []);
      assert.deepEqual(fitExamples(three, 0), []);
    });
  });

  describe('prompt and budget (extractor and the local model server)', () => {
    let server: ModelServer;
    before(async () => {
      server = await startModelServer();
    });
    afterEach(() => server.reset());
    after(async () => server.close());

    it('the prompt carries the examples\' excerpts and corrected JSON, after the instructions and before the document', async () => {
      const ex = new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'gpt-4o-mini', timeoutMs: 10_000 });
      const examples: PromptExample[] = [
        { source: 'acme/b.txt', text: acmeInvoice('B-2', '250.50'), answer: { invoice_number: 'B-2', vendor: 'ACME', total: 250.5 } },
        { source: 'acme/a.txt', text: acmeInvoice('A-1', '100.00'), answer: { invoice_number: 'A-1', vendor: 'ACME', total: 100 } },
      ];
      const text = acmeInvoice('C-3', '7.00');
      const out = await ex.extract({ path: 'acme/c.txt', document: { format: 'text', text }, schema: SCHEMA, instructions: 'Totals in EUR.', examples });
      assert.deepEqual(out.examples, ['acme/b.txt', 'acme/a.txt']);
      const [req] = server.requestsFor('acme/c.txt');
      const u = req.userText;
      assert.equal(documentOf(req), text, 'the document is sent whole');
      const at = (s: string) => {
        const i = u.indexOf(s);
        assert.ok(i >= 0, `the prompt has ${s}`);
        return i;
      };
      assert.ok(at('Instructions:') < at('--- BEGIN EXAMPLE 1: acme/b.txt ---'));
      assert.ok(at('--- BEGIN EXAMPLE 1: acme/b.txt ---') < at('--- BEGIN EXAMPLE 2: acme/a.txt ---'));
      assert.ok(at('--- END EXAMPLE 2 ---') < at('--- BEGIN DOCUMENT ---'));
      assert.ok(u.includes(`${acmeInvoice('B-2', '250.50')}\n--- ANSWER TO EXAMPLE 1 ---\n${JSON.stringify(examples[0].answer)}`));
      assert.match(u, /take every value from the document below, never from an example/);
    });

    it('examples shrink and drop to fit the context; the document is never cut or split for them', async () => {
      const contextTokens = 1500;
      const maxOutputTokens = 100;
      const ex = new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'gpt-4o-mini', timeoutMs: 10_000, contextTokens, maxOutputTokens, maxReasks: 0, mode: 'json_schema' });
      // ~600 tokens of document, three examples of ~450 tokens each: not all of them fit beside it
      const text = Array.from({ length: 40 }, (_, i) => `Line ${i}: ACME widgets, sprockets, fasteners`).join('\n');
      const example = (n: number): PromptExample => ({
        source: `acme/e${n}.txt`,
        text: Array.from({ length: 40 }, (_, i) => `Row ${i} of example ${n}: ACME sprockets`).join('\n'),
        answer: { invoice_number: `E-${n}`, vendor: 'ACME', total: n },
      });
      const examples = [example(1), example(2), example(3)];
      assert.ok(countTokens(text) + examplesTokens(examples) > contextTokens - maxOutputTokens, 'the test needs examples that do not all fit');
      const out = await ex.extract({ path: 'big.txt', document: { format: 'text', text }, schema: SCHEMA, examples });
      const reqs = server.requestsFor('big.txt');
      assert.equal(reqs.length, 1, 'one request: the document was not split');
      assert.equal(reqs[0].part, undefined);
      assert.equal(documentOf(reqs[0]), text, 'the whole document, uncut');
      assert.ok(out.examples && out.examples.length >= 1, 'some example still fits');
      const sent = (reqs[0].body?.messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : ''));
      assert.equal(sent[0].startsWith(SYSTEM_PROMPT), true);
      const promptTokens = countChatTokens(sent) + countTokens(JSON.stringify(reqs[0].body?.response_format ?? ''));
      assert.ok(promptTokens + maxOutputTokens <= contextTokens, `prompt ${promptTokens} + output ${maxOutputTokens} within ${contextTokens}`);
      const shortened = reqs[0].userText.includes('[… rest of the example left out]');
      assert.ok(shortened || out.examples.length < 3, 'examples were shortened or dropped');
    });
  });

  describe('fingerprint: a correction re-runs the documents it is an example for', () => {
    let server: ModelServer;
    let root: string;
    let settings: RunSettings;

    beforeEach(async () => {
      server = await startModelServer();
      server.setResponder(answerFromDocument);
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-fewshot-'));
      fs.mkdirSync(path.join(root, 'docs'));
      fs.writeFileSync(path.join(root, 'docs', 'a.txt'), acmeInvoice('A-1', '100.00'));
      fs.writeFileSync(path.join(root, 'docs', 'b.txt'), acmeInvoice('B-2', '250.50'));
      fs.writeFileSync(path.join(root, 'docs', 'crumble.txt'), RECIPE);
      fs.writeFileSync(path.join(root, 'schema.json'), JSON.stringify(SCHEMA));
      settings = {
        root,
        outDir: path.join(root, 'out'),
        stateDir: path.join(root, '.extraction'),
        schemaPath: path.join(root, 'schema.json'),
        include: ['docs/**'],
        baseURL: server.url,
        model: 'gpt-4o-mini',
        concurrency: 2,
        maxAttempts: 1,
        timeoutMs: 10_000,
        maxFileBytes: 1024 * 1024,
        examples: { from: 'corrections', max: 3 },
      };
    });
    afterEach(async () => {
      await server.close();
      fs.rmSync(root, { recursive: true, force: true });
    });

    const requested = () => [...new Set(server.requests.map((r) => r.document))].sort();
    const correct = async (doc: string, total: number) => {
      const result = await readResult(settings.outDir, doc);
      assert.ok(result);
      const store = new CorrectionsStore(settings.stateDir);
      store.add(doc, result, 'set', '/total', total, null);
      await store.exportToResult(root, settings.outDir, doc);
    };

    it('in one session across runs (the window), and in a new one (the CLI)', async () => {
      const session = await openSession(settings, { apiKey: 'k' });
      try {
        const run = async () => {
          server.reset();
          server.setResponder(answerFromDocument);
          const summary = await session.pipeline.start({ trigger: 'test' }).done;
          assert.equal(summary.counts.deadLettered, 0);
          return requested();
        };
        assert.deepEqual(await run(), ['docs/a.txt', 'docs/b.txt', 'docs/crumble.txt']);
        assert.ok(server.requests.every((r) => !r.userText.includes('BEGIN EXAMPLE')), 'no corrections yet: no examples');
        assert.deepEqual(await run(), [], 'no correction, nothing to do');

        await correct('docs/a.txt', 100);
        // the estimate decides as the run does, and counts the examples' tokens
        const estimate = await estimateRun({ settings, store: session.store });
        assert.deepEqual([estimate.documents, estimate.unchanged], [1, 2]);
        const all = (examples: RunSettings['examples']) => estimateRun({ settings: { ...settings, examples } });
        const [withEx, without] = [await all({ from: 'corrections', max: 3 }), await all(undefined)];
        assert.equal(withEx.documents, 3);
        assert.ok(withEx.tokensIn > without.tokensIn, `${withEx.tokensIn} > ${without.tokensIn}`);
        assert.deepEqual(await run(), ['docs/b.txt'], 'a is an example of b only (never of itself; the recipe shares no words)');
        const [req] = server.requestsFor('docs/b.txt');
        assert.ok(req.userText.includes('--- BEGIN EXAMPLE 1: docs/a.txt ---'));
        assert.ok(req.userText.includes(JSON.stringify({ invoice_number: 'A-1', vendor: 'ACME', total: 100 })), 'a\'s answer with the correction applied');
        const b = (await readResult(settings.outDir, 'docs/b.txt')) as ResultFile;
        assert.deepEqual(b.metadata.examples, ['docs/a.txt']);
        assert.notEqual(b.metadata.fingerprint, session.pipeline.fingerprint);
        const a = (await readResult(settings.outDir, 'docs/a.txt')) as ResultFile;
        assert.equal(a.metadata.fingerprint, session.pipeline.fingerprint, 'a has no examples: the job\'s fingerprint');
        assert.equal(a.metadata.examples, undefined);
        assert.deepEqual(await run(), [], 'the examples did not change');

        await correct('docs/a.txt', 101);
        assert.deepEqual(await run(), ['docs/b.txt'], 'a\'s corrected answer changed: b again');
        assert.ok(server.requests[0].userText.includes('"total":101'));
      } finally {
        await session.close();
      }
      // a new session reads the state folder and the corrections from disk: everything is up to date
      const again = await openSession(settings, { apiKey: 'k' });
      try {
        server.reset();
        const summary = await again.pipeline.start({ trigger: 'test' }).done;
        assert.equal(summary.skipped, 3);
        assert.deepEqual(requested(), []);
      } finally {
        await again.close();
      }
      // b corrected too: b becomes an example of a (and a stays one of b, unchanged)
      await correct('docs/b.txt', 250.5);
      const third = await openSession(settings, { apiKey: 'k' });
      try {
        server.reset();
        server.setResponder(answerFromDocument);
        await third.pipeline.start({ trigger: 'test' }).done;
        assert.deepEqual(requested(), ['docs/a.txt']);
        assert.ok(server.requests[0].userText.includes('--- BEGIN EXAMPLE 1: docs/b.txt ---'));
        assert.ok(!server.requests[0].userText.includes('EXAMPLE 1: docs/a.txt'), 'never its own example');
      } finally {
        await third.close();
      }
    });

    it('from the CLI: --examples-max / EXTRACTION_EXAMPLES_MAX, corrections from the state folder', async () => {
      const schema = settings.schemaPath;
      const args = ['run', root, '--schema', schema, '--out', settings.outDir, '--base-url', server.url, '--include', 'docs/**', '--max-attempts', '1'];
      const first = await runCli(args);
      assert.equal(first.code, 0, first.stderr);
      await correct('docs/a.txt', 100);
      server.reset();
      server.setResponder(answerFromDocument);
      const same = await runCli(args);
      assert.equal(same.code, 0, same.stderr);
      assert.deepEqual(requested(), [], 'without the option corrections change nothing');
      const withExamples = await runCli(args, { EXTRACTION_EXAMPLES_MAX: '2' });
      assert.equal(withExamples.code, 0, withExamples.stderr);
      assert.deepEqual(requested(), ['docs/b.txt']);
      assert.ok(server.requests[0].userText.includes('--- BEGIN EXAMPLE 1: docs/a.txt ---'));
      const off = await runCli([...args, '--examples-max', '0'], { EXTRACTION_EXAMPLES_MAX: '2' });
      assert.equal(off.code, 0, off.stderr);
      assert.deepEqual(requested(), ['docs/b.txt'], '0 turns examples off: b is extracted again without them');
      assert.equal(server.requests.filter((r) => r.document === 'docs/b.txt').length, 2);
      assert.ok(!server.requests[1].userText.includes('BEGIN EXAMPLE'));
      const bad = await runCli([...args, '--examples-max', 'many']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--examples-max "many"/);
      const env = await runCli(args, { EXTRACTION_EXAMPLES_MAX: '99' });
      assert.equal(env.code, 2);
      assert.match(env.stderr, /EXTRACTION_EXAMPLES_MAX/);
    });
  });
});
