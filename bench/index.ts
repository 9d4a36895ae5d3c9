/**
 * `npm run bench`: every benchmark in one process, one after the other, printing figures and the ratios
 * measured in the same run. Benchmarks, not tests: the machines are shared and noisy, so nothing here
 * fails the build; each line says PASS or FAIL against its target.
 *   BENCH_ONLY=store,pipeline,overhead,convert,ocr,grounding,dashboard,activation   run a subset
 *   BENCH_PIPELINE_DOCS=10000           size of the pipeline run
 *   BENCH_ONLY=ocr                      OCR pages/s vs the native tesseract CLI, word accuracy
 *   BENCH_ONLY=outages                  a long run through a provider with outages (minutes; not by default)
 *   BENCH_ONLY=fleet                    1, 2, 4 workers sharing a PostgreSQL state (not by default: needs PostgreSQL)
 *   BENCH_ONLY=dataset                  dataset export of BENCH_DATASET_DOCS (100000) results (not by default)
 */
import { printActivationBench, runActivationBench } from './activation';
import { runConvertBench } from './convert';
import { printDatasetBench, runDatasetBench } from './dataset';
import { printFleetBench, runFleetBench } from './fleet';
import { runOcrBench } from './ocr';
import { printDashboardBench, runDashboardBench } from './dashboard';
import { printGroundingBench, runGroundingBench } from './grounding';
import { printOutageBench, runOutageBench } from './outages';
import { printOverheadBench, runOverheadBench } from './overhead';
import { printPipelineBench, runPipelineBench } from './pipeline';
import { printStoreBench, runStoreBench } from './store';

async function main(): Promise<void> {
  const only = new Set((process.env.BENCH_ONLY ?? 'store,pipeline,overhead,convert,ocr,grounding,dashboard,activation').split(',').map((s) => s.trim()));
  const t0 = Date.now();
  if (only.has('store')) {
    console.log('\n== checkpoint store ==');
    printStoreBench(await runStoreBench());
  }
  if (only.has('pipeline')) {
    console.log('\n== pipeline efficiency ==');
    printPipelineBench(await runPipelineBench(Number(process.env.BENCH_PIPELINE_DOCS) || 10_000, 100, 16));
  }
  if (only.has('overhead')) {
    console.log('\n== per-document overhead: the CLI against a bare openai-client loop ==');
    printOverheadBench(await runOverheadBench());
  }
  if (only.has('convert')) {
    console.log('\n== conversion ==');
    await runConvertBench();
  }
  if (only.has('ocr')) {
    console.log('\n== OCR ==');
    await runOcrBench();
  }
  if (only.has('grounding')) {
    console.log('\n== grounding off the host thread ==');
    printGroundingBench(await runGroundingBench());
  }
  if (only.has('dashboard')) {
    console.log('\n== run dashboard ==');
    printDashboardBench(await runDashboardBench());
  }
  if (only.has('activation')) {
    console.log('\n== extension activation ==');
    printActivationBench(await runActivationBench());
  }
  if (only.has('outages')) {
    console.log('\n== outages: a long run through a provider that fails every few minutes ==');
    printOutageBench(await runOutageBench(Number(process.env.BENCH_OUTAGE_DOCS) || 10_000, { scale: Number(process.env.BENCH_OUTAGE_SCALE) || 1 }));
  }
  if (only.has('fleet')) {
    console.log('\n== fleet: workers sharing one PostgreSQL state ==');
    printFleetBench(await runFleetBench(Number(process.env.BENCH_FLEET_DOCS) || 120));
  }
  if (only.has('dataset')) {
    console.log('\n== dataset export ==');
    printDatasetBench(await runDatasetBench(Number(process.env.BENCH_DATASET_DOCS) || 100_000));
  }
  console.log(`\nbenchmarks finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
