/**
 * Page images for multimodal models (job option `input`, #12 part 4): which pages of a document are sent
 * as images, the images themselves (downscaled to a maximum side, as OpenAI-style `image_url` data URLs),
 * and what they cost in input tokens.
 *
 * - `text` (default): no images.
 * - `images`: every page that is an image (the pages of an image file) is sent as an image, with the
 *   document's text (the OCR text keeps grounding and review working).
 * - `auto`: only the pages OCR could not read well (mean word confidence below LOW_OCR_CONFIDENCE).
 *
 * Scanned PDF pages (the pages OCR read) are sent as the grey PNG of their scan (pdf/pageImage.ts, taken in
 * the PDF workers); PDF pages with a text layer go as text (rendering one needs a canvas this extension does
 * not ship). Images: PNG, JPEG and WebP that fit the maximum side go as they are; larger ones (and TIFF pages) are
 * decoded (pngjs, jpeg-js, UTIF), turned grey, shrunk by area averaging and sent as PNG. A WebP larger than
 * the maximum side is sent as it is (no decoder here; the provider scales it), a BMP is not sent (no decoder
 * here, and OpenAI does not take BMP): its text is.
 */
import { promises as fsp } from 'node:fs';
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { ErrorCodes, ExtractionError } from '../core/errors';
import { resolveInside } from '../core/paths';
import { grayPng, rgbaToGray } from '../convert/ocr/grayPng';
import { readImageInfo } from '../convert/ocr/imageInfo';
import { DEFAULT_OCR_MAX_PIXELS } from '../convert/ocr/ocr';
import { LOW_OCR_CONFIDENCE } from '../convert/ocr/ocrText';
import { tiffPageRgba } from '../convert/ocr/tiffPages';
import type { ConvertedDocument } from '../convert/types';

export type InputMode = 'text' | 'images' | 'auto';
export const INPUT_MODES: readonly InputMode[] = ['text', 'images', 'auto'];

/** Longest side of a page image sent to the model, px (OpenAI scales larger ones to fit 2048 × 2048 anyway). */
export const DEFAULT_IMAGE_MAX_SIDE = 2048;

export function checkInputMode(mode: unknown): InputMode {
  if (mode === undefined) return 'text';
  if (INPUT_MODES.includes(mode as InputMode)) return mode as InputMode;
  throw new ExtractionError(ErrorCodes.INVALID_CONFIG, `Invalid input option: input must be one of ${INPUT_MODES.join(', ')} (got ${JSON.stringify(mode)})`, { retryable: false });
}

/** A page image ready to send. */
export interface PageImage {
  page: number;
  mime: 'image/png' | 'image/jpeg' | 'image/webp';
  data: Uint8Array;
  width: number;
  height: number;
}

/** Where the extractor gets page images from: the document's file (the session reads it from the run's root). */
export type PageImageSource = (path: string, pages: readonly number[]) => Promise<PageImage[]>;

/**
 * The pages whose image `mode` sends (1-based, in order): the pages of an image document, the scanned (OCR'd)
 * pages of a PDF; under `auto` only those whose mean OCR confidence is low. [] for `text`.
 */
export function pagesForImages(mode: InputMode, doc: Pick<ConvertedDocument, 'format' | 'pages'>): number[] {
  if (mode === 'text' || (doc.format !== 'image' && doc.format !== 'pdf')) return [];
  return (doc.pages ?? [])
    .filter((p) => doc.format === 'image' || p.ocr)
    .filter((p) => mode === 'images' || (p.ocrConfidence ?? 0) < LOW_OCR_CONFIDENCE)
    .map((p) => p.page);
}

/** The page images sent with `doc` (a document or a part of one): none in `text` mode or without a source. */
export async function pageImagesOf(mode: InputMode, source: PageImageSource | undefined, path: string, doc: ConvertedDocument): Promise<PageImage[]> {
  if (mode === 'text' || !source) return [];
  const pages = pagesForImages(mode, doc);
  return pages.length ? source(path, pages) : [];
}

/** The model refused the images: a setting to change, not something a retry mends. */
export function imagesRejected(model: string, mode: InputMode, e: ExtractionError): ExtractionError {
  const reason = e.message.length > 200 ? `${e.message.slice(0, 199)}…` : e.message;
  return new ExtractionError(
    ErrorCodes.BAD_REQUEST,
    `The model ${model} does not accept image input (${reason}). Set the input option to "text" (job option "input", CLI --input text, setting extractionWorkbench.input) or choose a model that reads images.`,
    { retryable: false, details: { ...e.details, input: mode } },
  );
}

/** `width` × `height` shrunk (never enlarged) to fit `maxSide`. */
export function fitSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const s = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/**
 * Input tokens of one image at detail `high`, by OpenAI's published rule for GPT-4o / GPT-4.1-class models
 * (platform.openai.com/docs/guides/images-vision, "Calculating costs"): the image is scaled to fit 2048 × 2048,
 * then so that its shortest side is at most 768 px; each 512-px tile costs 170 tokens, plus 85 per image.
 */
export function imageTokens(width: number, height: number): number {
  let { width: w, height: h } = fitSize(width, height, 2048);
  const s = Math.min(1, 768 / Math.min(w, h));
  w = Math.round(w * s);
  h = Math.round(h * s);
  return 85 + 170 * Math.ceil(w / 512) * Math.ceil(h / 512);
}

/**
 * Image tokens of the pages `mode` sends of `doc`. Image pages have their size in pixels; a PDF page's is in
 * points and its scan's pixels are not known before it is read: it is counted as a scan of at least 768 px on
 * its shorter side (any scan from about 100 dpi), i.e. by its shape.
 */
export function documentImageTokens(mode: InputMode, doc: Pick<ConvertedDocument, 'format' | 'pages'>, maxSide = DEFAULT_IMAGE_MAX_SIDE): { images: number; tokens: number } {
  const wanted = new Set(pagesForImages(mode, doc));
  let images = 0, tokens = 0;
  for (const p of doc.pages ?? []) {
    if (!wanted.has(p.page) || !p.width || !p.height) continue;
    const k = doc.format === 'pdf' ? Math.max(1, 768 / Math.min(p.width, p.height)) : 1;
    const f = fitSize(p.width * k, p.height * k, maxSide);
    images++;
    tokens += imageTokens(f.width, f.height);
  }
  return { images, tokens };
}

/** An `image_url` content part (a data URL, detail `high`). */
export function imagePart(img: PageImage): { type: 'image_url'; image_url: { url: string; detail: 'high' } } {
  return { type: 'image_url', image_url: { url: `data:${img.mime};base64,${Buffer.from(img.data).toString('base64')}`, detail: 'high' } };
}

// ---------------------------------------------------------------------------------------------
// pixels

/** Grey pixels shrunk to `w2` × `h2` by averaging the source area of each target pixel. */
export function shrinkGray(gray: Uint8Array, w: number, h: number, w2: number, h2: number): Uint8Array {
  if (w2 === w && h2 === h) return gray;
  const out = new Uint8Array(w2 * h2);
  const sx = w / w2, sy = h / h2;
  for (let y = 0; y < h2; y++) {
    const y0 = Math.floor(y * sy), y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
    for (let x = 0; x < w2; x++) {
      const x0 = Math.floor(x * sx), x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
      let sum = 0;
      for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) sum += gray[yy * w + xx];
      out[y * w2 + x] = Math.round(sum / ((y1 - y0) * (x1 - x0)));
    }
  }
  return out;
}

const PASS_THROUGH: Record<string, PageImage['mime']> = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp' };

/** Decoded RGBA of page `index` (0-based) of an image file of `type`, or undefined when there is no decoder for it. */
function decodeRgba(bytes: Uint8Array, type: string, index: number): { rgba: Uint8Array; width: number; height: number } | undefined {
  if (type === 'png') {
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { rgba: png.data, width: png.width, height: png.height };
  }
  if (type === 'jpg') {
    const img = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
    return { rgba: img.data, width: img.width, height: img.height };
  }
  if (type === 'tiff') {
    const px = tiffPageRgba(bytes, index);
    if ('error' in px) throw new Error(px.error);
    return px;
  }
  return undefined;
}

/**
 * The images of `pages` (1-based) of an image file, each fitting `maxSide`. Pages without a decoder
 * (BMP) are left out. Throws CORRUPT_INPUT when the file cannot be decoded.
 */
export function imageFilePages(bytes: Uint8Array, path: string, pages: readonly number[], maxSide = DEFAULT_IMAGE_MAX_SIDE): PageImage[] {
  const info = readImageInfo(bytes, path, DEFAULT_OCR_MAX_PIXELS);
  const out: PageImage[] = [];
  for (const page of pages) {
    const p = info.pages[page - 1];
    if (!p) continue;
    const fit = fitSize(p.width, p.height, maxSide);
    const mime = PASS_THROUGH[info.type];
    if (mime && (info.type === 'webp' || (fit.width === p.width && fit.height === p.height))) {
      out.push({ page, mime, data: bytes, width: p.width, height: p.height });
      continue;
    }
    let px: ReturnType<typeof decodeRgba>;
    try {
      px = decodeRgba(bytes, info.type, page - 1);
    } catch (err) {
      throw new ExtractionError(ErrorCodes.CORRUPT_INPUT, `Image cannot be decoded for the model (${(err as Error)?.message ?? err}): ${path}`, { retryable: false, stage: 'extracting' });
    }
    if (!px) continue;
    const f = fitSize(px.width, px.height, maxSide);
    const gray = shrinkGray(rgbaToGray(px.rgba, px.width, px.height), px.width, px.height, f.width, f.height);
    out.push({ page, mime: 'image/png', data: grayPng(gray, f.width, f.height), width: f.width, height: f.height });
  }
  return out;
}

/** Scanned PDF pages' grey PNGs by page (the PDF converter's `scannedPageImages`). */
export type PdfScanImages = (bytes: Uint8Array, pages: readonly number[]) => Promise<Map<number, { png: Uint8Array; width: number; height: number }>>;

/** A grey PNG of `width` × `height` shrunk to fit `maxSide` (as it is when it fits). */
function fitGrayPng(png: Uint8Array, width: number, height: number, maxSide: number): { data: Uint8Array; width: number; height: number } {
  const f = fitSize(width, height, maxSide);
  if (f.width === width && f.height === height) return { data: png, width, height };
  const px = decodeRgba(png, 'png', 0)!;
  return { data: grayPng(shrinkGray(rgbaToGray(px.rgba, px.width, px.height), px.width, px.height, f.width, f.height), f.width, f.height), ...f };
}

/**
 * Page images read from the documents' files under `root` (paths confined to it): image files here, scanned
 * PDF pages through `pdf` (without it, PDFs give none).
 */
export function fileImageSource(root: string, maxSide = DEFAULT_IMAGE_MAX_SIDE, pdf?: PdfScanImages): PageImageSource {
  return async (docPath, pages) => {
    const bytes = new Uint8Array(await fsp.readFile(resolveInside(root, docPath)));
    if (!docPath.toLowerCase().endsWith('.pdf')) return imageFilePages(bytes, docPath, pages, maxSide);
    if (!pdf) return [];
    const scans = await pdf(bytes, pages);
    return [...scans.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([page, s]) => ({ page, mime: 'image/png' as const, ...fitGrayPng(s.png, s.width, s.height, maxSide) }));
  };
}
