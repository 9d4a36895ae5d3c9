/**
 * Whether a listed file enters a run at all: rejected without being read (a path that leads out of the
 * folder, a name too long for its result file, an unsupported type, too large), or skipped as unchanged.
 */
import * as path from 'node:path';
import { resultNameProblem } from '../export/jsonExporter';
import { ErrorCodes } from './errors';
import { withExamples } from './fingerprint';
import type { ListedFile } from './lister';
import { relPathProblem } from './paths';
import type { ConverterLookup, DocumentExamples } from './pipelineOptions';
import { formatBytes } from './reader';
import type { DocumentState } from './types';

/** Why a run rejects a file without reading it (a path that leads out of the folder, a name too long for its result file, unsupported type, too large), or undefined. */
export function rejectionOf(file: Pick<ListedFile, 'path' | 'size' | 'problem'>, converters: ConverterLookup, maxFileBytes: number): string | undefined {
  if (file.problem) return `[${ErrorCodes.PATH_OUTSIDE_ROOT}] ${file.problem}`;
  const unsafe = relPathProblem(file.path);
  if (unsafe) return `Unsupported path: it ${unsafe}`;
  const tooLong = resultNameProblem(file.path);
  if (tooLong) return tooLong;
  const ext = path.extname(file.path).toLowerCase();
  if (!converters.get(ext)) return `Unsupported file type "${ext || '(none)'}"`;
  if (isTooLarge(file, converters, maxFileBytes)) return `Too large: ${formatBytes(file.size)} is over the ${formatBytes(maxFileBytes)} limit`;
  return undefined;
}

/**
 * Whether a file is rejected for its size: over the limit, and of a type that is read whole. A type converted
 * from a stream (CSV, TSV, JSONL) is read up to the limit instead, the rest cut with a warning.
 */
export function isTooLarge(file: Pick<ListedFile, 'path' | 'size'>, converters: ConverterLookup, maxFileBytes: number): boolean {
  return file.size > maxFileBytes && !converters.get(path.extname(file.path).toLowerCase())?.stream;
}

/**
 * Whether a file is as it was when its stored state was reached, under the same configuration (same size,
 * modification time and fingerprint): a listing run skips such a document when it is done, and leaves it
 * in the dead-letter queue when it is dead-lettered.
 */
export function isUnchanged(existing: DocumentState | undefined, file: Pick<ListedFile, 'size' | 'mtimeMs'>, fingerprint: string): boolean {
  return !!existing && existing.size === file.size && existing.mtimeMs === file.mtimeMs && existing.fingerprint === fingerprint;
}

/**
 * The fingerprint a document's result must have to be up to date: the job's `base`, with the key of the
 * few-shot examples its content `contentHash` gets when there are examples; undefined when that is not
 * known (no content hash, or its text cannot be had): the document is then processed.
 */
export async function expectedFingerprint(base: string, examples: DocumentExamples | undefined, docPath: string, contentHash: string | undefined): Promise<string | undefined> {
  if (!examples) return base;
  if (!contentHash) return undefined;
  const key = await examples.keyOf(docPath, contentHash);
  return key === undefined ? undefined : withExamples(base, key);
}
