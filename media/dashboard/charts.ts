/**
 * Charts of the run dashboard as plain SVG node trees, computed from the dashboard model. Pure: no DOM,
 * so the same code runs in the webview (turned into elements with createElementNS) and in the benchmark
 * (serialised with {@link toSvgString}). Colours come from CSS classes that map to VS Code's theme
 * variables (dashboard.css), so light, dark and high-contrast themes all work.
 *
 * Every chart carries role="img" and an aria-label that states its numbers in words; the page shows the
 * same numbers as text (tables) next to it.
 */
import type { DashboardModel } from '../../src/shared/dashboardProtocol';

export interface SvgNode {
  tag: string;
  attrs?: Record<string, string | number>;
  children?: SvgNode[];
  /** Text content (for `text`, `title`, `tspan`). */
  text?: string;
}

export type Metrics = DashboardModel['metrics'];

/** viewBox widths: the full-width chart and the charts that share a row (text stays about 12 px on screen). */
const WIDE = 900;
const NARROW = 480;
const H = 220;
const M = { top: 14, right: 16, bottom: 28, left: 52 };

function n(v: number): number {
  return Math.round(v * 100) / 100;
}

/** "Nice" axis ticks from 0 to at least `max`: steps of 1, 2 or 5 × 10^k. */
export function niceTicks(max: number, count = 4): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks.length < 2) ticks.push(step);
  return ticks;
}

export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${n(v / 1e9)}G`;
  if (a >= 1e6) return `${n(v / 1e6)}M`;
  if (a >= 1e4) return `${n(v / 1e3)}k`;
  if (Number.isInteger(v)) return String(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? String(n(v)) : String(Number(v.toPrecision(2)));
}

export function formatCost(v: number): string {
  if (v === 0) return '0';
  if (v < 0.01) return String(Number(v.toPrecision(2)));
  return v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(4);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatClock(t: number, seconds = false): string {
  const d = new Date(t);
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return seconds ? `${hm}:${String(d.getSeconds()).padStart(2, '0')}` : hm;
}

/** Bars never get wider than one of this many slots (a run's first minute is not one wall of colour). */
const MIN_SLOTS = 12;

function text(x: number, y: number, value: string, cls: string, anchor: 'start' | 'middle' | 'end' = 'start'): SvgNode {
  return { tag: 'text', attrs: { x: n(x), y: n(y), class: cls, 'text-anchor': anchor }, text: value };
}

function frame(label: string, cls: string, children: SvgNode[], W: number, height = H): SvgNode {
  return {
    tag: 'svg',
    attrs: { viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-label': label, class: `chart ${cls}`, focusable: 'false' },
    children: [{ tag: 'title', text: label }, ...children],
  };
}

function yAxis(ticks: number[], scale: (v: number) => number, fmt: (v: number) => string, W: number): SvgNode[] {
  const out: SvgNode[] = [];
  for (const t of ticks) {
    const y = scale(t);
    out.push({ tag: 'line', attrs: { x1: M.left, x2: W - M.right, y1: n(y), y2: n(y), class: t === 0 ? 'axis' : 'grid' } });
    out.push(text(M.left - 6, y + 4, fmt(t), 'tick', 'end'));
  }
  return out;
}

function xLabels(times: number[], x: (i: number) => number, seconds: boolean): SvgNode[] {
  if (!times.length) return [];
  const every = Math.max(1, Math.ceil(times.length / (seconds ? 6 : 8)));
  const out: SvgNode[] = [];
  for (let i = 0; i < times.length; i += every) out.push(text(x(i), H - 8, formatClock(times[i], seconds), 'tick', 'middle'));
  return out;
}

function empty(label: string, cls: string, message: string, W: number): SvgNode {
  return frame(label, cls, [text(W / 2, H / 2, message, 'empty', 'middle')], W);
}

/** Documents completed (and failed) per minute over the run, as stacked bars. */
export function throughputChart(m: Metrics): SvgNode {
  const W = WIDE;
  const tl = m.timeline;
  const perRate = tl.rateMs / tl.bucketMs; // bucket counts → per-minute rates
  const done = tl.points.map((p) => p.done * perRate);
  const failed = tl.points.map((p) => p.failed * perRate);
  const peakIndex = done.reduce((best, v, i) => (v > done[best] ? i : best), 0);
  const unit = tl.rateMs === 60_000 ? 'minute' : `${formatDuration(tl.rateMs)}`;
  const secs = tl.bucketMs < 60_000;
  const totalDone = tl.points.reduce((s, p) => s + p.done, 0);
  const totalFailed = tl.points.reduce((s, p) => s + p.failed, 0);
  const label = tl.points.length
    ? `Documents completed per ${unit}: ${totalDone} completed and ${totalFailed} failed over ${formatDuration(tl.end - tl.start)}; peak ${formatNumber(done[peakIndex] ?? 0)} per ${unit} at ${formatClock(tl.points[peakIndex].t, secs)} (buckets of ${formatDuration(tl.bucketMs)}).`
    : `Documents completed per ${unit}: no documents yet.`;
  if (!tl.points.length) return empty(label, 'throughput', 'No documents finished yet', W);
  const max = Math.max(1, ...tl.points.map((_, i) => done[i] + failed[i]));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1];
  const plotH = H - M.top - M.bottom;
  const plotW = W - M.left - M.right;
  const y = (v: number) => M.top + plotH - (v / top) * plotH;
  const bw = plotW / Math.max(MIN_SLOTS, tl.points.length);
  const x = (i: number) => M.left + i * bw + bw / 2;
  const bars: SvgNode[] = [];
  const gap = bw > 4 ? Math.min(2, bw * 0.15) : 0;
  tl.points.forEach((p, i) => {
    const x0 = M.left + i * bw + gap / 2;
    const w = Math.max(0.5, bw - gap);
    const hDone = (done[i] / top) * plotH;
    const hFail = (failed[i] / top) * plotH;
    const tip = `${formatClock(p.t, secs)}: ${formatNumber(done[i])} completed, ${formatNumber(failed[i])} failed per ${unit}`;
    if (hDone > 0) bars.push({ tag: 'rect', attrs: { x: n(x0), y: n(y(done[i])), width: n(w), height: n(hDone), class: 'bar done' }, children: [{ tag: 'title', text: tip }] });
    if (hFail > 0) bars.push({ tag: 'rect', attrs: { x: n(x0), y: n(y(done[i]) - hFail), width: n(w), height: n(hFail), class: 'bar failed' }, children: [{ tag: 'title', text: tip }] });
  });
  return frame(label, 'throughput', [
    ...yAxis(ticks, y, formatNumber, W),
    ...bars,
    ...xLabels(
      tl.points.map((p) => p.t),
      x,
      secs,
    ),
  ], W);
}

/** Cumulative line over the timeline (tokens or cost). */
export function cumulativeChart(m: Metrics, which: 'tokens' | 'cost'): SvgNode {
  const W = NARROW;
  const tl = m.timeline;
  const values = tl.points.map((p) => (which === 'tokens' ? p.cumulativeTokens : p.cumulativeCost));
  const fmt = which === 'tokens' ? formatNumber : formatCost;
  const total = values.length ? values[values.length - 1] : 0;
  const name = which === 'tokens' ? 'Tokens' : 'Cost';
  const label = tl.points.length
    ? `${name} over time (cumulative): ${fmt(total)} in total by ${formatClock(tl.points[tl.points.length - 1].t + tl.bucketMs, tl.bucketMs < 60_000)}${which === 'tokens' ? ` (${formatNumber(m.tokensIn)} in, ${formatNumber(m.tokensOut)} out)` : ''}.`
    : `${name} over time: nothing recorded yet.`;
  if (!tl.points.length || total === 0) return empty(label, which, which === 'cost' ? 'No cost recorded (no price set for the model)' : 'No tokens used yet', W);
  const ticks = niceTicks(Math.max(total, which === 'cost' ? 0.0001 : 1));
  const top = ticks[ticks.length - 1];
  const plotH = H - M.top - M.bottom;
  const plotW = W - M.left - M.right;
  const y = (v: number) => M.top + plotH - (v / top) * plotH;
  // the run starts at 0 and each bucket's total is reached at the bucket's end
  const series = [0, ...values];
  const times = [tl.points[0].t, ...tl.points.map((p) => p.t + tl.bucketMs)];
  const x = (i: number) => M.left + (i / (series.length - 1)) * plotW;
  const pts = series.map((v, i) => `${n(x(i))},${n(y(v))}`).join(' ');
  const area = `${n(x(0))},${n(y(0))} ${pts} ${n(x(series.length - 1))},${n(y(0))}`;
  return frame(
    label,
    which,
    [
      ...yAxis(ticks, y, fmt, W),
      { tag: 'polygon', attrs: { points: area, class: `area ${which}` } },
      { tag: 'polyline', attrs: { points: pts, class: `line ${which}` } },
      ...xLabels(times, x, tl.bucketMs < 60_000),
    ],
    W,
  );
}

export interface HBarRow {
  label: string;
  value: number;
  cls: string;
  valueText: string;
}

/** Horizontal bars with their label and value as text. */
export function hBarChart(rows: HBarRow[], label: string, cls: string): SvgNode {
  const W = NARROW;
  const rowH = 26;
  const height = Math.max(40, rows.length * rowH + 12);
  const labelW = 130;
  const valueW = 110;
  const plotW = W - labelW - valueW - 16;
  const max = Math.max(0, ...rows.map((r) => r.value));
  const children: SvgNode[] = [];
  rows.forEach((r, i) => {
    const y0 = 8 + i * rowH;
    const w = max > 0 ? (r.value / max) * plotW : 0;
    children.push(text(labelW - 8, y0 + 16, r.label, 'label', 'end'));
    children.push({ tag: 'rect', attrs: { x: labelW, y: y0 + 3, width: n(Math.max(r.value > 0 ? 1.5 : 0, w)), height: rowH - 8, class: `bar ${r.cls}` }, children: [{ tag: 'title', text: `${r.label}: ${r.valueText}` }] });
    children.push(text(labelW + Math.max(w, 0) + 6, y0 + 16, r.valueText, 'value', 'start'));
  });
  return frame(label, cls, children, W, height);
}

/** Succeeded / failed / dead-lettered / retrying documents of the run. */
export function outcomesChart(m: Metrics): SvgNode {
  const d = m.documents;
  const rows: HBarRow[] = [
    { label: 'Succeeded', value: d.succeeded, cls: 'done', valueText: String(d.succeeded) },
    { label: 'Failed', value: d.failed, cls: 'failed', valueText: String(d.failed) },
    { label: 'Dead-lettered', value: d.deadLettered, cls: 'dead', valueText: String(d.deadLettered) },
    { label: 'Retrying', value: d.retrying, cls: 'retry', valueText: String(d.retrying) },
    { label: 'Retried attempts', value: m.outcomes.retry, cls: 'retry', valueText: String(m.outcomes.retry) },
  ];
  const label = `Success and failure: ${d.succeeded} documents succeeded, ${d.failed} failed, ${d.deadLettered} dead-lettered, ${d.retrying} waiting for a retry; ${m.outcomes.retry} attempts were retried.`;
  return hBarChart(rows, label, 'outcomes');
}

/** Mean time per stage (reading … exporting). */
export function stagesChart(m: Metrics): SvgNode {
  const rows: HBarRow[] = m.stages.map((s) => ({ label: s.stage[0].toUpperCase() + s.stage.slice(1), value: s.meanMs, cls: `stage-${s.stage}`, valueText: s.attempts ? `${formatDuration(s.meanMs)} avg` : '—' }));
  const total = m.stages.reduce((t, s) => t + s.totalMs, 0);
  const parts = m.stages.filter((s) => s.attempts).map((s) => `${s.stage} ${formatDuration(s.meanMs)} on average (${total ? Math.round((s.totalMs / total) * 100) : 0} % of the time)`);
  const label = parts.length ? `Time per stage: ${parts.join(', ')}.` : 'Time per stage: no timings recorded yet.';
  return hBarChart(rows, label, 'stages');
}

/** Top error codes by failed attempts. */
export function errorsChart(m: Metrics): SvgNode {
  const rows: HBarRow[] = m.topErrors.map((e) => ({ label: e.code, value: e.attempts, cls: 'failed', valueText: `${e.attempts} (${e.documents} doc${e.documents === 1 ? '' : 's'})` }));
  const label = rows.length ? `Top error codes: ${m.topErrors.map((e) => `${e.code} ${e.attempts} attempts in ${e.documents} documents`).join(', ')}.` : 'Top error codes: no errors.';
  if (!rows.length) return empty(label, 'errors', 'No errors', NARROW);
  return hBarChart(rows, label, 'errors');
}

/** Side-by-side bars of two runs for one figure (comparison). */
export function pairChart(title: string, a: { label: string; value: number }, b: { label: string; value: number }, fmt: (v: number) => string): SvgNode {
  return hBarChart(
    [
      { label: a.label, value: a.value, cls: 'run-a', valueText: fmt(a.value) },
      { label: b.label, value: b.value, cls: 'run-b', valueText: fmt(b.value) },
    ],
    `${title}: ${a.label} ${fmt(a.value)}, ${b.label} ${fmt(b.value)}.`,
    'pair',
  );
}

/** Every chart of the dashboard, keyed by section. */
export function dashboardCharts(m: Metrics): Record<'throughput' | 'outcomes' | 'tokens' | 'cost' | 'stages' | 'errors', SvgNode> {
  return {
    throughput: throughputChart(m),
    outcomes: outcomesChart(m),
    tokens: cumulativeChart(m, 'tokens'),
    cost: cumulativeChart(m, 'cost'),
    stages: stagesChart(m),
    errors: errorsChart(m),
  };
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** Serialises a node tree to SVG markup (benchmark, exports); the webview builds elements instead. */
export function toSvgString(node: SvgNode): string {
  const attrs = node.attrs ? Object.entries(node.attrs).map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`).join('') : '';
  const ns = node.tag === 'svg' ? ' xmlns="http://www.w3.org/2000/svg"' : '';
  const inner = (node.text !== undefined ? escapeXml(node.text) : '') + (node.children?.map(toSvgString).join('') ?? '');
  return `<${node.tag}${ns}${attrs}>${inner}</${node.tag}>`;
}

/** Number of nodes in a tree (the benchmark reports it). */
export function countNodes(node: SvgNode): number {
  return 1 + (node.children?.reduce((s, c) => s + countNodes(c), 0) ?? 0);
}
