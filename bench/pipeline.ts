/**
 * Pipeline efficiency: N small text documents through the local test model server (its own process) with fixed latency at a
 * given concurrency; throughput compared with the ideal (concurrency ÷ latency). Target ≥ 95 % (issue #15).
 * Run: `npm run bench` (all benchmarks) or `node dist-bench/bench/pipeline.js [docs] [latencyMs] [concurrency]`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createTextConverter } from '../src/convert/text';
import { Pipeline } from '../src/core/pipeline';
import { OpenAIExtractor } from '../src/extract/openaiExtractor';
import { SqlJsCheckpointStore } from '../src/store/sqlStore';
import { isEntryScript } from './entry';
import { startServerProcess } from './serverProcess';

export interface PipelineBenchResult {
  docs: number;
  latencyMs: number;
  concurrency: number;
  seconds: number;
  docsPerSecond: number;
  idealDocsPerSecond: number;
  efficiency: number;
  peakRssMb: number;
  pass: boolean;
}

export async function runPipelineBench(docs = 10_000, latencyMs = 100, concurrency = 16): Promise<PipelineBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-bench-pipe-'));
  const root = path.join(dir, 'docs');
  fs.mkdirSync(root);
  for (let i = 0; i < docs; i++) fs.writeFileSync(path.join(root, `doc${String(i).padStart(6, '0')}.txt`), `Invoice ${i}\nTotal ${i}.00\n`);
  // the model server runs in a process of its own, as a real one does (see serverProcess.ts)
  const server = await startServerProcess({ latencyMs });
  const store = await SqlJsCheckpointStore.open({ dir: path.join(dir, 'state'), wasmPath: require.resolve('sql.js/dist/sql-wasm.wasm') });
  const text = createTextConverter();
  const schema = { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] };
  const pipeline = new Pipeline({
    root,
    outDir: path.join(dir, 'out'),
    store,
    converters: { get: (ext) => (ext === '.txt' ? text : undefined) },
    extractor: new OpenAIExtractor({ baseURL: server.url, apiKey: 'bench', model: 'bench-model', timeoutMs: 30_000 }),
    schema,
    concurrency,
  });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const t0 = performance.now();
  const summary = await pipeline.start({ trigger: 'test' }).done;
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  lag.disable();
  if (process.env.BENCH_DEBUG) console.log(`event-loop delay mean ${(lag.mean / 1e6).toFixed(2)} ms, p50 ${(lag.percentile(50) / 1e6).toFixed(2)}, p99 ${(lag.percentile(99) / 1e6).toFixed(2)}, max ${(lag.max / 1e6).toFixed(1)}`);
  store.close();
  const served = await server.close();
  if (process.env.BENCH_DEBUG) console.log('server maxConcurrency', served.maxConcurrency, 'requests', served.total);
  fs.rmSync(dir, { recursive: true, force: true });
  if (summary.counts.done !== docs) throw new Error(`bench run incomplete: ${JSON.stringify(summary.counts)}`);
  const docsPerSecond = docs / seconds;
  const idealDocsPerSecond = concurrency / (latencyMs / 1000);
  const efficiency = docsPerSecond / idealDocsPerSecond;
  return { docs, latencyMs, concurrency, seconds, docsPerSecond, idealDocsPerSecond, efficiency, peakRssMb: peakRss / 1048576, pass: efficiency >= 0.95 };
}

export function printPipelineBench(r: PipelineBenchResult): void {
  console.log(`pipeline: ${r.docs} docs, latency ${r.latencyMs} ms, concurrency ${r.concurrency}`);
  console.log(`  ${r.seconds.toFixed(1)} s, ${r.docsPerSecond.toFixed(1)} docs/s vs ideal ${r.idealDocsPerSecond.toFixed(1)} docs/s`);
  console.log(`  efficiency ${(r.efficiency * 100).toFixed(1)} % (target ≥ 95 %, issue #15) ${r.pass ? 'PASS' : 'FAIL'} · peak RSS ${r.peakRssMb.toFixed(0)} MB`);
}

if (isEntryScript('pipeline')) {
  const [docs, latency, conc] = process.argv.slice(2).map(Number);
  runPipelineBench(docs || undefined, latency || undefined, conc || undefined).then(printPipelineBench, (e) => {
    console.error(e);
    process.exit(1);
  });
}
