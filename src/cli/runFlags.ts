/**
 * The run settings of `run`, `estimate` and `watch` from their flags, and for flags not given from their
 * `EXTRACTION_*` variables (runEnv.ts); without --schema from the folder's job, each flag checked with the
 * same rule as the job field of the same name and winning over it. Bad flags throw a {@link UsageError}.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { CONFIG_FILE, converterLimitsOf, jobOptionSchemas, loadConfig, ocrOptionSchemas, pdfOptionSchemas, selectJob, type ExamplesOption, type RetryBackoff } from '../app/config';
import { routeSettingsOf, runSchemaPathOf, type RouteSettings } from '../app/router';
import { DEFAULT_BASE_URL, DEFAULT_MODEL, type RunSettings } from '../app/session';
import { redactUrl } from '../store/pg/url';
import { argvWithEnv, RUN_OPTIONS, withEnvNames } from './runEnv';
import { stateTargetOf } from './stateTarget';
import { UsageError } from './usageError';

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number ≥ 1, got "${v}"`);
  return n;
}

/** `--max-file-size-mb`: larger files are rejected before they are read (the window's maxFileSizeMb, 1–4096, default 50). */
function maxFileMb(raw: string | undefined): number {
  const mb = int('max-file-size-mb', raw) ?? 50;
  if (mb > 4096) throw new UsageError(`--max-file-size-mb must be at most 4096, got "${raw}"`);
  return mb;
}

/** A flag checked with the same rule as the job field of the same name (src/app/config.ts). */
function option<T>(flag: string, schema: z.ZodType<T>, raw: string | undefined, parse: (s: string) => unknown = Number): T | undefined {
  if (raw === undefined) return undefined;
  const r = schema.safeParse(parse(raw.trim()));
  if (!r.success) throw new UsageError(`--${flag} "${raw}": ${r.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ')}`);
  return r.data;
}

/** `--examples-max <n>`: the job option `examples` from the corrections with `max` n (0: none). */
function examplesFlag(raw: string | undefined): ExamplesOption | undefined {
  return option('examples-max', jobOptionSchemas.examples, raw, (v) => ({ from: 'corrections', max: v === '' ? Number.NaN : Number(v) }));
}

/** `--price <input>,<output>`: per 1,000,000 tokens. */
function parsePrice(raw: string): unknown {
  const parts = raw.split(',');
  if (parts.length !== 2) return { inputPer1M: Number.NaN, outputPer1M: Number.NaN };
  return { inputPer1M: Number(parts[0]), outputPer1M: Number(parts[1]) };
}

/** `--retry-*` flags over the job's `retry` fields, checked with the job field's rules. */
function retryOf(values: Record<string, unknown>, job: RetryBackoff | undefined): RetryBackoff | undefined {
  const flag = (name: string): number | undefined => {
    const raw = values[name];
    if (typeof raw !== 'string') return undefined;
    const n = Number(raw.trim());
    if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} "${raw}": expected a number`);
    return n;
  };
  const merged = {
    ...job,
    ...Object.fromEntries(
      Object.entries({ baseDelaySeconds: flag('retry-base-seconds'), maxDelaySeconds: flag('retry-max-seconds'), jitter: flag('retry-jitter') }).filter(([, v]) => v !== undefined),
    ),
  };
  if (!Object.keys(merged).length) return undefined;
  const r = jobOptionSchemas.retry.safeParse(merged);
  if (!r.success) throw new UsageError(`--retry-*: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** `--<flag> <n>` (a whole number ≥ 0; 0 turns the limit off) as `{ [field]: n }`, or nothing when absent. */
function optionalCount<K extends string>(flag: string, raw: string | undefined, field: K): Partial<Record<K, number>> {
  if (raw === undefined) return {};
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`--${flag} must be a whole number ≥ 0 (0: no limit), got "${raw}"`);
  return { [field]: n } as Partial<Record<K, number>>;
}

/** Run settings from the flags of `run`/`estimate`, and for flags not given their `EXTRACTION_*` variables. */
export function resolveRunSettings(argv: string[]): { settings: RunSettings; json: boolean; verbose: boolean; stateUrl?: string } {
  const { argv: args, fromEnv } = argvWithEnv(argv, process.env, (m) => new UsageError(m));
  try {
    return settingsFromFlags(args);
  } catch (err) {
    if (err instanceof UsageError && fromEnv.size) throw new UsageError(withEnvNames(err.message, fromEnv));
    throw err;
  }
}

function settingsFromFlags(argv: string[]): { settings: RunSettings; json: boolean; verbose: boolean; stateUrl?: string } {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: RUN_OPTIONS });
  if (positionals.length !== 1) throw new UsageError('run needs exactly one <folder>');
  const root = path.resolve(positionals[0]);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new UsageError(`Folder not found: ${root}`);
  let job: ReturnType<typeof selectJob> | undefined;
  let schemaPath: string;
  let route: RouteSettings | undefined;
  if (values.schema) {
    schemaPath = path.resolve(values.schema);
  } else {
    const config = loadConfig(path.join(root, CONFIG_FILE));
    if (!config) throw new UsageError(`No --schema given and no ${CONFIG_FILE} in ${root}`);
    job = selectJob(config, values.job);
    schemaPath = runSchemaPathOf(config, job, root);
    route = routeSettingsOf(config, job, root);
  }
  const baseURL = values['base-url'] ?? job?.baseURL ?? process.env.OPENAI_BASE_URL ?? DEFAULT_BASE_URL;
  const o = jobOptionSchemas;
  const identity = (v: string): unknown => v;
  // flag, else the job's field; absent from both, the extractor's default applies
  const provider: Partial<RunSettings> = {
    mode: option('mode', o.mode, values.mode, identity) ?? job?.mode,
    contextTokens: option('context-tokens', o.contextTokens, values['context-tokens']) ?? job?.contextTokens,
    maxOutputTokens: option('max-output-tokens', o.maxOutputTokens, values['max-output-tokens']) ?? job?.maxOutputTokens,
    maxOutputTokensCap: option('max-output-tokens-cap', o.maxOutputTokensCap, values['max-output-tokens-cap']) ?? job?.maxOutputTokensCap,
    maxTokensParam: option('max-tokens-param', o.maxTokensParam, values['max-tokens-param'], identity) ?? job?.maxTokensParam,
    requestsPerMinute: option('requests-per-minute', o.requestsPerMinute, values['requests-per-minute']) ?? job?.requestsPerMinute,
    tokensPerMinute: option('tokens-per-minute', o.tokensPerMinute, values['tokens-per-minute']) ?? job?.tokensPerMinute,
    maxReasks: option('max-reasks', o.maxReasks, values['max-reasks']) ?? job?.maxReasks,
    confidence: job?.confidence,
    examples: examplesFlag(values['examples-max']) ?? job?.examples,
    input: option('input', o.input, values.input, identity) ?? job?.input,
    price: option('price', o.price, values.price, parsePrice) ?? job?.price,
    budget: option('budget', o.budget, values.budget) ?? job?.budget,
    maxOutageMinutes: option('max-outage-minutes', o.maxOutageMinutes, values['max-outage-minutes']) ?? job?.maxOutageMinutes,
    retry: retryOf(values, job?.retry),
  };
  // PDF limits: the same rule, field by field over the job's `pdf` object (pdfLimitsOf leaves out unset ones)
  const p = pdfOptionSchemas;
  const oc = ocrOptionSchemas;
  const ocr = {
    mode: option('ocr', oc.mode, values.ocr, identity) ?? job?.ocr?.mode,
    languages: option('ocr-languages', oc.languages, values['ocr-languages'], (v) => v.split(/[,+]/).map((x) => x.trim()).filter(Boolean)) ?? job?.ocr?.languages,
    timeoutSeconds: option('ocr-timeout-seconds', oc.timeoutSeconds, values['ocr-timeout-seconds']) ?? job?.ocr?.timeoutSeconds,
    workers: option('ocr-workers', oc.workers, values['ocr-workers']) ?? job?.ocr?.workers,
    dataDir: values['ocr-data-dir'] ? path.resolve(values['ocr-data-dir']) : job?.ocr?.dataDir ? path.resolve(root, job.ocr.dataDir) : undefined,
  };
  const pdf = converterLimitsOf({
    maxPages: option('pdf-max-pages', p.maxPages, values['pdf-max-pages']) ?? job?.pdf?.maxPages,
    timeoutSeconds: option('pdf-timeout-seconds', p.timeoutSeconds, values['pdf-timeout-seconds']) ?? job?.pdf?.timeoutSeconds,
    maxMemoryMb: option('pdf-max-memory-mb', p.maxMemoryMb, values['pdf-max-memory-mb']) ?? job?.pdf?.maxMemoryMb,
    workers: option('pdf-workers', p.workers, values['pdf-workers']) ?? job?.pdf?.workers,
  }, ocr);
  const target = stateTargetOf(values.state, root, (m) => new UsageError(m));
  const leaseSeconds = values['lease-seconds'] === undefined ? undefined : Number(values['lease-seconds']);
  if (leaseSeconds !== undefined && !(Number.isFinite(leaseSeconds) && leaseSeconds >= 1)) throw new UsageError(`--lease-seconds must be a number ≥ 1, got "${values['lease-seconds']}"`);
  if (leaseSeconds !== undefined && !target.url) throw new UsageError('--lease-seconds is for workers sharing a PostgreSQL state (--state postgres://…)');
  const settings: RunSettings = {
    root,
    // --out as typed is relative to the current folder (as --state, --schema and export/eval --out); the job's
    // outDir is relative to the document folder
    outDir: values.out !== undefined ? path.resolve(values.out) : path.resolve(root, job?.outDir ?? 'extracted'),
    stateDir: target.stateDir,
    ...(target.url ? { stateUrl: redactUrl(target.url) } : {}),
    ...(leaseSeconds !== undefined ? { leaseSeconds } : {}),
    schemaPath,
    instructions: values.instructions ?? job?.instructions,
    include: values.include ?? job?.include,
    exclude: values.exclude ?? job?.exclude,
    baseURL,
    model: values.model ?? job?.model ?? process.env.OPENAI_MODEL ?? DEFAULT_MODEL,
    concurrency: int('concurrency', values.concurrency) ?? job?.concurrency ?? 4,
    maxAttempts: int('max-attempts', values['max-attempts']) ?? job?.maxAttempts ?? 4,
    timeoutMs: int('timeout-ms', values['timeout-ms']) ?? 120_000,
    maxFileBytes: maxFileMb(values['max-file-size-mb']) * 1024 * 1024,
    ...(job?.temperature !== undefined ? { temperature: job.temperature } : {}),
    ...(Object.fromEntries(Object.entries(provider).filter(([, v]) => v !== undefined)) as Partial<RunSettings>),
    ...(job ? { jobName: job.name } : {}),
    ...(route ? { route } : {}),
    ...(pdf ? { pdf } : {}),
    ...(values['log-requests'] ? { logRequests: true } : {}),
    ...optionalCount('history-retention-runs', values['history-retention-runs'], 'historyRetentionRuns'),
    ...optionalCount('history-retention-days', values['history-retention-days'], 'historyRetentionDays'),
  };
  return { settings, json: values.json ?? false, verbose: values.verbose ?? false, ...(target.url ? { stateUrl: target.url } : {}) };
}
