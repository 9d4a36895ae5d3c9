import * as path from 'node:path';

/**
 * True when `node dist-bench/bench/<entry>.js` is the command being run. (`require.main === module` does
 * not work here: esbuild inlines every benchmark into dist-bench/bench/index.js, where that test is
 * true for all of them, so `BENCH_ONLY` would run every benchmark anyway.)
 */
export function isMain(entry: string): boolean {
  return require.main !== undefined && path.basename(require.main.filename, '.js') === entry;
}
