/**
 * Long documents for the OpenAI extractor: the chunks of a document (chunkPlan.ts) are extracted in parallel
 * (`chunkConcurrency`) with the relaxed schema and merged (merge.ts); a chunk whose answer is still cut off at
 * the output cap is split in halves, up to {@link MAX_SPLIT_DEPTH} times. Chunk answers and the plans (a
 * document or chunk that did not fit one answer) are checkpointed in the chunk cache when there is one, and
 * remembered for the instance otherwise. Each chunk's conversation is the extractor's (`extractPart`).
 */
import { sliceDocument } from '../convert/chunking';
import type { ConvertedDocument } from '../convert/types';
import { CancelledError, ErrorCodes, ExtractionError } from '../core/errors';
import { chunkKey, type ChunkCache } from './chunkCache';
import { planChunks, splitInTwo, type Span } from './chunkPlan';
import { Spend, TruncatedAtCap, type Compiled, type PartRequest, type PartResult } from './extractionPart';
import { mergeChunkResults } from './merge';
import type { ExtractionMode } from './modes';
import type { PartInfo } from './prompt';
import type { ExtractInput, ExtractOutput, JsonSchema } from './types';

/** Chunks asked for when a whole document's answer does not fit the output cap. */
const TRUNCATION_CHUNKS = 4;
/** Times a chunk whose answer does not fit the output cap is halved again (a chunk becomes at most 2^3 pieces). */
export const MAX_SPLIT_DEPTH = 3;

/** What the chunks of one document share while they are extracted. */
interface ChunkContext {
  input: ExtractInput;
  /** The relaxed schema chunks are asked with. */
  compiled: Compiled;
  spend: Spend;
  docKey: string;
  /** Chunks of the plan (pieces of a split chunk keep their chunk's number). */
  count: number;
  /** Checkpoint keys of every chunk and piece: dropped once the merged answer is settled. */
  keys: Set<string>;
  models: string[];
  mode: ExtractionMode;
  reused: number;
  /** Sources of the examples the chunks' prompts carried. */
  examples: Set<string>;
}

export interface ChunkedExtractionOptions {
  /** Checkpoints of chunk answers and plans (`chunkCacheDir`); without it a failed long document is redone whole. */
  cache: ChunkCache | undefined;
  /** Chunks of one document extracted at once. */
  concurrency: number;
  /** Characters shared by consecutive chunks when a document is split by characters (undefined: chunkPlan's default). */
  overlapChars: number | undefined;
  /** The extractor's model (named in the result when no chunk answer names one). */
  model: string;
  /** The extraction mode now (the result's mode when no chunk was asked). */
  mode: () => ExtractionMode;
  /** One conversation about one chunk or piece. */
  extractPart: (req: PartRequest) => Promise<PartResult>;
  /** The relaxed schema chunks are asked with (merge.ts toPartialSchema), compiled. */
  partial: (schema: JsonSchema, compiled: Compiled) => Compiled;
  costOf: (tokensIn: number, tokensOut: number) => number;
}

export class ChunkedExtraction {
  /** Documents whose whole answer did not fit the output cap → chunk count (when there is no cache folder). */
  readonly #plans = new Map<string, number>();

  constructor(private readonly o: ChunkedExtractionOptions) {}

  /** The chunk count an earlier attempt settled on for a document (its whole answer did not fit), if any. */
  async planOf(docKey: () => string, attempt: number | undefined): Promise<number | undefined> {
    // A chunk plan on disk comes from an earlier attempt: a first attempt has none to look for (and most
    // documents, never truncated, need no key at all).
    const mayHavePlan = this.o.cache !== undefined && (attempt ?? 2) > 1;
    if (!mayHavePlan && this.#plans.size === 0) return undefined;
    return this.#plans.get(docKey()) ?? (mayHavePlan ? await this.o.cache!.getPlan(docKey()) : undefined);
  }

  /** The whole document's answer does not fit the output cap: extract it in chunks from now on. Returns the chunk count. */
  async afterTruncation(docKey: string): Promise<number> {
    const minChunks = TRUNCATION_CHUNKS;
    this.#rememberPlan(docKey, minChunks);
    if (this.o.cache) await this.o.cache.putPlan(docKey, minChunks);
    return minChunks;
  }

  /**
   * Extracts a document in chunks of at most `budget` tokens (at least `minChunks` of them) with the relaxed
   * schema, and merges their answers; the merged answer is checked against the whole schema (`compiled`).
   */
  async extract(input: ExtractInput, compiled: Compiled, spend: Spend, budget: number, docKey: string, minChunks: number): Promise<ExtractOutput> {
    const { signal } = input;
    const doc = input.document;
    const plan = planChunks(doc, { maxTokens: budget, minChunks, ...(this.o.overlapChars !== undefined ? { overlapChars: this.o.overlapChars } : {}) });
    const chunks = plan.chunks;
    const count = chunks.length;
    const ctx: ChunkContext = { input, compiled: this.o.partial(input.schema, compiled), spend, docKey, count, keys: new Set(), models: [], mode: this.o.mode(), reused: 0, examples: new Set() };
    // answers per chunk, in document order: one, or one per piece of a chunk split after a truncation
    const results: unknown[][] = chunks.map(() => [undefined]);
    const failed: { error?: Error } = {};

    let next = 0;
    const worker = async (): Promise<void> => {
      while (failed.error === undefined && next < count) {
        const i = next++;
        const chunk = chunks[i];
        if (signal?.aborted) {
          failed.error ??= new CancelledError();
          return;
        }
        if (chunk.text.trim() === '') continue;
        try {
          const span: Span = { start: chunk.start, end: chunk.end, ...(chunk.firstPage !== undefined ? { firstPage: chunk.firstPage, lastPage: chunk.lastPage ?? chunk.firstPage } : {}) };
          results[i] = await this.#extractSpan(ctx, i, span, 0);
        } catch (e) {
          // Stop starting chunks; the ones in flight finish (and are checkpointed).
          const prev = failed.error as Error | undefined;
          if (prev === undefined || (e instanceof CancelledError && !(prev instanceof CancelledError))) failed.error = e as Error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, count) }, worker));
    if (failed.error !== undefined) throw failed.error;

    // merged in document order; conflicts name the pieces by their index in this order
    const pieces = results.flat();
    const merged = mergeChunkResults(pieces);
    const verdict = compiled.validate(merged.data ?? {});
    if (!verdict.ok) {
      // Retrying with the same checkpoints would merge the same answers: start the document over.
      if (this.o.cache) await this.o.cache.delete(ctx.keys);
      const shown = verdict.errors.slice(0, 5).join('; ');
      throw new ExtractionError(
        ErrorCodes.SCHEMA_MISMATCH,
        `The merged answer of the ${pieces.length} parts of this document does not match the schema: ${shown}${verdict.errors.length > 5 ? ` (and ${verdict.errors.length - 5} more)` : ''}.`,
        { details: { errors: verdict.errors, chunks: pieces.length, rawReply: JSON.stringify(merged.data ?? null) } },
      );
    }
    if (this.o.cache) await this.o.cache.delete(ctx.keys);
    return {
      data: verdict.data,
      model: ctx.models.find((m) => !!m) ?? this.o.model,
      tokensIn: spend.tokensIn,
      tokensOut: spend.tokensOut,
      cost: this.o.costOf(spend.tokensIn, spend.tokensOut),
      requests: spend.requests,
      chunks: pieces.length,
      chunksReused: ctx.reused,
      validatedAgainst: input.schema,
      conflicts: merged.conflicts,
      mode: ctx.mode,
      ...(ctx.examples.size ? { examples: [...ctx.examples] } : {}),
    };
  }

  /**
   * One chunk of a long document, or a piece of one: its checkpoint, else one conversation. An answer
   * still cut off at the output cap splits the span in two ({@link splitInTwo}: offsets into the whole
   * text are kept) and extracts each half the same way, up to {@link MAX_SPLIT_DEPTH} times; a piece that
   * cannot be split further fails with TRUNCATED_OUTPUT. The split is remembered (like the document's
   * chunk plan), so a later attempt goes straight to the pieces and reuses those already answered.
   * Resolves with the answers of the span's pieces, in document order.
   */
  async #extractSpan(ctx: ChunkContext, index: number, span: Span, depth: number): Promise<unknown[]> {
    const { input } = ctx;
    const doc = input.document;
    const key = chunkKey(ctx.docKey, { index, start: span.start, end: span.end });
    ctx.keys.add(key);
    const cached = this.o.cache ? await this.o.cache.get(key) : undefined;
    if (cached) {
      ctx.reused++;
      ctx.models.push(cached.model);
      return [cached.data];
    }
    let halves: [Span, Span] | undefined;
    const splitBefore = this.#plans.get(key) ?? (this.o.cache ? await this.o.cache.getPlan(key) : undefined);
    if (splitBefore !== undefined) halves = this.#halves(doc, span, depth);
    if (!halves) {
      const own = new Spend(ctx.spend);
      const part: PartInfo = {
        index: index + 1,
        count: ctx.count,
        start: span.start,
        end: span.end,
        ...(span.firstPage !== undefined ? { firstPage: span.firstPage, lastPage: span.lastPage ?? span.firstPage } : {}),
      };
      try {
        const r = await this.o.extractPart({ input, document: sliceDocument(doc, span.start, span.end), part, compiled: ctx.compiled, spend: own });
        ctx.models.push(r.model);
        ctx.mode = r.mode;
        for (const source of r.examples ?? []) ctx.examples.add(source);
        if (this.o.cache) await this.o.cache.put(key, { data: r.data, model: r.model, tokensIn: own.tokensIn, tokensOut: own.tokensOut, requests: own.requests });
        return [r.data];
      } catch (e) {
        if (!(e instanceof TruncatedAtCap)) throw e;
        halves = this.#halves(doc, span, depth);
        if (!halves) {
          const limit = e.details?.maxOutputTokens;
          throw new ExtractionError(
            ErrorCodes.TRUNCATED_OUTPUT,
            `The model's answer to part ${index + 1} of ${ctx.count} (characters ${span.start}-${span.end}) was cut off at the output token limit${limit ? ` (${limit} tokens)` : ''}, and that part ${depth >= MAX_SPLIT_DEPTH ? `was already split ${depth} times` : 'is too short to split further'}. Raise maxOutputTokensCap (if the model allows more output) or simplify the schema.`,
            { details: { ...e.details, part: index + 1, start: span.start, end: span.end, splits: depth } },
          );
        }
        this.#rememberPlan(key, 2);
        if (this.o.cache) await this.o.cache.putPlan(key, 2);
      }
    }
    const out: unknown[] = [];
    for (const half of halves) out.push(...(await this.#extractSpan(ctx, index, half, depth + 1)));
    return out;
  }

  /** The two halves of a span, or undefined when it may not (depth) or cannot (too short) be split. */
  #halves(doc: ConvertedDocument, span: Span, depth: number): [Span, Span] | undefined {
    return depth < MAX_SPLIT_DEPTH ? splitInTwo(doc, span, this.o.overlapChars) : undefined;
  }

  #rememberPlan(docKey: string, minChunks: number): void {
    if (this.#plans.size >= 1000) this.#plans.delete(this.#plans.keys().next().value as string);
    this.#plans.set(docKey, minChunks);
  }
}
