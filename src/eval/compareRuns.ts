/**
 * Two runs (or models) side by side on the same truth: per-field accuracy of each with the difference,
 * and what each cost. Cost, tokens and time come from the metadata of the evaluated result files (always
 * there); with a state folder, the attempts of the runs that produced them are added (`attemptStats`:
 * failed attempts and retries cost too).
 */
import * as path from 'node:path';
import { openStore } from '../app/session';
import type { EvalReport } from './report';
import { percent, table } from './report';
import { loadResults } from './sources';

export interface RunCosts {
  outDir: string;
  models: string[];
  /** Over the evaluated documents that have a result. */
  results: { documents: number; cost: number; tokensIn: number; tokensOut: number; seconds: number };
  /** From the state folder: every attempt of the runs that produced those results. */
  attempts?: { attempts: number; cost: number; tokensIn: number; tokensOut: number; meanSeconds: number };
}

export interface FieldComparison {
  a: number | null;
  b: number | null;
  /** b − a; null when either is. */
  difference: number | null;
  totalA: number;
  totalB: number;
}

export interface RunComparison {
  truth: string;
  a: { outDir: string; documents: number; overall: EvalReport['overall']; costs: RunCosts };
  b: { outDir: string; documents: number; overall: EvalReport['overall']; costs: RunCosts };
  fields: Record<string, FieldComparison>;
  overall: FieldComparison;
}

/** Cost and time of the results `report` evaluated, from their metadata (and `stateDir`'s attempts). */
export async function runCosts(outDir: string, report: EvalReport, stateDir?: string): Promise<RunCosts> {
  const { results } = loadResults(outDir);
  const skipped = new Set(report.skipped.paths);
  const models = new Set<string>();
  const runIds = new Set<string>();
  const r = { documents: 0, cost: 0, tokensIn: 0, tokensOut: 0, seconds: 0 };
  for (const [source, file] of results) {
    if (skipped.has(source)) continue;
    const m = file.metadata;
    r.documents++;
    if (!m) continue;
    if (m.model) models.add(m.model);
    if (m.runId) runIds.add(m.runId);
    r.cost += m.cost || 0;
    r.tokensIn += m.tokensIn || 0;
    r.tokensOut += m.tokensOut || 0;
    const ms = Date.parse(m.finishedAt) - Date.parse(m.startedAt);
    if (Number.isFinite(ms) && ms > 0) r.seconds += ms / 1000;
  }
  const out: RunCosts = { outDir: path.resolve(outDir), models: [...models].sort(), results: r };
  if (stateDir) {
    const store = await openStore(path.resolve(stateDir), { readOnly: true, logger: { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } });
    try {
      if (store.attemptStats) {
        const a = { attempts: 0, cost: 0, tokensIn: 0, tokensOut: 0, meanSeconds: 0 };
        let weighted = 0;
        for (const runId of runIds) {
          const s = store.attemptStats({ runId });
          a.attempts += s.attempts;
          a.cost += s.cost;
          a.tokensIn += s.tokensIn;
          a.tokensOut += s.tokensOut;
          weighted += s.meanDurationMs * s.attempts;
        }
        a.meanSeconds = a.attempts ? weighted / a.attempts / 1000 : 0;
        out.attempts = a;
      }
    } finally {
      store.close();
    }
  }
  return out;
}

function diff(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : b - a;
}

export function compareReports(a: EvalReport, b: EvalReport, costs: [RunCosts, RunCosts]): RunComparison {
  const names = [...new Set([...Object.keys(a.fields), ...Object.keys(b.fields)])];
  const fields: Record<string, FieldComparison> = {};
  for (const n of names) {
    const fa = a.fields[n];
    const fb = b.fields[n];
    fields[n] = { a: fa?.accuracy ?? null, b: fb?.accuracy ?? null, difference: diff(fa?.accuracy ?? null, fb?.accuracy ?? null), totalA: fa?.total ?? 0, totalB: fb?.total ?? 0 };
  }
  return {
    truth: a.truth,
    a: { outDir: costs[0].outDir, documents: a.documents, overall: a.overall, costs: costs[0] },
    b: { outDir: costs[1].outDir, documents: b.documents, overall: b.overall, costs: costs[1] },
    fields,
    overall: { a: a.overall.accuracy, b: b.overall.accuracy, difference: diff(a.overall.accuracy, b.overall.accuracy), totalA: a.overall.total, totalB: b.overall.total },
  };
}

function signedPoints(d: number | null): string {
  if (d === null) return '—';
  const p = d * 100;
  return `${p > 0 ? '+' : p < 0 ? '−' : '±'}${Math.abs(p).toFixed(1)} pt`;
}

function money(n: number): string {
  return n.toFixed(4);
}

export function formatComparison(c: RunComparison): string {
  const lines = [`A: ${c.a.outDir}${c.a.costs.models.length ? ` (${c.a.costs.models.join(', ')})` : ''}`, `B: ${c.b.outDir}${c.b.costs.models.length ? ` (${c.b.costs.models.join(', ')})` : ''}`, `Truth: ${c.truth}`, ''];
  const rows = Object.entries(c.fields).map(([n, f]) => [n, percent(f.a), percent(f.b), signedPoints(f.difference)]);
  const t = table(['Field', 'A', 'B', 'B − A'], [...rows, ['Overall', percent(c.overall.a), percent(c.overall.b), signedPoints(c.overall.difference)]]);
  lines.push(...t.slice(0, -1), '-'.repeat(t[0].length), t[t.length - 1], '');
  const ra = c.a.costs.results;
  const rb = c.b.costs.results;
  const costRows = [
    ['Documents with a result', String(ra.documents), String(rb.documents)],
    ['Cost (result metadata)', money(ra.cost), money(rb.cost)],
    ['Tokens in / out', `${ra.tokensIn} / ${ra.tokensOut}`, `${rb.tokensIn} / ${rb.tokensOut}`],
    ['Time per document (s)', ra.documents ? (ra.seconds / ra.documents).toFixed(2) : '—', rb.documents ? (rb.seconds / rb.documents).toFixed(2) : '—'],
  ];
  const sa = c.a.costs.attempts;
  const sb = c.b.costs.attempts;
  if (sa || sb) {
    costRows.push(['Attempts (state)', sa ? String(sa.attempts) : '—', sb ? String(sb.attempts) : '—']);
    costRows.push(['Cost of all attempts (state)', sa ? money(sa.cost) : '—', sb ? money(sb.cost) : '—']);
    costRows.push(['Mean attempt time (s)', sa ? sa.meanSeconds.toFixed(2) : '—', sb ? sb.meanSeconds.toFixed(2) : '—']);
  }
  lines.push(...table(['', 'A', 'B'], costRows));
  return lines.join('\n') + '\n';
}
