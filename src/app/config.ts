/**
 * The workspace file `extraction.config.json`: one or more extraction jobs. Read by the CLI and the extension.
 * Defaults (base URL, model, concurrency) come from the caller (CLI flags or VS Code settings).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ErrorCodes, ExtractionError } from '../core/errors';

export const CONFIG_FILE = 'extraction.config.json';

const positiveInt = z.number().int().min(1);

export const jobSchema = z
  .object({
    name: z.string().min(1).describe('Name shown in the UI and used with `--job`.'),
    schema: z.string().min(1).describe('Path of the JSON Schema of the fields to extract, relative to the config file.'),
    include: z.array(z.string()).optional().describe('Globs of documents to extract (relative to the workspace folder).'),
    exclude: z.array(z.string()).optional().describe('Globs of documents to leave out.'),
    instructions: z.string().optional().describe('Extra instructions added to the prompt.'),
    model: z.string().optional(),
    baseURL: z.string().url().optional().describe('OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 for Ollama.'),
    temperature: z.number().min(0).max(2).optional(),
    maxOutputTokens: positiveInt.optional(),
    concurrency: positiveInt.max(256).optional(),
    maxAttempts: positiveInt.max(20).optional(),
    outDir: z.string().optional().describe('Where result files go, relative to the workspace folder (default `extracted`).'),
  })
  .strict();

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    jobs: z.array(jobSchema).min(1, 'Define at least one job'),
  })
  .strict();

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
  return parsed.data;
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
