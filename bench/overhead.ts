/**
 * Per-document overhead (issue #15): the CLI against a bare openai-client loop (bench/bareClient.ts) on the
 * same folder of small text documents and the same local model server (no latency), in the same run.
 * Both are child processes started the same way; each reports its CPU time and peak RSS at exit
 * (a `--require`d hook), the wall time is measured here. Targets: throughput ≥ 0.8× the bare loop at
 * concurrency 16 and 64; peak RSS ≤ 2× the bare loop; CLI `--help` and `status` within 5× `node -e 0`.
 *
 *   BENCH_ONLY=overhead npm run bench          BENCH_OVERHEAD_DOCS=2000 (default)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startModelServer, type ModelServer } from '../test/support/modelServer';

const REPO = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const BARE = path.join(__dirname, 'bareClient.js');
const SCHEMA = { type: 'object', properties: { invoice_number: { type: 'string' }, total: { type: 'number' } }, required: ['invoice_number', 'total'], additionalProperties: false };

/** Preloaded into each measured process: writes its CPU time and peak RSS to $BENCH_RUSAGE_FILE at exit. */
const RUSAGE_HOOK = `process.on('exit', () => { const u = process.resourceUsage(); require('fs').writeFileSync(process.env.BENCH_RUSAGE_FILE, JSON.stringify({ cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, maxRssMb: u.maxRSS / 1024 })); });`;

interface Measured {
  wallMs: number;
  cpuMs: number;
  maxRssMb: number;
}

async function measure(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Measured> {
  const hook = path.join(dir, 'rusage-hook.js');
  if (!fs.existsSync(hook)) fs.writeFileSync(hook, RUSAGE_HOOK);
  const file = path.join(dir, `rusage-${process.hrtime.bigint()}.json`);
  const t0 = performance.now();
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['--require', hook, ...args], { env: { ...process.env, ...env, BENCH_RUSAGE_FILE: file }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
    child.on('close', (c) => {
      if (c !== 0) console.error(`  ${path.basename(args[0])} exited ${c}: ${err.trim()}`);
      resolve(c);
    });
  });
  const wallMs = performance.now() - t0;
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}`);
  const u = JSON.parse(fs.readFileSync(file, 'utf8')) as { cpuMs: number; maxRssMb: number };
  return { wallMs, ...u };
}

function makeFolder(dir: string, docs: number): string {
  const root = path.join(dir, `docs-${docs}`);
  fs.mkdirSync(root, { recursive: true });
  for (let i = 0; i < docs; i++) fs.writeFileSync(path.join(root, `inv${String(i).padStart(6, '0')}.txt`), `Invoice INV-${i}\nDate 2024-03-05\nTotal: ${i}.50 EUR\n`);
  return root;
}

export interface OverheadRow {
  concurrency: number;
  docs: number;
  bare: Measured;
  cli: Measured;
  throughputRatio: number;
  rssRatio: number;
}

export interface OverheadResult {
  rows: OverheadRow[];
  nodeStartMs: number;
  helpMs: number;
  statusMs: number;
}

async function runPair(dir: string, server: ModelServer, docs: number, concurrency: number, schemaFile: string): Promise<OverheadRow> {
  const root = makeFolder(dir, docs);
  const tag = `${docs}-${concurrency}`;
  const bare = await measure(dir, [BARE, root, path.join(dir, `bare-out-${tag}`), server.url, String(concurrency), schemaFile]);
  const cli = await measure(dir, [CLI, 'run', root, '--schema', schemaFile, '--base-url', server.url, '--model', 'bench-model', '--concurrency', String(concurrency), '--include', '**/*.txt', '--out', path.join(dir, `cli-out-${tag}`), '--state', path.join(dir, `cli-state-${tag}`)], { OPENAI_API_KEY: '' });
  fs.rmSync(root, { recursive: true, force: true });
  return { concurrency, docs, bare, cli, throughputRatio: bare.wallMs / cli.wallMs, rssRatio: cli.maxRssMb / bare.maxRssMb };
}

async function median(n: number, f: () => Promise<Measured>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push((await f()).wallMs);
  xs.sort((a, b) => a - b);
  return xs[Math.floor(n / 2)];
}

export async function runOverheadBench(docs = Number(process.env.BENCH_OVERHEAD_DOCS) || 2000): Promise<OverheadResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-bench-overhead-'));
  const schemaFile = path.join(dir, 'schema.json');
  fs.writeFileSync(schemaFile, JSON.stringify(SCHEMA));
  const server = await startModelServer({ latencyMs: 0, recordBodies: false });
  try {
    const rows: OverheadRow[] = [];
    for (const c of [16, 64]) rows.push(await runPair(dir, server, docs, c, schemaFile));
    const nodeStartMs = await median(5, () => measure(dir, ['-e', '0']));
    const helpMs = await median(5, () => measure(dir, [CLI, '--help']));
    const statusMs = await median(5, () => measure(dir, [CLI, 'status', '--state', path.join(dir, `cli-state-${docs}-16`)]));
    return { rows, nodeStartMs, helpMs, statusMs };
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

export function printOverheadBench(r: OverheadResult): void {
  for (const row of r.rows) {
    const perDoc = (m: Measured): string => `${(m.cpuMs / row.docs).toFixed(2)} ms CPU/doc`;
    console.log(`${row.docs} text docs, no model latency, concurrency ${row.concurrency}:`);
    console.log(`  bare openai loop ${(row.bare.wallMs / 1000).toFixed(2)} s, ${perDoc(row.bare)}, peak RSS ${row.bare.maxRssMb.toFixed(0)} MB`);
    console.log(`  extraction CLI   ${(row.cli.wallMs / 1000).toFixed(2)} s, ${perDoc(row.cli)}, peak RSS ${row.cli.maxRssMb.toFixed(0)} MB`);
    console.log(`  throughput ${row.throughputRatio.toFixed(2)}× the bare loop (target ≥ 0.8×) ${verdict(row.throughputRatio >= 0.8)} · peak RSS ${row.rssRatio.toFixed(2)}× (target ≤ 2×) ${verdict(row.rssRatio <= 2)}`);
  }
  const help = r.helpMs / r.nodeStartMs;
  const status = r.statusMs / r.nodeStartMs;
  console.log(`start-up: node -e 0 ${r.nodeStartMs.toFixed(0)} ms · --help ${r.helpMs.toFixed(0)} ms = ${help.toFixed(1)}× (target ≤ 5×) ${verdict(help <= 5)} · status ${r.statusMs.toFixed(0)} ms = ${status.toFixed(1)}× (target ≤ 5×) ${verdict(status <= 5)}`);
}
