/**
 * 8-bit grey pixels → PNG (zlib from Node, no dependency). A scanned page waits in the OCR queue as this
 * (a 200 dpi letter page: ~4 MB of grey, ~0.1–0.4 MB of PNG), so a long scanned PDF does not pile up
 * gigabytes on the calling thread while OCR catches up. Leptonica reads PNG natively.
 */
import * as zlib from 'zlib';
import { crc32 } from '../../store/journal';

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** RGBA → 8-bit grey (luma); transparent counts as white paper. */
export function rgbaToGray(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let i = 0, p = 0; i < out.length; i++, p += 4) {
    const a = rgba[p + 3];
    const l = (rgba[p] * 77 + rgba[p + 1] * 150 + rgba[p + 2] * 29) >> 8;
    out[i] = (l * a + 255 * (255 - a)) / 255;
  }
  return out;
}

export function grayPng(gray: Uint8Array, width: number, height: number): Uint8Array<ArrayBuffer> {
  // each row: filter byte 0 (none), then the row
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(gray.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 3 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
  const out = new Uint8Array(png.length);
  out.set(png);
  return out;
}
