/**
 * Converted-text cache keyed by the sha256 of the file content plus the converter's cache key, stored as
 * JSON files `<dir>/<hh>/<sha256>.<key>.v<format>.json` written atomically (temp file + rename), so
 * reruns don't parse the same bytes again. Unreadable or mismatching entries count as misses.
 *
 * The key is {@link Converter.cacheKey}: converter id, the converter's output version and a hash of the
 * options that change its output (a PDF page limit, …). Changing such an option, or upgrading a
 * converter whose output changed, therefore misses instead of serving a stale conversion.
 *
 * The folder is bounded: beyond `maxBytes` the least recently used entries are deleted (a hit bumps the
 * entry's mtime, so mtime order is use order even on `noatime` mounts). The first write of a cache
 * object measures the folder, later writes only add their own size, so pruning costs one directory walk
 * per run plus one per prune; it runs in the background and never fails a conversion.
 */
import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';
import { tempId } from '../core/tempNames';
import { hashOf } from '../core/fingerprint';
import type { ConvertedDocument, ConvertInput, Converter } from './types';

/** Bump when the entry format changes, so old entries are ignored. Output changes bump the converter's own version. */
export const CONVERT_CACHE_VERSION = 1;

/** Default bound of the cache folder: 512 MiB. */
export const DEFAULT_CONVERT_CACHE_MAX_BYTES = 512 * 2 ** 20;

/** After pruning the folder holds at most this share of `maxBytes`, so the next writes don't prune again at once. */
const PRUNE_LOW_WATER = 0.8;

/** Temp files older than this are leftovers of a crashed write and are removed by pruning. */
const STALE_TEMP_MS = 60 * 60_000;

interface CacheEntry {
  v: number;
  hash: string;
  key: string;
  doc: ConvertedDocument;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Cache key of a converter: `<id>-v<version>`, plus `-<hash>` of the options when some are set.
 * List only options that change the output (a page limit does; a timeout or a pool size does not).
 * Options whose value is `undefined` are left out, so an unset option and a missing one share entries.
 */
export function converterCacheKey(id: string, version: number, options: Record<string, unknown> = {}): string {
  if (!/^[A-Za-z0-9_.]+$/.test(id)) throw new RangeError(`converter id must be letters, digits, "_" or ".", got "${id}"`);
  if (!Number.isInteger(version) || version < 1) throw new RangeError(`converter version must be an integer ≥ 1, got ${version}`);
  const set = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return Object.keys(set).length ? `${id}-v${version}-${hashOf(set)}` : `${id}-v${version}`;
}

export interface ConvertCacheOptions {
  /**
   * Upper bound of the folder in bytes; beyond it the least recently used entries are deleted (down to
   * 80 % of the bound). Default {@link DEFAULT_CONVERT_CACHE_MAX_BYTES}; `Infinity` = unbounded.
   */
  maxBytes?: number;
}

export interface PruneResult {
  /** Entries (and stale temp files) deleted. */
  removed: number;
  /** Bytes the cache holds afterwards. */
  totalBytes: number;
}

interface FileInfo {
  file: string;
  size: number;
  mtimeMs: number;
}

export class ConvertCache {
  hits = 0;
  misses = 0;
  readonly maxBytes: number;
  /** Bytes in the folder as far as this object knows (undefined until measured). */
  #bytes: number | undefined;
  #pruning: Promise<PruneResult> | undefined;

  constructor(
    readonly dir: string,
    options: ConvertCacheOptions = {},
  ) {
    const max = options.maxBytes ?? DEFAULT_CONVERT_CACHE_MAX_BYTES;
    if (!(max > 0) || (!Number.isSafeInteger(max) && max !== Infinity)) {
      throw new RangeError(`converted-text cache size limit must be a whole number of bytes > 0 (or Infinity), got ${max}`);
    }
    this.maxBytes = max;
  }

  private file(hash: string, key: string): string {
    const safeKey = key.replace(/[^A-Za-z0-9_.-]/g, '_');
    return path.join(this.dir, hash.slice(0, 2), `${hash}.${safeKey}.v${CONVERT_CACHE_VERSION}.json`);
  }

  async get(hash: string, key = 'default'): Promise<ConvertedDocument | undefined> {
    const file = this.file(hash, key);
    try {
      const raw = await fsp.readFile(file, 'utf8');
      const entry = JSON.parse(raw) as CacheEntry;
      if (entry.v !== CONVERT_CACHE_VERSION || entry.hash !== hash || entry.key !== key || typeof entry.doc?.text !== 'string') {
        this.misses++;
        return undefined;
      }
      this.hits++;
      // mark as recently used for pruning (mtime: atime is often not updated)
      const now = new Date();
      await fsp.utimes(file, now, now).catch(() => undefined);
      return entry.doc;
    } catch {
      this.misses++;
      return undefined;
    }
  }

  async set(hash: string, doc: ConvertedDocument, key = 'default'): Promise<void> {
    const file = this.file(hash, key);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${tempId()}.tmp`;
    const entry: CacheEntry = { v: CONVERT_CACHE_VERSION, hash, key, doc };
    const json = JSON.stringify(entry);
    try {
      await fsp.writeFile(tmp, json);
      await fsp.rename(tmp, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    if (this.maxBytes !== Infinity) {
      if (this.#bytes !== undefined) this.#bytes += Buffer.byteLength(json);
      if (this.#bytes === undefined || this.#bytes > this.maxBytes) void this.prune().catch(() => undefined);
    }
  }

  async delete(hash: string, key = 'default'): Promise<void> {
    await fsp.rm(this.file(hash, key), { force: true });
  }

  /**
   * Measures the folder and, when it holds more than `maxBytes`, deletes the least recently used entries
   * until it holds at most 80 % of it. Also removes temp files of writes that crashed. One prune at a
   * time: a call while one runs returns that one.
   */
  prune(): Promise<PruneResult> {
    this.#pruning ??= this.#prune().finally(() => (this.#pruning = undefined));
    return this.#pruning;
  }

  /** Resolves when a prune started by a write has finished (for callers that close the folder, and tests). */
  async idle(): Promise<void> {
    await this.#pruning?.catch(() => undefined);
  }

  async #prune(): Promise<PruneResult> {
    const entries: FileInfo[] = [];
    let removed = 0;
    const now = Date.now();
    let subdirs: string[];
    try {
      subdirs = await fsp.readdir(this.dir);
    } catch {
      this.#bytes = 0;
      return { removed: 0, totalBytes: 0 };
    }
    for (const sub of subdirs) {
      const subdir = path.join(this.dir, sub);
      let names: string[];
      try {
        names = await fsp.readdir(subdir);
      } catch {
        continue; // not a folder, or removed meanwhile
      }
      for (const name of names) {
        const file = path.join(subdir, name);
        const st = await fsp.stat(file).catch(() => undefined);
        if (!st?.isFile()) continue;
        if (name.endsWith('.tmp')) {
          if (now - st.mtimeMs > STALE_TEMP_MS && (await remove(file))) removed++;
          continue;
        }
        entries.push({ file, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    let total = entries.reduce((s, e) => s + e.size, 0);
    if (total > this.maxBytes) {
      const target = Math.floor(this.maxBytes * PRUNE_LOW_WATER);
      entries.sort((a, b) => a.mtimeMs - b.mtimeMs);
      for (const e of entries) {
        if (total <= target) break;
        if (await remove(e.file)) {
          removed++;
          total -= e.size;
        }
      }
    }
    this.#bytes = total;
    return { removed, totalBytes: total };
  }

  /**
   * Cached result for `input.bytes` if present, else converts, stores and returns it. A converter that is
   * not {@link Converter.cacheable} just converts.
   */
  async getOrConvert(converter: Converter, input: ConvertInput, hash = sha256Hex(input.bytes)): Promise<ConvertedDocument> {
    if (converter.cacheable === false) return converter.convert(input);
    const key = converter.cacheKey ?? converter.id;
    const cached = await this.get(hash, key);
    if (cached) return cached;
    const doc = await converter.convert(input);
    await this.set(hash, doc, key).catch(() => undefined); // a failed cache write must not fail the document
    return doc;
  }
}

async function remove(file: string): Promise<boolean> {
  try {
    await fsp.rm(file);
    return true;
  } catch {
    return false; // already gone (another process pruned it) or not removable
  }
}
