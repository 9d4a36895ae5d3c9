/**
 * Context keys that menus, view-title actions and welcome views depend on. Set from one place, recomputed
 * when runs change state, folders change, or extraction.config.json appears or goes away.
 */
import * as vscode from 'vscode';
import { CONFIG_FILE } from '../app/config';
import { Disposable } from './dispose';
import type { WorkspaceRuns } from './workspaceRuns';

export const ContextKeys = {
  running: 'extractionWorkbench.running',
  paused: 'extractionWorkbench.paused',
  /** The last run of some folder was interrupted (window closed) with documents left. */
  interrupted: 'extractionWorkbench.interrupted',
  hasConfig: 'extractionWorkbench.hasConfig',
  hasState: 'extractionWorkbench.hasState',
} as const;

export class ContextKeysController extends Disposable {
  readonly #runs: WorkspaceRuns;
  readonly #values = new Map<string, boolean>();
  readonly #onDidChangeConfigFile = this._register(new vscode.EventEmitter<vscode.Uri>());
  /** extraction.config.json created, changed or deleted in a workspace folder. */
  readonly onDidChangeConfigFile = this.#onDidChangeConfigFile.event;

  constructor(runs: WorkspaceRuns) {
    super();
    this.#runs = runs;
    this._register(runs.onDidChangeState(() => this.update()));
    this._register(runs.onDidChangeFolders(() => this.update()));
    const watcher = this._register(vscode.workspace.createFileSystemWatcher(`**/${CONFIG_FILE}`));
    const changed = (uri: vscode.Uri) => {
      this.update();
      this.#onDidChangeConfigFile.fire(uri);
    };
    this._register(watcher.onDidCreate(changed));
    this._register(watcher.onDidDelete(changed));
    this._register(watcher.onDidChange(changed));
    this._register(vscode.workspace.onDidGrantWorkspaceTrust(() => this.update()));
    this.update();
  }

  get(key: string): boolean {
    return this.#values.get(key) ?? false;
  }

  update(): void {
    const folders = this.#runs.folders();
    // a run held by another process (a CLI run) counts too: Pause, Resume and Stop reach it
    const running = folders.map((f) => ({ f, foreign: f.foreignRun() })).filter(({ f, foreign }) => f.running || foreign);
    this.#set(ContextKeys.running, running.length > 0);
    this.#set(ContextKeys.paused, running.length > 0 && running.every(({ f, foreign }) => f.paused || foreign?.status === 'paused'));
    this.#set(ContextKeys.interrupted, running.length === 0 && folders.some((f) => f.interruptedRun() !== undefined));
    this.#set(ContextKeys.hasConfig, folders.some((f) => f.hasConfig()));
    this.#set(ContextKeys.hasState, folders.some((f) => (f.store?.counts().total ?? 0) > 0));
  }

  #set(key: string, value: boolean): void {
    if (this.#values.get(key) === value) return;
    this.#values.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  }
}
