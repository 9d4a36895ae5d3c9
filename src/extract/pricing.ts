/**
 * Token prices per model: a few well-known defaults, overridable by the user.
 *
 * Prices are per 1,000,000 tokens in the user's currency (the defaults are OpenAI's USD list prices
 * for standard, non-batch, non-cached usage, mid 2025; check them against your contract). A model
 * that is not in the table costs 0 — local models (Ollama, vLLM, llama.cpp) are free to run.
 */

export interface ModelPrice {
  /** Price per 1,000,000 input (prompt) tokens, in the user's currency. */
  inputPer1M: number;
  /** Price per 1,000,000 output (completion) tokens. */
  outputPer1M: number;
}

/** Well-known list prices (USD per 1M tokens). */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  'gpt-4o-mini': { inputPer1M: 0.15, outputPer1M: 0.6 },
  'gpt-4o': { inputPer1M: 2.5, outputPer1M: 10 },
  'gpt-4.1': { inputPer1M: 2, outputPer1M: 8 },
  'gpt-4.1-mini': { inputPer1M: 0.4, outputPer1M: 1.6 },
  'gpt-4.1-nano': { inputPer1M: 0.1, outputPer1M: 0.4 },
  'gpt-5': { inputPer1M: 1.25, outputPer1M: 10 },
  'gpt-5-mini': { inputPer1M: 0.25, outputPer1M: 2 },
  'gpt-5-nano': { inputPer1M: 0.05, outputPer1M: 0.4 },
  o3: { inputPer1M: 2, outputPer1M: 8 },
  'o3-mini': { inputPer1M: 1.1, outputPer1M: 4.4 },
  'o4-mini': { inputPer1M: 1.1, outputPer1M: 4.4 },
});

export interface PriceTableOptions {
  /** Include {@link DEFAULT_PRICES} (default true). Overrides win either way. */
  defaults?: boolean;
}

/** Checks a price and throws a RangeError naming the model and the field. */
export function validatePrice(model: string, p: ModelPrice): ModelPrice {
  for (const k of ['inputPer1M', 'outputPer1M'] as const) {
    const v = p?.[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`Price of '${model}': ${k} must be a number ≥ 0, got ${JSON.stringify(v)}`);
  }
  return { inputPer1M: p.inputPer1M, outputPer1M: p.outputPer1M };
}

/**
 * Model name → price. Lookup is case-insensitive and tolerant of what providers add around a name:
 * a provider prefix (`openai/gpt-4o`) and a snapshot suffix (`gpt-4o-mini-2024-07-18`, `-0125`,
 * `-latest` are priced as the listed name). Other variants (`o3-pro`) are not guessed: list them.
 */
export class PriceTable {
  readonly #prices = new Map<string, ModelPrice>();

  constructor(overrides: Readonly<Record<string, ModelPrice>> = {}, options: PriceTableOptions = {}) {
    if (options.defaults ?? true) for (const [m, p] of Object.entries(DEFAULT_PRICES)) this.#prices.set(m.toLowerCase(), p);
    for (const [m, p] of Object.entries(overrides)) this.set(m, p);
  }

  set(model: string, price: ModelPrice): void {
    this.#prices.set(model.trim().toLowerCase(), validatePrice(model, price));
  }

  /** The price of a model, or undefined when it is not in the table. */
  priceOf(model: string): ModelPrice | undefined {
    const name = model.trim().toLowerCase();
    const exact = this.#prices.get(name);
    if (exact) return exact;
    const bare = name.includes('/') ? name.slice(name.lastIndexOf('/') + 1) : name;
    if (bare !== name) {
      const p = this.#prices.get(bare);
      if (p) return p;
    }
    // A dated snapshot of a listed model: `<name>-2024-07-18`, `<name>-0125`, `<name>-latest`.
    const m = /^(.+?)-(\d{4}-\d{2}-\d{2}|\d{4}|latest)$/.exec(bare);
    return m ? this.#prices.get(m[1]) : undefined;
  }

  /** Cost of tokens for a model (0 when the model has no price). */
  costOf(model: string, tokensIn: number, tokensOut: number): number {
    return costWith(this.priceOf(model), tokensIn, tokensOut);
  }

  /** The table as a plain object (for settings UIs). */
  toJSON(): Record<string, ModelPrice> {
    return Object.fromEntries(this.#prices);
  }
}

/** Cost of tokens at a price (0 without one). */
export function costWith(price: ModelPrice | undefined, tokensIn: number, tokensOut: number): number {
  if (!price) return 0;
  return (tokensIn * price.inputPer1M + tokensOut * price.outputPer1M) / 1_000_000;
}

/** The default table (defaults only). */
export const defaultPriceTable = new PriceTable();
