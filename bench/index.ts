/**
 * `npm run bench`: every benchmark in one process, one after the other, printing figures and the ratios
 * measured in the same run. Benchmarks, not tests: the machines are shared and noisy, so nothing here
 * fails the build; each line says PASS or FAIL against its target.
 *   BENCH_ONLY=store,pipeline,convert,grounding,dashboard   run a subset
 *   BENCH_PIPELINE_DOCS=10000           size of the pipeline run
 *   BENCH_ONLY=outages                  a long run through a provider with outages (minutes; not by default)
 *   BENCH_ONLY=fleet                    1, 2, 4 workers sharing a PostgreSQL state (not by default: needs PostgreSQL)
 */
import { runConvertBench } from './convert';
import { printFleetBench, runFleetBench } from './fleet';
import { printDashboardBench, runDashboardBench } from './dashboard';
import { printGroundingBench, runGroundingBench } from './grounding';
import { printOutageBench, runOutageBench } from './outages';
import { printPipelineBench, runPipelineBench } from './pipeline';
import { printStoreBench, runStoreBench } from './store';

async function main(): Promise<void> {
  const only = new Set((process.env.BENCH_ONLY ?? 'store,pipeline,convert,grounding,dashboard').split(',').map((s) => s.trim()));
  const t0 = Date.now();
  if (only.has('store')) {
    console.log('\n== checkpoint store ==');
    printStoreBench(await runStoreBench());
  }
  if (only.has('pipeline')) {
    console.log('\n== pipeline efficiency ==');
    printPipelineBench(await runPipelineBench(Number(process.env.BENCH_PIPELINE_DOCS) || 10_000, 100, 16));
  }
  if (only.has('convert')) {
    console.log('\n== conversion ==');
    await runConvertBench();
  }
  if (only.has('grounding')) {
    console.log('\n== grounding off the host thread ==');
    printGroundingBench(await runGroundingBench());
  }
  if (only.has('dashboard')) {
    console.log('\n== run dashboard ==');
    printDashboardBench(await runDashboardBench());
  }
  if (only.has('outages')) {
    console.log('\n== outages: a long run through a provider that fails every few minutes ==');
    printOutageBench(await runOutageBench(Number(process.env.BENCH_OUTAGE_DOCS) || 10_000, { scale: Number(process.env.BENCH_OUTAGE_SCALE) || 1 }));
  }
  if (only.has('fleet')) {
    console.log('\n== fleet: workers sharing one PostgreSQL state ==');
    printFleetBench(await runFleetBench(Number(process.env.BENCH_FLEET_DOCS) || 120));
  }
  console.log(`\nbenchmarks finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
