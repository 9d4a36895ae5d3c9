/** Commands of the run dashboard and health: Open Run Dashboard, Show Dead Letters. */
import { DashboardCommandIds, type DashboardFeature } from '../dashboard/feature';
import type { TreeNode } from '../tree/documentsModel';
import { notify } from './register';
import type { CommandServices, CommandSpec } from './types';

/** Where to open the dashboard: a tree node (run summary, folder), a folder key, or `{ folderKey, runId }`. */
function targetOf(arg: unknown): { folderKey?: string; runId?: string } {
  if (typeof arg === 'string') return { folderKey: arg };
  if (arg && typeof arg === 'object') {
    const o = arg as Partial<TreeNode> & { runId?: unknown };
    const folderKey = typeof o.folderKey === 'string' ? o.folderKey : undefined;
    const runId = typeof o.runId === 'string' ? o.runId : undefined;
    return { ...(folderKey ? { folderKey } : {}), ...(runId ? { runId } : {}) };
  }
  return {};
}

export function dashboardCommands(_s: CommandServices, d: DashboardFeature): CommandSpec[] {
  return [
    {
      id: DashboardCommandIds.openDashboard,
      // returns the panel (in-process callers such as tests use it)
      run: (arg?: unknown) => d.dashboard.open(targetOf(arg)),
    },
    {
      id: DashboardCommandIds.showDeadLetters,
      run: async (arg?: unknown) => {
        const node = await d.revealer.showDeadLetters(targetOf(arg).folderKey);
        if (!node) notify('info', 'The dead-letter queue is empty.');
        return node;
      },
    },
  ];
}
