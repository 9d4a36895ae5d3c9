/**
 * Shared by the integration suites (bundled into each of them): the extension's id, polling, and the
 * activated extension with its first workspace folder.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/vscode/api';
import type { FolderRuns } from '../../src/vscode/workspaceRuns';

export const EXTENSION_ID = 'extraction-workbench.extraction-workbench';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` every `intervalMs` until it returns a truthy value; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  condition: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Activates the extension, waits until it has restored the folders' state, and returns its first folder. */
export async function activateFirstFolder(): Promise<{ api: ExtensionApi; folder: FolderRuns }> {
  const ext = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID);
  assert.ok(ext, 'extension installed');
  const api = await ext.activate();
  await api.restored;
  const folder = api.runs.folders()[0];
  assert.ok(folder, 'a workspace folder is open');
  return { api, folder };
}

/** The extension's settings as seen by `folder` (updates go to the workspace). */
export function settingsOf(folder: FolderRuns): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('extractionWorkbench', folder.folder.uri);
}

/**
 * The workspace settings a suite changes: `set` remembers every key it sets, `restore` unsets them all, so
 * the suites after it see the defaults without a list of keys kept in step by hand.
 */
export class SuiteSettings {
  readonly #keys = new Set<string>();

  constructor(private readonly folder: () => FolderRuns) {}

  async set(key: string, value: unknown): Promise<void> {
    this.#keys.add(key);
    await settingsOf(this.folder()).update(key, value, vscode.ConfigurationTarget.Workspace);
  }

  async restore(): Promise<void> {
    for (const key of this.#keys) await settingsOf(this.folder()).update(key, undefined, vscode.ConfigurationTarget.Workspace);
    this.#keys.clear();
  }
}

/**
 * Leaves the folder's state as the suites after this one expect it: `paths` gone from the checkpoint store
 * (documents and dead letters), the suite's own folder `dir` and its results removed, the tree read again.
 */
export async function removeSuiteDocuments(api: ExtensionApi, folder: FolderRuns, dir: string, paths: readonly string[]): Promise<void> {
  await folder
    .withWritableStore((s) => {
      for (const rel of paths) {
        if (s.getDeadLetter(rel)) s.removeDeadLetter(rel);
        if (s.getDocument(rel)) s.removeDocument(rel);
      }
    })
    .catch(() => undefined);
  fs.rmSync(path.join(folder.root, dir), { recursive: true, force: true });
  fs.rmSync(path.join(folder.outDir(), dir), { recursive: true, force: true });
  api.treeModel.reload();
}
