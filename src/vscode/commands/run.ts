/**
 * Commands that start and control runs: Extract Workspace / Folder / Current File / Selected, Estimate Cost,
 * Pause, Resume, Stop. Extract Workspace and Extract Folder… ask before a costly run (see costEstimate.ts).
 */
import * as vscode from 'vscode';
import { ErrorCodes, ExtractionError } from '../../core/errors';
import { confirmRunCost, showEstimate, type EstimateTarget } from '../costEstimate';
import type { FolderRuns } from '../workspaceRuns';
import { NoConfigError } from '../workspaceRuns';
import { CommandIds, notify, reportError } from './register';
import { activeResource, isUri, uriTargets } from './targets';
import type { CommandServices, CommandSpec } from './types';

function requireFolders(s: CommandServices): FolderRuns[] {
  const folders = s.runs.folders();
  if (!folders.length) throw new ExtractionError(ErrorCodes.INVALID_CONFIG, 'Open a folder first: extraction runs over the documents of a workspace folder.');
  return folders;
}

/** Folders that can run: those with a config, else those whose last run's settings were saved. */
function runnableFolders(s: CommandServices): FolderRuns[] {
  const folders = requireFolders(s);
  const withConfig = folders.filter((f) => f.hasConfig());
  if (withConfig.length) return withConfig;
  const withSaved = folders.filter((f) => {
    try {
      f.jobSource();
      return true;
    } catch {
      return false;
    }
  });
  if (withSaved.length) return withSaved;
  throw new NoConfigError(folders[0].name);
}

/** The documents under `uris` (files, or folders listed with the job's globs), by folder; undefined when none is in a workspace folder. */
async function targetsOf(s: CommandServices, uris: readonly vscode.Uri[]): Promise<Array<Required<EstimateTarget>> | undefined> {
  const byFolder = new Map<FolderRuns, vscode.Uri[]>();
  for (const uri of uris) {
    const f = s.runs.folderOf(uri);
    if (!f) continue;
    byFolder.set(f, [...(byFolder.get(f) ?? []), uri]);
  }
  if (!byFolder.size) return undefined;
  const targets: Array<Required<EstimateTarget>> = [];
  for (const [folder, list] of byFolder) {
    const paths = await folder.documentsUnder(list);
    if (paths.length) targets.push({ folder, paths });
  }
  return targets;
}

/**
 * Queues the documents under `uris` (files, or folders listed with the job's globs) in their folders.
 * With `confirmCost`, a costly run is estimated and confirmed first; declined, nothing is queued.
 */
async function extractUris(s: CommandServices, uris: readonly vscode.Uri[], options: { confirmCost?: boolean } = {}): Promise<number> {
  const targets = await targetsOf(s, uris);
  if (!targets) {
    notify('warning', 'Only documents inside a workspace folder can be extracted.');
    return 0;
  }
  if (!targets.length) {
    notify('info', 'No documents to extract there (the job\'s include/exclude globs select none).');
    return 0;
  }
  if (options.confirmCost && !(await confirmRunCost(targets, s.logger))) return 0;
  let queued = 0;
  for (const { folder, paths } of targets) {
    await folder.enqueue(paths, { trigger: 'palette' });
    queued += paths.length;
  }
  return queued;
}

/** Starts runs over whole folders (those already running are told so). */
async function startFolders(folders: readonly FolderRuns[]): Promise<string[]> {
  const started: string[] = [];
  for (const f of folders) {
    const handle = await f.start('palette');
    if (handle) started.push(handle.runId);
    else notify('info', `A run is already in progress in ${f.name}.`);
  }
  return started;
}

/**
 * The folders of a multi-root workspace that can run now: each idle one is prepared (settings, config,
 * API key) on its own, so one folder's broken config or missing key is reported — named — and leaves
 * the others to run. With one folder, its error is thrown as is.
 */
async function preparedFolders(s: CommandServices, folders: readonly FolderRuns[]): Promise<FolderRuns[]> {
  if (folders.length === 1) return [...folders];
  const ready: FolderRuns[] = [];
  for (const f of folders) {
    try {
      if (!f.running) await f.prepare();
      ready.push(f);
    } catch (err) {
      reportError(err, s.logger, f.name);
    }
  }
  return ready;
}

export function runCommands(s: CommandServices): CommandSpec[] {
  return [
    {
      id: CommandIds.extractWorkspace,
      startsRun: true,
      run: async () => {
        const folders = await preparedFolders(s, runnableFolders(s));
        const idle = folders.filter((f) => !f.running);
        if (idle.length && !(await confirmRunCost(idle.map((folder) => ({ folder })), s.logger))) return [];
        return startFolders(folders);
      },
    },
    {
      id: CommandIds.extractFolder,
      startsRun: true,
      run: async (arg?: unknown) => {
        let uri = isUri(arg) ? arg : undefined;
        if (!uri) {
          const folders = requireFolders(s);
          const picked = await vscode.window.showOpenDialog({
            canSelectFolders: true,
            canSelectFiles: false,
            canSelectMany: false,
            defaultUri: folders[0].folder.uri,
            openLabel: 'Extract',
            title: 'Extract the documents of a folder',
          });
          uri = picked?.[0];
        }
        if (!uri) return 0;
        return extractUris(s, [uri], { confirmCost: true });
      },
    },
    {
      id: CommandIds.extractCurrentFile,
      startsRun: true,
      run: async (arg?: unknown) => {
        const uri = isUri(arg) ? arg : activeResource();
        if (!uri) {
          notify('info', 'Open a document first, then run "Extract Current File".');
          return 0;
        }
        return extractUris(s, [uri]);
      },
    },
    {
      id: CommandIds.extractSelected,
      startsRun: true,
      run: async (arg?: unknown, args?: unknown) => {
        const uris = uriTargets(arg, args);
        if (!uris.length) {
          notify('info', 'Select files or folders in the Explorer first.');
          return 0;
        }
        return extractUris(s, uris);
      },
    },
    {
      id: CommandIds.estimateCost,
      startsRun: true,
      /** A folder (Explorer) or the whole workspace: shows what a run would send and cost; offers to start it. */
      run: async (arg?: unknown) => {
        let targets: EstimateTarget[];
        if (isUri(arg)) {
          const folder = s.runs.folderOf(arg);
          // the workspace folder itself: listed as a run lists it (paths would make done documents explicit)
          const listed = folder && arg.fsPath === folder.root ? [{ folder }] : await targetsOf(s, [arg]);
          if (!listed?.length) {
            notify('info', 'No documents to estimate there (outside the workspace folders, or the job\'s globs select none).');
            return undefined;
          }
          targets = listed;
        } else {
          targets = runnableFolders(s).map((folder) => ({ folder }));
        }
        const shown = await showEstimate(targets, s.logger);
        if (!shown) return undefined;
        if (shown.start) {
          for (const { folder, paths } of targets) {
            if (paths) await folder.enqueue(paths, { trigger: 'palette' });
            else await startFolders([folder]);
          }
        }
        return shown.estimates.map((e) => e.estimate);
      },
    },
    {
      id: CommandIds.pause,
      run: () => {
        const paused = s.runs.folders().filter((f) => f.pause());
        if (!paused.length) notify('info', 'No run in progress.');
        return paused.length;
      },
    },
    {
      id: CommandIds.resume,
      startsRun: true,
      run: async () => {
        let resumed = 0;
        for (const f of s.runs.folders()) {
          if (f.resume()) resumed++;
          else if (!f.running && f.interruptedRun()) {
            if (await f.start('palette')) resumed++;
          }
        }
        if (!resumed) notify('info', 'Nothing to resume.');
        return resumed;
      },
    },
    {
      id: CommandIds.stop,
      run: async () => {
        // runs of this window, and runs another process holds (asked to stop; they answer within a second)
        const running = s.runs.folders().filter((f) => f.running || f.foreignRun());
        if (!running.length) {
          notify('info', 'No run in progress.');
          return 0;
        }
        await Promise.all(running.map((f) => f.stop()));
        return running.length;
      },
    },
  ];
}
