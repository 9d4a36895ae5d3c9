/**
 * A fleet on PostgreSQL: 1, 2 and 4 workers share one folder's state in a throwaway cluster
 * (test/support/postgres.ts), model latency 100 ms, concurrency 4 each. Each worker is a pipeline with its
 * own store, claims and connections, in this process (the work of a worker between model answers is a
 * millisecond or two, so one process stands for N machines here; the CLI fleet test runs real processes).
 * Printed: documents per second, the speed-up over one worker (target ≥ 0.9 × N while N ≤ cores), and
 * the cost of coordination per document: claim queries and change-log batches, and the time of
 * claim + checkpoints + finish measured alone.
 *   BENCH_ONLY=fleet npm run bench
 *   BENCH_FLEET_DOCS=120   documents per worker
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTextConverter } from '../src/convert/text';
import { Pipeline } from '../src/core/pipeline';
import { claimVersion } from '../src/core/workClaims';
import { OpenAIExtractor } from '../src/extract/openaiExtractor';
import { PgWorkClaims } from '../src/store/pg/claims';
import { PgCheckpointStore } from '../src/store/pg/pgStore';
import { startModelServer } from '../test/support/modelServer';
import { startPostgres } from '../test/support/postgres';
import { isEntryScript } from './entry';

export interface FleetBenchRow {
  workers: number;
  docs: number;
  seconds: number;
  docsPerSecond: number;
  speedUp: number;
  target: number;
  claimQueriesPerDoc: number;
  logBatchesPerDoc: number;
  doneOnce: boolean;
}

export interface FleetBenchResult {
  rows: FleetBenchRow[];
  cores: number;
  latencyMs: number;
  concurrency: number;
  /** claim + 5 document checkpoints + flush + finish, one document after another on an idle database, ms. */
  coordinationMsPerDoc: number;
  /** Opening a state of `docs` documents: the whole change log replayed, the open that compacts it, an open from the snapshot. */
  open: { docs: number; changes: number; replayMs: number; compactingOpenMs: number; snapshotOpenMs: number; snapshotReplayed: number };
}

const quiet = { warn: () => undefined, info: () => undefined, error: () => undefined };

export async function runFleetBench(perWorker = 120, sizes = [1, 2, 4], latencyMs = 100, concurrency = 4, openDocs = 20_000): Promise<FleetBenchResult> {
  const cluster = await startPostgres();
  const server = await startModelServer({ latencyMs, recordBodies: false });
  const rows: FleetBenchRow[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-bench-fleet-'));
  try {
    let base = 0;
    for (const n of sizes) {
      const docs = perWorker * n;
      const root = path.join(dir, `docs${n}`);
      fs.mkdirSync(root);
      for (let i = 0; i < docs; i++) fs.writeFileSync(path.join(root, `doc${String(i).padStart(6, '0')}.txt`), `Invoice ${i}\nTotal ${i}.00\n`);
      const url = cluster.database(`fleet_bench_${n}`);
      server.reset();
      const text = createTextConverter();
      const workers = await Promise.all(
        Array.from({ length: n }, async () => {
          const store = await PgCheckpointStore.open({ url, logger: quiet });
          const claims = new PgWorkClaims(store.pool, store.workerId, { leaseSeconds: 60 });
          const pipeline = new Pipeline({
            root,
            outDir: path.join(dir, `out${n}`),
            store,
            claims,
            converters: { get: (ext) => (ext === '.txt' ? text : undefined) },
            extractor: new OpenAIExtractor({ baseURL: server.url, apiKey: 'bench', model: 'bench-model', timeoutMs: 30_000, rateLimit: { maxConcurrency: concurrency } }),
            schema: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] },
            concurrency,
            fleetPollMs: 100,
          });
          return { store, claims, pipeline };
        }),
      );
      const t0 = Date.now();
      await Promise.all(workers.map((w) => w.pipeline.start({ trigger: 'test' }).done));
      const seconds = (Date.now() - t0) / 1000;
      const queries = workers.reduce((s, w) => s + w.claims.stats.queries, 0);
      const batches = workers.reduce((s, w) => s + w.store.writerStats.batches, 0);
      for (const w of workers) {
        await w.claims.releaseAll();
        await w.claims.dispose();
        await w.store.closeAndWait();
      }
      const doneOnce = server.stats.perDocument.size === docs && [...server.stats.perDocument.values()].every((k) => k === 1);
      const docsPerSecond = docs / seconds;
      if (n === 1) base = docsPerSecond;
      rows.push({ workers: n, docs, seconds, docsPerSecond, speedUp: docsPerSecond / base, target: 0.9 * n, claimQueriesPerDoc: queries / docs, logBatchesPerDoc: batches / docs, doneOnce });
    }

    // coordination alone: what a document costs in round trips to the database, without the model
    const url = cluster.database('fleet_bench_cost');
    const store = await PgCheckpointStore.open({ url, logger: quiet });
    const claims = new PgWorkClaims(store.pool, store.workerId);
    const count = 300;
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const p = `c${i}.txt`;
      await claims.claim(p, claimVersion(10, 1, 'fp'));
      store.putDocument({ path: p, size: 10, mtimeMs: 1, readiness: 'ready', stage: 'pending', attempts: 0, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 1 });
      for (const stage of ['reading', 'converting', 'extracting', 'exporting'] as const) store.patchDocument(p, { stage, updatedAt: 2 });
      await claims.fence(p);
      store.patchDocument(p, { stage: 'done', updatedAt: 3 });
      await store.flush();
      await claims.finish(p, 'done');
    }
    const coordinationMsPerDoc = (performance.now() - t0) / count;
    await claims.dispose();
    await store.closeAndWait();
    const open = await openTimes(cluster.database('fleet_bench_open'), openDocs);
    return { rows, cores: os.availableParallelism?.() ?? os.cpus().length, latencyMs, concurrency, coordinationMsPerDoc, open };
  } finally {
    await server.close();
    cluster.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Open time of a state of `docs` documents (3 changes each) before and after compaction of its change log. */
async function openTimes(url: string, docs: number): Promise<FleetBenchResult['open']> {
  const writer = await PgCheckpointStore.open({ url, logger: quiet, compactAfter: Number.MAX_SAFE_INTEGER });
  for (let i = 0; i < docs; i++) {
    const p = `o${String(i).padStart(6, '0')}.txt`;
    writer.putDocument({ path: p, size: 10, mtimeMs: 1, readiness: 'ready', stage: 'pending', attempts: 0, tokensIn: 0, tokensOut: 0, cost: 0, updatedAt: 1 });
    writer.patchDocument(p, { stage: 'extracting', updatedAt: 2 });
    writer.patchDocument(p, { stage: 'done', updatedAt: 3 });
    if (i % 1000 === 999) await writer.flush();
  }
  await writer.closeAndWait();
  const timed = async (compactAfter: number) => {
    const t0 = performance.now();
    const s = await PgCheckpointStore.open({ url, logger: quiet, compactAfter, compactSettleSeconds: 0 });
    const ms = performance.now() - t0;
    const report = s.openReport;
    if (s.countDocuments() !== docs) throw new Error(`the state has ${s.countDocuments()} documents, not ${docs}`);
    await s.closeAndWait();
    return { ms, report };
  };
  const replay = await timed(Number.MAX_SAFE_INTEGER);
  const compacting = await timed(1);
  if (!compacting.report.compacted) throw new Error('the open did not compact');
  const fromSnapshot = await timed(Number.MAX_SAFE_INTEGER);
  return { docs, changes: replay.report.replayed, replayMs: replay.ms, compactingOpenMs: compacting.ms, snapshotOpenMs: fromSnapshot.ms, snapshotReplayed: fromSnapshot.report.replayed };
}

export function printFleetBench(r: FleetBenchResult): void {
  console.log(
    `  model latency ${r.latencyMs} ms, concurrency ${r.concurrency} per worker, ${r.cores} core(s), load average ${os.loadavg()[0].toFixed(1)}; ` +
      'workers in one process (one JS thread: its CPU bounds the fleet here as the cores bound a fleet of processes), one database',
  );
  for (const row of r.rows) {
    const judged = row.workers === 1 ? '' : ` (target ≥ ${row.target.toFixed(1)}×: ${row.speedUp >= row.target ? 'PASS' : 'FAIL'})`;
    console.log(
      `  ${row.workers} worker(s): ${row.docs} docs in ${row.seconds.toFixed(1)} s = ${row.docsPerSecond.toFixed(1)} docs/s, speed-up ${row.speedUp.toFixed(2)}×${judged}; ` +
        `${row.claimQueriesPerDoc.toFixed(1)} claim queries and ${row.logBatchesPerDoc.toFixed(2)} change-log batches per doc; each asked once: ${row.doneOnce ? 'yes' : 'NO'}`,
    );
  }
  console.log(`  claim + 6 checkpoints + flush + fence + finish, alone: ${r.coordinationMsPerDoc.toFixed(2)} ms per document (sequential round trips)`);
  const o = r.open;
  console.log(
    `  open of a ${o.docs}-document state: ${o.changes} changes replayed in ${o.replayMs.toFixed(0)} ms; the open that compacts them ${o.compactingOpenMs.toFixed(0)} ms; ` +
      `then from the snapshot ${o.snapshotOpenMs.toFixed(0)} ms (${o.snapshotReplayed} changes replayed)`,
  );
}

if (isEntryScript('fleet')) {
  void runFleetBench(Number(process.env.BENCH_FLEET_DOCS) || 120).then(printFleetBench);
}
