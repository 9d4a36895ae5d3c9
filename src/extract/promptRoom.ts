/**
 * The room of one request in the context window, for the OpenAI extractor: whether a prompt certainly fits
 * by its bytes (no tokenizer needed), how many tokens the document text may use, how far an output budget
 * may grow after a cut-off answer, and which few-shot examples fit beside a document or chunk.
 */
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { ConvertedDocument } from '../convert/types';
import { ErrorCodes, ExtractionError } from '../core/errors';
import { CONTEXT_SAFETY, DEFAULT_OUTPUT_RESERVE, promptOverheadTokens, textBudgetTokens } from './estimate';
import { fitExamples, renderExamples, type PromptExample } from './examples';
import { systemPrompt, type CompiledSchema, type ExtractionMode } from './modes';
import { buildUserMessage } from './prompt';
import { estimateBodyTokens } from './providerChannel';
import { countTokens } from './tokens';
import type { ExtractInput } from './types';

/** A compiled schema, with the UTF-8 size of its strict form once measured. */
export interface SizedSchema extends CompiledSchema {
  strictBytes?: number;
}

export interface PromptRoomOptions {
  contextTokens: number;
  /** The most an output budget may grow to. */
  outputCap: number;
  /** The output budget asked for (undefined: the provider's default). */
  maxOutputTokens: number | undefined;
  maxReasks: number;
  /** The extraction mode now (it changes when `auto` falls back). */
  mode: () => ExtractionMode;
}

export class PromptRoom {
  constructor(private readonly o: PromptRoomOptions) {}

  /** Whether the whole prompt certainly fits the context: bytes bound tokens from above. */
  fitsByBytes(input: ExtractInput, compiled: SizedSchema): boolean {
    const mode = this.o.mode();
    const output = this.o.maxOutputTokens ?? DEFAULT_OUTPUT_RESERVE;
    const room = (this.o.contextTokens - output - (this.o.maxReasks > 0 ? output + 200 : 0)) * CONTEXT_SAFETY;
    const text = input.document.text;
    if (text.length > room) return false;
    compiled.strictBytes ??= Buffer.byteLength(JSON.stringify(compiled.strict));
    const prompt =
      Buffer.byteLength(systemPrompt(mode, compiled)) +
      Buffer.byteLength(buildUserMessage({ path: input.path, document: { ...input.document, text: '' }, instructions: input.instructions })) +
      (mode === 'json_schema' || mode === 'tools' ? compiled.strictBytes : 0) +
      64;
    return prompt + Buffer.byteLength(text) <= room;
  }

  /** Tokens the document text may use in one request. */
  textBudget(input: ExtractInput, compiled: CompiledSchema): number {
    const overhead = promptOverheadTokens({
      mode: this.o.mode(),
      strict: compiled.strict,
      path: input.path,
      format: input.document.format,
      pages: input.document.pages?.length ?? 0,
      ...(input.instructions !== undefined ? { instructions: input.instructions } : {}),
    });
    const budget = textBudgetTokens({ contextTokens: this.o.contextTokens, overheadTokens: overhead, maxOutputTokens: this.o.maxOutputTokens, maxReasks: this.o.maxReasks });
    if (budget < 200) {
      throw new ExtractionError(
        ErrorCodes.INVALID_CONFIG,
        `The context window (${this.o.contextTokens} tokens) leaves almost no room for the document after the prompt (${overhead} tokens), the output budget and a re-ask. Raise contextTokens or lower maxOutputTokens.`,
      );
    }
    return budget;
  }

  /** A doubled output budget, within the cap and the context window; undefined when it cannot grow. */
  largerBudget(current: number | undefined, used: number | undefined, body: ChatCompletionCreateParamsNonStreaming): number | undefined {
    const base = current ?? (used && used > 0 ? used : DEFAULT_OUTPUT_RESERVE);
    const room = this.o.contextTokens - estimateBodyTokens(body);
    const next = Math.floor(Math.min(this.o.outputCap, base * 2, room));
    return next > base ? next : undefined;
  }

  /**
   * The few-shot examples that fit the room `document` (the whole document or a chunk) leaves in one
   * request: all of them when the prompt certainly fits by its bytes, else fitted to the counted room
   * (shortened, then dropped: see {@link fitExamples}). The document's own room is never used for them.
   */
  examplesFor(input: ExtractInput, compiled: SizedSchema, document: ConvertedDocument): PromptExample[] {
    const all = input.examples;
    if (!all?.length) return [];
    if (this.fitsByBytes({ ...input, document: { ...document, text: `${document.text}\n\n${renderExamples(all)}` } }, compiled)) return [...all];
    let room: number;
    try {
      room = this.textBudget({ ...input, document }, compiled) - countTokens(document.text);
    } catch {
      return []; // no room at all: the document goes alone (and fails, if it must, as it would without examples)
    }
    return fitExamples(all, room);
  }
}
