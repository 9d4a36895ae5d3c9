/**
 * The pages of a TIFF: its full-size images (reduced-resolution ones left out) with their pixel sizes.
 * UTIF only (no Node, no DOM): the OCR worker and the Review webview (which draws TIFF pages itself, as
 * browsers do not show TIFF) number the pages the same way.
 */
import * as UTIF from 'utif';

export interface ImagePageInfo {
  width: number;
  height: number;
  /** TIFF: index of the page's directory in UTIF's list. */
  ifd: number;
  /** TIFF compression tag (259). */
  compression: number;
}

const first = (v: unknown): number | undefined => (Array.isArray(v) && typeof v[0] === 'number' ? v[0] : undefined);

/** The full-size images of a TIFF (reduced-resolution ones, NewSubfileType bit 0, are left out). */
export function tiffPages(bytes: Uint8Array): ImagePageInfo[] {
  const ifds = UTIF.decode(bytes);
  const pages: ImagePageInfo[] = [];
  ifds.forEach((ifd, i) => {
    const width = first(ifd.t256);
    const height = first(ifd.t257);
    if (width === undefined || height === undefined) return;
    if ((first(ifd.t254) ?? 0) & 1) return;
    pages.push({ width, height, ifd: i, compression: first(ifd.t259) ?? 1 });
  });
  return pages;
}

/** Page `page` (0-based, among {@link tiffPages}) of a TIFF decoded to RGBA, or a reason it cannot be. */
export function tiffPageRgba(bytes: Uint8Array, page: number): { rgba: Uint8Array; width: number; height: number } | { error: string } {
  const ifds = UTIF.decode(bytes);
  const info = tiffPages(bytes)[page];
  const ifd = info ? ifds[info.ifd] : undefined;
  if (!ifd) return { error: `TIFF has no page ${page + 1}` };
  UTIF.decodeImage(bytes, ifd, ifds);
  const width = ifd.width ?? 0, height = ifd.height ?? 0;
  if (!ifd.data || ifd.data.length === 0 || !(width > 0 && height > 0)) return { error: `TIFF page ${page + 1} could not be decoded` };
  return { rgba: UTIF.toRGBA8(ifd), width, height };
}
