/** Setup commands: API key, state database password, job selection, log, starter config. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_FILE } from '../../app/config';
import { EXAMPLE_SCHEMA_PATH, exampleConfig, exampleSchema, toJsonText } from '../scaffold';
import type { StoredSecret } from '../secrets';
import { SET_STATE_PASSWORD_TITLE, STATE_URL_SETTING } from '../stateDatabase';
import { NoConfigError } from '../workspaceRuns';
import { CommandIds, notify } from './register';
import { pickFolder } from './targets';
import type { CommandServices, CommandSpec } from './types';

/** Set and Clear of a value kept in the secret storage (the API key, the state database password). */
function secretCommands(
  setId: string,
  clearId: string,
  secret: StoredSecret,
  text: { name: string; title: string; prompt: string; placeHolder?: string; empty: string },
): CommandSpec[] {
  return [
    {
      id: setId,
      run: async () => {
        const value = await vscode.window.showInputBox({
          title: text.title,
          prompt: `${text.prompt} It is kept in the editor's secret storage, never in settings or logs.`,
          password: true,
          ignoreFocusOut: true,
          ...(text.placeHolder ? { placeHolder: text.placeHolder } : {}),
          validateInput: (v) => (v.trim() ? undefined : text.empty),
        });
        if (!value?.trim()) return false;
        await secret.set(value);
        notify('info', `${text.name} saved in the secret storage.`);
        return true;
      },
    },
    {
      id: clearId,
      run: async () => {
        await secret.clear();
        notify('info', `${text.name} removed from the secret storage.`);
        return true;
      },
    },
  ];
}

export function setupCommands(s: CommandServices): CommandSpec[] {
  return [
    ...secretCommands(CommandIds.setApiKey, CommandIds.clearApiKey, s.apiKeys, {
      name: 'API key',
      title: 'Extraction Workbench: API Key',
      prompt: 'The key of your OpenAI-compatible provider.',
      placeHolder: 'sk-…',
      empty: 'Enter a key, or press Escape to cancel',
    }),
    ...secretCommands(CommandIds.setStatePassword, CommandIds.clearStatePassword, s.statePasswords, {
      name: 'State database password',
      title: SET_STATE_PASSWORD_TITLE,
      prompt: `The password of the user in ${STATE_URL_SETTING}.`,
      empty: 'Enter the password, or press Escape to cancel',
    }),
    {
      id: CommandIds.selectJob,
      run: async (arg?: unknown) => {
        const withConfig = s.runs.folders().filter((f) => f.hasConfig());
        if (!withConfig.length) throw new NoConfigError(s.runs.folders()[0]?.name ?? 'This workspace');
        const f = await pickFolder(withConfig, 'Select the job of which folder?');
        if (!f) return undefined;
        const config = f.config();
        if (!config) throw new NoConfigError(f.name);
        let name: string | undefined = typeof arg === 'string' && config.jobs.some((j) => j.name === arg) ? arg : undefined;
        if (!name) {
          const current = f.selectedJob ?? config.jobs[0].name;
          const picked = await vscode.window.showQuickPick(
            config.jobs.map((j) => ({
              label: j.name,
              description: j.name === current ? '(current)' : undefined,
              detail: [j.classify ? `classifies into ${j.classify.jobs.join(', ')}` : `schema ${j.schema}`, j.include?.length ? `include ${j.include.join(', ')}` : undefined, j.model ? `model ${j.model}` : undefined].filter(Boolean).join(' · '),
            })),
            { title: `Extraction job of ${f.name}`, placeHolder: 'Which job do runs use?', ignoreFocusOut: true },
          );
          name = picked?.label;
        }
        if (!name) return undefined;
        await f.selectJob(name);
        s.logger.info(`${f.name}: job "${name}" selected`);
        return name;
      },
    },
    {
      id: CommandIds.showLog,
      run: () => s.channel.show(true),
    },
    {
      id: CommandIds.createConfig,
      run: async () => {
        const folders = s.runs.folders();
        if (!folders.length) {
          notify('warning', 'Open a folder first: the config goes to the root of a workspace folder.');
          return undefined;
        }
        const f = await pickFolder(folders, 'Create the extraction config in which folder?');
        if (!f) return undefined;
        const configUri = vscode.Uri.file(f.configPath);
        if (!fs.existsSync(f.configPath)) {
          fs.writeFileSync(f.configPath, toJsonText(exampleConfig()), { flag: 'wx' });
          const schemaFile = path.join(f.root, ...EXAMPLE_SCHEMA_PATH.split('/'));
          if (!fs.existsSync(schemaFile)) {
            fs.mkdirSync(path.dirname(schemaFile), { recursive: true });
            fs.writeFileSync(schemaFile, toJsonText(exampleSchema()), { flag: 'wx' });
          }
          s.logger.info(`Created ${CONFIG_FILE} and ${EXAMPLE_SCHEMA_PATH} in ${f.name}`);
        } else {
          notify('info', `${f.name} already has an ${CONFIG_FILE}.`);
        }
        await vscode.window.showTextDocument(configUri, { preview: false });
        return configUri;
      },
    },
  ];
}
