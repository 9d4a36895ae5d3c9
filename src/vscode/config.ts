/**
 * The one place that reads `extractionWorkbench.*` settings. Everything else receives a typed
 * {@link ExtensionSettings} object; the core never calls `getConfiguration`.
 */
import * as vscode from 'vscode';
import { DEFAULT_BASE_URL, DEFAULT_MODEL } from '../app/session';

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
});

function str(c: vscode.WorkspaceConfiguration, key: keyof ExtensionSettings): string {
  const v = c.get<unknown>(key);
  return typeof v === 'string' && v.trim() ? v.trim() : (DEFAULT_SETTINGS[key] as string);
}

function int(c: vscode.WorkspaceConfiguration, key: keyof ExtensionSettings, min: number, max: number): number {
  const v = c.get<unknown>(key);
  const fallback = DEFAULT_SETTINGS[key] as number;
  if (typeof v !== 'number' || !Number.isFinite(v)) return fallback;
  return Math.min(max, Math.max(min, Math.round(v)));
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
  };
}

export function affectsSettings(e: vscode.ConfigurationChangeEvent, scope?: vscode.ConfigurationScope): boolean {
  return e.affectsConfiguration(SECTION, scope);
}
