import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CONFIG_JSON_SCHEMA_FILE, configJsonSchema, loadConfig } from '../../src/app/config';
import { ErrorCodes } from '../../src/core/errors';
import { createValidator } from '../../src/extract/schema';
import { REPO_ROOT } from '../support/cli';
import { rejectsWithCode } from '../support/assertions';

/** Writes an extraction.config.json with these jobs and loads it. */
function load(jobs: unknown[]): ReturnType<typeof loadConfig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-config-'));
  try {
    const file = path.join(dir, 'extraction.config.json');
    fs.writeFileSync(file, JSON.stringify({ jobs }));
    return loadConfig(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const JOB = { name: 'invoices', schema: 'schema/invoice.schema.json' };

describe('extraction.config.json', () => {
  describe('contributed JSON Schema', () => {
    it(`${CONFIG_JSON_SCHEMA_FILE} is the one generated from the zod schema (run "npm run schema" after changing config.ts)`, () => {
      const checkedIn = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, CONFIG_JSON_SCHEMA_FILE), 'utf8')) as unknown;
      assert.deepEqual(checkedIn, configJsonSchema());
    });

    it('describes the provider and limit options of a job', () => {
      const job = (configJsonSchema().definitions as Record<string, { properties: Record<string, { description?: string; enum?: unknown[] }> }>).job;
      for (const key of ['mode', 'contextTokens', 'maxOutputTokens', 'maxOutputTokensCap', 'maxTokensParam', 'requestsPerMinute', 'tokensPerMinute', 'maxReasks', 'price', 'budget']) {
        assert.ok(job.properties[key]?.description, `${key} is described`);
      }
      assert.deepEqual(job.properties.mode.enum, ['auto', 'json_schema', 'json_object', 'text', 'tools']);
    });

    it('accepts and rejects what loadConfig accepts and rejects', () => {
      const validate = createValidator(configJsonSchema());
      const good = { jobs: [{ ...JOB, mode: 'json_object', requestsPerMinute: 60, price: { inputPer1M: 0.5, outputPer1M: 1.5 }, budget: 2.5, maxReasks: 0 }] };
      assert.equal(validate(good).ok, true);
      assert.equal(load(good.jobs)?.jobs[0].mode, 'json_object');
      const bad = { jobs: [{ ...JOB, mode: 'fast' }] };
      assert.equal(validate(bad).ok, false);
      assert.throws(() => load(bad.jobs), /jobs\.0\.mode/);
      const sample = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'samples', 'invoices', 'extraction.config.json'), 'utf8')) as unknown;
      assert.equal(validate(sample).ok, true, 'the sample workspace config is valid');
    });
  });

  describe('invalid job options', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['an unknown mode', { mode: 'fast' }, /jobs\.0\.mode: Invalid option: expected one of "auto"\|"json_schema"\|"json_object"\|"text"\|"tools"/],
      ['a request limit of 0', { requestsPerMinute: 0 }, /jobs\.0\.requestsPerMinute: Too small/],
      ['a fractional token limit', { tokensPerMinute: 1.5 }, /jobs\.0\.tokensPerMinute: Invalid input: expected int/],
      ['a context below 256 tokens', { contextTokens: 100 }, /jobs\.0\.contextTokens: Too small: expected number to be >=256/],
      ['a negative price', { price: { inputPer1M: -1, outputPer1M: 1 } }, /jobs\.0\.price\.inputPer1M: Too small/],
      ['a price without its output part', { price: { inputPer1M: 1 } }, /jobs\.0\.price\.outputPer1M: Invalid input/],
      ['an unknown output budget field', { maxTokensParam: 'max_output_tokens' }, /jobs\.0\.maxTokensParam: Invalid option/],
      ['a cap below the output budget', { maxOutputTokens: 2000, maxOutputTokensCap: 1000 }, /jobs\.0\.maxOutputTokensCap: must be at least maxOutputTokens \(2000\), got 1000/],
      ['a budget of 0', { budget: 0 }, /jobs\.0\.budget: Too small/],
      ['too many re-asks', { maxReasks: 11 }, /jobs\.0\.maxReasks: Too big/],
      ['an abbreviation the config does not know', { rpm: 60 }, /jobs\.0: Unrecognized key: "rpm"/],
    ];
    for (const [what, fields, message] of cases) {
      it(`${what} → INVALID_CONFIG naming the field`, async () => {
        await rejectsWithCode(
          (async () => load([{ ...JOB, ...fields }]))(),
          ErrorCodes.INVALID_CONFIG,
          (e) => assert.match(e.message, message),
        );
      });
    }
  });
});
