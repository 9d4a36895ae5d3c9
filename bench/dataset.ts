/**
 * Dataset export at scale: N result files (each with 3 line items) exported as CSV, XLSX and JSONL; time
 * and peak RSS growth over the start of each export. Target: the growth stays bounded (rows stream; only
 * the list of paths and the columns are kept), under 300 MB at 100k documents.
 * Run: `BENCH_ONLY=dataset npm run bench` (BENCH_DATASET_DOCS=100000) or `node dist-bench/bench/dataset.js [docs]`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportDataset, type DatasetFormat } from '../src/export/dataset';
import { writeResult } from '../src/export/jsonExporter';
import { isEntryScript } from './entry';

export interface DatasetBenchResult {
  docs: number;
  formats: Array<{ format: DatasetFormat; seconds: number; rssGrowthMb: number; bytes: number }>;
  pass: boolean;
}

const SCHEMA = {
  type: 'object',
  properties: {
    invoice_number: { type: 'string' },
    vendor: { type: 'object', properties: { name: { type: 'string' }, city: { type: 'string' } } },
    total: { type: 'number' },
    line_items: { type: 'array', items: { type: 'object', properties: { description: { type: 'string' }, amount: { type: 'number' } } } },
  },
};

export async function runDatasetBench(docs = 100_000): Promise<DatasetBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-bench-dataset-'));
  const outDir = path.join(dir, 'extracted');
  for (let i = 0; i < docs; i++) {
    const source = `batch${Math.floor(i / 1000)}/doc${i}.txt`;
    await writeResult(outDir, {
      formatVersion: 1,
      source,
      data: { invoice_number: `INV-${i}`, vendor: { name: `Vendor "${i % 97}", Ltd`, city: 'Zürich' }, total: i + 0.5, line_items: [1, 2, 3].map((k) => ({ description: `item ${k}\nof ${i}`, amount: k })) },
      metadata: { runId: 'r', model: 'm', schemaHash: 's', fingerprint: 'f', contentHash: 'h', converter: 'text', attempts: 1, requests: 1, tokensIn: 1, tokensOut: 1, cost: 0, startedAt: '', finishedAt: '' },
    }, { fsync: false });
  }
  const formats: DatasetBenchResult['formats'] = [];
  for (const format of ['csv', 'xlsx', 'jsonl'] as const) {
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
    const to = path.join(dir, `data.${format}`);
    const t0 = performance.now();
    const report = await exportDataset({ outDir, to, format, schema: SCHEMA });
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    if (report.documents !== docs) throw new Error(`${format}: ${report.documents} of ${docs} documents exported`);
    formats.push({ format, seconds, rssGrowthMb: (peak - base) / 1048576, bytes: report.files.reduce((n, f) => n + fs.statSync(f).size, 0) });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { docs, formats, pass: formats.every((f) => f.rssGrowthMb < 300) };
}

export function printDatasetBench(r: DatasetBenchResult): void {
  console.log(`dataset export: ${r.docs} documents, 3 line items each`);
  for (const f of r.formats) console.log(`  ${f.format}: ${f.seconds.toFixed(1)} s, ${(f.bytes / 1048576).toFixed(1)} MB written, RSS growth ${f.rssGrowthMb.toFixed(0)} MB`);
  console.log(`  memory bounded (growth < 300 MB) ${r.pass ? 'PASS' : 'FAIL'}`);
}

if (isEntryScript('dataset')) {
  const [docs] = process.argv.slice(2).map(Number);
  runDatasetBench(docs || undefined).then(printDatasetBench, (e) => {
    console.error(e);
    process.exit(1);
  });
}
