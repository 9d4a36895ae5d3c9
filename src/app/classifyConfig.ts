/**
 * The `classify` option of a job in extraction.config.json: a router job of a mixed folder. Its documents
 * run with one of the named jobs each — the one whose `include` globs alone match the document, else the one
 * a cheap classification request picks (see src/app/router.ts and src/core/routing.ts).
 */
import { z } from 'zod';
import { NO_JOB } from '../core/routing';

/** Characters of the converted text a classification request sends by default. */
export const DEFAULT_CLASSIFY_MAX_CHARS = 2000;

/** The job a classification picks when no job fits the document (it ends rejected with NO_MATCHING_JOB). */
export { NO_JOB };

export const classifySchema = z
  .object({
    jobs: z
      .array(z.string().min(1))
      .min(1)
      .describe(
        'Jobs of this file the documents are sorted into (each with a `schema`; its `description` tells the model what it is for). A document exactly one of them claims by its `include` globs goes to that job without a request; every other one is classified.',
      ),
    model: z.string().min(1).optional().describe('Model of the classification requests (default: the model of this job): a cheaper one is usually enough.'),
    maxChars: z
      .number()
      .int()
      .min(100)
      .max(1_000_000)
      .optional()
      .describe(`Characters of the converted text sent to classify a document: its beginning (default ${DEFAULT_CLASSIFY_MAX_CHARS}).`),
    price: z
      .object({ inputPer1M: z.number().min(0), outputPer1M: z.number().min(0) })
      .strict()
      .optional()
      .describe('Price of the classification model per 1,000,000 input and output tokens (default: its list price when well known, else 0).'),
  })
  .strict()
  .meta({
    description:
      'Makes this job a router for a mixed folder: each of its documents runs with one of `jobs` — the one whose globs alone match it, else the one a classification request picks; a document no job fits ends rejected (NO_MATCHING_JOB). A router job needs no `schema`.',
    examples: [{ jobs: ['invoice', 'receipt', 'contract'], model: 'gpt-4o-mini', maxChars: 2000 }],
  });

export type ClassifyConfig = z.infer<typeof classifySchema>;
