/**
 * The fixture of the PostgreSQL fleet tests (fleet, pgResults, fleetRouted): a throwaway cluster and a model
 * server started once for the `describe` block and stopped after it, and optionally a fresh temporary folder
 * per test (the model server reset before each) with a `folder(n)` of numbered text documents and a schema.
 *
 * Call it at the top of a `describe` callback: it registers the mocha hooks, and its fields are set once
 * they have run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startModelServer, type ModelServer, type ModelServerOptions } from './modelServer';
import { startPostgres, type PgCluster } from './postgres';

export interface PgFleetOptions {
  /** Options of the model server. */
  server: ModelServerOptions;
  /** A fresh temporary folder per test (`root`, named with this prefix, removed after the test), and the model server reset before each test. */
  tmpPrefix?: string;
  /** The schema `folder(n)` writes (default: a required number `amount`). */
  schema?: Record<string, unknown>;
  /** The folder under `docs` of document `i` (default: `docs` itself). */
  subFolder?: (i: number) => string;
  /** Digits of the document number in its file name, zero-padded (default 3: `d007.txt`). */
  digits?: number;
}

export interface PgFleet {
  readonly cluster: PgCluster;
  readonly server: ModelServer;
  /** This test's temporary folder (with `tmpPrefix`). */
  readonly root: string;
  /** Writes `n` documents (`Document i\nAmount i\n`) under `root/docs` and the schema to `root/schema.json`; `out` is `root/out`. */
  folder(n: number): { docs: string; schema: string; out: string };
}

const AMOUNT_SCHEMA = { type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] };

export function pgFleetFixture(options: PgFleetOptions): PgFleet {
  let cluster: PgCluster | undefined;
  let server: ModelServer | undefined;
  let root: string | undefined;
  before(async () => {
    cluster = await startPostgres();
    server = await startModelServer(options.server);
  });
  after(async () => {
    await server?.close();
    cluster?.destroy();
  });
  if (options.tmpPrefix !== undefined) {
    const prefix = options.tmpPrefix;
    beforeEach(() => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      server!.reset();
    });
    afterEach(() => fs.rmSync(root!, { recursive: true, force: true }));
  }
  const set = <T>(v: T | undefined, name: string): T => {
    if (v === undefined) throw new Error(`pgFleetFixture: ${name} is not set (used outside a test, or without tmpPrefix)`);
    return v;
  };
  return {
    get cluster() {
      return set(cluster, 'cluster');
    },
    get server() {
      return set(server, 'server');
    },
    get root() {
      return set(root, 'root');
    },
    folder(n: number) {
      const dir = set(root, 'root');
      const docs = path.join(dir, 'docs');
      fs.mkdirSync(docs, { recursive: true });
      for (let i = 0; i < n; i++) {
        const sub = path.join(docs, options.subFolder?.(i) ?? '');
        fs.mkdirSync(sub, { recursive: true });
        fs.writeFileSync(path.join(sub, `d${String(i).padStart(options.digits ?? 3, '0')}.txt`), `Document ${i}\nAmount ${i}\n`);
      }
      const schema = path.join(dir, 'schema.json');
      fs.writeFileSync(schema, JSON.stringify(options.schema ?? AMOUNT_SCHEMA));
      return { docs, schema, out: path.join(dir, 'out') };
    },
  };
}
