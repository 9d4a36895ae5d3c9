/**
 * The extension's settings as a typed object, and their defaults (what {@link readSettings} in config.ts
 * returns with nothing set). No `vscode` import: pure code and plain-Node tests use them too.
 */
import { DEFAULT_CONFIDENCE_THRESHOLD } from '../extract/confidence';
import { DEFAULT_BASE_URL, DEFAULT_MODEL } from '../app/session';
import { DEFAULT_CONTEXT_TOKENS } from '../extract/estimate';
import type { MaxTokensParam, ModeOption } from '../extract/modes';
import type { InputMode } from '../extract/pageImages';
import { DEFAULT_HISTORY_RETENTION_DAYS, DEFAULT_HISTORY_RETENTION_RUNS } from '../store/retention';

export interface ExtensionSettings {
  /** OpenAI-compatible endpoint. */
  baseUrl: string;
  model: string;
  concurrency: number;
  maxAttempts: number;
  requestTimeoutSeconds: number;
  maxFileSizeMb: number;
  /** Result folder, relative to the workspace folder. */
  outputFolder: string;
  /** Checkpoint store folder, relative to the workspace folder. */
  stateFolder: string;
  /**
   * `stateUrl`: the state is in this PostgreSQL database (postgres://user@host:port/db, no password) instead
   * of the state folder, shared with a fleet of CLI workers; '' = the state folder.
   */
  stateUrl: string;
  include: string[];
  exclude: string[];
  /** Queue new and changed documents automatically. */
  watch: boolean;
  /** How the answer's shape is requested from the provider. */
  mode: ModeOption;
  /** Context window of the model in tokens. */
  contextTokens: number;
  /** Request field of the output budget. */
  maxTokensParam: MaxTokensParam;
  /** Client-side rate limits of the provider; 0 = none. */
  requestsPerMinute: number;
  tokensPerMinute: number;
  /** Cost at which a run pauses; 0 = no budget. */
  budget: number;
  /** Ask before a run whose estimated cost is above {@link confirmCostAbove}. */
  confirmCost: boolean;
  confirmCostAbove: number;
  /** `pdf.*` settings: PDF converter limits (0 = the converter's default: all pages, min(2, cores) workers). */
  pdfMaxPages: number;
  pdfTimeoutSeconds: number;
  pdfMaxMemoryMb: number;
  pdfWorkers: number;
  /** `ocr.*` settings: OCR of scanned pages and images (0 / empty = the converter's default). */
  ocrMode: 'auto' | 'always' | 'off';
  /** `input`: what the model is sent of a document (text, or page images too). */
  input: InputMode;
  ocrLanguages: string[];
  ocrTimeoutSeconds: number;
  ocrWorkers: number;
  ocrDataDir: string;
  /** How long a run waits through a provider outage before it stops, minutes. */
  maxOutageMinutes: number;
  /** `review.confidenceThreshold`: a done document with a value below it (and not marked reviewed) needs review. */
  reviewConfidenceThreshold: number;
  /** `retry.*` settings: backoff between attempts, seconds and share of jitter. */
  retryBaseDelaySeconds: number;
  retryMaxDelaySeconds: number;
  retryJitter: number;
  /** Write every model request and reply to `<state folder>/requests/<run>.ndjson` (API keys redacted). */
  logRequests: boolean;
  /** Keep the attempts of this many most recent runs; 0 = no limit of runs. */
  historyRetentionRuns: number;
  /** Prune attempts, dead-letter history and request logs older than this many days; 0 = no limit of age. */
  historyRetentionDays: number;
}

export const DEFAULT_SETTINGS: Readonly<ExtensionSettings> = Object.freeze({
  baseUrl: DEFAULT_BASE_URL,
  model: DEFAULT_MODEL,
  concurrency: 4,
  maxAttempts: 4,
  requestTimeoutSeconds: 120,
  maxFileSizeMb: 50,
  outputFolder: 'extracted',
  stateFolder: '.extraction',
  stateUrl: '',
  include: [],
  exclude: [],
  watch: false,
  mode: 'auto',
  contextTokens: DEFAULT_CONTEXT_TOKENS,
  maxTokensParam: 'max_completion_tokens',
  requestsPerMinute: 0,
  tokensPerMinute: 0,
  budget: 0,
  confirmCost: true,
  confirmCostAbove: 1,
  pdfMaxPages: 0,
  pdfTimeoutSeconds: 120,
  pdfMaxMemoryMb: 1024,
  pdfWorkers: 0,
  ocrMode: 'auto',
  input: 'text',
  ocrLanguages: ['eng'],
  ocrTimeoutSeconds: 120,
  ocrWorkers: 0,
  ocrDataDir: '',
  maxOutageMinutes: 30,
  reviewConfidenceThreshold: DEFAULT_CONFIDENCE_THRESHOLD,
  retryBaseDelaySeconds: 1,
  retryMaxDelaySeconds: 60,
  retryJitter: 0.5,
  logRequests: false,
  historyRetentionRuns: DEFAULT_HISTORY_RETENTION_RUNS,
  historyRetentionDays: DEFAULT_HISTORY_RETENTION_DAYS,
});
