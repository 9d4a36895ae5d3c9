/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temp folder, `pg_ctl start` on a free port
 * (TCP on 127.0.0.1 and a socket in the folder), a URL to connect with, and removal afterwards.
 *
 * The server binaries come from `pg_config --bindir`, else /usr/lib/postgresql/<newest>/bin (Debian keeps
 * them off PATH). initdb refuses to run as root: as root the cluster runs as the `postgres` user, and its
 * folder belongs to that user. No binaries: the start throws (a test that needs PostgreSQL fails, it is
 * never skipped silently).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface PgCluster {
  /** postgres://USER@127.0.0.1:PORT/DB (trust authentication: no password). */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** A URL to another database of the cluster, created on first use. */
  database(name: string): string;
  /** Stops the server at once (as a crash would); `start()` brings it back on the same port. */
  stop(): void;
  start(): void;
  /** Stops the server and removes its folder. */
  destroy(): void;
}

const USER = 'ew';

/** Folder of initdb and pg_ctl. */
export function postgresBinDir(): string {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // no pg_config on PATH
  }
  const base = '/usr/lib/postgresql';
  if (fs.existsSync(base)) {
    for (const v of fs.readdirSync(base).sort((a, b) => Number(b) - Number(a))) candidates.push(path.join(base, v, 'bin'));
  }
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')));
  if (!found) {
    throw new Error(
      `PostgreSQL server binaries (initdb, pg_ctl) not found (looked in: ${candidates.join(', ') || 'pg_config --bindir'}): install the Debian package "postgresql"`,
    );
  }
  return found;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function asRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Runs a server binary, as `postgres` when we are root; throws with its output on failure. */
function run(bin: string, args: string[]): void {
  const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: os.tmpdir() });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout || r.error?.message}`);
}

export async function startPostgres(): Promise<PgCluster> {
  const bin = postgresBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-pg-'));
  if (asRoot()) execFileSync('chown', ['postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  run(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', USER, '--no-sync', '-E', 'UTF8']);
  const start = () =>
    run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'server.log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, '-w', 'start']);
  const stop = () => run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
  start();
  const created = new Set<string>();
  const cluster: PgCluster = {
    url: `postgres://${USER}@127.0.0.1:${port}/postgres`,
    port,
    dir,
    database(name: string) {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      if (!created.has(name)) {
        const psql = path.join(bin, 'psql');
        const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', psql]] : [psql, []];
        const r = spawnSync(cmd, [...argv, '-h', '127.0.0.1', '-p', String(port), '-U', USER, '-d', 'postgres', '-c', `CREATE DATABASE ${name}`], { encoding: 'utf8', cwd: os.tmpdir() });
        if (r.status !== 0) throw new Error(`CREATE DATABASE ${name} failed: ${r.stderr}`);
        created.add(name);
      }
      return `postgres://${USER}@127.0.0.1:${port}/${name}`;
    },
    stop,
    start,
    destroy() {
      try {
        stop();
      } catch {
        // already stopped
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
