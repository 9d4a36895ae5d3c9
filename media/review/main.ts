/**
 * The Review webview: source document on the left, extracted fields on the right.
 *
 * Talks to the extension only through the shared protocol (src/shared/reviewProtocol.ts): everything
 * received is validated with `parseHostMessage`, everything sent is a typed `WebviewMessage`. Says
 * `review/ready` once it listens. Keeps its place (document, selected field, filter, scroll positions)
 * with `setState`, so it comes back the same after being hidden or after a reload.
 *
 * Keyboard: j / Alt+↓ next document, k / Alt+↑ previous, ] and [ next / previous field, r mark
 * reviewed, z undo the last correction, + / − / 0 zoom the PDF or image.
 */
import { confidenceOf, DEFAULT_CONFIDENCE_THRESHOLD, toCheck } from '../../src/extract/confidence';
import type { FieldGrounding } from '../../src/extract/grounding';
import { createValidator, type Validator } from '../../src/extract/schema';
import {
  parseHostMessage,
  REVIEW_PROTOCOL_VERSION,
  webviewStateSchema,
  type DocumentView,
  type FieldGroundingView,
  type GroundingView,
  type HostMessage,
  type JsonValue,
  type NavFilter,
  type RerunView,
  type ReviewInfo,
  type WebviewMessage,
  type WebviewState,
} from '../../src/shared/reviewProtocol';
import { h, preview, replaceChildren } from './dom';
import { ImageView } from './imageView';
import type { PageView } from './pageView';
import { PdfView } from './pdfView';
import { SchemaForm } from './schemaForm';
import { TextView } from './textView';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const PDFJS_URL = document.body.dataset.pdfjs ?? '';
const PDF_WORKER_URL = document.body.dataset.pdfWorker ?? '';
const PDF_ASSETS = { cMapUrl: document.body.dataset.pdfCmaps ?? '', standardFontDataUrl: document.body.dataset.pdfFonts ?? '' };

function post(msg: WebviewMessage): void {
  vscode.postMessage(msg);
}

function savedState(): WebviewState | undefined {
  const r = webviewStateSchema.safeParse(vscode.getState());
  return r.success ? r.data : undefined;
}

// ------------------------------------------------------------------ state

let doc: DocumentView | undefined;
let data: JsonValue = null;
let grounding: GroundingView | null = null;
let review: ReviewInfo | undefined;
let selected: string | undefined;
let filter: NavFilter = savedState()?.filter ?? 'all';
let validator: Validator | undefined;
let sourceKey = '';
/** The paged view of a PDF or an image document. */
let pageView: PageView | undefined;
let textView: TextView | undefined;

// ------------------------------------------------------------------ skeleton

const app = document.getElementById('app')!;
const btn = (text: string, title: string, onClick: () => void, cls = ''): HTMLButtonElement => {
  const b = h('button', { type: 'button', class: cls || undefined, title, 'aria-label': title }, text);
  b.addEventListener('click', onClick);
  return b;
};

const prevBtn = btn('◀ Previous', 'Previous document (k or Alt+↑)', () => navigate('previous'), 'nav-prev');
const nextBtn = btn('Next ▶', 'Next document (j or Alt+↓)', () => navigate('next'), 'nav-next');
const filterSel = h(
  'select',
  { class: 'nav-filter', title: 'Which documents Previous / Next go to', 'aria-label': 'Navigate among' },
  h('option', { value: 'all' }, 'All documents'),
  h('option', { value: 'failed' }, 'Failed only'),
  h('option', { value: 'ungrounded' }, 'With ungrounded values'),
  h('option', { value: 'unreviewed' }, 'Unreviewed only'),
);
filterSel.value = filter;
filterSel.addEventListener('change', () => {
  filter = filterSel.value as NavFilter;
  saveState();
});
const position = h('span', { class: 'nav-pos', 'aria-live': 'polite' });
const docTitle = h('span', { class: 'doc-path' });
const stageBadge = h('span', { class: 'stage' });
const checkBtn = btn('⚑ Next to check', 'Select the next value to check: lowest confidence first, ungrounded before grounded (n)', () => nextToCheck(), 'next-check');
const reviewedBtn = btn('✓ Mark reviewed', 'Mark this document reviewed (r)', () => post({ type: 'review/markReviewed', reviewed: !review?.reviewed }), 'reviewed-toggle');
const undoBtn = btn('↶ Undo', 'Undo the last correction (z)', () => post({ type: 'review/undo' }), 'undo');
const openBtn = btn('Open file', 'Open the document in an editor', () => post({ type: 'review/openSource' }), 'open-source');
const zoomOut = btn('−', 'Zoom out (−)', () => pageView?.zoom('out'), 'zoom');
const zoomFit = btn('Fit', 'Fit the page width (0)', () => pageView?.zoom('fit'), 'zoom');
const zoomIn = btn('+', 'Zoom in (+)', () => pageView?.zoom('in'), 'zoom');
const zoomGroup = h('span', { class: 'zoom-group', role: 'group', 'aria-label': 'Zoom' }, zoomOut, zoomFit, zoomIn);

const notice = h('div', { class: 'notice', role: 'status', hidden: true });
const errorBanner = h('div', { class: 'error-banner', role: 'alert', hidden: true });
const source = h('section', { class: 'source', tabindex: 0, 'aria-label': 'Source document' });
const summary = h('div', { class: 'summary' });
const selection = h('div', { class: 'selection-info', 'aria-live': 'polite' });
const rerunPanel = h('div', { class: 'rerun' });
const form = new SchemaForm({
  select: (p) => select(p, true),
  commit: (op, pointer, value) => {
    hideError();
    post({ type: 'review/correct', op, pointer, ...(value !== undefined ? { value } : {}) });
  },
  validate: (candidate) => {
    if (!validator) return [];
    const r = validator(candidate);
    return r.ok ? [] : r.errors;
  },
});
const fields = h('section', { class: 'fields', 'aria-label': 'Extracted fields' }, summary, selection, rerunPanel, form.el);

replaceChildren(
  app,
  h(
    'header',
    { class: 'toolbar' },
    h('span', { class: 'group', role: 'group', 'aria-label': 'Documents' }, prevBtn, nextBtn, filterSel, position),
    h('span', { class: 'title' }, docTitle, stageBadge),
    h('span', { class: 'group', role: 'group', 'aria-label': 'Review' }, zoomGroup, openBtn, checkBtn, undoBtn, reviewedBtn),
  ),
  notice,
  errorBanner,
  h('main', { class: 'split' }, source, fields),
);
app.removeAttribute('aria-busy');

// ------------------------------------------------------------------ helpers

const nameOf = (p: string): string => SchemaForm.nameOf(p);

function groundingOf(p: string): FieldGroundingView | undefined {
  return grounding?.fields.find((f) => f.pointer === p);
}

function saveState(): void {
  if (!doc) return;
  vscode.setState({
    folderKey: doc.folderKey,
    path: doc.path,
    ...(selected ? { selected } : {}),
    filter,
    sourceScroll: source.scrollTop,
    formScroll: fields.scrollTop,
  } satisfies WebviewState);
}

let scrollTimer: number | undefined;
const onScroll = () => {
  window.clearTimeout(scrollTimer);
  scrollTimer = window.setTimeout(saveState, 200);
};
source.addEventListener('scroll', onScroll, { passive: true });
fields.addEventListener('scroll', onScroll, { passive: true });

function showError(message: string): void {
  errorBanner.textContent = message;
  errorBanner.hidden = false;
}

function hideError(): void {
  errorBanner.hidden = true;
  errorBanner.textContent = '';
}

function navigate(direction: 'next' | 'previous'): void {
  hideError();
  post({ type: 'review/navigate', direction, filter });
}

/** The values below the confidence threshold, in the order to check them. */
function valuesToCheck(): string[] {
  return toCheck((grounding?.fields ?? []) as FieldGrounding[], doc?.confidenceThreshold ?? DEFAULT_CONFIDENCE_THRESHOLD).map((f) => f.pointer);
}

/** Selects the value to check after the selected one (the first when the selection is not one of them). */
function nextToCheck(): void {
  const list = valuesToCheck();
  if (!list.length) {
    selection.textContent = 'No value below the confidence threshold: nothing left to check.';
    return;
  }
  const i = selected ? list.indexOf(selected) : -1;
  const next = list[(i + 1) % list.length];
  select(next, true);
  form.select(next, true);
}

function describeSelection(p: string): void {
  const g = groundingOf(p);
  const name = nameOf(p);
  let text: string;
  if (!g) text = `${name}: nothing to look for (no value).`;
  else if (g.status === 'ungrounded') text = `${name}: UNGROUNDED — not found in the document.`;
  else {
    const where = g.page ? `page ${g.page}` : g.line ? `line ${g.line}` : 'the document';
    text = `${name}: ${g.match ?? 'exact'} match on ${where}${g.text !== undefined ? `: ${preview(g.text, 100)}` : ''}`;
  }
  if (g) {
    const c = confidenceOf(g as FieldGrounding);
    text += ` · confidence ${c.toFixed(2)}${g.confidenceSource === 'logprobs' ? ' (model)' : ''}`;
    if (g.lowConfidence) text += ` · LOW OCR CONFIDENCE${g.ocrConfidence !== undefined ? ` (${g.ocrConfidence}%)` : ''}: check it against the image`;
    else if (g.ocrConfidence !== undefined) text += ` · OCR ${g.ocrConfidence}%`;
  }
  selection.textContent = text;
}

/** Selects a field: marks it in the form and shows (and scrolls to) its place in the source. */
function select(p: string, scroll: boolean): void {
  const changed = p !== selected;
  selected = p;
  form.select(p);
  const g = groundingOf(p);
  if (pageView) {
    if (!pageView.highlight(p, scroll) && g?.page && scroll) pageView.showPage(g.page);
  } else if (textView) {
    textView.highlight(p, scroll, g);
  }
  describeSelection(p);
  if (changed) post({ type: 'review/fieldSelected', pointer: p });
  saveState();
}

// ------------------------------------------------------------------ rendering

function renderToolbar(d: DocumentView): void {
  docTitle.textContent = d.path;
  docTitle.title = d.path;
  stageBadge.textContent = d.stage;
  stageBadge.className = `stage stage-${d.stage.replace(/[^a-z-]/gi, '')}`;
  position.textContent = d.nav.total ? `${d.nav.index + 1} / ${d.nav.total}` : '';
  prevBtn.disabled = d.nav.total < 2;
  nextBtn.disabled = d.nav.total < 2;
  zoomGroup.hidden = d.source.kind !== 'pdf' && d.source.kind !== 'image';
}

function renderReviewState(): void {
  const r = review;
  reviewedBtn.textContent = r?.reviewed ? '✓ Reviewed' : 'Mark reviewed';
  reviewedBtn.setAttribute('aria-pressed', r?.reviewed ? 'true' : 'false');
  reviewedBtn.title = r?.reviewed ? `Reviewed${r.reviewedBy ? ` by ${r.reviewedBy}` : ''}${r.reviewedAt ? ` at ${r.reviewedAt}` : ''} — click to clear (r)` : 'Mark this document reviewed (r)';
  reviewedBtn.disabled = !doc?.hasResult;
  undoBtn.disabled = !r?.corrections;
  undoBtn.title = r?.corrections ? `Undo the last correction (z) — ${r.corrections} in effect` : 'No correction to undo';
  const notes = [doc?.error ? `Last error: ${doc.error}` : undefined, r?.notice].filter((n): n is string => !!n);
  notice.textContent = notes.join(' ');
  notice.hidden = notes.length === 0;
}

function renderSummary(): void {
  const s = grounding?.summary;
  if (!s) {
    checkBtn.disabled = true;
    summary.textContent = doc?.hasResult ? 'Grounding unavailable for this document.' : 'No result yet.';
    return;
  }
  const parts: (string | HTMLElement)[] = [`${s.total} value${s.total === 1 ? '' : 's'}: `];
  const add = (n: number, cls: string, label: string) => {
    if (!n) return;
    if (parts.length > 1) parts.push(', ');
    parts.push(h('span', { class: `count ${cls}` }, `${n} ${label}`));
  };
  add(s.exact, 'exact', 'exact');
  add(s.normalized, 'normalized', 'normalized');
  add(s.fuzzy, 'fuzzy', 'fuzzy');
  add(s.ungrounded, 'ungrounded', 'UNGROUNDED');
  const check = valuesToCheck().length;
  checkBtn.disabled = !check;
  checkBtn.textContent = check ? `⚑ Next to check (${check})` : '⚑ Nothing to check';
  if (check) parts.push(' · ', h('span', { class: 'count to-check' }, `${check} to check`));
  if (review?.corrections) parts.push(` · ${review.corrections} correction${review.corrections === 1 ? '' : 's'}`);
  replaceChildren(summary, ...parts);
}

function renderRerun(r: RerunView | undefined): void {
  const d = doc;
  if (!d) return;
  if (!r) {
    const instruction = h('textarea', { class: 'rerun-instruction', rows: 2, placeholder: 'Optional extra instruction for this rerun, e.g. "The total is the amount due including VAT."', 'aria-label': 'Extra instruction for the rerun', maxlength: 4000 });
    const go = btn(d.hasResult ? 'Rerun' : 'Extract', d.canRun ? 'Extract this document again and compare' : 'Reruns are disabled in Restricted Mode', () => {
      hideError();
      post({ type: 'review/rerun', ...(instruction.value.trim() ? { instruction: instruction.value.trim() } : {}) });
    }, 'rerun-go');
    go.disabled = !d.canRun;
    const details = h('details', { class: 'rerun-idle' }, h('summary', {}, d.hasResult ? 'Rerun this document…' : 'Extract this document…'), instruction, h('div', { class: 'rerun-actions' }, go));
    replaceChildren(rerunPanel, details);
    return;
  }
  if (r.state === 'running') {
    replaceChildren(rerunPanel, h('div', { class: 'rerun-running', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }, '⟳'), ' Rerunning…', r.instruction ? h('span', { class: 'muted' }, ` with “${r.instruction}”`) : ''));
    return;
  }
  if (r.state === 'failed') {
    replaceChildren(rerunPanel, h('div', { class: 'rerun-failed', role: 'alert' }, h('p', {}, r.message), btn('Dismiss', 'Dismiss and keep the previous result', () => post({ type: 'review/acceptRerun', accept: false }), 'rerun-dismiss')));
    return;
  }
  const rows = r.changes.map((c) =>
    h(
      'tr',
      { class: `change ${c.kind}`, 'data-pointer': c.pointer },
      h('td', { class: 'change-field' }, nameOf(c.pointer)),
      h('td', { class: 'change-kind' }, c.kind),
      h('td', { class: 'change-before' }, c.kind === 'added' ? '' : preview(c.before, 80)),
      h('td', { class: 'change-after' }, c.kind === 'removed' ? '' : preview(c.after, 80)),
    ),
  );
  for (const row of rows) row.addEventListener('click', () => select(row.dataset.pointer!, true));
  const table = rows.length
    ? h('table', { class: 'diff' }, h('thead', {}, h('tr', {}, h('th', {}, 'Field'), h('th', {}, 'Change'), h('th', {}, 'Before'), h('th', {}, 'After'))), h('tbody', {}, ...rows))
    : h('p', { class: 'muted' }, 'The rerun gave the same values as before.');
  const keep = btn('Keep new result', 'Accept the rerun: the new result replaces the previous one', () => post({ type: 'review/acceptRerun', accept: true }), 'rerun-accept primary');
  const restore = btn('Restore previous', 'Reject the rerun: the previous result is written back', () => post({ type: 'review/acceptRerun', accept: false }), 'rerun-reject');
  restore.hidden = r.before === null; // a first extraction: nothing to go back to
  replaceChildren(
    rerunPanel,
    h(
      'div',
      { class: 'rerun-diff', role: 'region', 'aria-label': 'Rerun result' },
      h('p', {}, h('strong', {}, `The rerun changed ${r.changes.length} field${r.changes.length === 1 ? '' : 's'}`), r.instruction ? h('span', { class: 'muted' }, ` (instruction: “${r.instruction}”)`) : '', '. Keep it?'),
      table,
      h('div', { class: 'rerun-actions' }, keep, restore),
    ),
  );
}

function renderForm(): void {
  const d = doc;
  if (!d) return;
  const focused = document.activeElement?.closest('[data-pointer]')?.getAttribute('data-pointer') ?? undefined;
  const rerun = d.rerun;
  form.render({
    data,
    schema: d.schema,
    grounding,
    review: review!,
    editable: d.hasResult && !rerun,
    ...(rerun?.state === 'diff' ? { changes: rerun.changes } : {}),
  });
  if (selected) form.select(selected, focused === selected);
}

async function renderSource(d: DocumentView): Promise<void> {
  const key =
    d.source.kind === 'pdf' || d.source.kind === 'image'
      ? `${d.source.kind}:${d.source.uri}:${JSON.stringify(d.source.pages)}`
      : d.source.kind === 'text'
        ? `text:${d.path}:${d.source.text.length}:${d.source.text}`
        : `none:${d.source.reason}`;
  const fieldsOf = grounding?.fields ?? [];
  if (key === sourceKey) {
    pageView?.setFields(fieldsOf);
    if (textView && d.source.kind === 'text') textView.render(d.source.text, fieldsOf);
    return;
  }
  sourceKey = key;
  pageView?.dispose();
  pageView = undefined;
  textView = undefined;
  if (d.source.kind === 'unavailable') {
    replaceChildren(source, h('p', { class: 'unavailable' }, d.source.reason));
    return;
  }
  if (d.source.kind === 'text') {
    textView = new TextView({ select: (p) => select(p, false), nameOf });
    textView.render(d.source.text, fieldsOf);
    replaceChildren(source, textView.el);
    return;
  }
  const callbacks = { select: (p: string) => select(p, false), nameOf, error: (m: string) => post({ type: 'review/error', message: m }) };
  if (d.source.kind === 'image') {
    const view = new ImageView(source, callbacks);
    pageView = view;
    replaceChildren(source, view.el);
    view.load(d.source.uri, d.source.format, d.source.pages);
    view.setFields(fieldsOf);
    source.dataset.pdfReady = 'true';
    return;
  }
  const view = new PdfView(source, callbacks);
  pageView = view;
  replaceChildren(source, view.el, h('p', { class: 'loading' }, 'Loading PDF…'));
  try {
    await view.load(d.source.uri, d.source.pages, PDFJS_URL, PDF_WORKER_URL, PDF_ASSETS);
    source.querySelector('.loading')?.remove();
    view.setFields(grounding?.fields ?? []);
    source.dataset.pdfReady = 'true';
  } catch (err) {
    const message = `The PDF could not be displayed: ${(err as Error)?.message ?? err}`;
    replaceChildren(source, h('p', { class: 'unavailable' }, message));
    post({ type: 'review/error', message });
  }
}

async function load(d: DocumentView, selectedFromHost: string | undefined): Promise<void> {
  const previous = doc;
  const saved = savedState();
  const samePlace = saved && saved.path === d.path && saved.folderKey === d.folderKey;
  const sameDoc = previous && previous.path === d.path && previous.folderKey === d.folderKey;
  doc = d;
  data = d.data;
  grounding = d.grounding;
  review = d.review;
  try {
    validator = Object.keys(d.schema).length ? createValidator(d.schema) : undefined;
  } catch {
    validator = undefined;
  }
  if (!sameDoc) {
    // a document opened afresh starts on the first value to check
    selected = selectedFromHost ?? (samePlace ? saved.selected : valuesToCheck()[0]);
    delete source.dataset.pdfReady;
    hideError();
  }
  renderToolbar(d);
  renderReviewState();
  renderSummary();
  renderRerun(d.rerun);
  renderForm();
  await renderSource(d);
  if (!sameDoc && samePlace && saved.formScroll !== undefined) fields.scrollTop = saved.formScroll;
  if (!sameDoc && samePlace && saved.sourceScroll !== undefined && !selectedFromHost) source.scrollTop = saved.sourceScroll;
  if (selected) select(selected, !(samePlace && saved.sourceScroll !== undefined && !sameDoc && !selectedFromHost));
  else selection.textContent = 'Select a field to see where it comes from.';
  app.dataset.loaded = d.path;
  saveState();
}

function update(next: { data: JsonValue; grounding: GroundingView | null; review: ReviewInfo }): void {
  data = next.data;
  grounding = next.grounding;
  review = next.review;
  if (doc) doc = { ...doc, data, grounding, review };
  renderReviewState();
  renderSummary();
  renderForm();
  pageView?.setFields(grounding?.fields ?? []);
  if (textView && doc?.source.kind === 'text') textView.render(doc.source.text, grounding?.fields ?? []);
  if (selected) select(selected, false);
  app.dataset.updated = String(Date.now());
}

// ------------------------------------------------------------------ messages

window.addEventListener('message', (event: MessageEvent) => {
  let msg: HostMessage;
  try {
    msg = parseHostMessage(event.data);
  } catch (err) {
    post({ type: 'review/error', message: (err as Error).message });
    return;
  }
  switch (msg.type) {
    case 'review/load':
      void load(msg.document, msg.selected);
      break;
    case 'review/update':
      update(msg);
      break;
    case 'review/rerun':
      if (doc) doc = { ...doc, ...(msg.rerun ? { rerun: msg.rerun } : { rerun: undefined }) };
      renderRerun(msg.rerun);
      renderForm();
      break;
    case 'review/select':
      select(msg.pointer, true);
      break;
    case 'review/error':
      showError(msg.message);
      if (msg.pointer) form.showError(msg.pointer, msg.message);
      break;
  }
});

// ------------------------------------------------------------------ keyboard

function moveField(delta: number): void {
  const list = form.pointers();
  if (!list.length) return;
  const i = selected ? list.indexOf(selected) : -1;
  const next = list[(i + delta + list.length) % list.length];
  select(next, true);
  form.select(next, true);
}

document.addEventListener('keydown', (e) => {
  const t = e.target as HTMLElement | null;
  const typing = !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
  if (e.altKey && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
    e.preventDefault();
    navigate(e.key === 'ArrowDown' ? 'next' : 'previous');
    return;
  }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  switch (e.key) {
    case 'j':
      navigate('next');
      break;
    case 'k':
      navigate('previous');
      break;
    case ']':
      moveField(1);
      break;
    case '[':
      moveField(-1);
      break;
    case 'n':
      nextToCheck();
      break;
    case 'r':
      if (doc?.hasResult) post({ type: 'review/markReviewed', reviewed: !review?.reviewed });
      break;
    case 'z':
      if (review?.corrections) post({ type: 'review/undo' });
      break;
    case '+':
    case '=':
      pageView?.zoom('in');
      break;
    case '-':
      pageView?.zoom('out');
      break;
    case '0':
      pageView?.zoom('fit');
      break;
    default:
      return;
  }
  e.preventDefault();
});

window.addEventListener('error', (e) => post({ type: 'review/error', message: `Review page error: ${e.message}` }));
window.addEventListener('unhandledrejection', (e) => post({ type: 'review/error', message: `Review page error: ${(e.reason as Error)?.message ?? e.reason}` }));

const initial = savedState();
post({ type: 'review/ready', protocol: REVIEW_PROTOCOL_VERSION, ...(initial ? { state: initial } : {}) });
