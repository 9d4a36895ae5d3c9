/**
 * Router jobs (mixed folders), shared by the CLI and the window: the run settings of a job with `classify`
 * (its routed jobs, resolved against the config file), and the {@link JobRouter} a session gives the pipeline
 * — the jobs' schemas and validators, their globs, and the {@link Classifier} on the session's provider channel.
 */
import * as path from 'node:path';
import { createMatcher } from '../core/lister';
import { hashOf } from '../core/fingerprint';
import type { JobChoice, JobRouter, RoutedJob } from '../core/routing';
import { Classifier } from '../extract/classifier';
import type { OpenAIExtractor } from '../extract/openaiExtractor';
import type { ModelPrice } from '../extract/pricing';
import { createValidator, validateUserSchema } from '../extract/schema';
import { DEFAULT_CLASSIFY_MAX_CHARS, NO_JOB } from './classifyConfig';
import { CONFIG_FILE, readSchemaFile, type ExtractionConfig, type JobConfig } from './config';
import { ErrorCodes, ExtractionError } from '../core/errors';
import type { RunSettings } from './session';

/** A job a router job sends documents to, resolved (absolute schema path). */
export interface RoutedJobSettings {
  name: string;
  description?: string;
  schemaPath: string;
  instructions?: string;
  /** Globs that claim a document for this job without a classification (relative to the folder). */
  include?: string[];
  exclude?: string[];
}

/** The routing part of {@link RunSettings}: a router job's `classify` with its jobs resolved. */
export interface RouteSettings {
  jobs: RoutedJobSettings[];
  /** Model of the classification requests (default: the run's model). */
  model?: string;
  /** Characters of converted text a classification sends (default 2000). */
  maxChars?: number;
  price?: ModelPrice;
}

/**
 * The routing settings of a router job (undefined for an ordinary job): its `classify` with each named job's
 * schema path resolved against the config's folder. loadConfig has checked that the names exist.
 */
export function routeSettingsOf(config: ExtractionConfig, job: JobConfig, configDir: string): RouteSettings | undefined {
  const c = job.classify;
  if (!c) return undefined;
  const jobs = c.jobs.map((name): RoutedJobSettings => {
    const j = config.jobs.find((x) => x.name === name);
    if (!j?.schema) throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `Job "${job.name}": classify.jobs names "${name}", which is not a job with a schema in ${CONFIG_FILE}`);
    return {
      name,
      ...(j.description !== undefined ? { description: j.description } : {}),
      schemaPath: path.resolve(configDir, j.schema),
      ...(j.instructions !== undefined ? { instructions: j.instructions } : {}),
      ...(j.include ? { include: j.include } : {}),
      ...(j.exclude ? { exclude: j.exclude } : {}),
    };
  });
  return { jobs, ...(c.model ? { model: c.model } : {}), ...(c.maxChars !== undefined ? { maxChars: c.maxChars } : {}), ...(c.price ? { price: c.price } : {}) };
}

/**
 * The schema path a run of `job` shows as its own: the job's schema, or for a router job the schema of its
 * first routed job (what the review and the dataset export use when they need one schema).
 */
export function runSchemaPathOf(config: ExtractionConfig, job: JobConfig, configDir: string): string {
  if (job.schema) return path.resolve(configDir, job.schema);
  return routeSettingsOf(config, job, configDir)!.jobs[0].schemaPath;
}

/** What a router needs of the session's extractor: its provider channel and prices. */
export type RouterProvider = Pick<OpenAIExtractor, 'send' | 'costOfModel'>;

/**
 * The router of a run with routing settings (undefined without): reads and checks every routed job's schema
 * (INVALID_SCHEMA naming the file), and classifies through `provider`'s channel (the session's extractor).
 */
export function createRouter(settings: RunSettings, provider: RouterProvider): JobRouter | undefined {
  return routerParts(settings, provider)?.router;
}

/** The router and its classifier (the pre-run estimate counts the classifier's requests). */
export function routerParts(settings: RunSettings, provider: RouterProvider): { router: JobRouter; classifier: Classifier } | undefined {
  const route = settings.route;
  if (!route) return undefined;
  const jobs = new Map<string, RoutedJob>();
  for (const j of route.jobs) {
    const schema = readSchemaFile(j.schemaPath);
    validateUserSchema(schema);
    const validator = createValidator(schema);
    jobs.set(j.name, {
      name: j.name,
      schema,
      schemaHash: hashOf(schema),
      ...(j.instructions !== undefined ? { instructions: j.instructions } : {}),
      validate: (data) => {
        const r = validator(data);
        return r.ok ? { ok: true } : { ok: false, errors: r.errors };
      },
    });
  }
  // only jobs with include globs claim documents by path; a job without them matches every document
  const claims = route.jobs.filter((j) => j.include?.length).map((j) => ({ name: j.name, match: createMatcher(j.include, j.exclude) }));
  const model = route.model ?? settings.model;
  const classifier = new Classifier({
    send: (body, o) => provider.send(body, o),
    costOf: (i, o) => provider.costOfModel(model, i, o, route.price),
    model,
    jobs: route.jobs.map((j) => ({ name: j.name, ...(j.description !== undefined ? { description: j.description } : {}) })),
    none: NO_JOB,
    maxChars: route.maxChars ?? DEFAULT_CLASSIFY_MAX_CHARS,
    ...(settings.instructions ? { instructions: settings.instructions } : {}),
    // the run's mode; `tools` (a forced function call) classifies in JSON mode
    ...(settings.mode ? { mode: settings.mode === 'tools' ? ('json_object' as const) : settings.mode } : {}),
    ...(settings.maxTokensParam ? { maxTokensParam: settings.maxTokensParam } : {}),
  });
  const router: JobRouter = {
    jobs,
    fingerprint: hashOf({ classifier: classifier.fingerprint, claims: route.jobs.filter((j) => j.include?.length).map((j) => [j.name, j.include, j.exclude ?? []]) }),
    byPath(relPath: string): string | undefined {
      const matched = claims.filter((c) => c.match(relPath));
      return matched.length === 1 ? matched[0].name : undefined;
    },
    classify: (input): Promise<JobChoice> => classifier.classify(input),
  };
  return { router, classifier };
}
