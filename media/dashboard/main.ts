/**
 * Run dashboard webview. Receives the dashboard model from the extension host (validated with the shared
 * zod schemas), renders charts as SVG built with createElementNS and everything else with textContent —
 * never innerHTML — and posts requests back (select a run, compare two runs, reveal documents, export).
 * Nothing is posted before `dashboard/ready`, and the host posts nothing before receiving it.
 */
import { fromWebviewSchema, parseToWebview, type ComparisonColumn, type DashboardModel, type FromWebview, type RunRow, type ToWebview } from '../../src/shared/dashboardProtocol';
import { dashboardCharts, formatClock, formatCost, formatDuration, formatNumber, pairChart, type SvgNode } from './charts';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface PersistedState {
  selectedRunId?: string;
  compare?: string[];
}

const vscode = acquireVsCodeApi();
const SVG_NS = 'http://www.w3.org/2000/svg';

let runs: RunRow[] = [];
let model: DashboardModel | undefined;
let selectedRunId: string | undefined;
let compareIds: string[] = [];
let comparison: [ComparisonColumn, ComparisonColumn] | undefined;
/** JSON of what each section was last rendered from: unchanged sections are not rebuilt (keeps focus). */
const rendered = new Map<string, string>();

function post(message: FromWebview): void {
  vscode.postMessage(fromWebviewSchema.parse(message));
}

function persist(): void {
  const state: PersistedState = { selectedRunId, compare: compareIds };
  vscode.setState(state);
}

// ------------------------------------------------------------------------------------------------ DOM

type Child = Node | string | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  for (const c of children) {
    if (c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

function svg(node: SvgNode): SVGElement {
  const el = document.createElementNS(SVG_NS, node.tag);
  if (node.attrs) for (const [k, v] of Object.entries(node.attrs)) el.setAttribute(k, String(v));
  if (node.text !== undefined) el.textContent = node.text;
  for (const c of node.children ?? []) el.append(svg(c));
  return el;
}

function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}

/** Replaces a section's content when its data changed; restores focus to the element with the same key. */
function section(id: string, data: unknown, build: () => Child[]): void {
  const json = JSON.stringify(data);
  if (rendered.get(id) === json) return;
  rendered.set(id, json);
  const host = byId(id);
  const focusKey = host.contains(document.activeElement) ? (document.activeElement as HTMLElement | null)?.dataset.focusKey : undefined;
  host.replaceChildren(...build().filter((c): c is Node | string => c !== undefined && c !== false));
  if (focusKey) host.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
}

function button(label: string, focusKey: string, onClick: () => void, attrs: Record<string, string | undefined> = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', 'data-focus-key': focusKey, ...attrs }, label);
  b.addEventListener('click', onClick);
  return b;
}

function figure(title: string, chart: SvgNode, table?: HTMLElement, cls = ''): HTMLElement {
  const id = `fig-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h(
    'figure',
    { class: `card ${cls}`.trim(), 'aria-labelledby': id },
    h('figcaption', { id }, title),
    svg(chart),
    table && h('details', {}, h('summary', {}, 'Numbers as a table'), table),
  );
}

function table(headers: string[], rows: Array<Array<string | Node>>, caption?: string): HTMLTableElement {
  return h(
    'table',
    {},
    caption ? h('caption', {}, caption) : undefined,
    h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c, i) => (i === 0 && typeof c === 'string' ? h('th', { scope: 'row' }, c) : h('td', {}, c)))))),
  );
}

function fmtTime(t: number | undefined): string {
  if (t === undefined) return '—';
  const d = new Date(t);
  return `${d.toLocaleDateString()} ${formatClock(t)}`;
}

function pct(v: number | undefined): string {
  return v === undefined ? '—' : `${(v * 100).toFixed(v >= 0.999 || v === 0 ? 0 : 1)} %`;
}

// ------------------------------------------------------------------------------------------------ render

function render(): void {
  renderHeader();
  if (!model) {
    section('summary', null, () => [h('p', { class: 'muted' }, runs.length ? 'Select a run.' : 'No extraction run yet. Start one with "Extraction Workbench: Extract Workspace".')]);
    for (const id of ['charts', 'tables']) section(id, null, () => []);
  } else {
    renderSummary(model);
    renderCharts(model);
    renderTables(model);
  }
  renderHistory();
  renderComparison();
  post({ type: 'dashboard/rendered', ...(model ? { runId: model.run.id } : {}), charts: document.querySelectorAll('svg.chart').length, errorCodes: model?.metrics.topErrors.map((e) => e.code) ?? [], live: model?.run.live ?? false });
}

function renderHeader(): void {
  section('run-picker', { runs: runs.map((r) => [r.id, r.status, r.live]), selectedRunId }, () => {
    const select = h('select', { id: 'run-select', 'aria-label': 'Run' }, ...runs.map((r) => h('option', { value: r.id }, `${fmtTime(r.startedAt)} · ${r.trigger} · ${r.live ? 'running' : r.status}`)));
    select.value = selectedRunId ?? '';
    select.addEventListener('change', () => selectRun(select.value));
    return [h('label', { for: 'run-select' }, 'Run'), select];
  });
  const m = model;
  // only what the line shows: it is a polite live region, so it must not change with every live update
  const statusData = m ? { id: m.run.id, status: m.run.status, live: m.run.live, start: m.run.startedAt, end: m.run.endedAt, health: m.health, folder: m.folder, waiting: m.waiting } : null;
  section('status', statusData, () => {
    if (!m) return [];
    const level = m.health.level;
    const icon = level === 'healthy' ? '✓' : level === 'degraded' ? '⚠' : '✕';
    return [
      h('span', { class: `health-badge ${level}`, 'data-health': level }, h('span', { 'aria-hidden': 'true' }, icon), ` ${level[0].toUpperCase()}${level.slice(1)}`),
      h('span', { class: 'run-id' }, `${m.folder} · run ${m.run.id}`),
      m.run.live ? h('span', { class: 'live', 'data-live': 'true' }, '● Live') : h('span', { class: 'muted' }, m.run.status),
      h('span', { class: 'muted' }, `${fmtTime(m.run.startedAt)} → ${m.run.endedAt ? fmtTime(m.run.endedAt) : 'now'}`),
      m.waiting
        ? h(
            'p',
            { class: 'waiting', 'data-waiting': 'true', role: 'status' },
            `Waiting for the provider since ${formatClock(m.waiting.since)}${m.waiting.nextTryAt ? `, next try at ${formatClock(m.waiting.nextTryAt)}` : ', trying now'} — last error [${m.waiting.code}] ${m.waiting.message}. No document starts or uses up attempts meanwhile.`,
          )
        : undefined,
      m.health.reasons.length ? h('ul', { class: 'reasons', 'aria-label': 'Health reasons' }, ...m.health.reasons.map((r) => h('li', { class: r.level }, h('code', {}, r.code), ` ${r.message}`))) : undefined,
    ];
  });
}

function renderSummary(m: DashboardModel): void {
  const x = m.metrics;
  const finished = x.documents.succeeded + x.documents.failed + x.documents.deadLettered;
  const data = { d: x.documents, r: x.outcomes.retry, rate: x.docsPerMinute, t: x.tokensIn + x.tokensOut, c: x.cost, mean: x.meanDurationMs };
  section('summary', data, () => {
    const card = (label: string, value: string, cls = '') => h('div', { class: `stat ${cls}`.trim() }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
    return [
      card('Succeeded', String(x.documents.succeeded), 'done'),
      card('Failed', String(x.documents.failed), 'failed'),
      card('Dead-lettered', String(x.documents.deadLettered), 'dead'),
      card('Retried attempts', String(x.outcomes.retry), 'retry'),
      card('Success rate', pct(finished ? x.documents.succeeded / finished : undefined)),
      card('Docs / min', formatNumber(Math.round(x.docsPerMinute * 10) / 10)),
      card('Tokens', formatNumber(x.tokensIn + x.tokensOut)),
      card('Cost', formatCost(x.cost)),
      card('Avg duration', x.meanDurationMs === undefined ? '—' : formatDuration(x.meanDurationMs)),
    ];
  });
}

function renderCharts(m: DashboardModel): void {
  const x = m.metrics;
  section('charts', { tl: x.timeline, d: x.documents, o: x.outcomes, s: x.stages, ti: x.tokensIn, to: x.tokensOut }, () => {
    const c = dashboardCharts(x);
    const perMin = x.timeline.rateMs / x.timeline.bucketMs;
    const secs = x.timeline.bucketMs < 60_000;
    const tlRows = x.timeline.points.map((p) => [formatClock(p.t, secs), formatNumber(p.done * perMin), formatNumber(p.failed * perMin), String(p.retried), formatNumber(p.cumulativeTokens), formatCost(p.cumulativeCost)]);
    return [
      figure('Documents completed per minute', c.throughput, table(['Time', 'Completed / min', 'Failed / min', 'Retried', 'Tokens (cum.)', 'Cost (cum.)'], tlRows), 'wide'),
      figure(
        'Success and failure',
        c.outcomes,
        table(['Outcome', 'Documents'], [
          ['Succeeded', String(x.documents.succeeded)],
          ['Failed', String(x.documents.failed)],
          ['Dead-lettered', String(x.documents.deadLettered)],
          ['Retrying', String(x.documents.retrying)],
          ['Retried attempts', String(x.outcomes.retry)],
        ]),
      ),
      figure('Time per stage', c.stages, table(['Stage', 'Average', 'Total', 'Attempts'], x.stages.map((s) => [s.stage, s.attempts ? formatDuration(s.meanMs) : '—', formatDuration(s.totalMs), String(s.attempts)]))),
      figure('Tokens over time', c.tokens, undefined),
      figure('Cost over time', c.cost, undefined),
    ];
  });
}

function renderTables(m: DashboardModel): void {
  const x = m.metrics;
  section('tables', { e: x.topErrors, s: x.slowest }, () => {
    const c = dashboardCharts(x);
    const errorRows = x.topErrors.map((e) => [
      button(e.code, `error:${e.code}`, () => post({ type: 'dashboard/revealErrorCode', code: e.code }), { class: 'link error-code', title: `Show the documents that failed with ${e.code} in the Documents view`, 'data-code': e.code }),
      String(e.attempts),
      String(e.documents),
      h('span', { class: 'message', title: e.lastMessage }, e.lastMessage),
    ]);
    const slowRows = x.slowest.map((d) => [
      button(d.path, `doc:${d.path}`, () => post({ type: 'dashboard/revealDocument', path: d.path }), { class: 'link path', title: `Show ${d.path} in the Documents view` }),
      formatDuration(d.durationMs),
      d.outcome,
      String(d.attempt),
    ]);
    return [
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'errors-title', id: 'top-errors' },
        h('h2', { id: 'errors-title' }, 'Top error codes'),
        x.topErrors.length ? svg(c.errors) : undefined,
        x.topErrors.length ? table(['Code', 'Attempts', 'Documents', 'Last message'], errorRows, 'Select a code to show its documents in the Documents view.') : h('p', { class: 'muted' }, 'No errors in this run.'),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'slow-title', id: 'slowest' },
        h('h2', { id: 'slow-title' }, 'Slowest documents'),
        x.slowest.length ? table(['Document', 'Longest attempt', 'Outcome', 'Attempt'], slowRows) : h('p', { class: 'muted' }, 'No documents yet.'),
      ),
    ];
  });
}

function renderHistory(): void {
  section('history', { runs, compareIds, selectedRunId }, () => {
    if (!runs.length) return [h('p', { class: 'muted' }, 'No runs yet.')];
    const rows = runs.map((r) => {
      const check = h('input', { type: 'checkbox', 'aria-label': `Compare run ${r.id}`, 'data-focus-key': `cmp:${r.id}` });
      check.checked = compareIds.includes(r.id);
      check.addEventListener('change', () => {
        compareIds = check.checked ? [...compareIds.filter((id) => id !== r.id), r.id].slice(-2) : compareIds.filter((id) => id !== r.id);
        persist();
        render();
      });
      const c = r.counts;
      return [
        button(fmtTime(r.startedAt), `run:${r.id}`, () => selectRun(r.id), { class: `link${r.id === selectedRunId ? ' selected' : ''}`, 'aria-current': r.id === selectedRunId ? 'true' : undefined, title: `Show run ${r.id}` }),
        r.endedAt ? fmtTime(r.endedAt) : r.live ? 'running' : '—',
        r.trigger,
        r.live ? 'running' : r.status,
        c ? `${c.done} / ${c.failed + c.deadLettered}` : '—',
        r.tokensIn !== undefined ? formatNumber(r.tokensIn + (r.tokensOut ?? 0)) : '—',
        r.cost !== undefined ? formatCost(r.cost) : '—',
        r.health ? h('span', { class: `health-text ${r.health}` }, r.health) : '—',
        check,
      ];
    });
    const compare = button('Compare selected runs', 'compare', () => {
      if (compareIds.length === 2) post({ type: 'dashboard/compare', runIds: [compareIds[0], compareIds[1]] });
    });
    compare.disabled = compareIds.length !== 2;
    return [table(['Started', 'Ended', 'Trigger', 'Status', 'Done / failed', 'Tokens', 'Cost', 'Health at end', 'Compare'], rows), h('div', { class: 'toolbar' }, compare, h('span', { class: 'muted' }, compareIds.length === 2 ? '' : 'Tick two runs to compare them.'))];
  });
}

function renderComparison(): void {
  section('comparison', comparison ?? null, () => {
    if (!comparison) return [];
    const [a, b] = comparison;
    const la = `A ${fmtTime(a.startedAt)}`;
    const lb = `B ${fmtTime(b.startedAt)}`;
    const rows: Array<[string, string, string]> = [
      ['Documents', String(a.documents), String(b.documents)],
      ['Succeeded', String(a.succeeded), String(b.succeeded)],
      ['Failed', String(a.failed), String(b.failed)],
      ['Success rate', pct(a.successRate), pct(b.successRate)],
      ['Throughput (docs / min)', formatNumber(Math.round(a.docsPerMinute * 10) / 10), formatNumber(Math.round(b.docsPerMinute * 10) / 10)],
      ['Cost', formatCost(a.cost), formatCost(b.cost)],
      ['Cost per document', a.costPerDocument === undefined ? '—' : formatCost(a.costPerDocument), b.costPerDocument === undefined ? '—' : formatCost(b.costPerDocument)],
      ['Tokens', formatNumber(a.tokens), formatNumber(b.tokens)],
      ['Avg duration', a.meanDurationMs === undefined ? '—' : formatDuration(a.meanDurationMs), b.meanDurationMs === undefined ? '—' : formatDuration(b.meanDurationMs)],
      ['Run time', a.durationMs === undefined ? '—' : formatDuration(a.durationMs), b.durationMs === undefined ? '—' : formatDuration(b.durationMs)],
      ...accuracyRows(a, b),
    ];
    const both = a.accuracy?.overall != null && b.accuracy?.overall != null;
    return [
      h('h2', { id: 'compare-title' }, 'Comparison'),
      h('p', { class: 'verdict', id: 'comparison-verdict' }, verdict(a, b)),
      h(
        'div',
        { class: 'grid' },
        figure('Success rate', pairChart('Success rate', { label: 'A', value: (a.successRate ?? 0) * 100 }, { label: 'B', value: (b.successRate ?? 0) * 100 }, (v) => `${formatNumber(Math.round(v * 10) / 10)} %`)),
        figure('Throughput', pairChart('Throughput (docs / min)', { label: 'A', value: a.docsPerMinute }, { label: 'B', value: b.docsPerMinute }, (v) => formatNumber(Math.round(v * 10) / 10))),
        figure('Cost', pairChart('Cost', { label: 'A', value: a.cost }, { label: 'B', value: b.cost }, formatCost)),
        both
          ? figure('Accuracy', pairChart('Accuracy (checked documents)', { label: 'A', value: a.accuracy!.overall! * 100 }, { label: 'B', value: b.accuracy!.overall! * 100 }, (v) => `${formatNumber(Math.round(v * 10) / 10)} %`))
          : undefined,
      ),
      table(['', la, lb], rows, `Run A: ${a.runId} · Run B: ${b.runId}`),
    ];
  });
}

/** Accuracy against the corrections, overall and per field (rows of the comparison table). */
function accuracyRows(a: ComparisonColumn, b: ComparisonColumn): Array<[string, string, string]> {
  if (!a.accuracy && !b.accuracy) return [['Accuracy', 'no checked documents', 'no checked documents']];
  const cell = (v: number | null | undefined, total?: number) => (v === null || v === undefined ? '—' : `${pct(v)}${total !== undefined ? ` (${total})` : ''}`);
  const overall = (c: ComparisonColumn) => (c.accuracy ? `${cell(c.accuracy.overall)} (${c.accuracy.documents} document${c.accuracy.documents === 1 ? '' : 's'})` : '—');
  const rows: Array<[string, string, string]> = [
    ['Accuracy (checked documents)', overall(a), overall(b)],
  ];
  const names = [...new Set([...(a.accuracy?.fields ?? []), ...(b.accuracy?.fields ?? [])].map((f) => f.name))];
  for (const name of names) {
    const fa = a.accuracy?.fields.find((f) => f.name === name);
    const fb = b.accuracy?.fields.find((f) => f.name === name);
    rows.push([`Accuracy: ${name}`, cell(fa?.accuracy, fa?.total), cell(fb?.accuracy, fb?.total)]);
  }
  return rows;
}

/** "B (model) against A (model): −3 pt accuracy, −80 % cost per document, …" (what is known of the two). */
function verdict(a: ComparisonColumn, b: ComparisonColumn): string {
  const parts: string[] = [];
  const signed = (v: number, unit: string) => `${v > 0 ? '+' : v < 0 ? '−' : '±'}${formatNumber(Math.round(Math.abs(v) * 10) / 10)} ${unit}`;
  const accA = a.accuracy?.overall;
  const accB = b.accuracy?.overall;
  if (accA != null && accB != null) parts.push(`${signed((accB - accA) * 100, 'pt')} accuracy`);
  else parts.push('no accuracy (no corrected or reviewed document has a result of both runs)');
  // per document: two runs seldom extract the same number of documents
  if (a.costPerDocument && b.costPerDocument !== undefined) parts.push(`${signed(((b.costPerDocument - a.costPerDocument) / a.costPerDocument) * 100, '%')} cost per document`);
  if (a.meanDurationMs && b.meanDurationMs) parts.push(`${signed(((b.meanDurationMs - a.meanDurationMs) / a.meanDurationMs) * 100, '%')} time per document`);
  const name = (label: string, c: ComparisonColumn) => (c.model ? `${label} (${c.model})` : label);
  return `${name('B', b)} against ${name('A', a)}: ${parts.join(', ')}.`;
}

function selectRun(runId: string): void {
  if (!runId || runId === selectedRunId) return;
  selectedRunId = runId;
  persist();
  post({ type: 'dashboard/selectRun', runId });
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function notice(level: 'info' | 'warning' | 'error', message: string): void {
  const el = byId('notice');
  el.className = `notice ${level}`;
  el.textContent = message;
  if (noticeTimer) clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    el.textContent = '';
    el.className = 'notice';
  }, 8000);
}

// ------------------------------------------------------------------------------------------------ messages

function onMessage(msg: ToWebview): void {
  switch (msg.type) {
    case 'dashboard/state':
      runs = msg.runs;
      model = msg.model;
      selectedRunId = msg.model?.run.id ?? msg.selectedRunId;
      compareIds = compareIds.filter((id) => runs.some((r) => r.id === id));
      persist();
      render();
      break;
    case 'dashboard/update':
      if (msg.model.run.id !== selectedRunId) return;
      model = msg.model;
      runs = runs.map((r) => (r.id === msg.model.run.id ? msg.model.run : r));
      render();
      break;
    case 'dashboard/comparison':
      comparison = msg.columns;
      render();
      byId('comparison').scrollIntoView({ block: 'nearest' });
      post({ type: 'dashboard/comparisonRendered', verdict: byId('comparison-verdict').textContent ?? '', rows: byId('comparison').querySelectorAll('tbody tr').length });
      break;
    case 'dashboard/notice':
      notice(msg.level, msg.message);
      break;
  }
}

window.addEventListener('message', (event: MessageEvent) => {
  const msg = parseToWebview(event.data);
  if (!msg) {
    console.warn('run dashboard: ignored an invalid message');
    return;
  }
  onMessage(msg);
});

byId('export-csv').addEventListener('click', () => post({ type: 'dashboard/export', format: 'csv' }));
byId('export-json').addEventListener('click', () => post({ type: 'dashboard/export', format: 'json' }));

const saved = vscode.getState() as PersistedState | undefined;
if (saved && Array.isArray(saved.compare)) compareIds = saved.compare.filter((x): x is string => typeof x === 'string').slice(0, 2);
post({ type: 'dashboard/ready', ...(typeof saved?.selectedRunId === 'string' && saved.selectedRunId ? { selectedRunId: saved.selectedRunId } : {}) });
