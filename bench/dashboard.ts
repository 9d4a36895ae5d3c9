/**
 * Run dashboard benchmark (not a test: it prints figures and PASS/FAIL against the target).
 *
 *   node esbuild.js && node esbuild.js --bench && node dist-bench/bench/dashboard.js [attempts]
 *
 * For 100,000 attempt rows of one run (8 % failures over 13 error codes, 3 % retries, stage timings):
 *  - model:  metrics in one pass (RunMetricsAccumulator), health, the dashboard view model, and its
 *            validation with the protocol's zod schema as the host posts it;
 *  - charts: every chart's SVG node tree, serialised to markup;
 *  - target: model + charts under 1,000 ms;
 *  - browser (extra, when Chromium is installed): the real webview bundle (dist/webview/dashboard.js) in
 *            headless Chromium, from the posted message to the page's `dashboard/rendered` receipt;
 *  - store (extra): reading the same 100,000 rows from the sql.js store with the incremental reader
 *            (what opening a finished run's dashboard costs), and one live refresh after 100 more rows.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluateHealth } from '../src/core/health';
import { RunMetricsAccumulator } from '../src/core/metrics';
import type { AttemptRecord, RunRecord } from '../src/core/types';
import { toWebviewSchema, type DashboardModel } from '../src/shared/dashboardProtocol';
import { SqlJsCheckpointStore } from '../src/store/sqlStore';
import { dashboardModel, rowFromMetrics, RunMetricsReader } from '../src/vscode/dashboard/runData';
import { countNodes, dashboardCharts, toSvgString } from '../media/dashboard/charts';
import { isEntryScript } from './entry';

export interface DashboardBenchResult {
  attempts: number;
  /** Metrics pass over the attempts, ms. */
  metricsMs: number;
  /** Health + view model + zod validation + JSON of the posted message, ms. */
  modelMs: number;
  /** Chart node trees + SVG markup, ms. */
  chartsMs: number;
  totalMs: number;
  svgBytes: number;
  svgNodes: number;
  messageBytes: number;
  /** Headless Chromium: message posted → page rendered, ms (undefined when Chromium is not available). */
  browserRenderMs?: number;
  browserCharts?: number;
  /** Reading 100,000 attempts from the store with RunMetricsReader, ms. */
  storeReadMs: number;
  /** A live refresh after 100 new attempts, ms. */
  liveRefreshMs: number;
  targetMs: number;
  pass: boolean;
}

const T0 = Date.UTC(2025, 0, 1, 8, 0, 0);

/** A deterministic pseudo-random generator. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function syntheticAttempts(n: number, runId = 'bench-run'): AttemptRecord[] {
  const r = rng(2025);
  const out: AttemptRecord[] = new Array(n);
  // 16 in flight, ~2 s each: 100,000 attempts take about 3.5 hours
  for (let i = 0; i < n; i++) {
    const startedAt = T0 + Math.floor(i * 125 + r() * 100);
    const reading = 2 + Math.floor(r() * 10);
    const converting = 10 + Math.floor(r() * 200);
    const extracting = 800 + Math.floor(r() * 2500);
    const validating = 1 + Math.floor(r() * 3);
    const exporting = 2 + Math.floor(r() * 8);
    const durationMs = reading + converting + extracting + validating + exporting;
    const x = r();
    const outcome: AttemptRecord['outcome'] = x < 0.92 ? 'done' : x < 0.95 ? 'retry' : 'dead-lettered';
    const code = outcome === 'done' ? undefined : outcome === 'retry' ? (r() < 0.7 ? 'RATE_LIMITED' : 'TIMEOUT') : `E_${Math.floor(r() * 11)}`;
    out[i] = {
      runId,
      path: `folder-${i % 97}/document-${String(i).padStart(6, '0')}.pdf`,
      attempt: outcome === 'retry' ? 1 : 1 + (r() < 0.03 ? 1 : 0),
      stageReached: outcome === 'done' ? 'done' : 'extracting',
      startedAt,
      endedAt: startedAt + durationMs,
      durationMs,
      stageMs: { reading, converting, extracting, validating, exporting },
      outcome,
      ...(code ? { errorCode: code, errorMessage: `${code}: synthetic failure` } : {}),
      tokensIn: 1500 + Math.floor(r() * 3000),
      tokensOut: 100 + Math.floor(r() * 400),
      cost: 0.0005 + r() * 0.001,
    };
  }
  return out;
}

function run(attempts: AttemptRecord[]): RunRecord {
  const last = attempts[attempts.length - 1];
  return { id: 'bench-run', startedAt: T0, endedAt: last.endedAt, trigger: 'test', root: '/bench', status: 'completed', fingerprint: 'fp', totals: { total: attempts.length, pending: 0, running: 0, done: 0, failed: 0, deadLettered: 0, rejected: 0, tokensIn: 0, tokensOut: 0, cost: 0 } };
}

/** Model + charts for `attempts`, timed. */
function measureModel(attempts: AttemptRecord[]): Pick<DashboardBenchResult, 'metricsMs' | 'modelMs' | 'chartsMs' | 'svgBytes' | 'svgNodes' | 'messageBytes'> & { model: DashboardModel } {
  const record = run(attempts);
  let t = performance.now();
  const acc = new RunMetricsAccumulator();
  for (const a of attempts) acc.add(a);
  const metrics = acc.snapshot({ startedAt: record.startedAt, endedAt: record.endedAt });
  const metricsMs = performance.now() - t;

  t = performance.now();
  const health = evaluateHealth({ now: record.endedAt!, running: false, paused: false, pending: 0, deadLetters: metrics.documents.deadLettered, recent: metrics.recent, ...(metrics.lastProgressAt ? { lastProgressAt: metrics.lastProgressAt } : {}) });
  const model = dashboardModel('bench', rowFromMetrics(record, metrics, health.level, false), health, metrics, Date.now());
  const message = toWebviewSchema.parse({ type: 'dashboard/update', model });
  const messageBytes = JSON.stringify(message).length;
  const modelMs = performance.now() - t;

  t = performance.now();
  const charts = dashboardCharts(model.metrics);
  let svgBytes = 0;
  let svgNodes = 0;
  for (const c of Object.values(charts)) {
    svgBytes += toSvgString(c).length;
    svgNodes += countNodes(c);
  }
  const chartsMs = performance.now() - t;
  return { metricsMs, modelMs, chartsMs, svgBytes, svgNodes, messageBytes, model };
}

/** The webview bundle in headless Chromium: post the model, wait for the render receipt. */
async function measureBrowser(model: DashboardModel): Promise<{ ms: number; charts: number } | undefined> {
  const chromiumPath = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && fs.existsSync(p));
  const bundle = path.resolve(__dirname, '..', '..', 'dist', 'webview', 'dashboard.js');
  if (!chromiumPath || !fs.existsSync(bundle)) return undefined;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // the ids the script renders into (the same as the extension's HTML shell)
    await page.setContent(
      '<header><div id="run-picker"></div><button id="export-csv"></button><button id="export-json"></button></header>' +
        '<div id="status"></div><div id="notice"></div><section id="summary"></section><div id="charts"></div><div id="tables"></div><div id="history"></div><section id="comparison"></section>',
    );
    await page.evaluate(() => {
      const w = window as unknown as { __posted: unknown[]; acquireVsCodeApi: () => unknown };
      w.__posted = [];
      w.acquireVsCodeApi = () => ({ postMessage: (m: unknown) => w.__posted.push(m), getState: () => undefined, setState: () => undefined });
    });
    await page.addScriptTag({ content: fs.readFileSync(bundle, 'utf8') });
    const result = await page.evaluate(async (m) => {
      const w = window as unknown as { __posted: Array<{ type: string; charts?: number }> };
      const t = performance.now();
      window.postMessage({ type: 'dashboard/state', runs: [m.run], selectedRunId: m.run.id, model: m }, '*');
      for (;;) {
        const receipt = w.__posted.find((x) => x.type === 'dashboard/rendered');
        if (receipt) {
          // wait for layout and paint of what was rendered
          await new Promise((r) => requestAnimationFrame(() => r(undefined)));
          return { ms: performance.now() - t, charts: receipt.charts ?? 0 };
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    }, model);
    return result;
  } finally {
    await browser.close();
  }
}

async function measureStore(attempts: AttemptRecord[]): Promise<{ storeReadMs: number; liveRefreshMs: number }> {
  const store = await SqlJsCheckpointStore.open();
  try {
    for (const a of attempts) store.recordAttempt(a);
    const reader = new RunMetricsReader(store, 'bench-run');
    let t = performance.now();
    reader.refresh();
    reader.snapshot(run(attempts), Date.now(), false);
    const storeReadMs = performance.now() - t;
    for (const a of syntheticAttempts(100, 'bench-run')) store.recordAttempt({ ...a, path: `live/${a.path}` });
    t = performance.now();
    reader.refresh();
    reader.snapshot(run(attempts), Date.now(), true);
    const liveRefreshMs = performance.now() - t;
    return { storeReadMs, liveRefreshMs };
  } finally {
    store.close();
  }
}

export async function runDashboardBench(n = 100_000): Promise<DashboardBenchResult> {
  const attempts = syntheticAttempts(n);
  measureModel(attempts.slice(0, 5000)); // warm-up (JIT)
  const m = measureModel(attempts);
  const browser = await measureBrowser(m.model).catch((e: unknown) => {
    console.warn(`[bench] browser render skipped: ${(e as Error)?.message ?? e}`);
    return undefined;
  });
  const store = await measureStore(attempts);
  const targetMs = 1000;
  const totalMs = m.metricsMs + m.modelMs + m.chartsMs;
  return {
    attempts: n,
    metricsMs: m.metricsMs,
    modelMs: m.modelMs,
    chartsMs: m.chartsMs,
    totalMs,
    svgBytes: m.svgBytes,
    svgNodes: m.svgNodes,
    messageBytes: m.messageBytes,
    ...(browser ? { browserRenderMs: browser.ms, browserCharts: browser.charts } : {}),
    ...store,
    targetMs,
    pass: totalMs < targetMs,
  };
}

export function printDashboardBench(r: DashboardBenchResult): void {
  const f = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(`dashboard for ${r.attempts.toLocaleString('en')} attempts:`);
  console.log(`  metrics (one pass)          ${f(r.metricsMs)}`);
  console.log(`  health + model + zod + JSON ${f(r.modelMs)}   (message ${(r.messageBytes / 1024).toFixed(1)} KB)`);
  console.log(`  charts: nodes + SVG markup  ${f(r.chartsMs)}   (${r.svgNodes} nodes, ${(r.svgBytes / 1024).toFixed(1)} KB)`);
  console.log(`  total                       ${f(r.totalMs)}   target < ${r.targetMs} ms: ${r.pass ? 'PASS' : 'FAIL'}`);
  if (r.browserRenderMs !== undefined) console.log(`  headless Chromium render    ${f(r.browserRenderMs)}   (${r.browserCharts} charts, webview bundle, message → rendered)`);
  else console.log('  headless Chromium render    skipped (no Chromium or no dist/webview/dashboard.js)');
  console.log(`  store read (sql.js, reader) ${f(r.storeReadMs)}   (opening a finished run of this size)`);
  console.log(`  live refresh (+100 rows)    ${f(r.liveRefreshMs)}`);
}

if (isEntryScript('dashboard')) {
  void runDashboardBench(Number(process.argv[2]) || 100_000).then(printDashboardBench, (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
