/**
 * The Review panel: one webview panel that shows a document (left) next to its extracted fields (right),
 * and the host side of everything it does — corrections, undo, mark reviewed, rerun with a diff, and
 * navigation. Every message from the page is validated with the shared protocol before it is acted on,
 * and nothing is posted before the page said `review/ready` (it says so again after being hidden and
 * shown, since the panel does not retain its context).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Logger } from '../../core/logger';
import type { ConverterRegistry } from '../../convert/index';
import type { PdfLimits } from '../../convert/pdf/limits';
import { writeFileAtomic, type ResultFile } from '../../export/jsonExporter';
import {
  applyCorrection,
  getAt,
  hostMessageSchema,
  messagesFor,
  parseWebviewMessage,
  ProtocolError,
  REVIEW_VIEW_TYPE,
  type CorrectionOp,
  type DocumentView,
  type HostMessage,
  type JsonValue,
  type NavFilter,
  type SourceView,
  type WebviewMessage,
  type WebviewState,
} from '../../shared/reviewProtocol';
import { Disposable, type IDisposable } from '../dispose';
import type { FolderRuns } from '../workspaceRuns';
import { CorrectionsStore } from '../../app/corrections';
import { reviewHtml, reviewResourceRoots } from './html';
import { deleteRerunBackup, imagePages, isImageDocument, loadRerunBackup, neighbour, position, readStoredResult, ReviewData, saveRerunBackup } from './reviewData';

export { REVIEW_VIEW_TYPE };

/** What a panel needs from its owner. */
export interface ReviewPanelHost {
  readonly extensionUri: vscode.Uri;
  readonly logger: Logger;
  /** The folder of a key (workspace folder URI). */
  folder(key: string): FolderRuns | undefined;
  corrections(folder: FolderRuns): CorrectionsStore;
  /** Converters with the folder's PDF limits (the page limit is part of the converted-text cache key). */
  registry(pdf: PdfLimits | undefined): ConverterRegistry;
  /** Review state of a document changed (tree descriptions). */
  changed(folder: FolderRuns, docPath: string): void;
}

export interface ReviewTarget {
  folder: FolderRuns;
  path: string;
}

const DOCUMENT_ERROR = 'The document is not available for review.';

export class ReviewPanel extends Disposable {
  readonly panel: vscode.WebviewPanel;
  readonly #host: ReviewPanelHost;
  #target: ReviewTarget | undefined;
  #data: ReviewData | undefined;
  #view: DocumentView | undefined;
  #ready = false;
  /** Messages waiting for `review/ready` (the last load, then what followed it). */
  #queue: HostMessage[] = [];
  #selected: string | undefined;
  #loading: Promise<void> = Promise.resolve();
  /** Pipeline events of the shown document's folder (keeps the view current). */
  #eventsSub: IDisposable | undefined;
  /** Documents whose rerun is being queued (until the folder's run has started, it does not count as running). */
  readonly #rerunning = new Set<string>();
  #disposed = false;

  readonly #onDidPost = this._register(new vscode.EventEmitter<HostMessage>());
  /** Every message posted to the page (tests follow the conversation with it). */
  readonly onDidPost = this.#onDidPost.event;
  readonly #onDidReceive = this._register(new vscode.EventEmitter<WebviewMessage>());
  /** Every valid message received from the page, after it was handled. */
  readonly onDidReceive = this.#onDidReceive.event;
  readonly #onDidDispose = this._register(new vscode.EventEmitter<void>());
  readonly onDidDispose = this.#onDidDispose.event;

  constructor(panel: vscode.WebviewPanel, host: ReviewPanelHost) {
    super();
    this.panel = panel;
    this.#host = host;
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'icon.svg');
    this.#setOptions(undefined);
    panel.webview.html = reviewHtml(panel.webview, host.extensionUri);
    this._register(panel.webview.onDidReceiveMessage((raw: unknown) => void this.handle(raw)));
    this._register(
      panel.onDidChangeViewState(() => {
        // a hidden webview loses its page; it says ready again when shown
        if (!panel.visible) this.#ready = false;
      }),
    );
    this._register(
      panel.onDidDispose(() => {
        this.#disposed = true;
        this.#onDidDispose.fire();
        this.dispose();
      }),
    );
  }

  get target(): ReviewTarget | undefined {
    return this.#target;
  }

  /** The last document view sent (or queued) to the page. */
  get view(): DocumentView | undefined {
    return this.#view;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Shows a document (loads it, then posts it once the page is ready). */
  show(target: ReviewTarget, selected?: string): Promise<void> {
    this.#target = target;
    this.#selected = selected;
    this.#data = undefined;
    this.#watch(target);
    this.panel.title = `Review: ${path.posix.basename(target.path)}`;
    this.#setOptions(target);
    return this.#load(true);
  }

  /** Reloads the shown document from disk (after a run changed it, …). */
  refresh(): Promise<void> {
    return this.#load(false);
  }

  override dispose(): void {
    this.#eventsSub?.dispose();
    if (!this.#disposed) {
      this.#disposed = true;
      this.panel.dispose();
    }
    super.dispose();
  }

  // ------------------------------------------------------------------ messages

  /** Handles one raw message from the page (public for tests, which drive the host without a page). */
  async handle(raw: unknown): Promise<void> {
    let msg: WebviewMessage;
    try {
      msg = parseWebviewMessage(raw);
    } catch (err) {
      this.#host.logger.warn(`Review: ignored a message: ${(err as Error).message}`);
      return;
    }
    try {
      await this.#dispatch(msg);
    } catch (err) {
      const message = err instanceof ProtocolError ? err.message : `${(err as Error)?.message ?? err}`;
      if (!(err instanceof ProtocolError)) this.#host.logger.error(err instanceof Error ? err : String(err));
      this.#post({ type: 'review/error', message });
    }
    this.#onDidReceive.fire(msg);
  }

  async #dispatch(msg: WebviewMessage): Promise<void> {
    switch (msg.type) {
      case 'review/ready':
        await this.#loading;
        this.#ready = true;
        if (msg.state?.selected && msg.state.path === this.#target?.path) this.#selected = msg.state.selected;
        if (this.#view) this.#queue = [{ type: 'review/load', document: this.#view, ...(this.#selected ? { selected: this.#selected } : {}) }];
        else if (!this.#target) this.#queue = [{ type: 'review/error', message: DOCUMENT_ERROR }];
        this.#flush();
        return;
      case 'review/fieldSelected':
        this.#selected = msg.pointer;
        return;
      case 'review/correct':
        return this.#correct(msg.op, msg.pointer, msg.value);
      case 'review/undo':
        return this.#undo();
      case 'review/markReviewed':
        return this.#markReviewed(msg.reviewed);
      case 'review/rerun':
        return this.#rerun(msg.instruction);
      case 'review/acceptRerun':
        return this.#acceptRerun(msg.accept);
      case 'review/navigate':
        await this.navigate(msg.direction, msg.filter);
        return;
      case 'review/openSource': {
        const data = this.#requireData();
        await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(data.absPath), { preview: true, viewColumn: vscode.ViewColumn.Beside });
        return;
      }
      case 'review/error':
        this.#host.logger.warn(`Review page: ${msg.message}`);
        return;
    }
  }

  #post(msg: HostMessage): void {
    const checked = hostMessageSchema.safeParse(msg);
    if (!checked.success) {
      this.#host.logger.error(`Review: not sending an invalid ${msg.type} message: ${checked.error.issues[0]?.message}`);
      msg = { type: 'review/error', message: 'Internal error: the review could not be shown (see the log).' };
    }
    if (msg.type === 'review/load') this.#queue = [];
    this.#queue.push(msg);
    this.#onDidPost.fire(msg);
    this.#flush();
  }

  #flush(): void {
    if (!this.#ready || this.#disposed) return;
    const queue = this.#queue;
    this.#queue = [];
    for (const m of queue) void this.panel.webview.postMessage(m);
  }

  // ------------------------------------------------------------------ loading

  #setOptions(target: ReviewTarget | undefined): void {
    const dir = target ? vscode.Uri.file(path.dirname(path.join(target.folder.root, ...target.path.split('/')))) : undefined;
    this.panel.webview.options = { enableScripts: true, localResourceRoots: reviewResourceRoots(this.#host.extensionUri, dir) };
  }

  #load(fresh: boolean): Promise<void> {
    const run = async () => {
      const target = this.#target;
      if (!target) return;
      try {
        if (fresh || !this.#data) this.#data = await this.#open(target);
        else await this.#data.reload();
        if (this.#target !== target) return;
        this.#view = this.#buildView(target, this.#data);
        this.#post({ type: 'review/load', document: this.#view, ...(this.#selected ? { selected: this.#selected } : {}) });
      } catch (err) {
        this.#host.logger.error(err instanceof Error ? err : String(err));
        this.#post({ type: 'review/error', message: `Cannot review ${target.path}: ${(err as Error)?.message ?? err}` });
      }
    };
    this.#loading = this.#loading.then(run, run);
    return this.#loading;
  }

  async #open(target: ReviewTarget): Promise<ReviewData> {
    const f = target.folder;
    if (!f.store && f.hasState()) await f.openStore();
    let schemaPath: string | undefined;
    let outDir: string;
    let stateDir: string;
    let pdf: PdfLimits | undefined;
    try {
      const s = f.runSettings();
      pdf = s.pdf;
      schemaPath = s.schemaPath;
      outDir = s.outDir;
      stateDir = s.stateDir;
    } catch {
      outDir = f.outDir();
      stateDir = f.stateDir();
    }
    return ReviewData.load({
      root: f.root,
      outDir,
      stateDir,
      docPath: target.path,
      schemaPath,
      store: () => f.store,
      registry: this.#host.registry(pdf),
      corrections: this.#host.corrections(f),
      running: () => f.running || this.#rerunning.has(target.path),
    });
  }

  #buildView(target: ReviewTarget, d: ReviewData): DocumentView {
    const { info, data } = d.review();
    const corrected = info.corrections > 0;
    const stage = d.doc?.stage ?? (d.result ? 'done' : 'unknown');
    const error = d.doc?.lastError && stage !== 'done' ? `[${d.doc.lastError.code}] ${d.doc.lastError.message}` : undefined;
    const rerun = d.rerun();
    const notices = [rerun ? undefined : info.notice, d.schemaError, d.convertError && `The document could not be read for highlighting: ${d.convertError}`].filter((n): n is string => !!n);
    return {
      folderKey: target.folder.key,
      path: target.path,
      stage,
      ...(error ? { error } : {}),
      hasResult: !!d.result,
      canRun: vscode.workspace.isTrusted,
      confidenceThreshold: target.folder.reviewThreshold(),
      source: this.#source(d),
      schema: d.schema,
      modelData: (d.result?.data ?? null) as JsonValue,
      data,
      grounding: d.grounding(data, corrected),
      review: { ...info, notice: notices.length ? notices.join(' ') : undefined },
      nav: position(target.folder.store, target.path),
      ...(rerun ? { rerun } : {}),
    };
  }

  #source(d: ReviewData): SourceView {
    if (!fs.existsSync(d.absPath)) return { kind: 'unavailable', reason: `${d.docPath} no longer exists.` };
    if (path.extname(d.docPath).toLowerCase() === '.pdf') {
      const pages = (d.converted?.pages ?? [])
        .filter((p) => p.width && p.height)
        .map((p) => ({ page: p.page, width: p.width!, height: p.height! }));
      return { kind: 'pdf', uri: this.panel.webview.asWebviewUri(vscode.Uri.file(d.absPath)).toString(), pages };
    }
    if (isImageDocument(d.docPath)) {
      try {
        const { format, pages } = imagePages(d.converted, d.absPath, d.docPath);
        return { kind: 'image', uri: this.panel.webview.asWebviewUri(vscode.Uri.file(d.absPath)).toString(), format, pages };
      } catch (err) {
        return { kind: 'unavailable', reason: `The image cannot be shown: ${(err as Error)?.message ?? err}` };
      }
    }
    if (d.converted) return { kind: 'text', text: d.converted.text, format: d.converted.format };
    return { kind: 'unavailable', reason: d.convertError ?? 'The document could not be read.' };
  }

  #requireData(): ReviewData {
    if (!this.#data || !this.#target) throw new ProtocolError('No document is shown.');
    return this.#data;
  }

  // ------------------------------------------------------------------ corrections

  /** Posts the corrected data and its grounding (after a correction, an undo, a review mark). */
  #postUpdate(d: ReviewData): void {
    const { info, data } = d.review();
    const grounding = d.grounding(data, info.corrections > 0);
    if (this.#view) this.#view = { ...this.#view, data, grounding, review: info };
    this.#post({ type: 'review/update', data, grounding, review: info });
  }

  async #export(target: ReviewTarget, d: ReviewData): Promise<void> {
    const store = d.o.store();
    await this.#host.corrections(target.folder).exportToResult(target.folder.root, d.o.outDir, d.docPath, store?.results);
    d.result = await readStoredResult(store, d.o.outDir, d.docPath);
    this.#host.changed(target.folder, d.docPath);
  }

  async #correct(op: CorrectionOp, pointer: string, value: JsonValue | undefined): Promise<void> {
    const d = this.#requireData();
    const target = this.#target!;
    if (!d.result) throw new ProtocolError('This document has no result to correct yet: rerun it first.');
    if (d.rerun()) throw new ProtocolError('Accept or reject the rerun before correcting fields.');
    if (op !== 'remove' && value === undefined) throw new ProtocolError('A correction needs a value.');
    const { data } = d.review();
    const previous = getAt(data, pointer) as JsonValue | undefined;
    const next = applyCorrection(data, op, pointer, value);
    const errors = d.validate(next);
    if (errors.length) {
      const mine = messagesFor(errors, op === 'set' ? pointer : pointer.replace(/\/[^/]*$/, ''));
      this.#post({ type: 'review/error', pointer, message: `Not saved: ${(mine.length ? mine : errors).slice(0, 3).join('; ')}` });
      this.#postUpdate(d); // put the field back
      return;
    }
    if (op === 'set' && JSON.stringify(previous) === JSON.stringify(value)) {
      this.#postUpdate(d);
      return;
    }
    this.#host.corrections(target.folder).add(d.docPath, d.result, op, pointer, op === 'remove' ? undefined : value, previous);
    await this.#export(target, d);
    this.#postUpdate(d);
  }

  async #undo(): Promise<void> {
    const d = this.#requireData();
    const target = this.#target!;
    const undone = this.#host.corrections(target.folder).undo(d.docPath);
    if (!undone) throw new ProtocolError('There is no correction to undo.');
    await this.#export(target, d);
    this.#postUpdate(d);
  }

  async #markReviewed(reviewed: boolean): Promise<void> {
    const d = this.#requireData();
    const target = this.#target!;
    this.#host.corrections(target.folder).setReviewed(d.docPath, reviewed);
    await this.#export(target, d);
    this.#postUpdate(d);
  }

  // ------------------------------------------------------------------ rerun

  async #rerun(instruction: string | undefined): Promise<void> {
    const d = this.#requireData();
    const target = this.#target!;
    if (!vscode.workspace.isTrusted) throw new ProtocolError('Reruns are disabled in Restricted Mode.');
    const stateDir = d.o.stateDir;
    if (loadRerunBackup(stateDir, d.docPath)) throw new ProtocolError('A rerun of this document is already waiting: accept or reject it first.');
    const text = instruction?.trim() || undefined;
    let previous: string | null = null;
    try {
      previous = fs.readFileSync(d.resultFile, 'utf8');
    } catch {
      // a fleet's database: the result another machine's worker wrote
      previous = d.result ? JSON.stringify(d.result, null, 2) + '\n' : null;
    }
    this.#rerunning.add(d.docPath);
    saveRerunBackup(stateDir, { formatVersion: 1, source: d.docPath, startedAt: new Date().toISOString(), ...(text ? { instruction: text } : {}), previous });
    this.#post({ type: 'review/rerun', rerun: { state: 'running', ...(text ? { instruction: text } : {}) } });
    try {
      const handle = await target.folder.retry([d.docPath], { force: true, ...(text ? { instructions: text } : {}) });
      if (!handle) throw new Error('The rerun could not be queued.');
    } catch (err) {
      deleteRerunBackup(stateDir, d.docPath);
      this.#post({ type: 'review/rerun', rerun: { state: 'failed', message: `The rerun could not start: ${(err as Error)?.message ?? err}` } });
      throw err;
    } finally {
      this.#rerunning.delete(d.docPath);
    }
  }

  /**
   * Reloads the view when the pipeline finishes, fails or gives up on the shown document (a rerun, a retry
   * from the tree, watch mode), and when a run ends while a rerun of it is pending.
   */
  #watch(target: ReviewTarget): void {
    this.#eventsSub?.dispose();
    this.#eventsSub = target.folder.events.on((e) => {
      if (this.#target !== target || this.#disposed) return;
      const mine = 'path' in e && e.path === target.path;
      const ended = mine && (e.type === 'doc/completed' || e.type === 'doc/dead-lettered' || e.type === 'doc/failed');
      const runEnded = e.type === 'run/finished' && !!this.#data && !!loadRerunBackup(this.#data.o.stateDir, target.path);
      if (ended || runEnded) void this.#load(false);
    });
  }

  async #acceptRerun(accept: boolean): Promise<void> {
    const d = this.#requireData();
    const target = this.#target!;
    const stateDir = d.o.stateDir;
    const backup = loadRerunBackup(stateDir, d.docPath);
    if (!backup) throw new ProtocolError('There is no rerun to accept or reject.');
    const state = d.rerun();
    if (state?.state === 'running') throw new ProtocolError('The rerun is still running.');
    if (!accept && state?.state === 'diff') {
      if (backup.previous === null) throw new ProtocolError('There was no result before this extraction to restore: keep the new one.');
      writeFileAtomic(d.resultFile, backup.previous);
      // a fleet's database: the previous result back in place of the rejected one (not of a newer one)
      const restored = parseResult(backup.previous);
      if (d.result && restored) await d.o.store()?.results?.replace(restored, d.result);
    }
    deleteRerunBackup(stateDir, d.docPath);
    if (accept) {
      const corrections = this.#host.corrections(target.folder);
      const store = d.o.store();
      const current = await readStoredResult(store, d.o.outDir, d.docPath);
      if (current) corrections.rebase(d.docPath, current);
      await corrections.exportToResult(target.folder.root, d.o.outDir, d.docPath, store?.results);
    }
    this.#host.changed(target.folder, d.docPath);
    await this.#load(false);
  }

  // ------------------------------------------------------------------ navigation

  /** Shows the next / previous reviewable document (that passes `filter`); returns its path. */
  async navigate(direction: 'next' | 'previous', filter: NavFilter = 'all'): Promise<string | undefined> {
    const target = this.#target;
    if (!target) return undefined;
    const store = target.folder.store;
    if (!store) throw new ProtocolError('Nothing has been extracted in this folder yet.');
    const corrections = this.#host.corrections(target.folder);
    const outDir = this.#data?.o.outDir ?? target.folder.outDir();
    const next = neighbour({ store, outDir, status: (p) => corrections.status(p) }, target.path, direction, filter);
    if (!next) {
      const what = filter === 'all' ? 'other documents' : filter === 'failed' ? 'failed documents' : filter === 'ungrounded' ? 'other documents with ungrounded values' : 'unreviewed documents';
      this.#post({ type: 'review/error', message: `No ${what} to review.` });
      return undefined;
    }
    await this.show({ folder: target.folder, path: next });
    return next;
  }

  /** Selects a field in the page (reveals its source). */
  select(pointer: string): void {
    this.#selected = pointer;
    this.#post({ type: 'review/select', pointer });
  }

  /** The state the serializer keeps for a reload. */
  state(): WebviewState | undefined {
    return this.#target ? { folderKey: this.#target.folder.key, path: this.#target.path, ...(this.#selected ? { selected: this.#selected } : {}) } : undefined;
  }
}

/** Creates the panel (beside the active editor). */
export function createReviewWebviewPanel(title: string): vscode.WebviewPanel {
  return vscode.window.createWebviewPanel(REVIEW_VIEW_TYPE, title, { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, { enableScripts: true, enableFindWidget: true });
}

/** A result file's text as a result, or undefined (not JSON). */
function parseResult(text: string): ResultFile | undefined {
  try {
    return JSON.parse(text) as ResultFile;
  } catch {
    return undefined;
  }
}
