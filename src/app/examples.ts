/**
 * Few-shot examples from the reviewers' corrections (job option `examples: { "from": "corrections", "max": n }`):
 * the documents a person corrected or marked reviewed, each with the model's data with the corrections
 * applied, offered to the prompts of similar documents (choice and budget: src/extract/examples.ts).
 *
 * The candidates are read once per run (at its first question, after `run/started` marked them stale):
 * a correction made during a run changes the examples from the next run on, and then re-runs exactly the
 * documents whose examples it changes (the examples are part of their fingerprint). A candidate's text is
 * its converted text for the content its result was made from (converted-text cache, else the file when it
 * still has that content); a candidate whose text cannot be had is left out (said once in the log).
 *
 * No `vscode` import: the CLI and the window share it through the session.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ConvertCache } from '../convert/cache';
import { resolveInside } from '../core/paths';
import type { Logger } from '../core/logger';
import type { ConverterLookup, DocumentExamples } from '../core/pipelineOptions';
import { sha256 } from '../core/reader';
import { chooseExamples, exampleCandidate, type ChosenExamples, type ExampleCandidate } from '../extract/examples';
import { readResult } from '../export/jsonExporter';
import type { JsonValue } from '../shared/reviewProtocol';
import { CorrectionsStore, replay } from './corrections';

/** Keys remembered per document version within one set of candidates (a listing asks once per done document). */
const MAX_REMEMBERED_KEYS = 100_000;

export interface CorrectionExamplesOptions {
  root: string;
  outDir: string;
  stateDir: string;
  converters: ConverterLookup;
  /** The run's converted-text cache (same folder, same converter options). */
  cache?: ConvertCache;
  /** Examples per document. */
  max: number;
  logger?: Logger;
}

export class CorrectionExamples implements DocumentExamples {
  readonly #o: CorrectionExamplesOptions;
  #candidates: Promise<ExampleCandidate[]> | undefined;
  /** `<path>\0<content hash>` → key, for the current candidates. */
  readonly #keys = new Map<string, string>();

  constructor(options: CorrectionExamplesOptions) {
    this.#o = options;
  }

  /** Reads the candidates again at the next question (a run starts). */
  refresh(): void {
    this.#candidates = undefined;
    this.#keys.clear();
  }

  /** The corrected documents that may serve as examples (read once per run). */
  candidates(): Promise<ExampleCandidate[]> {
    this.#candidates ??= this.#load();
    return this.#candidates;
  }

  async choose(docPath: string, text: string): Promise<ChosenExamples> {
    const candidates = await this.candidates();
    return chooseExamples(candidates, docPath, text, this.#o.max);
  }

  async keyOf(docPath: string, contentHash: string): Promise<string | undefined> {
    const candidates = await this.candidates();
    // no candidate but the document itself: no examples, and nothing to read
    if (!candidates.some((c) => c.source !== docPath)) return '';
    const id = `${docPath}\0${contentHash}`;
    const known = this.#keys.get(id);
    if (known !== undefined) return known;
    const text = await this.#textOf(docPath, contentHash);
    if (text === undefined) return undefined;
    const key = chooseExamples(candidates, docPath, text, this.#o.max).key;
    if (this.#keys.size >= MAX_REMEMBERED_KEYS) this.#keys.clear();
    this.#keys.set(id, key);
    return key;
  }

  async #load(): Promise<ExampleCandidate[]> {
    const store = new CorrectionsStore(this.#o.stateDir);
    const out: ExampleCandidate[] = [];
    const skipped: string[] = [];
    for (const source of store.checkedPaths()) {
      const file = store.load(source);
      if (!file || (!file.reviewed && !file.corrections.length)) continue;
      const result = await readResult(this.#o.outDir, source);
      if (!result) {
        skipped.push(`${source} (no result)`);
        continue;
      }
      const text = await this.#textOf(source, result.metadata.contentHash).catch(() => undefined);
      if (text === undefined) {
        skipped.push(`${source} (its text for that result is not at hand: the document changed or cannot be converted)`);
        continue;
      }
      out.push(exampleCandidate(source, text, replay((result.data ?? null) as JsonValue, file.corrections).data));
    }
    if (skipped.length) this.#o.logger?.warn(`Examples: ${skipped.length} corrected document(s) left out: ${skipped.slice(0, 5).join('; ')}${skipped.length > 5 ? '; …' : ''}`);
    return out;
  }

  /** The converted text of a document's content `contentHash`: from the cache, else converted from the file when it still has that content. */
  async #textOf(docPath: string, contentHash: string): Promise<string | undefined> {
    const converter = this.#o.converters.get(path.extname(docPath).toLowerCase());
    if (!converter) return undefined;
    const cache = converter.cacheable === false ? undefined : this.#o.cache;
    const cached = await cache?.get(contentHash, converter.cacheKey ?? converter.id);
    if (cached) return cached.text;
    const absPath = resolveInside(this.#o.root, docPath);
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(absPath);
    } catch {
      return undefined;
    }
    if (sha256(bytes) !== contentHash) return undefined;
    const input = { path: docPath, absPath, bytes };
    const doc = cache ? await cache.getOrConvert(converter, input, contentHash) : await converter.convert(input);
    return doc.text;
  }
}
