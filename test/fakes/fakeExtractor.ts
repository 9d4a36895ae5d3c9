/** Scriptable Extractor for pipeline tests: per-document failures, latency, hangs until aborted; counts calls. */
import { CancelledError, ExtractionError } from '../../src/core/errors';
import type { ExtractInput, ExtractOutput, Extractor } from '../../src/extract/types';

export type FakeStep = { data: unknown } | { error: ExtractionError } | { hang: true } | { delayMs: number; data: unknown };

export class FakeExtractor implements Extractor {
  readonly model = 'fake-model';
  readonly calls = new Map<string, number>();
  readonly scripts = new Map<string, FakeStep[]>();
  inFlight = 0;
  maxInFlight = 0;
  /** Default answer: echoes the path and the first line of the text. */
  defaultDelayMs = 0;

  script(path: string, ...steps: FakeStep[]): this {
    this.scripts.set(path, steps);
    return this;
  }

  callsFor(path: string): number {
    return this.calls.get(path) ?? 0;
  }

  get totalCalls(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  async extract(input: ExtractInput): Promise<ExtractOutput> {
    this.calls.set(input.path, this.callsFor(input.path) + 1);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const step = this.scripts.get(input.path)?.shift() ?? { delayMs: this.defaultDelayMs, data: { path: input.path, firstLine: input.document.text.split('\n')[0] } };
      if ('error' in step) throw step.error;
      if ('hang' in step || ('delayMs' in step && step.delayMs > 0)) {
        await new Promise<void>((resolve, reject) => {
          const onAbort = () => reject(new CancelledError());
          if (input.signal?.aborted) return onAbort();
          input.signal?.addEventListener('abort', onAbort, { once: true });
          if (!('hang' in step)) setTimeout(resolve, step.delayMs);
        });
      }
      return { data: (step as { data: unknown }).data, model: this.model, tokensIn: 10, tokensOut: 5, cost: 0.001, requests: 1 };
    } finally {
      this.inFlight--;
    }
  }
}
