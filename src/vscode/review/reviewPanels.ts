/**
 * Owner of the Review panel (one at a time, reused when another document is opened), its webview
 * serializer (a reload restores the panel on the same document), the corrections stores of the
 * folders, and the converters a review needs when the converted-text cache has no entry.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createConverters } from '../../app/session';
import type { ConverterRegistry } from '../../convert/index';
import type { PdfLimits } from '../../convert/pdf/limits';
import type { Logger } from '../../core/logger';
import { webviewStateSchema } from '../../shared/reviewProtocol';
import { Disposable } from '../dispose';
import type { FolderRuns, WorkspaceRuns } from '../workspaceRuns';
import { CorrectionsStore, type ReviewStatus } from '../../app/corrections';
import type { DocumentState } from '../../core/types';
import { ReviewQueue } from './reviewQueue';
import { createReviewWebviewPanel, ReviewPanel, type ReviewPanelHost } from './reviewPanel';

export interface ReviewPanelsOptions {
  extensionUri: vscode.Uri;
  runs: WorkspaceRuns;
  logger: Logger;
  /** Folder holding pdfWorker.js and pdfjs/ (the bundle's folder). */
  assetsDir: string;
}

/** Tree description of a document's review state, e.g. `reviewed · 2 corrections`, or undefined. */
export function describeReview(status: ReviewStatus | undefined): string | undefined {
  if (!status) return undefined;
  const parts: string[] = [];
  if (status.reviewed) parts.push('✓ reviewed');
  if (status.corrections) parts.push(`${status.corrections} correction${status.corrections === 1 ? '' : 's'}`);
  return parts.length ? parts.join(' · ') : undefined;
}

export class ReviewPanels extends Disposable implements vscode.WebviewPanelSerializer {
  readonly #o: ReviewPanelsOptions;
  #panel: ReviewPanel | undefined;
  /** Converters per set of PDF limits (usually one): the review must read the conversion the run cached. */
  readonly #registries = new Map<string, ConverterRegistry>();
  readonly #stores = new Map<string, CorrectionsStore>();
  readonly #queue = new ReviewQueue();
  readonly #host: ReviewPanelHost;

  readonly #onDidChangeReview = this._register(new vscode.EventEmitter<{ folderKey: string; path: string }>());
  /** A document's review state changed (corrected, reviewed, rerun accepted). */
  readonly onDidChangeReview = this.#onDidChangeReview.event;

  constructor(options: ReviewPanelsOptions) {
    super();
    this.#o = options;
    this.#host = {
      extensionUri: options.extensionUri,
      logger: options.logger,
      folder: (key) => options.runs.get(key),
      corrections: (f) => this.corrections(f),
      registry: (pdf) => this.#converters(pdf),
      changed: (f, p) => this.#onDidChangeReview.fire({ folderKey: f.key, path: p }),
    };
    this._register({
      dispose: () => {
        this.#panel?.dispose();
        for (const r of this.#registries.values()) void r.dispose();
        this.#registries.clear();
      },
    });
  }

  /** The open panel, if any. */
  get current(): ReviewPanel | undefined {
    return this.#panel;
  }

  /** The corrections store of a folder (one per state folder). */
  corrections(folder: FolderRuns): CorrectionsStore {
    const dir = folder.stateDir();
    let s = this.#stores.get(dir);
    if (!s) {
      s = new CorrectionsStore(dir);
      this.#stores.set(dir, s);
    }
    return s;
  }

  /** The done documents that need review: a value below `review.confidenceThreshold`, not marked reviewed. */
  needsReview(folderKey: string, docs: DocumentState[]): DocumentState[] {
    const f = this.#o.runs.get(folderKey);
    if (!f || !docs.length || !f.hasState()) return [];
    const corrections = this.corrections(f);
    return this.#queue.filter(folderKey, { outDir: f.outDir(), threshold: f.reviewThreshold(), reviewed: (p) => !!corrections.status(p)?.reviewed }, docs);
  }

  /** Review state of a document for the tree. */
  status(folderKey: string, docPath: string): ReviewStatus | undefined {
    const f = this.#o.runs.get(folderKey);
    if (!f || !f.hasState()) return undefined;
    return this.corrections(f).status(docPath);
  }

  /** Opens (or reuses) the panel on a document. */
  async open(folder: FolderRuns, docPath: string, options: { selected?: string } = {}): Promise<ReviewPanel> {
    let panel = this.#panel;
    if (!panel) {
      panel = this.#adopt(createReviewWebviewPanel(`Review: ${path.posix.basename(docPath)}`));
    } else {
      panel.panel.reveal(undefined, false);
    }
    await panel.show({ folder, path: docPath }, options.selected);
    return panel;
  }

  /** Restores a panel after a reload, on the document it showed. */
  async deserializeWebviewPanel(webviewPanel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const panel = this.#adopt(webviewPanel);
    const parsed = webviewStateSchema.safeParse(state);
    if (!parsed.success) {
      this.#o.logger.warn('Review: no saved state to restore the panel from');
      return;
    }
    const folder = this.#o.runs.get(parsed.data.folderKey);
    if (!folder) {
      this.#o.logger.warn(`Review: the folder of ${parsed.data.path} is no longer open`);
      return;
    }
    await panel.show({ folder, path: parsed.data.path }, parsed.data.selected);
  }

  #adopt(webviewPanel: vscode.WebviewPanel): ReviewPanel {
    this.#panel?.dispose();
    const panel = new ReviewPanel(webviewPanel, this.#host);
    this.#panel = panel;
    panel.onDidDispose(() => {
      if (this.#panel === panel) this.#panel = undefined;
    });
    return panel;
  }

  #converters(pdf: PdfLimits | undefined): ConverterRegistry {
    // one worker is enough to show a document; the rest as the run has it (same cache key, same text)
    const limits: PdfLimits = { ...pdf, poolSize: 1 };
    const key = JSON.stringify(limits);
    let registry = this.#registries.get(key);
    if (!registry) {
      registry = createConverters(this.#o.assetsDir, limits);
      this.#registries.set(key, registry);
    }
    return registry;
  }
}
