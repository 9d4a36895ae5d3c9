/**
 * Image documents (PNG, JPEG, TIFF — every page —, WebP, BMP): recognised with OCR (ocr.ts) into a paged
 * document like a scanned PDF: one page per image (per TIFF page), page size and word boxes in pixels.
 * The header is read first (imageInfo.ts): a pixel bomb fails with TOO_LARGE, an unsupported TIFF
 * compression with UNSUPPORTED_CONTENT, an unreadable file with CORRUPT_INPUT, before any decoding.
 */
import { ErrorCodes, ExtractionError } from '../../core/errors';
import { converterCacheKey } from '../cache';
import { emptyDocumentError, throwIfAborted } from '../text';
import type { ConvertedDocument, ConvertInput, Converter, PageInfo, PositionSpan } from '../types';
import { readImageInfo } from './imageInfo';
import type { Ocr } from './ocr';
import { ocrPageText } from './ocrText';

/** Output version of the image converter: bump when what it produces changes. */
export const IMAGE_CONVERTER_VERSION = 1;

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.webp', '.bmp'] as const;

const PAGE_SEPARATOR = '\n\n';

export function createImageConverter(ocr: Ocr): Converter {
  return {
    id: 'image',
    cacheKey: converterCacheKey('image', IMAGE_CONVERTER_VERSION, { ...ocr.cacheOptions, maxPixels: ocr.maxPixels }),
    extensions: IMAGE_EXTENSIONS,
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      if (input.bytes.byteLength === 0) throw emptyDocumentError(input.path);
      if (ocr.mode === 'off') {
        throw new ExtractionError(ErrorCodes.NEEDS_OCR, `Image needs OCR, which is off (setting extractionWorkbench.ocr.mode, CLI --ocr): ${input.path}`, { retryable: false, stage: 'converting' });
      }
      const info = readImageInfo(input.bytes, input.path, ocr.maxPixels);
      const bytes = new Uint8Array(input.bytes.byteLength);
      bytes.set(input.bytes);
      const results = await Promise.allSettled(
        info.pages.map((_p, i) =>
          ocr.recognize(info.type === 'tiff' ? { kind: 'tiff', bytes, page: i } : { kind: 'encoded', bytes }, {
            signal: input.signal,
            label: info.pages.length > 1 ? `${input.path} page ${i + 1}` : input.path,
          }),
        ),
      );
      throwIfAborted(input.signal);
      let text = '';
      const pages: PageInfo[] = [];
      const positions: PositionSpan[] = [];
      const warnings: string[] = [];
      let firstError: unknown;
      results.forEach((r, i) => {
        if (i > 0) text += PAGE_SEPARATOR;
        const start = text.length;
        const page: PageInfo = { page: i + 1, start, end: start, width: info.pages[i].width, height: info.pages[i].height };
        if (r.status === 'fulfilled') {
          const t = ocrPageText(r.value, i + 1);
          text += t.text;
          for (const s of t.spans) positions.push({ ...s, start: s.start + start, end: s.end + start });
          page.ocr = true;
          page.ocrConfidence = t.meanConfidence;
        } else {
          firstError ??= r.reason;
          warnings.push(`Page ${i + 1}: OCR failed: ${(r.reason as Error)?.message ?? String(r.reason)}`);
        }
        page.end = text.length;
        pages.push(page);
      });
      if (text.trim() === '') {
        if (firstError) throw firstError;
        throw new ExtractionError(ErrorCodes.EMPTY_DOCUMENT, `OCR found no text in the image${pages.length > 1 ? `s (${pages.length} pages)` : ''}: ${input.path}`, { retryable: false, stage: 'converting' });
      }
      const doc: ConvertedDocument = { format: 'image', text, pages, positions, meta: { imageType: info.type, pageCount: pages.length, ocr: { languages: ocr.cacheOptions?.languages, engine: ocr.cacheOptions?.engine } } };
      if (warnings.length) doc.warnings = warnings;
      return doc;
    },
  };
}
