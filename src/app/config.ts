/**
 * The workspace file `extraction.config.json`: one or more extraction jobs. Read by the CLI and the extension.
 * Defaults (base URL, model, concurrency) come from the caller (CLI flags or VS Code settings).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ErrorCodes, ExtractionError } from '../core/errors';
import type { PdfLimits } from '../convert/pdf/limits';
import { DEFAULT_MAX_EXAMPLES, MAX_EXAMPLES } from '../extract/examples';
import { MAX_TOKENS_PARAMS, MODE_OPTIONS, type MaxTokensParam, type ModeOption } from '../extract/modes';
import { classifySchema, NO_JOB } from './classifyConfig';

export const CONFIG_FILE = 'extraction.config.json';

const positiveInt = z.number().int().min(1);

/**
 * Why a folder given relative to the workspace folder in a config file is not strictly inside it
 * (absolute, leads out with `..`, or is the workspace folder itself), or undefined. A config file comes with
 * the workspace: it must not make a run write elsewhere.
 */
export function folderInsideProblem(rel: string): string | undefined {
  if (path.isAbsolute(rel) || path.win32.isAbsolute(rel)) return 'is absolute';
  const normal = path.posix.normalize(rel.split(path.sep).join('/'));
  if (normal === '..' || normal.startsWith('../')) return 'leads out of it';
  if (normal === '.' || normal === './') return 'is the workspace folder itself';
  return undefined;
}

/**
 * Provider and limit options of a job. Exported one by one so that the CLI checks its flags with the very
 * same rules (see `src/cli/main.ts`), and the contributed JSON Schema is generated from them.
 */
export const jobOptionSchemas = {
  mode: z
    .enum(MODE_OPTIONS as [ModeOption, ...ModeOption[]])
    .describe(
      'How the answer\'s shape is requested. `auto` (default): structured outputs (`json_schema`), falling back to `json_object` and then `text` when the provider rejects them. `json_schema`: strict structured outputs. `json_object`: JSON mode, schema in the prompt. `text`: plain answer, JSON repaired. `tools`: one forced function call.',
    ),
  contextTokens: z
    .number()
    .int()
    .min(256)
    .describe('Context window of the model in tokens (default 128000). Documents whose prompt does not fit are extracted in chunks and merged.'),
  maxOutputTokens: positiveInt.describe('Output tokens per request (default: the provider\'s). An answer cut off at this limit is asked again with twice the budget, up to `maxOutputTokensCap`.'),
  maxOutputTokensCap: positiveInt.describe(
    'Highest output budget when a cut-off answer is asked again with a doubled budget (default 16384). Still cut off at the cap, a document is extracted in chunks, and a chunk in halves.',
  ),
  maxTokensParam: z
    .enum(MAX_TOKENS_PARAMS as [MaxTokensParam, ...MaxTokensParam[]])
    .describe('Request field of the output budget: `max_completion_tokens` (OpenAI, default) or `max_tokens` (older OpenAI-compatible servers).'),
  requestsPerMinute: positiveInt.describe('Client-side limit of model requests per minute (default: none). Set it to the provider\'s RPM limit to avoid 429 errors.'),
  tokensPerMinute: positiveInt.describe('Client-side limit of tokens (prompt + output budget) per minute (default: none). Set it to the provider\'s TPM limit.'),
  maxReasks: z.number().int().min(0).max(10).describe('Follow-up requests when an answer breaks the schema (default 2; 0: none).'),
  confidence: z
    .enum(['grounding', 'logprobs'])
    .describe(
      'Where value confidences (review routing) come from. `grounding` (default): how each value was found in the document. `logprobs`: also the model\'s token log-probabilities (asks for `logprobs: true`; a provider that rejects it falls back to grounding).',
    ),
  examples: z
    .object({
      from: z.literal('corrections').describe('Where examples come from: `corrections`, the documents a person corrected or marked reviewed (their answer: the model\'s data with the corrections applied).'),
      max: z.number().int().min(0).max(MAX_EXAMPLES).optional().describe(`Examples per document (default ${DEFAULT_MAX_EXAMPLES}; 0: none).`),
    })
    .strict()
    .meta({
      description:
        'Few-shot examples in the prompt: the corrected documents most similar to each document (word-set similarity of the converted text), an excerpt of their text and their corrected JSON, in the room the document leaves in the context window. They are part of each document\'s fingerprint: a new correction re-runs exactly the documents whose examples it changes.',
      examples: [{ from: 'corrections', max: 3 }],
    }),
  input: z
    .enum(['text', 'images', 'auto'], 'must be text, images or auto')
    .describe(
      'What the model is sent of a document. `text` (default): its text. `images`: the pages of image documents (PNG, JPEG, TIFF, WebP) also as images (OpenAI-style `image_url` data URLs, at most 2048 px a side) for a multimodal model. `auto`: only the pages OCR could not read well. Scanned PDF pages are sent as the image of their scan; PDF pages with a text layer as text.',
    ),
  price: z
    .object({
      inputPer1M: z.number().min(0).describe('Price of 1,000,000 input (prompt) tokens.'),
      outputPer1M: z.number().min(0).describe('Price of 1,000,000 output (completion) tokens.'),
    })
    .strict()
    .meta({
      description: 'Price of the model, for cost figures, the pre-run estimate and `budget` (default: the list price of well-known OpenAI models; other models cost 0).',
      examples: [{ inputPer1M: 0.15, outputPer1M: 0.6 }],
    }),
  budget: z.number().positive().describe('Cost at which a run pauses in the editor (the CLI stops), in the currency of the prices.'),
  maxOutageMinutes: z
    .number()
    .min(0)
    .max(10_080)
    .describe(
      'How long a run waits through a provider outage before it stops, in minutes (default 30). While the provider fails, no document starts and none uses up attempts; the provider is probed at growing intervals.',
    ),
  retry: z
    .object({
      baseDelaySeconds: z.number().min(0).max(3600).optional().describe('Wait before the first retry of a failed document, in seconds (default 1); it doubles with each retry.'),
      maxDelaySeconds: z.number().min(0).max(86_400).optional().describe('Longest wait between retries, in seconds (default 60).'),
      jitter: z.number().min(0).max(1).optional().describe('Share of each wait that is random, 0..1 (default 0.5), so failed documents do not all come back at once.'),
    })
    .strict()
    .refine((r) => r.baseDelaySeconds === undefined || r.maxDelaySeconds === undefined || r.maxDelaySeconds >= r.baseDelaySeconds, {
      message: 'maxDelaySeconds must be at least baseDelaySeconds',
      path: ['maxDelaySeconds'],
    })
    .describe('Backoff between the attempts of a failed document (exponential, capped, with jitter).'),
};

/** Few-shot examples option of a job. */
export type ExamplesOption = z.infer<typeof jobOptionSchemas.examples>;

/** Retry backoff options of a job or the settings (seconds). */
export type RetryBackoff = z.infer<typeof jobOptionSchemas.retry>;

/**
 * Limits of the PDF converter, in a user's units (seconds, MB). Exported for the CLI flags of the same
 * names; {@link pdfLimitsOf} turns them into the converter's options.
 */
export const pdfOptionSchemas = {
  maxPages: positiveInt.max(1_000_000).describe('Convert at most this many pages of each PDF (default: all); a warning names the pages left out.'),
  timeoutSeconds: z.number().int().min(0).max(86_400).describe('Time limit for converting one PDF, in seconds (default 120; 0: none). A PDF over it fails with CONVERT_TIMEOUT.'),
  maxMemoryMb: z.number().int().min(32).max(65_536).describe('Memory limit of each PDF worker thread, in MB (default 1024). A PDF that needs more fails with TOO_LARGE.'),
  workers: z.number().int().min(1).max(64).describe('PDF worker threads (default: 2, or 1 on a single core).'),
};

export const pdfOptionsSchema = z
  .object({
    maxPages: pdfOptionSchemas.maxPages.optional(),
    timeoutSeconds: pdfOptionSchemas.timeoutSeconds.optional(),
    maxMemoryMb: pdfOptionSchemas.maxMemoryMb.optional(),
    workers: pdfOptionSchemas.workers.optional(),
  })
  .strict();

export type PdfOptions = z.infer<typeof pdfOptionsSchema>;

/** The converter's options (ms, its field names) for user-facing PDF options; unset fields are left out. */
export function pdfLimitsOf(o: PdfOptions | undefined): PdfLimits | undefined {
  if (!o) return undefined;
  const limits: PdfLimits = {
    ...(o.maxPages !== undefined ? { maxPages: o.maxPages } : {}),
    ...(o.timeoutSeconds !== undefined ? { timeoutMs: o.timeoutSeconds * 1000 } : {}),
    ...(o.maxMemoryMb !== undefined ? { maxWorkerMemoryMb: o.maxMemoryMb } : {}),
    ...(o.workers !== undefined ? { poolSize: o.workers } : {}),
  };
  return Object.keys(limits).length ? limits : undefined;
}

/** OCR of scanned pages and images, in a user's units (seconds). {@link ocrLimitsOf} turns them into the converter's options. */
export const ocrOptionSchemas = {
  mode: z.enum(['auto', 'always', 'off']).describe('OCR: `auto` (default) recognises PDF pages without a text layer and image files; `always` also replaces the text layer of pages that show an image; `off` leaves scans failing with NEEDS_OCR.'),
  languages: z
    .array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{1,31}$/))
    .min(1)
    .describe('Tesseract language codes (default ["eng"]); each needs its data installed: `npm install @tesseract.js-data/<code>` or a file in dataDir.'),
  timeoutSeconds: z.number().int().min(0).max(86_400).describe('Time limit of OCR per page, in seconds (default 120; 0: none). A page over it fails with CONVERT_TIMEOUT.'),
  workers: z.number().int().min(1).max(64).describe('OCR worker threads (default: the number of cores).'),
  dataDir: z.string().min(1).describe('Folder searched first for `<code>.traineddata.gz` language data.'),
};

export const ocrOptionsSchema = z
  .object({
    mode: ocrOptionSchemas.mode.optional(),
    languages: ocrOptionSchemas.languages.optional(),
    timeoutSeconds: ocrOptionSchemas.timeoutSeconds.optional(),
    workers: ocrOptionSchemas.workers.optional(),
    dataDir: ocrOptionSchemas.dataDir.optional(),
  })
  .strict();

export type OcrOptions = z.infer<typeof ocrOptionsSchema>;

/** The converter's OCR options (they travel with the PDF limits) for user-facing ones; unset fields are left out. */
export function ocrLimitsOf(o: OcrOptions | undefined): PdfLimits | undefined {
  if (!o) return undefined;
  const limits: PdfLimits = {
    ...(o.mode !== undefined ? { ocr: o.mode } : {}),
    ...(o.languages !== undefined ? { ocrLanguages: o.languages } : {}),
    ...(o.timeoutSeconds !== undefined ? { ocrTimeoutMs: o.timeoutSeconds * 1000 } : {}),
    ...(o.workers !== undefined ? { ocrWorkers: o.workers } : {}),
    ...(o.dataDir !== undefined ? { ocrDataDir: o.dataDir } : {}),
  };
  return Object.keys(limits).length ? limits : undefined;
}

/** PDF limits and OCR options together (what `RunSettings.pdf` holds). */
export function converterLimitsOf(pdf: PdfOptions | undefined, ocr: OcrOptions | undefined): PdfLimits | undefined {
  const merged = { ...pdfLimitsOf(pdf), ...ocrLimitsOf(ocr) };
  return Object.keys(merged).length ? merged : undefined;
}

export const jobSchema = z
  .object({
    name: z.string().min(1).describe('Name shown in the UI and used with `--job`.'),
    schema: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Path of the JSON Schema of the fields to extract, relative to the config file (required, except in a router job: `classify`).', examples: ['schema/invoice.schema.json'] }),
    description: z
      .string()
      .min(1)
      .optional()
      .describe('What documents this job is for, in a sentence (e.g. "Supplier invoices with a total and a due date"): what a router job\'s classification request tells the model about it.'),
    classify: classifySchema.optional(),
    include: z
      .array(z.string())
      .optional()
      .meta({ description: 'Globs of documents to extract (relative to the workspace folder).', examples: [['**/*.{pdf,docx,txt,md}']] }),
    exclude: z
      .array(z.string())
      .optional()
      .meta({ description: 'Globs of documents to leave out. The output and state folders are always left out.', examples: [['schema/**', 'drafts/**']] }),
    instructions: z.string().optional().describe('Extra instructions added to the prompt.'),
    model: z.string().optional().describe('Model for this job (overrides the extractionWorkbench.model setting).'),
    baseURL: z
      .string()
      .url()
      .optional()
      .describe('OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 for Ollama (overrides the extractionWorkbench.baseUrl setting).'),
    temperature: z.number().min(0).max(2).optional().describe('Sampling temperature.'),
    maxOutputTokens: jobOptionSchemas.maxOutputTokens.optional(),
    maxOutputTokensCap: jobOptionSchemas.maxOutputTokensCap.optional(),
    maxTokensParam: jobOptionSchemas.maxTokensParam.optional(),
    mode: jobOptionSchemas.mode.optional(),
    contextTokens: jobOptionSchemas.contextTokens.optional(),
    requestsPerMinute: jobOptionSchemas.requestsPerMinute.optional(),
    tokensPerMinute: jobOptionSchemas.tokensPerMinute.optional(),
    maxReasks: jobOptionSchemas.maxReasks.optional(),
    confidence: jobOptionSchemas.confidence.optional(),
    examples: jobOptionSchemas.examples.optional(),
    input: jobOptionSchemas.input.optional(),
    price: jobOptionSchemas.price.optional(),
    budget: jobOptionSchemas.budget.optional(),
    maxOutageMinutes: jobOptionSchemas.maxOutageMinutes.optional(),
    retry: jobOptionSchemas.retry.optional(),
    concurrency: positiveInt.max(256).optional().describe('Documents processed at once (overrides the extractionWorkbench.concurrency setting).'),
    maxAttempts: positiveInt
      .max(20)
      .optional()
      .describe('Attempts per document before it moves to the dead-letter queue (overrides the extractionWorkbench.maxAttempts setting).'),
    outDir: z
      .string()
      .superRefine((v, ctx) => {
        const problem = folderInsideProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: `must be a folder inside the workspace folder: "${v}" ${problem}` });
      })
      .optional()
      .describe('Where result files go, relative to the workspace folder (default `extracted`).'),
    review: z
      .object({
        confidenceThreshold: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe('A done document with a value whose confidence is below this (0–1) is listed under Needs review until it is marked reviewed (overrides the extractionWorkbench.review.confidenceThreshold setting).'),
      })
      .strict()
      .optional()
      .describe('Review routing of this job\'s results in the editor.'),
    pdf: pdfOptionsSchema.optional().describe('Limits of PDF conversion (override the extractionWorkbench.pdf.* settings field by field).'),
    ocr: ocrOptionsSchema.optional().describe('OCR of scanned PDF pages and images (overrides the extractionWorkbench.ocr.* settings field by field).'),
  })
  .strict()
  .superRefine((job, ctx) => {
    if (!job.schema && !job.classify) ctx.addIssue({ code: 'custom', path: ['schema'], message: 'is required (only a router job, with `classify`, has none)' });
    if (job.maxOutputTokens !== undefined && job.maxOutputTokensCap !== undefined && job.maxOutputTokensCap < job.maxOutputTokens) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxOutputTokensCap'],
        message: `must be at least maxOutputTokens (${job.maxOutputTokens}), got ${job.maxOutputTokensCap}`,
      });
    }
  })
  .meta({ id: 'job' });

export const configSchema = z
  .object({
    $schema: z.string().optional().describe('JSON Schema of this file (optional; the extension validates it anyway).'),
    jobs: z
      .array(jobSchema)
      .min(1, 'Define at least one job')
      .describe(
        'Extraction jobs. Runs use the first job unless another one is selected ("Extraction Workbench: Select Job", or `--job` on the CLI). Job names must be unique.',
      ),
  })
  .strict()
  .meta({
    title: 'Extraction Workbench configuration (extraction.config.json)',
    description:
      'One or more extraction jobs. Read by the VS Code extension and the `extraction-workbench` CLI. Settings not given here come from the editor settings (extractionWorkbench.*) or CLI flags.',
  });

/** Where the generated JSON Schema is checked in (contributed to VS Code through `jsonValidation`). */
export const CONFIG_JSON_SCHEMA_FILE = 'schemas/extraction.config.schema.json';
const CONFIG_JSON_SCHEMA_ID = 'https://extraction-workbench.invalid/schemas/extraction.config.schema.json';

/**
 * The JSON Schema of extraction.config.json, generated from {@link configSchema} so the editor's
 * validation and completion never drift from what the extension and the CLI accept
 * (`npm run schema` writes it; a unit test fails when the checked-in file differs).
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, {
    target: 'draft-7',
    // zod bounds integers by the safe range; in a hand-edited config file those bounds are noise
    override: ({ jsonSchema }) => {
      const s = jsonSchema as Record<string, unknown>;
      if (s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
      if (s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
    },
  }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return { $schema, $id: CONFIG_JSON_SCHEMA_ID, ...rest };
}

/** The schema file's text: 2-space JSON and a final newline. */
export function configJsonSchemaText(): string {
  return JSON.stringify(configJsonSchema(), null, 2) + '\n';
}

export type JobConfig = z.infer<typeof jobSchema>;
export type ExtractionConfig = z.infer<typeof configSchema>;

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Reads and checks a config file; throws INVALID_CONFIG with the exact reason. Returns undefined when absent. */
export function loadConfig(file: string): ExtractionConfig | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `Cannot read ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `${path.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `${path.basename(file)}: ${formatIssues(parsed.error)}`);
  const names = new Set<string>();
  for (const j of parsed.data.jobs) {
    if (names.has(j.name)) throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `${path.basename(file)}: two jobs are named "${j.name}"`);
    names.add(j.name);
  }
  const routeProblem = routeConfigProblem(parsed.data);
  if (routeProblem) throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `${path.basename(file)}: ${routeProblem}`);
  return parsed.data;
}

/** Why the router jobs of a config (`classify`) cannot run, or undefined: each names jobs with a schema, once each, and not `none`. */
function routeConfigProblem(config: ExtractionConfig): string | undefined {
  for (const router of config.jobs) {
    if (!router.classify) continue;
    const seen = new Set<string>();
    for (const name of router.classify.jobs) {
      const where = `job "${router.name}": classify.jobs`;
      if (name === NO_JOB) return `${where} cannot name "${NO_JOB}" (it is the answer for a document no job fits)`;
      if (seen.has(name)) return `${where} names "${name}" twice`;
      seen.add(name);
      const target = config.jobs.find((j) => j.name === name);
      if (!target) return `${where} names "${name}", which is not a job here (jobs: ${config.jobs.map((j) => j.name).join(', ')})`;
      if (!target.schema) return `${where} names "${name}", a router job; only jobs with a schema can be chosen`;
    }
  }
  return undefined;
}

export function selectJob(config: ExtractionConfig, name: string | undefined): JobConfig {
  if (!name) return config.jobs[0];
  const job = config.jobs.find((j) => j.name === name);
  if (!job) throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `No job named "${name}" (jobs: ${config.jobs.map((j) => j.name).join(', ')})`);
  return job;
}

/** Reads a JSON Schema file; INVALID_SCHEMA with the reason when it is missing or not JSON. */
export function readSchemaFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ExtractionError(ErrorCodes.INVALID_SCHEMA, `Cannot read the schema ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ExtractionError(ErrorCodes.INVALID_SCHEMA, `The schema ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new ExtractionError(ErrorCodes.INVALID_SCHEMA, `The schema ${file} must be a JSON object`);
  return json as Record<string, unknown>;
}
