/**
 * Converting what the reading stage has of a document (core/reader.ts `readSource`): its bytes, through the
 * converted-text cache when there is one, or — for a file the converter streams — the file itself, read up
 * to the run's size limit. One place for the pipeline and the run estimate.
 */
import type { ConvertCache } from './cache';
import type { ConvertedDocument, Converter } from './types';

export interface SourceRead {
  /** Undefined: the converter reads the file as a stream (`Converter.stream`). */
  bytes?: Uint8Array;
  contentHash: string;
}

export async function convertSource(
  converter: Converter,
  source: SourceRead,
  input: { path: string; absPath: string; signal?: AbortSignal },
  maxBytes: number,
  cache?: Pick<ConvertCache, 'getOrConvert'>,
): Promise<ConvertedDocument> {
  if (!source.bytes) {
    if (!converter.stream) throw new Error(`${input.path}: the ${converter.id} converter cannot read a file as a stream`);
    return converter.stream.convert({ ...input, maxBytes });
  }
  const full = { ...input, bytes: source.bytes };
  return cache ? cache.getOrConvert(converter, full, source.contentHash) : converter.convert(full);
}
