/**
 * Checkpoints of chunk answers, so that when one chunk of a long document fails, the next attempt
 * redoes only that chunk. One small JSON file per chunk, named by
 * `sha256(document text, schema, instructions, model, chunk index and span)`; written atomically
 * (temporary file + rename), read leniently (a missing or damaged file is a miss). The entries of a
 * document are deleted once its merged answer is accepted.
 *
 * It also remembers, per document, that the whole document did not fit one answer (truncated at the
 * output cap), so later attempts go straight to chunks; and, per chunk, that its answer did not fit
 * either, so later attempts go straight to its halves.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { tempId } from '../core/tempNames';
import type { JsonSchema } from './types';

const VERSION = 1;

export interface CachedChunk {
  data: unknown;
  model: string;
  tokensIn: number;
  tokensOut: number;
  requests: number;
}

export interface ChunkKeyParts {
  text: string;
  schema: JsonSchema;
  instructions?: string;
  model: string;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A key for everything a chunk's answer depends on, except the chunk itself. */
export function documentKey(parts: ChunkKeyParts): string {
  const h = createHash('sha256');
  h.update(`v${VERSION}\0`);
  h.update(parts.model);
  h.update('\0');
  h.update(canonical(parts.schema));
  h.update('\0');
  h.update(parts.instructions ?? '');
  h.update('\0');
  h.update(parts.text);
  return h.digest('hex');
}

export function chunkKey(docKey: string, chunk: { index: number; start: number; end: number }): string {
  return createHash('sha256').update(`${docKey}\0${chunk.index}\0${chunk.start}\0${chunk.end}`).digest('hex');
}

async function writeAtomic(file: string, text: string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${tempId()}.tmp`;
  try {
    await fsp.writeFile(tmp, text, 'utf8');
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const v = JSON.parse(await fsp.readFile(file, 'utf8')) as unknown;
    return v && typeof v === 'object' && (v as { version?: unknown }).version === VERSION ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export class ChunkCache {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  #file(key: string, suffix = ''): string {
    return path.join(this.dir, key.slice(0, 2), `${key}${suffix}.json`);
  }

  async get(key: string): Promise<CachedChunk | undefined> {
    const v = await readJson(this.#file(key));
    if (!v || !('data' in v)) return undefined;
    return {
      data: v.data,
      model: typeof v.model === 'string' ? v.model : '',
      tokensIn: Number(v.tokensIn) || 0,
      tokensOut: Number(v.tokensOut) || 0,
      requests: Number(v.requests) || 0,
    };
  }

  /** Best effort: a failed write only costs a redo later. */
  async put(key: string, entry: CachedChunk): Promise<void> {
    await writeAtomic(this.#file(key), JSON.stringify({ version: VERSION, ...entry, savedAt: new Date().toISOString() })).catch(() => undefined);
  }

  async delete(keys: Iterable<string>): Promise<void> {
    await Promise.all([...keys].map((k) => fsp.rm(this.#file(k), { force: true }).catch(() => undefined)));
  }

  /** The number of parts a document (its `documentKey`) or a chunk (its `chunkKey`) needs: recorded after its answer was truncated. */
  async getPlan(docKey: string): Promise<number | undefined> {
    const v = await readJson(this.#file(docKey, '.plan'));
    const n = Number(v?.minChunks);
    return Number.isInteger(n) && n > 1 ? n : undefined;
  }

  async putPlan(docKey: string, minChunks: number): Promise<void> {
    await writeAtomic(this.#file(docKey, '.plan'), JSON.stringify({ version: VERSION, minChunks })).catch(() => undefined);
  }
}
