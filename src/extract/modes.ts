/**
 * How the answer's shape is requested from the provider, and how the answer is read back.
 *
 * - `json_schema`: structured outputs, `response_format: { type: 'json_schema', strict: true }` (OpenAI,
 *   recent vLLM / Ollama / llama.cpp). The answer is parsed strictly.
 * - `json_object`: JSON mode; the schema goes into the system prompt. Answers are repaired when needed.
 * - `text`: no response format at all; the schema goes into the system prompt and the JSON is dug out
 *   of the answer (code fences, prose around it) and repaired (`jsonrepair`).
 * - `tools`: one function whose parameters are the strict schema, forced with `tool_choice`; its
 *   arguments are the answer.
 *
 * Whatever the mode, the answer is validated against the user's ORIGINAL schema afterwards.
 */
import { APIError } from 'openai';
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessage,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
} from 'openai/resources/chat/completions';
import { jsonrepair } from 'jsonrepair';
import { SYSTEM_PROMPT, schemaInstructions } from './prompt';
import type { JsonSchema } from './types';

export type ExtractionMode = 'json_schema' | 'json_object' | 'text' | 'tools';
export type ModeOption = 'auto' | ExtractionMode;

export const EXTRACTION_MODES: readonly ExtractionMode[] = ['json_schema', 'json_object', 'text', 'tools'];
export const MODE_OPTIONS: readonly ModeOption[] = ['auto', ...EXTRACTION_MODES];

/** Request field of the output budget: OpenAI's current name, or the one older compatible servers know. */
export type MaxTokensParam = 'max_completion_tokens' | 'max_tokens';
export const MAX_TOKENS_PARAMS: readonly MaxTokensParam[] = ['max_completion_tokens', 'max_tokens'];

/** What `auto` tries, in order, when a provider rejects a mode. */
export const AUTO_FALLBACK: Partial<Record<ExtractionMode, ExtractionMode>> = { json_schema: 'json_object', json_object: 'text' };

export interface CompiledSchema {
  strict: JsonSchema;
  name: string;
}

/** The system message of a mode: the schema is spelled out unless the provider enforces it. */
export function systemPrompt(mode: ExtractionMode, compiled: CompiledSchema): string {
  return mode === 'json_object' || mode === 'text' ? `${SYSTEM_PROMPT}\n\n${schemaInstructions(compiled.strict)}` : SYSTEM_PROMPT;
}

export interface BodyOptions {
  model: string;
  temperature?: number;
  maxOutputTokens?: number;
  maxTokensParam?: MaxTokensParam;
}

export function requestBody(mode: ExtractionMode, messages: ChatCompletionMessageParam[], compiled: CompiledSchema, o: BodyOptions): ChatCompletionCreateParamsNonStreaming {
  const body: ChatCompletionCreateParamsNonStreaming = { model: o.model, messages: [...messages] };
  switch (mode) {
    case 'json_schema':
      body.response_format = { type: 'json_schema', json_schema: { name: compiled.name, schema: compiled.strict, strict: true } };
      break;
    case 'json_object':
      body.response_format = { type: 'json_object' };
      break;
    case 'tools':
      body.tools = [
        {
          type: 'function',
          function: { name: compiled.name, description: 'Records the data extracted from the document.', parameters: compiled.strict, strict: true },
        },
      ];
      body.tool_choice = { type: 'function', function: { name: compiled.name } };
      break;
    case 'text':
      break;
  }
  if (o.temperature !== undefined) body.temperature = o.temperature;
  if (o.maxOutputTokens !== undefined) {
    if ((o.maxTokensParam ?? 'max_completion_tokens') === 'max_tokens') body.max_tokens = o.maxOutputTokens;
    else body.max_completion_tokens = o.maxOutputTokens;
  }
  return body;
}

/** The answer text of a completion message in a mode (tool arguments in `tools` mode). */
export function answerText(mode: ExtractionMode, message: ChatCompletionMessage | undefined): { text: string; toolCall?: ChatCompletionMessageToolCall } {
  if (mode === 'tools') {
    const call = message?.tool_calls?.find((c) => c.type === 'function');
    if (call && call.type === 'function') return { text: call.function.arguments ?? '', toolCall: call };
  }
  return { text: message?.content ?? '' };
}

/** The messages that carry a re-ask (the model's answer, then the correction request) in a mode. */
export function reaskMessages(mode: ExtractionMode, answer: { text: string; toolCall?: ChatCompletionMessageToolCall }, request: string): ChatCompletionMessageParam[] {
  if (mode === 'tools' && answer.toolCall) {
    return [
      { role: 'assistant', content: null, tool_calls: [answer.toolCall] },
      { role: 'tool', tool_call_id: answer.toolCall.id, content: request },
    ];
  }
  return [
    { role: 'assistant', content: answer.text },
    { role: 'user', content: request },
  ];
}

/** Parses an answer. `json_schema` answers must be JSON (a code fence is tolerated); other modes are repaired. */
export function parseAnswer(mode: ExtractionMode, content: string): unknown {
  let text = content.trim();
  if (text === '') throw new Error('the answer is empty');
  const fence = /^```(?:json)?\s*\n?([\s\S]*?)\n?```$/i.exec(text);
  if (fence) text = fence[1].trim();
  if (mode === 'json_schema') return JSON.parse(text);
  try {
    return JSON.parse(text);
  } catch {
    // fall through to digging and repairing
  }
  const dug = digJson(content);
  try {
    return JSON.parse(dug);
  } catch {
    // repair below
  }
  try {
    const repaired = JSON.parse(jsonrepair(dug)) as unknown;
    if (repaired === null || typeof repaired !== 'object') throw new Error('no JSON object found');
    return repaired;
  } catch (e) {
    throw new Error(`no JSON object could be read or repaired: ${(e as Error).message}`);
  }
}

/** The JSON object inside an answer with prose or a code fence around it. */
function digJson(content: string): string {
  const fenced = /```(?:json)?\s*\n?([\s\S]*?)(?:```|$)/i.exec(content);
  const text = fenced ? fenced[1] : content;
  const start = text.indexOf('{');
  if (start < 0) return text.trim();
  const end = text.lastIndexOf('}');
  return end > start ? text.slice(start, end + 1) : text.slice(start);
}

/**
 * Whether a provider error says the mode itself is not supported: a 400/422 that mentions the
 * response format / JSON schema (json_schema, json_object) or tools (tools), as OpenAI's older models,
 * vLLM, Ollama and llama.cpp answer.
 */
export function rejectsMode(err: unknown, mode: ExtractionMode): boolean {
  if (!(err instanceof APIError) || (err.status !== 400 && err.status !== 422)) return false;
  const body = err.error as { message?: unknown; param?: unknown } | undefined;
  const text = `${typeof body?.message === 'string' ? body.message : ''} ${err.message} ${typeof body?.param === 'string' ? body.param : ''}`;
  if (/context.length|maximum context|too many tokens/i.test(text)) return false;
  switch (mode) {
    case 'json_schema':
      return /response_format|json_schema|structured output|guided_json|grammar/i.test(text);
    case 'json_object':
      return /response_format|json_object|json mode/i.test(text);
    case 'tools':
      return /\btools?\b|tool_choice|function call/i.test(text);
    case 'text':
      return false;
  }
}

/** Whether a 4xx says the provider does not support token log-probabilities (`logprobs: true`). */
/** A 400/422 that refuses image parts ("image input not supported", "does not support images", …). */
export function rejectsImages(err: unknown): boolean {
  if (!(err instanceof APIError) || (err.status !== 400 && err.status !== 422)) return false;
  const body = err.error as { message?: unknown; param?: unknown } | undefined;
  const text = `${typeof body?.message === 'string' ? body.message : ''} ${err.message} ${typeof body?.param === 'string' ? body.param : ''}`;
  return /image|vision|multimodal|image_url/i.test(text);
}

export function rejectsLogprobs(err: unknown): boolean {
  if (!(err instanceof APIError) || (err.status !== 400 && err.status !== 422)) return false;
  const body = err.error as { message?: unknown; param?: unknown } | undefined;
  const text = `${typeof body?.message === 'string' ? body.message : ''} ${err.message} ${typeof body?.param === 'string' ? body.param : ''}`;
  return /logprobs/i.test(text);
}
