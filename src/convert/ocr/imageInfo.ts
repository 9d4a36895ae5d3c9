/**
 * What an image file holds, read from its header before anything is decoded: format, pages and their
 * pixel size — so a pixel bomb (a small file declaring a huge image) fails with TOO_LARGE, and a TIFF
 * whose compression the decoder lacks fails with UNSUPPORTED_CONTENT, before a worker spends memory on it.
 * Cheap (headers and TIFF directories only): runs on the calling thread.
 */
import { imageSize } from 'image-size';
import { ErrorCodes, ExtractionError } from '../../core/errors';
import { tiffPages, type ImagePageInfo } from './tiffPages';

export type { ImagePageInfo };

/** TIFF compressions UTIF decodes: none, CCITT G3/G4, LZW, JPEG, Deflate (Adobe and old), PackBits. */
export const SUPPORTED_TIFF_COMPRESSIONS: ReadonlyMap<number, string> = new Map([
  [1, 'none'],
  [3, 'CCITT G3'],
  [4, 'CCITT G4'],
  [5, 'LZW'],
  [7, 'JPEG'],
  [8, 'Deflate'],
  [32946, 'Deflate'],
  [32773, 'PackBits'],
]);

export interface ImageInfo {
  /** `png`, `jpg`, `tiff`, `webp`, `bmp`, … (image-size's names). */
  type: string;
  pages: ImagePageInfo[];
}

function corrupt(path: string, why: string): ExtractionError {
  return new ExtractionError(ErrorCodes.CORRUPT_INPUT, `Image cannot be read (${why}): ${path}`, { retryable: false, stage: 'converting' });
}

/**
 * Format and pages of an image file; throws CORRUPT_INPUT (unreadable header), TOO_LARGE (a page over
 * `maxPixels`) or UNSUPPORTED_CONTENT (TIFF compression).
 */
export function readImageInfo(bytes: Uint8Array, path: string, maxPixels: number): ImageInfo {
  let type: string;
  let pages: ImagePageInfo[];
  try {
    const size = imageSize(bytes);
    type = size.type ?? 'unknown';
    pages = type === 'tiff' ? tiffPages(bytes) : [{ width: size.width, height: size.height, ifd: 0, compression: 0 }];
  } catch (err) {
    throw corrupt(path, (err as Error)?.message ?? String(err));
  }
  if (pages.length === 0) throw corrupt(path, 'no image in the file');
  pages.forEach((p, i) => {
    if (!(p.width > 0 && p.height > 0)) throw corrupt(path, `page ${i + 1} has no size`);
    if (p.width * p.height > maxPixels) {
      throw new ExtractionError(
        ErrorCodes.TOO_LARGE,
        `Image${pages.length > 1 ? ` page ${i + 1}` : ''} is ${p.width} × ${p.height} pixels, more than the OCR limit of ${maxPixels} pixels: ${path}`,
        { retryable: false, stage: 'converting', details: { width: p.width, height: p.height, maxPixels } },
      );
    }
    if (type === 'tiff' && !SUPPORTED_TIFF_COMPRESSIONS.has(p.compression)) {
      throw new ExtractionError(ErrorCodes.UNSUPPORTED_CONTENT, `TIFF compression ${p.compression} is not supported (page ${i + 1}): ${path}; convert it to PNG or to an uncompressed/LZW/G4 TIFF`, {
        retryable: false,
        stage: 'converting',
        details: { compression: p.compression },
      });
    }
  });
  return { type, pages };
}
