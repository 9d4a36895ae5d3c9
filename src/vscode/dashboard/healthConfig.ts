/**
 * The `extractionWorkbench.health.*` settings, read in this one place and handed to the core as a plain
 * thresholds object (the core never reads configuration). A value out of range falls back to its default
 * with a warning in the log, instead of disabling health.
 */
import * as vscode from 'vscode';
import { DEFAULT_HEALTH_THRESHOLDS, healthThresholds, InvalidHealthThresholdError, type HealthThresholds } from '../../core/health';
import type { Logger } from '../../core/logger';

export const HEALTH_SECTION = 'extractionWorkbench.health';

export interface HealthSettings {
  thresholds: HealthThresholds;
  /** Show a notification when health turns unhealthy. */
  notify: boolean;
}

export function readHealthSettings(logger?: Logger, scope?: vscode.ConfigurationScope): HealthSettings {
  const c = vscode.workspace.getConfiguration(HEALTH_SECTION, scope);
  const partial: Partial<HealthThresholds> = {};
  for (const key of Object.keys(DEFAULT_HEALTH_THRESHOLDS) as (keyof HealthThresholds)[]) {
    const v = c.get<unknown>(key);
    if (v === undefined || v === null) continue;
    try {
      healthThresholds({ [key]: v } as Partial<HealthThresholds>);
      partial[key] = v as number;
    } catch (err) {
      if (!(err instanceof InvalidHealthThresholdError)) throw err;
      logger?.warn(`Setting ${HEALTH_SECTION}.${key}: ${err.message}; using ${DEFAULT_HEALTH_THRESHOLDS[key]}`);
    }
  }
  return { thresholds: healthThresholds(partial), notify: c.get<unknown>('notify') !== false };
}

export function affectsHealthSettings(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(HEALTH_SECTION);
}
