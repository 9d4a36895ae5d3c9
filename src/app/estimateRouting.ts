/**
 * The pre-run estimate of a router job (mixed folder): which job each document would be extracted with, and
 * the classification requests a run would make — one per document its globs do not claim and that has no
 * choice recorded for its content and the router's configuration. A document still to be classified is
 * counted with the costliest job (the largest schema): the estimate errs on the high side.
 */
import type { ConvertedDocument } from '../convert/types';
import { hashOf } from '../core/fingerprint';
import { isSettledUnmatched, NO_JOB, routedFingerprint, type JobRouter, type RoutedJob } from '../core/routing';
import type { DocumentState } from '../core/types';
import type { Classifier } from '../extract/classifier';
import { costWith, defaultPriceTable, type ModelPrice } from '../extract/pricing';
import { countChatTokens, countTokens } from '../extract/tokens';
import { routerParts } from './router';
import type { RunSettings } from './session';

/** Output tokens of a classification answer (`{"job":"<name>"}`). */
const ANSWER_TOKENS = 8;

/** What the classification requests of a run would cost. */
export interface ClassificationEstimate {
  model: string;
  requests: number;
  tokensIn: number;
  tokensOutEstimate: number;
  price?: ModelPrice;
  cost: number;
}

export class RoutedEstimate {
  readonly fingerprint: string;
  readonly #router: JobRouter;
  readonly #classifier: Classifier;
  readonly #costliest: RoutedJob;
  readonly #price: ModelPrice | undefined;
  readonly totals: ClassificationEstimate;

  constructor(settings: RunSettings & { route: NonNullable<RunSettings['route']> }) {
    const model = settings.route.model ?? settings.model;
    this.#price = settings.route.price ?? (model === settings.model ? settings.price : undefined) ?? defaultPriceTable.priceOf(model);
    // nothing is sent: the classifier only builds its requests here
    const parts = routerParts(settings, {
      send: () => Promise.reject(new Error('an estimate sends no request')),
      costOfModel: (_m, i, o) => costWith(this.#price, i, o),
    })!;
    this.#router = parts.router;
    this.#classifier = parts.classifier;
    this.fingerprint = routedFingerprint(parts.router, settings.model);
    this.#costliest = [...parts.router.jobs.values()].reduce((a, b) => (JSON.stringify(b.schema).length > JSON.stringify(a.schema).length ? b : a));
    this.totals = { model, requests: 0, tokensIn: 0, tokensOutEstimate: 0, ...(this.#price ? { price: this.#price } : {}), cost: 0 };
  }

  get jobs(): ReadonlyMap<string, RoutedJob> {
    return this.#router.jobs;
  }

  /** A listed document a run leaves as it is: classified as no job's, unchanged since. */
  settled(existing: DocumentState | undefined, file: { size: number; mtimeMs: number }): boolean {
    return isSettledUnmatched(existing, file, this.fingerprint);
  }

  /**
   * The job a document would be extracted with (`none`: it would end rejected), counting its classification
   * request when a run would make one.
   */
  place(path: string, doc: ConvertedDocument, contentHash: string, existing: DocumentState | undefined): string {
    const byPath = this.#router.byPath(path);
    if (byPath !== undefined) return byPath;
    const key = hashOf({ content: contentHash, router: this.#router.fingerprint });
    if (existing?.job !== undefined && existing.jobKey === key && (existing.job === NO_JOB || this.#router.jobs.has(existing.job))) return existing.job;
    const body = this.#classifier.body(path, doc);
    const contents = body.messages.map((m) => (typeof m.content === 'string' ? m.content : ''));
    const format = body.response_format?.type === 'json_schema' ? countTokens(JSON.stringify(body.response_format.json_schema.schema ?? {})) : 0;
    const tokensIn = countChatTokens(contents) + format;
    const t = this.totals;
    t.requests++;
    t.tokensIn += tokensIn;
    t.tokensOutEstimate += ANSWER_TOKENS;
    t.cost += costWith(this.#price, tokensIn, ANSWER_TOKENS);
    return this.#costliest.name;
  }
}
