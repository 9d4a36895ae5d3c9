/**
 * The one place that reads `extractionWorkbench.*` settings. Everything else receives a typed
 * {@link ExtensionSettings} object; the core never calls `getConfiguration`.
 */
import * as vscode from 'vscode';
import { DEFAULT_BASE_URL, DEFAULT_MODEL } from '../app/session';
import { DEFAULT_CONTEXT_TOKENS } from '../extract/estimate';
import { MAX_TOKENS_PARAMS, MODE_OPTIONS, type MaxTokensParam, type ModeOption } from '../extract/modes';

export const SECTION = 'extractionWorkbench';

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
});

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

/** A number ≥ 0 (fractions allowed); anything else gives the default. */
function amount(c: vscode.WorkspaceConfiguration, key: keyof ExtensionSettings): number {
  const v = c.get<unknown>(key);
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : (DEFAULT_SETTINGS[key] as number);
}

/** One of `allowed`; anything else gives the default. */
function oneOf<T extends string>(c: vscode.WorkspaceConfiguration, key: keyof ExtensionSettings, allowed: readonly T[]): T {
  const v = c.get<unknown>(key);
  return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : (DEFAULT_SETTINGS[key] as T);
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
  };
}

export function affectsSettings(e: vscode.ConfigurationChangeEvent, scope?: vscode.ConfigurationScope): boolean {
  return e.affectsConfiguration(SECTION, scope);
}
