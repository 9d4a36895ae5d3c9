/**
 * Image documents on the left side (PNG, JPEG, WebP, BMP, and TIFF — every page), on the paged view of
 * pageView.ts, so the value boxes, click-to-source, zoom and "Next to check" work as for PDFs.
 *
 * Page sizes and OCR word boxes are both in image pixels (the host sends the sizes the converter
 * recorded), so a box is its pixel rectangle × the view's scale. The browser shows the formats it knows
 * with an <img> loaded from the document's webview URI (no EXIF rotation: OCR read the stored pixels);
 * TIFF, which it does not know, is fetched from the same URI and decoded here with UTIF into a canvas at
 * its own pixel size, page by page as pages come into view.
 */
import { tiffPageRgba } from '../../src/convert/ocr/tiffPages';
import { h } from './dom';
import { PageView, type PageSize, type PageSlot, type PageViewCallbacks } from './pageView';

export class ImageView extends PageView {
  #uri = '';
  #tiff: Promise<Uint8Array> | undefined;

  constructor(scroller: HTMLElement, cb: PageViewCallbacks) {
    super(scroller, cb, 'Image pages');
  }

  /** Lays out the pages of the image at `uri` (`format`: `tiff` is decoded here, the rest shown as is). */
  load(uri: string, format: string, pages: readonly PageSize[]): void {
    this.dispose();
    this.#uri = uri;
    const tiff = format === 'tiff' || format === 'tif';
    this.#tiff = undefined;
    this.setPages(pages, (page) =>
      tiff
        ? h('canvas', { class: 'page-canvas page-image', 'aria-hidden': 'true', 'data-page': page })
        : h('img', { class: 'page-image', alt: '', draggable: 'false', decoding: 'async' }),
    );
  }

  protected override async paint(slot: PageSlot): Promise<void> {
    if (slot.surface instanceof HTMLImageElement) {
      const img = slot.surface;
      if (!img.getAttribute('src')) {
        const loaded = new Promise<void>((resolve, reject) => {
          img.addEventListener('load', () => resolve(), { once: true });
          img.addEventListener('error', () => reject(new Error('the browser cannot show this image')), { once: true });
        });
        img.setAttribute('src', this.#uri);
        await loaded;
      }
      return;
    }
    const canvas = slot.surface as HTMLCanvasElement;
    if (canvas.dataset.drawn) return; // drawn at its own size once: zooming scales it
    this.#tiff ??= fetch(this.#uri).then(async (r) => {
      if (!r.ok) throw new Error(`the TIFF could not be read (${r.status})`);
      return new Uint8Array(await r.arrayBuffer());
    });
    const px = tiffPageRgba(await this.#tiff, slot.page - 1);
    if ('error' in px) throw new Error(px.error);
    canvas.width = px.width;
    canvas.height = px.height;
    const rgba = new Uint8ClampedArray(px.width * px.height * 4);
    rgba.set(px.rgba.subarray(0, rgba.length));
    const data = new ImageData(rgba, px.width, px.height);
    canvas.getContext('2d')!.putImageData(data, 0, 0);
    canvas.dataset.drawn = 'true';
  }

  override dispose(): void {
    super.dispose();
    this.#tiff = undefined;
  }
}
