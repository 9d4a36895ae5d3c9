/** The whole command table, split by feature. */
import { documentCommands } from './documents';
import { reportCommands } from './report';
import { runCommands } from './run';
import { setupCommands } from './setup';
import type { CommandServices, CommandSpec } from './types';

export function commandTable(s: CommandServices): CommandSpec[] {
  return [...runCommands(s), ...documentCommands(s), ...setupCommands(s), ...reportCommands(s)];
}

export { CommandIds, registerCommands, reportError } from './register';
export type { CommandServices, CommandSpec } from './types';
