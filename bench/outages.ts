/**
 * A long run through a provider with outages: N documents (default 10,000) through the local test model
 * server, which every few minutes fails every request for 20–60 s (503s and dropped connections, seeded
 * random schedule). The run must finish every document exactly once (one answered request each), with
 * nothing dead-lettered, and the requests sent during outages must be a handful (probes), not the queue.
 * Figures: wall time, outage time, the time the run lost beyond the outages, requests during outages.
 *
 * It takes minutes (that is the point), so it is not in the default `npm run bench`:
 *   BENCH_ONLY=outages npm run bench
 *   BENCH_OUTAGE_DOCS=2000 BENCH_OUTAGE_SCALE=0.25 …   fewer documents, shorter healthy periods and outages
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTextConverter } from '../src/convert/text';
import { Pipeline } from '../src/core/pipeline';
import { OpenAIExtractor } from '../src/extract/openaiExtractor';
import { SqlJsCheckpointStore } from '../src/store/sqlStore';
import { startModelServer, type Step } from '../test/support/modelServer';
import { seededRandom } from '../test/support/random';
import { isEntryScript } from './entry';

export interface OutageBenchResult {
  docs: number;
  concurrency: number;
  latencyMs: number;
  seconds: number;
  /** Time the provider was down, and the outages. */
  outageSeconds: number;
  outages: Array<{ startS: number; lengthS: number }>;
  /** Wall time the documents alone would take at this concurrency and latency. */
  idealSeconds: number;
  /** Wall time beyond ideal + outages (probe intervals, ramp-up, retries). */
  lostSeconds: number;
  done: number;
  deadLettered: number;
  /** Documents whose answered requests were not exactly one. */
  notOnce: number;
  requestsDuringOutages: number;
  probesDuringOutages: number;
  recoveries: number;
  pass: boolean;
}

export async function runOutageBench(docs = 10_000, options: { concurrency?: number; latencyMs?: number; scale?: number } = {}): Promise<OutageBenchResult> {
  const concurrency = options.concurrency ?? 4;
  const latencyMs = options.latencyMs ?? 100;
  const scale = options.scale ?? 1;
  const random = seededRandom(17); // the same schedule on every run
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-bench-outage-'));
  const root = path.join(dir, 'docs');
  fs.mkdirSync(root);
  for (let i = 0; i < docs; i++) fs.writeFileSync(path.join(root, `doc${String(i).padStart(6, '0')}.txt`), `Invoice ${i}\nTotal ${i}.00\n`);

  // the schedule: healthy for 1–3 minutes, then down for 20–60 s, and so on (times scaled)
  const t0 = Date.now();
  const windows: Array<{ start: number; end: number }> = [];
  for (let t = t0 + (60 + random() * 120) * 1000 * scale; t < t0 + 24 * 3600_000; ) {
    const length = (20 + random() * 40) * 1000 * scale;
    windows.push({ start: t, end: t + length });
    t += length + (60 + random() * 120) * 1000 * scale;
  }
  const downAt = (now: number) => windows.some((w) => now >= w.start && now < w.end);
  let requestsDuringOutages = 0;
  let probesDuringOutages = 0;
  const answered = new Map<string, number>();
  const server = await startModelServer({
    latencyMs,
    recordBodies: false,
    responder: (req): Step => {
      if (downAt(Date.now())) {
        requestsDuringOutages++;
        if (!req.document) probesDuringOutages++;
        return random() < 0.8 ? { status: 503 } : { reset: true };
      }
      if (req.document) answered.set(req.document, (answered.get(req.document) ?? 0) + 1);
      return { reply: { total: 1 } };
    },
  });
  const store = await SqlJsCheckpointStore.open({ dir: path.join(dir, 'state'), wasmPath: require.resolve('sql.js/dist/sql-wasm.wasm') });
  const text = createTextConverter();
  const pipeline = new Pipeline({
    root,
    outDir: path.join(dir, 'out'),
    store,
    converters: { get: (ext) => (ext === '.txt' ? text : undefined) },
    extractor: new OpenAIExtractor({ baseURL: server.url, apiKey: 'bench', model: 'bench-model', timeoutMs: 30_000, rateLimit: { maxConcurrency: concurrency, slowStart: true } }),
    schema: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] },
    concurrency,
  });
  let recoveries = 0;
  pipeline.events.on((e) => {
    if (e.type === 'run/provider-recovered') recoveries++;
    if (process.env.BENCH_DEBUG && (e.type === 'run/provider-waiting' || e.type === 'run/provider-recovered')) console.log(`  ${((Date.now() - t0) / 1000).toFixed(0)} s ${e.type}`);
  });
  const started = Date.now();
  const summary = await pipeline.start({ trigger: 'test' }).done;
  const ended = Date.now();
  store.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const outages = windows.filter((w) => w.start < ended).map((w) => ({ startS: (w.start - started) / 1000, lengthS: (Math.min(w.end, ended) - w.start) / 1000 }));
  const outageSeconds = outages.reduce((n, o) => n + o.lengthS, 0);
  const seconds = (ended - started) / 1000;
  const idealSeconds = (docs * latencyMs) / 1000 / concurrency;
  let notOnce = 0;
  for (let i = 0; i < docs; i++) if (answered.get(`doc${String(i).padStart(6, '0')}.txt`) !== 1) notOnce++;
  return {
    docs,
    concurrency,
    latencyMs,
    seconds,
    outageSeconds,
    outages,
    idealSeconds,
    lostSeconds: seconds - idealSeconds - outageSeconds,
    done: summary.counts.done,
    deadLettered: summary.counts.deadLettered,
    notOnce,
    requestsDuringOutages,
    probesDuringOutages,
    recoveries,
    pass: summary.counts.done === docs && summary.counts.deadLettered === 0 && notOnce === 0,
  };
}

export function printOutageBench(r: OutageBenchResult): void {
  const f = (n: number) => n.toFixed(1);
  console.log(`${r.docs} documents, concurrency ${r.concurrency}, model latency ${r.latencyMs} ms, ${r.outages.length} outages (${f(r.outageSeconds)} s down in all)`);
  for (const o of r.outages) console.log(`  outage at ${f(o.startS)} s for ${f(o.lengthS)} s`);
  console.log(`wall ${f(r.seconds)} s = ideal ${f(r.idealSeconds)} s + outages ${f(r.outageSeconds)} s + lost ${f(r.lostSeconds)} s (probe intervals, ramp-up, retries)`);
  console.log(`done ${r.done}/${r.docs}, dead-lettered ${r.deadLettered}, documents not answered exactly once: ${r.notOnce}, recoveries ${r.recoveries}`);
  console.log(`requests during outages: ${r.requestsDuringOutages} (${r.probesDuringOutages} probes, ${r.requestsDuringOutages - r.probesDuringOutages} of documents)`);
  console.log(`${r.pass ? 'PASS' : 'FAIL'} every document done once, nothing dead-lettered`);
}

if (isEntryScript('outages')) {
  runOutageBench(Number(process.argv[2]) || Number(process.env.BENCH_OUTAGE_DOCS) || 10_000, { scale: Number(process.env.BENCH_OUTAGE_SCALE) || 1 })
    .then(printOutageBench)
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
