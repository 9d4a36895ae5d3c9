/** Document paths as the CLI takes them (`retry`, `dlq retry`, `dlq remove`). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadSavedSettings } from '../app/session';
import { isWithin, resolveInside } from '../core/paths';

/**
 * Document paths given on the command line, root-relative with `/`: a path to an existing file inside the
 * root is made relative to it, anything else is taken as a document path; PATH_OUTSIDE_ROOT when one leads
 * out of the root.
 */
export function normalisePaths(paths: string[], root: string): string[] {
  return paths.map((p) => {
    const abs = path.resolve(p);
    const rel = (fs.existsSync(abs) && abs !== root && isWithin(root, abs) ? path.relative(root, abs) : p).split(path.sep).join('/');
    resolveInside(root, rel);
    return rel;
  });
}

/**
 * The folder of the last run saved in the state folder `stateDir`, or undefined: none saved, or a state folder
 * kept apart from its folder (run with --state elsewhere), whose paths are then taken as given.
 */
export function savedRootOf(stateDir: string): string | undefined {
  try {
    return loadSavedSettings(stateDir)?.root;
  } catch {
    return undefined;
  }
}
