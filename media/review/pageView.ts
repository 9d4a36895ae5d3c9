/**
 * Paged documents on the left side (PDF pages, image files, TIFF pages): pages laid out at once from their
 * sizes, painted lazily when they come near the viewport (and released when far away), zoomed relative to
 * "fit width", with an overlay per page holding a box for every grounded value on it. Subclasses paint the
 * pages (pdfView.ts with pdf.js, imageView.ts with the image itself).
 *
 * Boxes are in page units (PDF viewport units at scale 1, or image pixels) × the view's scale, so the unit
 * of the page sizes must be the unit of the grounding boxes. Hovering a box tells which field it supports;
 * clicking it selects the field; the selected field's boxes are emphasised; values whose OCR words were read
 * with low confidence are drawn (and titled) as such.
 */
import type { FieldGroundingView } from '../../src/shared/reviewProtocol';
import { h, replaceChildren } from './dom';

export interface PageViewCallbacks {
  select(pointer: string): void;
  nameOf(pointer: string): string;
  error(message: string): void;
}

export interface PageSize {
  page: number;
  width: number;
  height: number;
}

export interface PageSlot extends PageSize {
  el: HTMLElement;
  /** What shows the page: a canvas, or an image. */
  surface: HTMLElement;
  overlay: HTMLElement;
  renderedScale: number;
  rendering: Promise<void> | undefined;
  visible: boolean;
}

/** Tooltip of a value's box on a page. */
export function boxTitle(f: FieldGroundingView, name: string): string {
  const ocr = f.lowConfidence ? ` — low OCR confidence${f.ocrConfidence !== undefined ? ` (${f.ocrConfidence}%)` : ''}: check it against the image` : '';
  return `Supports ${name} (${f.match ?? 'exact'} match)${ocr}`;
}

export abstract class PageView {
  readonly el: HTMLElement;
  protected readonly scroller: HTMLElement;
  protected readonly cb: PageViewCallbacks;
  protected slots: PageSlot[] = [];
  #zoom = 1;
  #scale = 1;
  #observer: IntersectionObserver | undefined;
  #resize: ResizeObserver | undefined;
  #fields: readonly FieldGroundingView[] = [];
  #selected: string | undefined;
  #resizeTimer: number | undefined;

  constructor(scroller: HTMLElement, cb: PageViewCallbacks, label: string) {
    this.scroller = scroller;
    this.cb = cb;
    this.el = h('div', { class: 'pdf-pages', role: 'document', 'aria-label': label });
    this.el.addEventListener('click', (e) => {
      const box = (e.target as HTMLElement).closest('.hl[data-pointer]');
      if (box) this.cb.select(box.getAttribute('data-pointer')!);
    });
  }

  get scale(): number {
    return this.#scale;
  }

  get pageCount(): number {
    return this.slots.length;
  }

  /** Paints a page at `scale` (CSS pixels per page unit); sets `slot.el.dataset.rendered` when done. */
  protected abstract paint(slot: PageSlot, scale: number): Promise<void>;

  /** Frees what a page far from the viewport holds (nothing by default). */
  protected release(_slot: PageSlot): void {}

  /** Lays the pages out, each showing `surface(page)`, and starts painting the visible ones. */
  protected setPages(sizes: readonly PageSize[], surface: (page: number) => HTMLElement): void {
    const total = sizes.length;
    this.slots = sizes.map((size) => {
      const s = surface(size.page);
      const overlay = h('div', { class: 'page-overlay' });
      const el = h('div', { class: 'page', 'data-page': size.page, role: 'img', 'aria-label': `Page ${size.page} of ${total}` }, s, overlay, h('div', { class: 'page-label' }, `${size.page} / ${total}`));
      return { ...size, el, surface: s, overlay, renderedScale: 0, rendering: undefined, visible: false };
    });
    replaceChildren(this.el, ...this.slots.map((s) => s.el));
    this.#layout();
    this.#observer = new IntersectionObserver((entries) => this.#onIntersect(entries), { root: this.scroller, rootMargin: '600px 0px' });
    for (const s of this.slots) this.#observer.observe(s.el);
    this.#resize = new ResizeObserver(() => {
      window.clearTimeout(this.#resizeTimer);
      this.#resizeTimer = window.setTimeout(() => this.#layout(), 120);
    });
    this.#resize.observe(this.scroller);
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
    for (const s of this.slots) {
      for (const box of Array.from(s.overlay.querySelectorAll<HTMLElement>('.hl'))) {
        const on = !!pointer && box.dataset.pointer === pointer;
        box.classList.toggle('selected', on);
        if (on && !first) first = { slot: s, top: box.offsetTop, left: box.offsetLeft };
      }
    }
    if (first && scroll) {
      const target = first.slot.el.offsetTop + first.top - this.scroller.clientHeight / 3;
      const left = first.slot.el.offsetLeft + first.left - this.scroller.clientWidth / 3;
      this.scroller.scrollTo({ top: Math.max(0, target), left: Math.max(0, left), behavior: 'auto' });
    }
    return !!first;
  }

  /** Scrolls to a page (for fields grounded to a page without boxes). */
  showPage(page: number): void {
    const s = this.slots[page - 1];
    if (s) this.scroller.scrollTo({ top: s.el.offsetTop - 8 });
  }

  dispose(): void {
    this.#observer?.disconnect();
    this.#resize?.disconnect();
    this.#observer = undefined;
    this.#resize = undefined;
    this.slots = [];
  }

  // ------------------------------------------------------------------ layout and painting

  #layout(): void {
    if (!this.slots.length) return;
    const maxWidth = Math.max(...this.slots.map((s) => s.width));
    const avail = Math.max(200, this.scroller.clientWidth - 32);
    const scale = (avail / maxWidth) * this.#zoom;
    if (Math.abs(scale - this.#scale) < 1e-6 && this.slots.every((s) => s.el.style.width)) return;
    this.#scale = scale;
    for (const s of this.slots) {
      s.el.style.width = `${Math.floor(s.width * scale)}px`;
      s.el.style.height = `${Math.floor(s.height * scale)}px`;
      if (s.visible) void this.#render(s);
    }
    this.#drawBoxes();
  }

  #onIntersect(entries: IntersectionObserverEntry[]): void {
    for (const e of entries) {
      const slot = this.slots.find((s) => s.el === e.target);
      if (!slot) continue;
      slot.visible = e.isIntersecting;
      if (e.isIntersecting) void this.#render(slot);
      else if (!slot.rendering) this.release(slot);
    }
  }

  async #render(slot: PageSlot): Promise<void> {
    if (slot.renderedScale === this.#scale) return;
    if (slot.rendering) await slot.rendering.catch(() => undefined);
    if (slot.renderedScale === this.#scale || !this.slots.includes(slot)) return;
    const scale = this.#scale;
    slot.rendering = (async () => {
      try {
        await this.paint(slot, scale);
        slot.renderedScale = scale;
        slot.el.dataset.rendered = 'true';
      } catch (err) {
        if ((err as Error)?.name !== 'RenderingCancelledException') this.cb.error(`Page ${slot.page} could not be shown: ${(err as Error)?.message ?? err}`);
      } finally {
        slot.rendering = undefined;
      }
    })();
    await slot.rendering;
  }

  #drawBoxes(): void {
    const scale = this.#scale;
    for (const s of this.slots) replaceChildren(s.overlay);
    for (const f of this.#fields) {
      if (f.status !== 'grounded' || !f.boxes) continue;
      const title = boxTitle(f, this.cb.nameOf(f.pointer));
      // a little padding around the words: 1.5 page units, at least 1.5 CSS pixels (image pixels are small)
      const pad = 1.5 * Math.max(1, scale);
      for (const b of f.boxes) {
        const s = this.slots[b.page - 1];
        if (!s) continue;
        const [x0, y0, x1, y1] = b.bbox;
        const box = h('div', { class: `hl ${f.match ?? 'exact'}${f.lowConfidence ? ' low-ocr' : ''}`, 'data-pointer': f.pointer, title });
        box.style.left = `${x0 * scale - pad}px`;
        box.style.top = `${y0 * scale - pad}px`;
        box.style.width = `${(x1 - x0) * scale + 2 * pad}px`;
        box.style.height = `${(y1 - y0) * scale + 2 * pad}px`;
        if (f.pointer === this.#selected) box.classList.add('selected');
        s.overlay.append(box);
      }
    }
  }
}
