/**
 * PDFs on the left side, rendered with pdf.js inside the webview (the build copies pdf.min.mjs and its
 * worker to dist/webview/). Pages are laid out at once from their sizes and painted lazily when they come
 * near the viewport (and released when far away), so documents of hundreds of pages stay light.
 *
 * Each page has an overlay with a box for every grounded value on it (viewport units × scale: the
 * converter's boxes use pdf.js's own viewport, top-left origin, scale 1). Hovering a box tells which
 * field it supports; clicking it selects the field; the selected field's boxes are emphasised.
 */
import type * as PdfJs from 'pdfjs-dist';
import type { FieldGroundingView } from '../../src/shared/reviewProtocol';
import { h, replaceChildren } from './dom';

type PdfModule = typeof PdfJs;
type PdfDocument = PdfJs.PDFDocumentProxy;

export interface PdfViewCallbacks {
  select(pointer: string): void;
  nameOf(pointer: string): string;
  error(message: string): void;
}

interface PageSlot {
  page: number;
  width: number;
  height: number;
  el: HTMLElement;
  canvas: HTMLCanvasElement;
  overlay: HTMLElement;
  renderedScale: number;
  rendering: Promise<void> | undefined;
  visible: boolean;
}

let pdfjsModule: Promise<PdfModule> | undefined;

function loadPdfJs(url: string, workerUrl: string): Promise<PdfModule> {
  pdfjsModule ??= (import(url) as Promise<PdfModule>).then((m) => {
    m.GlobalWorkerOptions.workerSrc = workerUrl;
    return m;
  });
  return pdfjsModule;
}

export class PdfView {
  readonly el: HTMLElement;
  readonly #scroller: HTMLElement;
  readonly #cb: PdfViewCallbacks;
  #doc: PdfDocument | undefined;
  #slots: PageSlot[] = [];
  #zoom = 1;
  #scale = 1;
  #observer: IntersectionObserver | undefined;
  #resize: ResizeObserver | undefined;
  #fields: readonly FieldGroundingView[] = [];
  #selected: string | undefined;
  #generation = 0;
  #resizeTimer: number | undefined;

  constructor(scroller: HTMLElement, cb: PdfViewCallbacks) {
    this.#scroller = scroller;
    this.#cb = cb;
    this.el = h('div', { class: 'pdf-pages', role: 'document', 'aria-label': 'PDF pages' });
    this.el.addEventListener('click', (e) => {
      const box = (e.target as HTMLElement).closest('.hl[data-pointer]');
      if (box) this.#cb.select(box.getAttribute('data-pointer')!);
    });
  }

  get scale(): number {
    return this.#scale;
  }

  get pageCount(): number {
    return this.#slots.length;
  }

  /** Loads a document and lays out its pages (rendering follows as they become visible). */
  async load(uri: string, sizes: readonly { page: number; width: number; height: number }[], pdfjsUrl: string, workerUrl: string, assets: { cMapUrl: string; standardFontDataUrl: string }): Promise<void> {
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
    const slots: PageSlot[] = [];
    for (let p = 1; p <= doc.numPages; p++) {
      let size = known.get(p);
      if (!size) {
        const vp = (await doc.getPage(p)).getViewport({ scale: 1 });
        size = { page: p, width: vp.width, height: vp.height };
      }
      const canvas = h('canvas', { class: 'page-canvas', 'aria-hidden': 'true' });
      const overlay = h('div', { class: 'page-overlay' });
      const el = h('div', { class: 'page', 'data-page': p, role: 'img', 'aria-label': `Page ${p} of ${doc.numPages}` }, canvas, overlay, h('div', { class: 'page-label' }, `${p} / ${doc.numPages}`));
      slots.push({ page: p, width: size.width, height: size.height, el, canvas, overlay, renderedScale: 0, rendering: undefined, visible: false });
    }
    this.#slots = slots;
    replaceChildren(this.el, ...slots.map((s) => s.el));
    this.#layout();
    this.#observer = new IntersectionObserver((entries) => this.#onIntersect(entries), { root: this.#scroller, rootMargin: '600px 0px' });
    for (const s of slots) this.#observer.observe(s.el);
    this.#resize = new ResizeObserver(() => {
      window.clearTimeout(this.#resizeTimer);
      this.#resizeTimer = window.setTimeout(() => this.#layout(), 120);
    });
    this.#resize.observe(this.#scroller);
    this.#drawBoxes();
  }

  /** Zoom relative to "fit width": `in`, `out` or `fit`. */
  zoom(how: 'in' | 'out' | 'fit'): void {
    this.#zoom = how === 'fit' ? 1 : Math.min(4, Math.max(0.25, this.#zoom * (how === 'in' ? 1.25 : 0.8)));
    this.#layout();
  }

  setFields(fields: readonly FieldGroundingView[]): void {
    this.#fields = fields;
    this.#drawBoxes();
  }

  /** Emphasises the boxes of a field and scrolls the first one into view; false when it has none. */
  highlight(pointer: string | undefined, scroll: boolean): boolean {
    this.#selected = pointer;
    let first: { slot: PageSlot; top: number; left: number } | undefined;
    for (const s of this.#slots) {
      for (const box of Array.from(s.overlay.querySelectorAll<HTMLElement>('.hl'))) {
        const on = !!pointer && box.dataset.pointer === pointer;
        box.classList.toggle('selected', on);
        if (on && !first) first = { slot: s, top: box.offsetTop, left: box.offsetLeft };
      }
    }
    if (first && scroll) {
      const target = first.slot.el.offsetTop + first.top - this.#scroller.clientHeight / 3;
      const left = first.slot.el.offsetLeft + first.left - this.#scroller.clientWidth / 3;
      this.#scroller.scrollTo({ top: Math.max(0, target), left: Math.max(0, left), behavior: 'auto' });
    }
    return !!first;
  }

  /** Scrolls to a page (for fields grounded to a page without boxes). */
  showPage(page: number): void {
    const s = this.#slots[page - 1];
    if (s) this.#scroller.scrollTo({ top: s.el.offsetTop - 8 });
  }

  dispose(): void {
    this.#observer?.disconnect();
    this.#resize?.disconnect();
    this.#observer = undefined;
    this.#resize = undefined;
    const doc = this.#doc;
    this.#doc = undefined;
    this.#slots = [];
    if (doc) void doc.destroy();
  }

  // ------------------------------------------------------------------ layout and painting

  #layout(): void {
    if (!this.#slots.length) return;
    const maxWidth = Math.max(...this.#slots.map((s) => s.width));
    const avail = Math.max(200, this.#scroller.clientWidth - 32);
    const scale = (avail / maxWidth) * this.#zoom;
    if (Math.abs(scale - this.#scale) < 0.001 && this.#slots.every((s) => s.el.style.width)) return;
    this.#scale = scale;
    for (const s of this.#slots) {
      s.el.style.width = `${Math.floor(s.width * scale)}px`;
      s.el.style.height = `${Math.floor(s.height * scale)}px`;
      if (s.visible) void this.#render(s);
    }
    this.#drawBoxes();
  }

  #onIntersect(entries: IntersectionObserverEntry[]): void {
    for (const e of entries) {
      const slot = this.#slots.find((s) => s.el === e.target);
      if (!slot) continue;
      slot.visible = e.isIntersecting;
      if (e.isIntersecting) void this.#render(slot);
      else this.#release(slot);
    }
  }

  async #render(slot: PageSlot): Promise<void> {
    const doc = this.#doc;
    if (!doc || (slot.renderedScale === this.#scale && slot.canvas.width > 0)) return;
    if (slot.rendering) await slot.rendering.catch(() => undefined);
    if (slot.renderedScale === this.#scale && slot.canvas.width > 0) return;
    const scale = this.#scale;
    slot.rendering = (async () => {
      try {
        const page = await doc.getPage(slot.page);
        const viewport = page.getViewport({ scale });
        const dpr = window.devicePixelRatio || 1;
        const canvas = slot.canvas;
        canvas.width = Math.floor(viewport.width * dpr);
        canvas.height = Math.floor(viewport.height * dpr);
        canvas.style.width = `${Math.floor(viewport.width)}px`;
        canvas.style.height = `${Math.floor(viewport.height)}px`;
        await page.render({ canvas, viewport, ...(dpr !== 1 ? { transform: [dpr, 0, 0, dpr, 0, 0] } : {}) }).promise;
        slot.renderedScale = scale;
        slot.el.dataset.rendered = 'true';
      } catch (err) {
        if ((err as Error)?.name !== 'RenderingCancelledException') this.#cb.error(`Page ${slot.page} could not be rendered: ${(err as Error)?.message ?? err}`);
      } finally {
        slot.rendering = undefined;
      }
    })();
    await slot.rendering;
  }

  #release(slot: PageSlot): void {
    if (slot.rendering || !slot.canvas.width) return;
    slot.canvas.width = 0;
    slot.canvas.height = 0;
    slot.renderedScale = 0;
    delete slot.el.dataset.rendered;
  }

  #drawBoxes(): void {
    const scale = this.#scale;
    for (const s of this.#slots) replaceChildren(s.overlay);
    for (const f of this.#fields) {
      if (f.status !== 'grounded' || !f.boxes) continue;
      const title = `Supports ${this.#cb.nameOf(f.pointer)} (${f.match ?? 'exact'} match)`;
      for (const b of f.boxes) {
        const s = this.#slots[b.page - 1];
        if (!s) continue;
        const [x0, y0, x1, y1] = b.bbox;
        const pad = 1.5;
        const box = h('div', { class: `hl ${f.match ?? 'exact'}`, 'data-pointer': f.pointer, title });
        box.style.left = `${(x0 - pad) * scale}px`;
        box.style.top = `${(y0 - pad) * scale}px`;
        box.style.width = `${(x1 - x0 + 2 * pad) * scale}px`;
        box.style.height = `${(y1 - y0 + 2 * pad) * scale}px`;
        if (f.pointer === this.#selected) box.classList.add('selected');
        s.overlay.append(box);
      }
    }
  }
}
