/**
 * PDFs on the left side, rendered with pdf.js inside the webview (the build copies pdf.min.mjs and its
 * worker to dist/webview/), on the paged view of pageView.ts (lazy painting, zoom, value boxes). The
 * converter's boxes use pdf.js's own viewport (top-left origin, scale 1), the unit of the page sizes here.
 */
import type * as PdfJs from 'pdfjs-dist';
import { h } from './dom';
import { PageView, type PageSize, type PageSlot, type PageViewCallbacks } from './pageView';

type PdfModule = typeof PdfJs;
type PdfDocument = PdfJs.PDFDocumentProxy;

export type PdfViewCallbacks = PageViewCallbacks;

let pdfjsModule: Promise<PdfModule> | undefined;

function loadPdfJs(url: string, workerUrl: string): Promise<PdfModule> {
  pdfjsModule ??= (import(url) as Promise<PdfModule>).then((m) => {
    m.GlobalWorkerOptions.workerSrc = workerUrl;
    return m;
  });
  return pdfjsModule;
}

export class PdfView extends PageView {
  #doc: PdfDocument | undefined;
  #generation = 0;

  constructor(scroller: HTMLElement, cb: PdfViewCallbacks) {
    super(scroller, cb, 'PDF pages');
  }

  /** Loads a document and lays out its pages (rendering follows as they become visible). */
  async load(uri: string, sizes: readonly PageSize[], pdfjsUrl: string, workerUrl: string, assets: { cMapUrl: string; standardFontDataUrl: string }): Promise<void> {
    const generation = ++this.#generation;
    this.dispose();
    const pdfjs = await loadPdfJs(pdfjsUrl, workerUrl);
    const task = pdfjs.getDocument({
      url: uri,
      isEvalSupported: false,
      enableXfa: false,
      useSystemFonts: true,
      // shipped with the extension: glyphs of non-embedded fonts render without any network access
      ...(assets.cMapUrl ? { cMapUrl: assets.cMapUrl, cMapPacked: true } : {}),
      ...(assets.standardFontDataUrl ? { standardFontDataUrl: assets.standardFontDataUrl } : {}),
    });
    const doc = await task.promise;
    if (generation !== this.#generation) {
      void doc.destroy();
      return;
    }
    this.#doc = doc;
    const known = new Map(sizes.map((s) => [s.page, s]));
    const pages: PageSize[] = [];
    for (let p = 1; p <= doc.numPages; p++) {
      let size = known.get(p);
      if (!size) {
        const vp = (await doc.getPage(p)).getViewport({ scale: 1 });
        size = { page: p, width: vp.width, height: vp.height };
      }
      pages.push(size);
    }
    this.setPages(pages, () => h('canvas', { class: 'page-canvas', 'aria-hidden': 'true' }));
  }

  override dispose(): void {
    super.dispose();
    const doc = this.#doc;
    this.#doc = undefined;
    if (doc) void doc.destroy();
  }

  protected override async paint(slot: PageSlot, scale: number): Promise<void> {
    const doc = this.#doc;
    if (!doc) return;
    const page = await doc.getPage(slot.page);
    const viewport = page.getViewport({ scale });
    const dpr = window.devicePixelRatio || 1;
    const canvas = slot.surface as HTMLCanvasElement;
    canvas.width = Math.floor(viewport.width * dpr);
    canvas.height = Math.floor(viewport.height * dpr);
    canvas.style.width = `${Math.floor(viewport.width)}px`;
    canvas.style.height = `${Math.floor(viewport.height)}px`;
    await page.render({ canvas, viewport, ...(dpr !== 1 ? { transform: [dpr, 0, 0, dpr, 0, 0] } : {}) }).promise;
  }

  protected override release(slot: PageSlot): void {
    const canvas = slot.surface as HTMLCanvasElement;
    if (!canvas.width) return;
    canvas.width = 0;
    canvas.height = 0;
    slot.renderedScale = 0;
    delete slot.el.dataset.rendered;
  }
}
