import { strict as assert } from 'node:assert';
import { convertTextBytes } from '../../src/convert/text';
import { applyConfidence, groundingConfidence, logprobConfidences, minConfidence, toCheck, withConfidence } from '../../src/extract/confidence';
import { groundValues, type FieldGrounding } from '../../src/extract/grounding';
import { OpenAIExtractor } from '../../src/extract/openaiExtractor';
import type { JsonSchema } from '../../src/extract/types';
import { startModelServer, tokenLogprobs, type ModelServer } from '../support/modelServer';

const schema: JsonSchema = {
  type: 'object',
  properties: { invoice_number: { type: 'string' }, total: { type: 'number' }, vendor: { type: 'string' } },
  required: ['invoice_number', 'total', 'vendor'],
};
const TEXT = 'Invoice INV-0042\nVendor: ACME Corp\nTotal: 1,249.50 EUR\nRef INV-0042';
const doc = convertTextBytes(Buffer.from(TEXT, 'utf8'), 'text');

describe('confidence', () => {
  describe('rule from grounding', () => {
    it('orders exact > normalized > fuzzy > ungrounded, lowered by ambiguity and low OCR confidence', () => {
      const exact = groundingConfidence({ status: 'grounded', match: 'exact', score: 1 });
      const normalized = groundingConfidence({ status: 'grounded', match: 'normalized', score: 1 });
      const fuzzy = groundingConfidence({ status: 'grounded', match: 'fuzzy', score: 0.9 });
      const ungrounded = groundingConfidence({ status: 'ungrounded' });
      assert.ok(exact > normalized && normalized > fuzzy && fuzzy > ungrounded, `${exact} ${normalized} ${fuzzy} ${ungrounded}`);
      assert.ok(groundingConfidence({ status: 'grounded', match: 'exact', ambiguous: true }) < exact);
      assert.ok(groundingConfidence({ status: 'grounded', match: 'exact', lowConfidence: true }) < exact);
      assert.ok(groundingConfidence({ status: 'grounded', match: 'fuzzy', score: 0.8 }) < fuzzy, 'a worse fuzzy match is less sure');
      for (const c of [exact, normalized, fuzzy, ungrounded]) assert.ok(c >= 0 && c <= 1);
    });

    it('stores a confidence on every record of a real grounding, the lowest in the summary', () => {
      const g = withConfidence(groundValues({ invoice_number: 'INV-0042', total: 1249.5, vendor: 'Globex' }, doc));
      const by = Object.fromEntries(g.fields.map((f) => [f.pointer, f]));
      assert.equal(by['/vendor'].status, 'ungrounded');
      assert.ok(by['/total'].confidence! > by['/vendor'].confidence!);
      assert.equal(g.summary.minConfidence, by['/vendor'].confidence);
      assert.ok(g.fields.every((f) => f.confidenceSource === 'grounding'));
      // the first invoice number occurs twice: whatever the grounder decided, the stored value follows the rule
      assert.equal(by['/invoice_number'].confidence, groundingConfidence(by['/invoice_number']));
    });

    it('reads results written before confidences with the same rule', () => {
      const old: FieldGrounding[] = [
        { pointer: '/a', status: 'grounded', match: 'exact', score: 1 },
        { pointer: '/b', status: 'ungrounded' },
      ];
      assert.equal(minConfidence(old), groundingConfidence({ status: 'ungrounded' }));
      assert.equal(minConfidence([]), 1);
    });

    it('lists the values to check lowest first, ungrounded first on ties, then in document order', () => {
      const fields: FieldGrounding[] = [
        { pointer: '/a', status: 'grounded', match: 'exact', score: 1 },
        { pointer: '/b', status: 'grounded', match: 'fuzzy', score: 0.8 },
        { pointer: '/c', status: 'ungrounded' },
        { pointer: '/d', status: 'grounded', match: 'exact', confidence: 0.2 },
        { pointer: '/e', status: 'ungrounded' },
      ];
      assert.deepEqual(
        toCheck(fields, 0.6).map((f) => f.pointer),
        ['/c', '/e', '/d', '/b'],
      );
      assert.deepEqual(toCheck(fields, 0.1), []);
    });
  });

  describe('rule from log-probabilities', () => {
    it('gives each leaf the probability of its least likely token', () => {
      const text = JSON.stringify({ invoice_number: 'INV-0042', total: 1249.5, items: [{ name: 'Widget' }], paid: true, note: null });
      const tokens = tokenLogprobs(text, { logprobs: { default: -0.01, tokens: { '1249.5': Math.log(0.4), Widget: Math.log(0.3) } } }).content;
      const c = logprobConfidences(text, tokens);
      assert.equal(c['/total'], 0.4);
      assert.equal(c['/items/0/name'], 0.3);
      assert.ok(c['/invoice_number'] > 0.98, String(c['/invoice_number']));
      assert.equal(c['/paid'], undefined, 'booleans are not values to ground');
      assert.equal(c['/note'], undefined);
    });

    it('gives nothing when the tokens do not spell the answer', () => {
      assert.deepEqual(logprobConfidences('{"a":"b"}', [{ token: '{"a"', logprob: 0 }]), {});
    });

    it('takes the lower of the model probability and the grounding rule', () => {
      const fields: FieldGrounding[] = [
        { pointer: '/a', status: 'grounded', match: 'exact', score: 1 },
        { pointer: '/b', status: 'ungrounded' },
      ];
      const min = applyConfidence(fields, { '/a': 0.5, '/b': 0.9 });
      assert.equal(fields[0].confidence, 0.5);
      assert.equal(fields[0].confidenceSource, 'logprobs');
      assert.equal(fields[1].confidence, groundingConfidence({ status: 'ungrounded' }));
      assert.equal(fields[1].confidenceSource, 'grounding');
      assert.equal(min, fields[1].confidence);
    });
  });

  describe('extractor with confidence: "logprobs"', function () {
    this.timeout(20_000);
    let server: ModelServer;
    let strict: ModelServer;
    before(async () => {
      server = await startModelServer();
      strict = await startModelServer({ supports: { logprobs: false } });
    });
    after(async () => {
      await server.close();
      await strict.close();
    });
    const reply = { invoice_number: 'INV-0042', total: 1249.5, vendor: 'ACME' };
    const input = { path: 'a.txt', document: doc, schema };

    it('asks for logprobs and returns per-value token probabilities', async () => {
      server.setScript('a.txt', [{ reply, logprobs: { default: -0.001, tokens: { ACME: Math.log(0.25) } } }]);
      const out = await new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'm', timeoutMs: 5000, confidence: 'logprobs' }).extract(input);
      assert.equal(server.requests.at(-1)!.body!.logprobs, true);
      assert.equal(out.confidence?.['/vendor'], 0.25);
      assert.ok(out.confidence!['/total'] > 0.99);
    });

    it('does not ask for logprobs by default', async () => {
      server.setScript('a.txt', [{ reply }]);
      const out = await new OpenAIExtractor({ baseURL: server.url, apiKey: 'k', model: 'm', timeoutMs: 5000 }).extract(input);
      assert.equal(server.requests.at(-1)!.body!.logprobs, undefined);
      assert.equal(out.confidence, undefined);
    });

    it('falls back without logprobs when the provider rejects them, and says so once', async () => {
      const notices: string[] = [];
      const x = new OpenAIExtractor({ baseURL: strict.url, apiKey: 'k', model: 'm', timeoutMs: 5000, confidence: 'logprobs', onNotice: (m) => notices.push(m) });
      strict.setScript('a.txt', [{ reply }, { reply }]);
      strict.setScript('b.txt', [{ reply }]);
      const a = await x.extract(input);
      const b = await x.extract({ ...input, path: 'b.txt' });
      assert.deepEqual(a.data, reply);
      assert.deepEqual(b.data, reply);
      assert.equal(a.confidence, undefined);
      assert.equal(notices.length, 1, notices.join('\n'));
      assert.match(notices[0], /logprobs/);
      const sent = strict.requests.map((r) => r.body!.logprobs);
      assert.deepEqual(sent, [true, undefined, undefined], 'one rejected request, then none ask again');
    });
  });
});
