/**
 * The one place that reads `extractionWorkbench.*` settings. Everything else receives a typed
 * {@link ExtensionSettings} object; the core never calls `getConfiguration`.
 */
import * as vscode from 'vscode';
import { MAX_TOKENS_PARAMS, MODE_OPTIONS } from '../extract/modes';
import { INPUT_MODES, type InputMode } from '../extract/pageImages';
import { DEFAULT_SETTINGS, type ExtensionSettings } from './extensionSettings';

export const SECTION = 'extractionWorkbench';

function str(c: vscode.WorkspaceConfiguration, key: keyof ExtensionSettings): string {
  const v = c.get<unknown>(key);
  return typeof v === 'string' && v.trim() ? v.trim() : (DEFAULT_SETTINGS[key] as string);
}

/** `configKey`: the setting's name when it differs from the field's (`pdf.maxPages` → `pdfMaxPages`). */
function int(c: vscode.WorkspaceConfiguration, key: keyof ExtensionSettings, min: number, max: number, configKey: string = key): number {
  const v = c.get<unknown>(configKey);
  const fallback = DEFAULT_SETTINGS[key] as number;
  if (typeof v !== 'number' || !Number.isFinite(v)) return fallback;
  return Math.min(max, Math.max(min, Math.round(v)));
}

/** A number ≥ 0 (fractions allowed), at most `max`; anything else gives the default. */
function amount(c: vscode.WorkspaceConfiguration, key: keyof ExtensionSettings, configKey: string = key, max = Number.POSITIVE_INFINITY): number {
  const v = c.get<unknown>(configKey);
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(max, v) : (DEFAULT_SETTINGS[key] as number);
}

/** One of `allowed`; anything else gives the default. */
function oneOf<T extends string>(c: vscode.WorkspaceConfiguration, key: keyof ExtensionSettings, allowed: readonly T[]): T {
  const v = c.get<unknown>(key);
  return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : (DEFAULT_SETTINGS[key] as T);
}

/** Tesseract language codes; anything else (or an empty list) gives the default. */
function languages(c: vscode.WorkspaceConfiguration): string[] {
  const v = c.get<unknown>('ocr.languages');
  const codes = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && /^[A-Za-z][A-Za-z0-9_]{1,31}$/.test(x.trim())).map((x) => x.trim()) : [];
  return codes.length ? codes : [...DEFAULT_SETTINGS.ocrLanguages];
}

function globs(c: vscode.WorkspaceConfiguration, key: 'include' | 'exclude'): string[] {
  const v = c.get<unknown>(key);
  return Array.isArray(v) ? v.filter((g): g is string => typeof g === 'string' && g.trim() !== '') : [];
}

/** Reads the settings for a workspace folder (resource-scoped settings may differ per folder). */
export function readSettings(scope?: vscode.ConfigurationScope): ExtensionSettings {
  const c = vscode.workspace.getConfiguration(SECTION, scope);
  return {
    baseUrl: str(c, 'baseUrl'),
    model: str(c, 'model'),
    concurrency: int(c, 'concurrency', 1, 256),
    maxAttempts: int(c, 'maxAttempts', 1, 20),
    requestTimeoutSeconds: int(c, 'requestTimeoutSeconds', 1, 3600),
    maxFileSizeMb: int(c, 'maxFileSizeMb', 1, 4096),
    outputFolder: str(c, 'outputFolder'),
    stateFolder: str(c, 'stateFolder'),
    stateUrl: ((v) => (typeof v === 'string' ? v.trim() : ''))(c.get<unknown>('stateUrl')),
    include: globs(c, 'include'),
    exclude: globs(c, 'exclude'),
    watch: c.get<unknown>('watch') === true,
    mode: oneOf(c, 'mode', MODE_OPTIONS),
    contextTokens: int(c, 'contextTokens', 256, 100_000_000),
    maxTokensParam: oneOf(c, 'maxTokensParam', MAX_TOKENS_PARAMS),
    requestsPerMinute: int(c, 'requestsPerMinute', 0, 1_000_000_000),
    tokensPerMinute: int(c, 'tokensPerMinute', 0, 1_000_000_000_000),
    budget: amount(c, 'budget'),
    confirmCost: c.get<unknown>('confirmCost') !== false,
    confirmCostAbove: amount(c, 'confirmCostAbove'),
    pdfMaxPages: int(c, 'pdfMaxPages', 0, 1_000_000, 'pdf.maxPages'),
    pdfTimeoutSeconds: int(c, 'pdfTimeoutSeconds', 0, 86_400, 'pdf.timeoutSeconds'),
    pdfMaxMemoryMb: int(c, 'pdfMaxMemoryMb', 32, 65_536, 'pdf.maxMemoryMb'),
    pdfWorkers: int(c, 'pdfWorkers', 0, 64, 'pdf.workers'),
    input: ((v) => (INPUT_MODES.includes(v as InputMode) ? (v as InputMode) : DEFAULT_SETTINGS.input))(c.get<unknown>('input')),
    ocrMode: ((v) => (v === 'auto' || v === 'always' || v === 'off' ? v : DEFAULT_SETTINGS.ocrMode))(c.get<unknown>('ocr.mode')),
    ocrLanguages: languages(c),
    ocrTimeoutSeconds: int(c, 'ocrTimeoutSeconds', 0, 86_400, 'ocr.timeoutSeconds'),
    ocrWorkers: int(c, 'ocrWorkers', 0, 64, 'ocr.workers'),
    ocrDataDir: ((v) => (typeof v === 'string' ? v.trim() : ''))(c.get<unknown>('ocr.dataDir')),
    maxOutageMinutes: amount(c, 'maxOutageMinutes', 'maxOutageMinutes', 10_080),
    reviewConfidenceThreshold: ((v) => (typeof v === 'number' && Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : DEFAULT_SETTINGS.reviewConfidenceThreshold))(c.get<unknown>('review.confidenceThreshold')),
    retryBaseDelaySeconds: amount(c, 'retryBaseDelaySeconds', 'retry.baseDelaySeconds', 3600),
    retryMaxDelaySeconds: amount(c, 'retryMaxDelaySeconds', 'retry.maxDelaySeconds', 86_400),
    retryJitter: amount(c, 'retryJitter', 'retry.jitter', 1),
    logRequests: c.get<unknown>('logRequests') === true,
    historyRetentionRuns: int(c, 'historyRetentionRuns', 0, 1_000_000),
    historyRetentionDays: int(c, 'historyRetentionDays', 0, 36_500),
  };
}

export function affectsSettings(e: vscode.ConfigurationChangeEvent, scope?: vscode.ConfigurationScope): boolean {
  return e.affectsConfiguration(SECTION, scope);
}
