/**
 * Conversion benchmark.
 *
 *   node esbuild.js && node esbuild.js --bench && node dist-bench/bench/convert.js
 *
 * Figures (targets from the conversion issue):
 *  - throughput: pages/s of the PDF worker pool on a corpus of real PDFs vs `pdftotext -layout` run with
 *    the same parallelism on the same files (ratio ≥ 0.75×, issue #15);
 *  - fidelity: share of pdftotext's words (multiset) found in our text (≥ 98 %);
 *  - peak RSS while converting a large generated PDF (1,000 pages by default);
 *  - event-loop delay p99 of the main thread while converting (< 50 ms).
 */
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHistogram } from 'perf_hooks';
import { promisify } from 'util';
import { Worker } from 'worker_threads';
import { createPdfConverter } from '../src/convert/pdf/pdfConverter';
import type { ConvertedDocument } from '../src/convert/types';
import { largePdf, realPdfs } from '../test/fixtures/pdf/generate';
import { isEntryScript } from './entry';

const execFileP = promisify(execFile);

export interface ConvertBenchOptions {
  /** Repository root (dist/pdfWorker.js, dist/pdfjs). Default: found from this file or the cwd. */
  root?: string;
  /** Rounds over the corpus for the throughput figure. Default 3. */
  rounds?: number;
  /** Pages of the generated large PDF. Default 1000. */
  largePages?: number;
  /** Extra PDF files for the corpus (added to the Debian ones). */
  files?: string[];
  log?: (line: string) => void;
}

export interface ConvertBenchResult {
  files: number;
  pages: number;
  poolSize: number;
  ourPagesPerSec: number;
  /** Pages per CPU-second of this process (all threads) while converting the corpus. */
  ourPagesPerCpuSec: number;
  pdftotextPagesPerSec: number;
  /** pdftotext run one file at a time (single process). */
  pdftotextSerialPagesPerSec: number;
  /** ours ÷ pdftotext with the same parallelism as the pool (the PASS/FAIL figure). */
  ratio: number;
  /** ours (pool) ÷ pdftotext one file at a time (informational). */
  ratioVsSerial: number;
  /** 1-minute load average at the end (the figures are wall-clock: a busy machine lowers both sides). */
  loadAverage: number;
  fidelity: number;
  perFileFidelity: Record<string, number>;
  largePages: number;
  largeSeconds: number;
  peakRssMb: number;
  baselineRssMb: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  /** The same delay of an idle main thread while `poolSize` threads spin: what the machine's scheduling alone gives. */
  idleEventLoopP99Ms: number;
  pass: { ratio: boolean; fidelity: boolean; eventLoop: boolean };
}

function findRoot(): string {
  for (const start of [__dirname, process.cwd()]) {
    let dir = start;
    for (let i = 0; i < 6; i++) {
      if (fs.existsSync(path.join(dir, 'dist', 'pdfWorker.js'))) return dir;
      dir = path.dirname(dir);
    }
  }
  throw new Error('dist/pdfWorker.js not found: run `node esbuild.js` first');
}

function words(s: string): string[] {
  return s.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
}

function recall(reference: string, ours: string): number {
  const bag = new Map<string, number>();
  for (const w of words(ours)) bag.set(w, (bag.get(w) ?? 0) + 1);
  const ref = words(reference);
  let hit = 0;
  for (const w of ref) {
    const n = bag.get(w) ?? 0;
    if (n > 0) {
      hit++;
      bag.set(w, n - 1);
    }
  }
  return ref.length ? hit / ref.length : 1;
}

async function runLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Spins `n` threads for `ms` (a CPU load like the pool's, with nothing on this thread). */
async function spinThreads(n: number, ms: number): Promise<void> {
  const code = `const end = Date.now() + ${ms}; while (Date.now() < end) {}`;
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve, reject) => new Worker(code, { eval: true }).once('exit', () => resolve()).once('error', reject))));
}

export async function runConvertBench(options: ConvertBenchOptions = {}): Promise<ConvertBenchResult> {
  const log = options.log ?? ((l: string) => console.log(l));
  const root = options.root ?? findRoot();
  const rounds = options.rounds ?? 3;
  const largePages = options.largePages ?? 1000;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-bench-'));
  const files = [...realPdfs(tmp), ...(options.files ?? [])];
  if (files.length === 0) throw new Error('no real PDFs found (install libtasn1-doc / shared-mime-info / groff-base)');
  const hasPdftotext = (() => {
    try {
      execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  const poolSize = Math.min(2, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  const conv = createPdfConverter({
    workerPath: path.join(root, 'dist', 'pdfWorker.js'),
    assetsDir: path.join(root, 'dist', 'pdfjs'),
    poolSize,
    timeoutMs: 600_000,
    maxWorkerMemoryMb: 2048,
  });
  const bytes = files.map((f) => new Uint8Array(fs.readFileSync(f)));
  // the main thread's event-loop delay while our pool converts: how late a 5 ms timer fires, sampled only
  // during those phases (an event-loop monitor enabled again would count the time it was off as a delay)
  const eld = createHistogram();
  const measured = async <T>(work: () => Promise<T>, into = eld): Promise<T> => {
    let last = performance.now();
    const probe = setInterval(() => {
      const now = performance.now();
      into.record(Math.max(1, Math.round((now - last - 5) * 1e6)));
      last = now;
    }, 5);
    try {
      return await work();
    } finally {
      clearInterval(probe);
    }
  };

  try {
    // warm-up (not counted): start the workers, load pdf.js, let the JIT see the corpus once
    await runLimited(
      files.map((_, i) => i),
      poolSize * 2,
      async (i) => void (await conv.convert({ path: files[i], absPath: files[i], bytes: bytes[i] })),
    );

    // the large PDF is generated before measuring the event loop (pdf-lib runs on this thread)
    log(`generating a ${largePages}-page PDF…`);
    const big = await largePdf(largePages);

    // --- throughput + fidelity: rounds alternate between pdf.js pool and pdftotext so that both see
    //     the same machine load. The event loop is measured while our pool converts (pdftotext's output
    //     and the fidelity count are the benchmark's own work on this thread) --------------------------
    const docs: ConvertedDocument[] = new Array(files.length);
    const refs: string[] = new Array(files.length);
    let pages = 0;
    let ourSec = 0;
    let refSec = 0;
    let ourCpuSec = 0;
    for (let r = 0; r < rounds; r++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await measured(() =>
        runLimited(
          files.map((_, i) => i),
          poolSize * 2,
          async (i) => {
            const doc = await conv.convert({ path: files[i], absPath: files[i], bytes: bytes[i] });
            docs[i] = doc;
            pages += doc.pages?.length ?? 0;
          },
        ),
      );
      ourSec += Number(process.hrtime.bigint() - t0) / 1e9;
      const cu = process.cpuUsage(c0);
      ourCpuSec += (cu.user + cu.system) / 1e6;
      if (hasPdftotext) {
        const t1 = process.hrtime.bigint();
        await runLimited(
          files.map((_, i) => i),
          poolSize,
          async (i) => {
            const { stdout } = await execFileP('pdftotext', ['-layout', files[i], '-'], { maxBuffer: 256 << 20 });
            refs[i] = stdout;
          },
        );
        refSec += Number(process.hrtime.bigint() - t1) / 1e9;
      }
    }
    const ourPagesPerSec = pages / ourSec;
    const pdftotextPagesPerSec = hasPdftotext ? pages / refSec : NaN;
    // one more pdftotext pass with a single process (the usual way pdftotext is run)
    let pdftotextSerialPagesPerSec = NaN;
    if (hasPdftotext) {
      const t3 = process.hrtime.bigint();
      for (const f of files) await execFileP('pdftotext', ['-layout', f, '-'], { maxBuffer: 256 << 20 });
      pdftotextSerialPagesPerSec = pages / rounds / (Number(process.hrtime.bigint() - t3) / 1e9);
    }
    const perFileFidelity: Record<string, number> = {};
    let refWords = 0;
    let hitWords = 0;
    if (hasPdftotext) {
      files.forEach((f, i) => {
        const rw = words(refs[i]).length;
        const rc = recall(refs[i], docs[i].text);
        perFileFidelity[path.basename(f)] = Math.round(rc * 10000) / 10000;
        refWords += rw;
        hitWords += rc * rw;
      });
    }
    const fidelity = refWords ? hitWords / refWords : NaN;

    // --- large document: peak RSS ---------------------------------------------------------
    if (global.gc) global.gc();
    const baselineRss = process.memoryUsage().rss;
    let peakRss = baselineRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 20);
    const t2 = process.hrtime.bigint();
    const bigDoc = await measured(() => conv.convert({ path: 'large.pdf', absPath: 'large.pdf', bytes: big }));
    const largeSeconds = Number(process.hrtime.bigint() - t2) / 1e9;
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if ((bigDoc.pages?.length ?? 0) !== largePages) throw new Error(`large PDF: expected ${largePages} pages, got ${bigDoc.pages?.length}`);

    // reference: the main thread idle while as many threads as the pool has spin for 3 s
    const idle = createHistogram();
    await measured(() => spinThreads(poolSize, 3000), idle);

    const result: ConvertBenchResult = {
      files: files.length,
      pages: pages / rounds,
      poolSize,
      ourPagesPerSec,
      ourPagesPerCpuSec: pages / ourCpuSec,
      loadAverage: os.loadavg()[0],
      pdftotextPagesPerSec,
      pdftotextSerialPagesPerSec,
      ratio: ourPagesPerSec / pdftotextPagesPerSec,
      ratioVsSerial: ourPagesPerSec / pdftotextSerialPagesPerSec,
      fidelity,
      perFileFidelity,
      largePages,
      largeSeconds,
      peakRssMb: peakRss / 2 ** 20,
      baselineRssMb: baselineRss / 2 ** 20,
      eventLoopP99Ms: eld.percentile(99) / 1e6,
      eventLoopMaxMs: eld.max / 1e6,
      idleEventLoopP99Ms: idle.percentile(99) / 1e6,
      pass: { ratio: false, fidelity: false, eventLoop: false },
    };
    result.pass = {
      ratio: result.ratio >= 0.75,
      fidelity: result.fidelity >= 0.98,
      eventLoop: result.eventLoopP99Ms < 50,
    };
    const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
    const pf = (b: boolean) => (b ? 'PASS' : 'FAIL');
    log(`corpus: ${result.files} real PDFs, ${result.pages} pages, ${rounds} rounds, pool size ${poolSize}, load average ${result.loadAverage.toFixed(1)} on ${os.cpus().length} cores`);
    log(`throughput: ours ${f1(ourPagesPerSec)} pages/s, pdftotext -layout ${f1(pdftotextPagesPerSec)} pages/s (same parallelism), ratio ${result.ratio.toFixed(2)}x (target >= 0.75x) ${pf(result.pass.ratio)}`);
    log(`  vs pdftotext one file at a time: ${f1(pdftotextSerialPagesPerSec)} pages/s, ratio ${result.ratioVsSerial.toFixed(2)}x (informational)`);
    log(`  ours per CPU-second (all threads): ${f1(result.ourPagesPerCpuSec)} pages`);
    log(`fidelity: ${(fidelity * 100).toFixed(2)} % of pdftotext's words found (target >= 98 %) ${pf(result.pass.fidelity)}`);
    for (const [f, v] of Object.entries(perFileFidelity)) log(`  ${f}: ${(v * 100).toFixed(2)} %`);
    log(`large PDF: ${largePages} pages in ${result.largeSeconds.toFixed(2)} s; peak RSS ${f1(result.peakRssMb)} MB (baseline ${f1(result.baselineRssMb)} MB, whole process incl. workers)`);
    log(`event loop (main thread, while converting): p99 ${result.eventLoopP99Ms.toFixed(1)} ms, max ${result.eventLoopMaxMs.toFixed(1)} ms (target p99 < 50 ms) ${pf(result.pass.eventLoop)}`);
    log(`  an idle main thread while ${poolSize} threads spin (scheduling alone, same run): p99 ${result.idleEventLoopP99Ms.toFixed(1)} ms`);
    return result;
  } finally {
    await conv.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (isEntryScript('convert')) {
  runConvertBench().then(
    (r) => process.exit(r.pass.ratio && r.pass.fidelity && r.pass.eventLoop ? 0 : 1),
    (err) => {
      console.error(err);
      process.exit(2);
    },
  );
}
