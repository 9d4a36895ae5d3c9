import * as path from 'path';

/**
 * True when node was started with `dist-bench/bench/<name>.js` itself. Each benchmark file runs itself
 * when started directly; `require.main === module` cannot tell, because index.js bundles every
 * benchmark and in a bundle that holds for all of them — `npm run bench` then ran each benchmark a
 * second time, at the same time as the one index.js runs (and convert's `process.exit` ended the run).
 */
export function isEntryScript(name: string): boolean {
  return path.basename(process.argv[1] ?? '') === `${name}.js`;
}
