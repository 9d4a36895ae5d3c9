/**
 * One notification when a folder's health turns unhealthy, with actions that lead to the cause: Show Dead
 * Letters (the tree's dead-letter group), Show Log, Open Dashboard. The first health computed for a folder
 * is only a baseline: opening a workspace whose last run went badly does not notify.
 */
import { turnedUnhealthy, type HealthLevel } from '../../core/health';
import type { Logger } from '../../core/logger';
import { notify } from '../commands/register';
import { Disposable } from '../dispose';
import type { HealthMonitor } from './healthMonitor';

export interface HealthNotifierOptions {
  logger: Logger;
  enabled: () => boolean;
  showDeadLetters: (folderKey: string) => unknown;
  showLog: () => unknown;
  openDashboard: (folderKey: string) => unknown;
  /** Several workspace folders: name the folder in the message. */
  multiFolder: () => boolean;
}

export interface HealthNotification {
  folderKey: string;
  message: string;
  actions: string[];
  at: number;
}

export class HealthNotifier extends Disposable {
  readonly #levels = new Map<string, HealthLevel>();
  readonly #o: HealthNotifierOptions;
  /** Notifications shown so far, newest last (tests and the log read them). */
  readonly shown: HealthNotification[] = [];

  constructor(monitor: HealthMonitor, options: HealthNotifierOptions) {
    super();
    this.#o = options;
    this._register(monitor.onDidChange((key) => (key ? this.#check(monitor, key) : monitor.all().forEach((h) => this.#check(monitor, h.folderKey)))));
  }

  #check(monitor: HealthMonitor, key: string): void {
    const h = monitor.health(key);
    if (!h) {
      this.#levels.delete(key);
      return;
    }
    const had = this.#levels.has(key);
    const previous = this.#levels.get(key);
    this.#levels.set(key, h.report.level);
    if (!had || !turnedUnhealthy(previous, h.report.level)) return;
    const reasons = h.report.reasons.filter((r) => r.level === 'unhealthy');
    const where = this.#o.multiFolder() ? ` in ${h.folderName}` : '';
    const message = `Extraction${where} is unhealthy: ${(reasons[0] ?? h.report.reasons[0])?.message ?? 'see the run dashboard.'}${reasons.length > 1 ? ` (and ${reasons.length - 1} more)` : ''}`;
    const actions: Record<string, () => unknown> = {};
    if (h.counts.deadLettered > 0) actions['Show Dead Letters'] = () => this.#o.showDeadLetters(key);
    actions['Show Log'] = () => this.#o.showLog();
    actions['Open Dashboard'] = () => this.#o.openDashboard(key);
    this.#o.logger.warn(message);
    this.shown.push({ folderKey: key, message, actions: Object.keys(actions), at: Date.now() });
    if (this.#o.enabled()) notify('error', message, actions);
  }
}
