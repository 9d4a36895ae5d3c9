/** The whole command table, split by feature. */
import { datasetCommands } from './dataset';
import { documentCommands } from './documents';
import { evaluateCommands } from './evaluate';
import { reportCommands } from './report';
import { reviewCommands } from './review';
import { runCommands } from './run';
import { setupCommands } from './setup';
import type { CommandServices, CommandSpec } from './types';
import { dashboardCommands } from './dashboard';
import type { DashboardFeature } from '../dashboard/feature';
import type { ReviewPanels } from '../review/reviewPanels';

export function commandTable(s: CommandServices, review?: ReviewPanels, dashboard?: DashboardFeature): CommandSpec[] {
  return [...runCommands(s), ...documentCommands(s), ...setupCommands(s), ...reportCommands(s), ...datasetCommands(s), ...evaluateCommands(s), ...(review ? reviewCommands(s, review) : []), ...(dashboard ? dashboardCommands(s, dashboard) : [])];
}

export { CommandIds, commandHandler, registerCommands, reportError } from './register';
export type { CommandServices, CommandSpec } from './types';
