/**
 * Turns editor settings + a job of extraction.config.json (or the settings saved by the last run) into the
 * core's {@link RunSettings}. Pure: no `vscode` import, no I/O besides what callers pass in.
 */
import * as path from 'node:path';
import { converterLimitsOf, type ExtractionConfig, type JobConfig, type OcrOptions, type PdfOptions } from '../app/config';
import { routeSettingsOf, runSchemaPathOf } from '../app/router';
import type { RunSettings } from '../app/session';
import type { ExtensionSettings } from './extensionSettings';

/** Where the job description comes from: a job of extraction.config.json, or the last run's saved settings. */
export type JobSource = { kind: 'config'; job: JobConfig; configDir: string; config?: ExtractionConfig } | { kind: 'saved'; saved: RunSettings };

export function stateDirOf(root: string, settings: Pick<ExtensionSettings, 'stateFolder'>): string {
  return path.resolve(root, settings.stateFolder);
}

/** The provider options a user sets per machine or provider: a job's values win over these. */
type ProviderOptions = Pick<RunSettings, 'mode' | 'contextTokens' | 'maxTokensParam' | 'requestsPerMinute' | 'tokensPerMinute' | 'budget' | 'maxOutageMinutes' | 'retry' | 'input'>;

function providerOptions(settings: ExtensionSettings, job: ProviderOptions = {}): ProviderOptions {
  const rpm = job.requestsPerMinute ?? (settings.requestsPerMinute > 0 ? settings.requestsPerMinute : undefined);
  const tpm = job.tokensPerMinute ?? (settings.tokensPerMinute > 0 ? settings.tokensPerMinute : undefined);
  const budget = job.budget ?? (settings.budget > 0 ? settings.budget : undefined);
  const input = job.input ?? settings.input;
  return {
    mode: job.mode ?? settings.mode,
    contextTokens: job.contextTokens ?? settings.contextTokens,
    maxTokensParam: job.maxTokensParam ?? settings.maxTokensParam,
    ...(rpm !== undefined ? { requestsPerMinute: rpm } : {}),
    ...(tpm !== undefined ? { tokensPerMinute: tpm } : {}),
    ...(budget !== undefined ? { budget } : {}),
    // text is the default: left out, so settings of text runs stay what they were
    ...(input !== 'text' ? { input } : {}),
    maxOutageMinutes: job.maxOutageMinutes ?? settings.maxOutageMinutes,
    retry: {
      baseDelaySeconds: job.retry?.baseDelaySeconds ?? settings.retryBaseDelaySeconds,
      maxDelaySeconds: Math.max(job.retry?.maxDelaySeconds ?? settings.retryMaxDelaySeconds, job.retry?.baseDelaySeconds ?? settings.retryBaseDelaySeconds),
      jitter: job.retry?.jitter ?? settings.retryJitter,
    },
  };
}

/** PDF limits and OCR: the `pdf.*` and `ocr.*` settings, overridden field by field by the job's `pdf` and `ocr` objects. */
function pdfLimits(settings: ExtensionSettings, job: PdfOptions = {}, jobOcr: OcrOptions = {}): Pick<RunSettings, 'pdf'> {
  const fromSettings: PdfOptions = {
    ...(settings.pdfMaxPages > 0 ? { maxPages: settings.pdfMaxPages } : {}),
    timeoutSeconds: settings.pdfTimeoutSeconds,
    maxMemoryMb: settings.pdfMaxMemoryMb,
    ...(settings.pdfWorkers > 0 ? { workers: settings.pdfWorkers } : {}),
  };
  const ocrFromSettings: OcrOptions = {
    mode: settings.ocrMode,
    languages: settings.ocrLanguages,
    timeoutSeconds: settings.ocrTimeoutSeconds,
    ...(settings.ocrWorkers > 0 ? { workers: settings.ocrWorkers } : {}),
    ...(settings.ocrDataDir ? { dataDir: settings.ocrDataDir } : {}),
  };
  const pdf = converterLimitsOf({ ...fromSettings, ...job }, { ...ocrFromSettings, ...jobOcr });
  return pdf ? { pdf } : {};
}

/**
 * Editor settings are the defaults; the job overrides them (schema, globs, instructions, model, base URL,
 * concurrency, attempts, output folder, provider options and limits, budget).
 */
export function resolveRunSettings(root: string, settings: ExtensionSettings, source: JobSource): RunSettings {
  const stateDir = stateDirOf(root, settings);
  const common = {
    root,
    stateDir,
    timeoutMs: settings.requestTimeoutSeconds * 1000,
    maxFileBytes: settings.maxFileSizeMb * 1024 * 1024,
    // per machine, like the request timeout: the editor settings of today, also for saved runs
    ...(settings.logRequests ? { logRequests: true } : {}),
    historyRetentionRuns: settings.historyRetentionRuns,
    historyRetentionDays: settings.historyRetentionDays,
    // the state database (without a password), shared with the CLI workers of a fleet
    ...(settings.stateUrl.trim() ? { stateUrl: settings.stateUrl.trim() } : {}),
  };
  if (source.kind === 'saved') {
    const s = source.saved;
    return {
      ...common,
      outDir: s.outDir,
      schemaPath: s.schemaPath,
      ...(s.instructions !== undefined ? { instructions: s.instructions } : {}),
      ...(s.include?.length ? { include: s.include } : settings.include.length ? { include: settings.include } : {}),
      ...(s.exclude?.length ? { exclude: s.exclude } : settings.exclude.length ? { exclude: settings.exclude } : {}),
      baseURL: settings.baseUrl,
      model: settings.model,
      concurrency: settings.concurrency,
      maxAttempts: settings.maxAttempts,
      // like the base URL and the model, provider options follow the editor settings of today
      ...providerOptions(settings),
      ...pdfLimits(settings),
      ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
      ...(s.maxOutputTokens !== undefined ? { maxOutputTokens: s.maxOutputTokens } : {}),
      ...(s.maxOutputTokensCap !== undefined ? { maxOutputTokensCap: s.maxOutputTokensCap } : {}),
      ...(s.maxReasks !== undefined ? { maxReasks: s.maxReasks } : {}),
      ...(s.examples ? { examples: s.examples } : {}),
      ...(s.price ? { price: s.price } : {}),
      ...(s.jobName ? { jobName: s.jobName } : {}),
      ...(s.route ? { route: s.route } : {}),
    };
  }
  const job = source.job;
  const include = job.include ?? (settings.include.length ? settings.include : undefined);
  const exclude = job.exclude ?? (settings.exclude.length ? settings.exclude : undefined);
  // a router job (`classify`) names other jobs of its config file
  const config = source.config ?? { jobs: [job] };
  const route = routeSettingsOf(config, job, source.configDir);
  return {
    ...common,
    outDir: path.resolve(root, job.outDir ?? settings.outputFolder),
    schemaPath: runSchemaPathOf(config, job, source.configDir),
    ...(job.instructions !== undefined ? { instructions: job.instructions } : {}),
    ...(include ? { include } : {}),
    ...(exclude ? { exclude } : {}),
    baseURL: job.baseURL ?? settings.baseUrl,
    model: job.model ?? settings.model,
    concurrency: job.concurrency ?? settings.concurrency,
    maxAttempts: job.maxAttempts ?? settings.maxAttempts,
    ...providerOptions(settings, job),
    ...pdfLimits(settings, job.pdf, job.ocr ? { ...job.ocr, ...(job.ocr.dataDir ? { dataDir: path.resolve(source.configDir, job.ocr.dataDir) } : {}) } : {}),
    ...(job.temperature !== undefined ? { temperature: job.temperature } : {}),
    ...(job.maxOutputTokens !== undefined ? { maxOutputTokens: job.maxOutputTokens } : {}),
    ...(job.maxOutputTokensCap !== undefined ? { maxOutputTokensCap: job.maxOutputTokensCap } : {}),
    ...(job.maxReasks !== undefined ? { maxReasks: job.maxReasks } : {}),
    ...(job.confidence !== undefined ? { confidence: job.confidence } : {}),
    ...(job.examples ? { examples: job.examples } : {}),
    ...(job.price ? { price: job.price } : {}),
    jobName: job.name,
    ...(route ? { route } : {}),
  };
}

/** The review confidence threshold of a folder: the job's `review.confidenceThreshold`, else the setting. */
export function reviewThresholdOf(settings: ExtensionSettings, source: JobSource | undefined): number {
  return (source?.kind === 'config' ? source.job.review?.confidenceThreshold : undefined) ?? settings.reviewConfidenceThreshold;
}

/** True when two settings objects would build the same session. */
export function sameRunSettings(a: RunSettings, b: RunSettings): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
