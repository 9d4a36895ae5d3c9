/** Document paths as the CLI takes them (`retry`, `dlq retry`, `dlq remove`). */
import * as fs from 'node:fs';
import * as path from 'node:path';
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
