/**
 * Watch mode's decision, shared by the window (src/vscode/watch.ts) and the CLI (`extraction-workbench
 * watch`, src/cli/watch.ts): which changed paths are documents to queue. A changed file is one when a run's
 * listing of the folder would pick it up (lister's `isListed`: the job's globs, `.gitignore` files including
 * nested ones, the output and state folders), so watch mode and a run never disagree about what is a
 * document; a changed folder (one copied in often arrives as a single event) is listed the same way. The job's
 * config and schema files are never documents.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { inAlwaysSkippedFolder, isListed, listFiles } from '../core/lister';
import { CONFIG_FILE } from './config';
import { listOptionsOf, type RunSettings } from './session';

/** The documents among `candidates` (root-relative `/` paths of changed files and folders), sorted; gone ones left out. */
export async function changedDocuments(settings: RunSettings, candidates: Iterable<string>): Promise<string[]> {
  const root = settings.root;
  const schema = path.resolve(settings.schemaPath);
  const isJobFile = (p: string) => p === CONFIG_FILE || path.resolve(root, p) === schema;
  const options = listOptionsOf(settings);
  const out = new Set<string>();
  for (const p of candidates) {
    if (!p || inAlwaysSkippedFolder(p)) continue;
    let st: import('node:fs').Stats;
    try {
      st = await fsp.stat(path.join(root, p));
    } catch {
      continue; // gone again
    }
    if (st.isDirectory()) {
      for await (const f of listFiles(root, { ...options, within: p })) if (!isJobFile(f.path)) out.add(f.path);
    } else if (st.isFile() && !isJobFile(p) && (await isListed(root, p, options))) {
      out.add(p);
    }
  }
  return [...out].sort();
}
