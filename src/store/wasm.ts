/**
 * Loading sql.js (SQLite compiled to WebAssembly) once per process. The `.wasm` file is looked for beside
 * the bundle first; a missing or unusable file rejects with {@link StoreWasmError}, never crashes the process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import initSqlJs from 'sql.js';
import type { SqlJsStatic } from 'sql.js';
import { StoreWasmError } from './errors';
import type { StoreLogger } from './options';

let sqlPromise: Promise<SqlJsStatic> | undefined;
/** sql.js caches its own init promise: after a failed instantiation it cannot be retried in this process. */
let sqlJsPoisoned: string | undefined;

/** Where `sql-wasm.wasm` is looked for, in order. */
export function sqlWasmCandidates(wasmPath?: string): string[] {
  const out: string[] = [];
  if (wasmPath) out.push(path.resolve(wasmPath));
  if (typeof __dirname === 'string') out.push(path.join(__dirname, 'sql-wasm.wasm'));
  try {
    out.push(require.resolve('sql.js/dist/sql-wasm.wasm'));
  } catch {
    // not resolvable from here (e.g. inside the packaged bundle)
  }
  return [...new Set(out)];
}

/** Reads and compiles the first usable candidate. Rejects with {@link StoreWasmError}, never crashes. */
export async function compileSqlWasm(candidates: readonly string[]): Promise<{ file: string; module: WebAssembly.Module; skipped: string[] }> {
  const skipped: string[] = [];
  for (const file of candidates) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(fs.readFileSync(file));
    } catch (e) {
      skipped.push(`${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    try {
      return { file, module: await WebAssembly.compile(bytes), skipped };
    } catch (e) {
      skipped.push(`${file} (not a valid WebAssembly module: ${(e as Error).message})`);
    }
  }
  throw new StoreWasmError(
    `Cannot load SQLite: sql-wasm.wasm was not found or is unusable. Tried:\n  ${skipped.join('\n  ') || '(no candidates)'}\n` +
      'The packaged extension must ship sql-wasm.wasm beside dist/extension.js and dist/cli.js.',
    skipped,
  );
}

/** Loads sql.js once per process (the promise is cached; a failure is not cached). */
export function loadSqlJs(options: { wasmPath?: string; logger?: StoreLogger } = {}): Promise<SqlJsStatic> {
  if (!sqlPromise) {
    const p = initSql(options);
    sqlPromise = p;
    p.catch(() => {
      if (sqlPromise === p) sqlPromise = undefined;
    });
  }
  return sqlPromise;
}

async function initSql(options: { wasmPath?: string; logger?: StoreLogger }): Promise<SqlJsStatic> {
  if (sqlJsPoisoned) throw new StoreWasmError(`sql.js failed to initialise earlier in this process (${sqlJsPoisoned}); restart it`, []);
  const { file, module, skipped } = await compileSqlWasm(sqlWasmCandidates(options.wasmPath));
  if (options.wasmPath && skipped.length > 0 && skipped[0].startsWith(path.resolve(options.wasmPath))) {
    options.logger?.warn(`sql.js: wasmPath ${skipped[0]} unusable; using ${file}`);
  }
  return new Promise<SqlJsStatic>((resolve, reject) => {
    const fail = (e: unknown) => {
      sqlJsPoisoned = (e as Error)?.message ?? String(e);
      reject(new StoreWasmError(`Cannot initialise SQLite from ${file}: ${sqlJsPoisoned}`, [file]));
    };
    const config = {
      // Instantiate ourselves: sql.js never touches the file system and a failure rejects instead of aborting.
      instantiateWasm(imports: WebAssembly.Imports, success: (instance: WebAssembly.Instance, module?: WebAssembly.Module) => void) {
        WebAssembly.instantiate(module, imports).then((instance) => success(instance, module), fail);
        return {};
      },
    };
    (initSqlJs as unknown as (c: object) => Promise<SqlJsStatic>)(config).then(resolve, fail);
  });
}
