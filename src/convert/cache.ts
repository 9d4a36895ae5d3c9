/**
 * Converted-text cache keyed by the sha256 of the file content (plus a converter key), stored as JSON
 * files `<dir>/<hh>/<sha256>.<key>.json` written atomically (temp file + rename), so reruns don't
 * parse the same bytes again. Unreadable or mismatching entries count as misses.
 */
import { createHash, randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';
import type { ConvertedDocument, ConvertInput, Converter } from './types';

/** Bump when converter output changes, so old entries are ignored. */
export const CONVERT_CACHE_VERSION = 1;

interface CacheEntry {
  v: number;
  hash: string;
  key: string;
  doc: ConvertedDocument;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class ConvertCache {
  hits = 0;
  misses = 0;

  constructor(readonly dir: string) {}

  private file(hash: string, key: string): string {
    const safeKey = key.replace(/[^A-Za-z0-9_.-]/g, '_');
    return path.join(this.dir, hash.slice(0, 2), `${hash}.${safeKey}.v${CONVERT_CACHE_VERSION}.json`);
  }

  async get(hash: string, key = 'default'): Promise<ConvertedDocument | undefined> {
    try {
      const raw = await fsp.readFile(this.file(hash, key), 'utf8');
      const entry = JSON.parse(raw) as CacheEntry;
      if (entry.v !== CONVERT_CACHE_VERSION || entry.hash !== hash || entry.key !== key || typeof entry.doc?.text !== 'string') {
        this.misses++;
        return undefined;
      }
      this.hits++;
      return entry.doc;
    } catch {
      this.misses++;
      return undefined;
    }
  }

  async set(hash: string, doc: ConvertedDocument, key = 'default'): Promise<void> {
    const file = this.file(hash, key);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const entry: CacheEntry = { v: CONVERT_CACHE_VERSION, hash, key, doc };
    try {
      await fsp.writeFile(tmp, JSON.stringify(entry));
      await fsp.rename(tmp, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  async delete(hash: string, key = 'default'): Promise<void> {
    await fsp.rm(this.file(hash, key), { force: true });
  }

  /** Cached result for `input.bytes` if present, else converts, stores and returns it. */
  async getOrConvert(converter: Converter, input: ConvertInput, hash = sha256Hex(input.bytes)): Promise<ConvertedDocument> {
    const key = converter.id;
    const cached = await this.get(hash, key);
    if (cached) return cached;
    const doc = await converter.convert(input);
    await this.set(hash, doc, key).catch(() => undefined); // a failed cache write must not fail the document
    return doc;
  }
}
