/**
 * The local test model server in a process of its own, as a real model server is. A server in the benchmark's
 * own process shares the pipeline's event loop: its timers (the latency) fire late when the pipeline is
 * busy, and its request parsing and answer building are counted as the pipeline's. Here its stats
 * (requests, the most in flight) come back when it is closed.
 *
 *   const server = await startServerProcess({ latencyMs: 100 });  …  const stats = await server.close();
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { startModelServer } from '../test/support/modelServer';
import { isEntryScript } from './entry';

export interface ServerProcessStats {
  total: number;
  maxConcurrency: number;
}

export interface ServerProcess {
  url: string;
  /** Stops the server process; resolves with what it counted. */
  close(): Promise<ServerProcessStats>;
}

/** Starts `dist-bench/bench/serverProcess.js` (beside the bundle that calls this) and waits for the URL it prints. */
export function startServerProcess(options: { latencyMs: number }): Promise<ServerProcess> {
  const child = spawn(process.execPath, [path.join(__dirname, 'serverProcess.js'), String(options.latencyMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the model server process exited (${code}) before it answered`));
      child.once('exit', onExit);
      lines.once('line', (line) => {
        child.off('exit', onExit);
        resolve(line);
      });
    });
  return next().then((url) => ({
    url,
    close: async () => {
      const stats = next();
      child.stdin.end(); // the server prints its stats and exits when its stdin ends
      return JSON.parse(await stats) as ServerProcessStats;
    },
  }));
}

if (isEntryScript('serverProcess')) {
  void startModelServer({ latencyMs: Number(process.argv[2]) || 0, recordBodies: false }).then((server) => {
    process.stdout.write(`${server.url}\n`);
    process.stdin.resume().on('end', () => {
      const stats: ServerProcessStats = { total: server.stats.total, maxConcurrency: server.stats.maxConcurrency };
      process.stdout.write(`${JSON.stringify(stats)}\n`);
      void server.close().then(() => process.exit(0));
    });
  });
}
