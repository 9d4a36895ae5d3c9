/**
 * The pixels of a scanned PDF page, for OCR (runs in the PDF worker thread).
 *
 * A scanned page is one image XObject drawn over the page. pdf.js decodes it while it builds the page's
 * operator list (with the patch of scripts/pdfjs-patches.js only while `__extractionWorkbenchDecodeImages`
 * holds a pixel limit) and hands it over in `page.objs` as raw pixels (`{ width, height, kind, data }`),
 * so no canvas and no native library is needed: the largest image of the page is turned into 8-bit grey,
 * encoded as PNG (grayPng.ts: what waits for OCR stays small) here and sent to the OCR pool with the matrix that maps its pixels to page (viewport) units, so OCR word
 * boxes land in the same space as text-layer boxes.
 */
import { grayPng } from '../ocr/grayPng';

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');

export interface PageImageLike {
  width: number;
  height: number;
  /** pdf.js ImageKind: 1 grey 1 bit per pixel (bit set = white), 2 RGB, 3 RGBA. */
  kind: number;
  data: Uint8Array | Uint8ClampedArray;
}

export interface ScannedPage {
  /** Whether the page paints any image. */
  hasImages: boolean;
  /** The largest image, in grey, with its pixel → viewport matrix; absent when there is none or it was too large. */
  image?: { width: number; height: number; png: Uint8Array<ArrayBuffer>; toPage: number[] };
  /** Share of the page (viewport) the largest image covers, 0..1. */
  coverage?: number;
  /** Size of the largest image when it has more pixels than the limit. */
  tooLarge?: { width: number; height: number };
}

/** `a ∘ b`: the affine matrix that applies `b` first, then `a` ([a, b, c, d, e, f] as in PDF). */
export function mulMatrix(a: readonly number[], b: readonly number[]): number[] {
  return [
    a[0] * b[0] + a[2] * b[1],
    a[1] * b[0] + a[3] * b[1],
    a[0] * b[2] + a[2] * b[3],
    a[1] * b[2] + a[3] * b[3],
    a[0] * b[4] + a[2] * b[5] + a[4],
    a[1] * b[4] + a[3] * b[5] + a[5],
  ];
}

/** 8-bit grey of a decoded pdf.js image (luma of RGB; alpha ignored, scans are opaque). */
export function toGray(img: PageImageLike): Uint8Array<ArrayBuffer> {
  const { width: w, height: h, kind, data } = img;
  const out = new Uint8Array(w * h);
  if (kind === 1) {
    const rowBytes = (w + 7) >> 3;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) out[y * w + x] = data[y * rowBytes + (x >> 3)] & (0x80 >> (x & 7)) ? 255 : 0;
    }
  } else {
    const step = kind === 3 ? 4 : 3;
    for (let i = 0, p = 0; i < out.length; i++, p += step) out[i] = (data[p] * 77 + data[p + 1] * 150 + data[p + 2] * 29) >> 8;
  }
  return out;
}

interface ObjsLike {
  get(id: string, cb?: (v: unknown) => void): unknown;
  has(id: string): boolean;
}

/** The parts of a pdf.js page proxy this module uses. */
export interface PageLike {
  getOperatorList(opts: { intent: string; annotationMode: number }): Promise<{ fnArray: number[]; argsArray: unknown[] }>;
  objs: ObjsLike;
  commonObjs: ObjsLike;
}

function getObj(objs: ObjsLike, id: string): Promise<unknown> {
  if (objs.has(id)) return Promise.resolve(objs.get(id));
  return new Promise((resolve) => objs.get(id, resolve));
}

/**
 * Reads the page's operator list with image decoding on (up to `maxPixels` per image) and returns its
 * largest image. `viewportTransform` maps PDF user space to the viewport (pdf.js `PageViewport.transform`).
 */
export async function scannedPageImage(
  page: PageLike,
  pdfjs: PdfJs,
  viewport: { transform: number[]; width: number; height: number },
  maxPixels: number,
  minCoverage = 0,
): Promise<ScannedPage> {
  const viewportTransform = viewport.transform;
  const OPS = pdfjs.OPS as Record<string, number>;
  const g = globalThis as { __extractionWorkbenchDecodeImages?: number };
  g.__extractionWorkbenchDecodeImages = maxPixels;
  let list: { fnArray: number[]; argsArray: unknown[] };
  try {
    // the 'print' intent: a list of its own (the 'display' one may be cached without decoded images)
    list = await page.getOperatorList({ intent: 'print', annotationMode: pdfjs.AnnotationMode.DISABLE });
  } finally {
    g.__extractionWorkbenchDecodeImages = undefined;
  }
  let ctm = [1, 0, 0, 1, 0, 0];
  const stack: number[][] = [];
  let hasImages = false;
  let best: { area: number; ctm: number[]; args: unknown[]; inline: boolean } | undefined;
  const imageOps = new Set(['paintImageXObject', 'paintImageXObjectRepeat', 'paintInlineImageXObject', 'paintImageMaskXObject', 'paintImageMaskXObjectRepeat', 'paintInlineImageXObjectGroup', 'paintImageMaskXObjectGroup', 'paintSolidColorImageMask'].map((n) => OPS[n]));
  for (let i = 0; i < list.fnArray.length; i++) {
    const fn = list.fnArray[i];
    const args = (list.argsArray[i] ?? []) as unknown[];
    if (fn === OPS.save) stack.push(ctm);
    else if (fn === OPS.restore) ctm = stack.pop() ?? ctm;
    else if (fn === OPS.transform) ctm = mulMatrix(ctm, args as number[]);
    else if (fn === OPS.paintFormXObjectBegin) {
      stack.push(ctm);
      if (Array.isArray(args[0]) && args[0].length === 6) ctm = mulMatrix(ctm, args[0] as number[]);
    } else if (fn === OPS.paintFormXObjectEnd) ctm = stack.pop() ?? ctm;
    else if (imageOps.has(fn)) {
      hasImages = true;
      let w = 0, h = 0, inline = false;
      if (fn === OPS.paintImageXObject) {
        w = Number(args[1]) || 0;
        h = Number(args[2]) || 0;
      } else if (fn === OPS.paintInlineImageXObject) {
        const d = args[0] as PageImageLike | undefined;
        w = d?.width ?? 0;
        h = d?.height ?? 0;
        inline = true;
      } else continue; // masks and groups: not a scan
      if (!best || w * h > best.area) best = { area: w * h, ctm, args, inline };
    }
  }
  if (!best) return { hasImages };
  // the unit square the image is drawn in, on the page
  const m = mulMatrix(viewportTransform, best.ctm);
  const xs = [0, 1].flatMap((x) => [0, 1].map((y) => m[0] * x + m[2] * y + m[4]));
  const ys = [0, 1].flatMap((x) => [0, 1].map((y) => m[1] * x + m[3] * y + m[5]));
  const clip = (v: number, max: number) => Math.min(max, Math.max(0, v));
  const w = clip(Math.max(...xs), viewport.width) - clip(Math.min(...xs), viewport.width);
  const h = clip(Math.max(...ys), viewport.height) - clip(Math.min(...ys), viewport.height);
  const coverage = viewport.width > 0 && viewport.height > 0 ? (w * h) / (viewport.width * viewport.height) : 0;
  // a logo on a page with text is no scan: nothing to recognise (the 'always' mode asks with a minimum)
  if (coverage < minCoverage) return { hasImages, coverage };
  let img: PageImageLike | undefined;
  if (best.inline) img = best.args[0] as PageImageLike;
  else {
    const id = best.args[0];
    const w = Number(best.args[1]), h = Number(best.args[2]);
    if (typeof id !== 'string') return w * h > maxPixels ? { hasImages, coverage, tooLarge: { width: w, height: h } } : { hasImages, coverage };
    img = (await getObj(id.startsWith('g_') ? page.commonObjs : page.objs, id)) as PageImageLike | undefined;
  }
  if (!img || !img.data || !(img.width > 0) || !(img.height > 0) || ![1, 2, 3].includes(img.kind)) return { hasImages, coverage };
  // pixel (px, py), row 0 at the top → image unit square (row 0 at y = 1) → user space → viewport
  const pixelToUnit = [1 / img.width, 0, 0, -1 / img.height, 0, 1];
  const toPage = mulMatrix(viewportTransform, mulMatrix(best.ctm, pixelToUnit));
  return { hasImages, coverage, image: { width: img.width, height: img.height, png: grayPng(toGray(img), img.width, img.height), toPage } };
}
