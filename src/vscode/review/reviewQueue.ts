/**
 * Review routing: which done documents need review — a value below the confidence threshold and not
 * marked reviewed. The lowest confidence of a result is read from its file once per document version
 * (cached by path and the store's `updatedAt`), so the Documents tree can ask for every done document
 * at each refresh. No `vscode` import.
 */
import * as fs from 'node:fs';
import type { DocumentState } from '../../core/types';
import { resultAbsPath, type ResultFile } from '../../export/jsonExporter';
import { minConfidence } from '../../extract/confidence';
import type { FieldGrounding } from '../../extract/grounding';
import { groundingSchema } from '../../shared/reviewProtocol';

/** Lowest value confidence of a result file (1 when it has no grounding, or cannot be read). */
export function resultMinConfidence(outDir: string, docPath: string): number {
  try {
    const r = JSON.parse(fs.readFileSync(resultAbsPath(outDir, docPath), 'utf8')) as ResultFile;
    const g = groundingSchema.safeParse(r.grounding);
    if (!g.success) return 1;
    return g.data.summary.minConfidence ?? minConfidence(g.data.fields as FieldGrounding[]);
  } catch {
    return 1;
  }
}

export interface ReviewQueueFolder {
  outDir: string;
  threshold: number;
  reviewed(docPath: string): boolean;
}

export class ReviewQueue {
  readonly #cache = new Map<string, { updatedAt: number; outDir: string; min: number }>();

  /** Lowest confidence of a done document's result (cached per version). */
  minConfidence(folderKey: string, outDir: string, doc: DocumentState): number {
    const key = `${folderKey}\n${doc.path}`;
    const hit = this.#cache.get(key);
    if (hit && hit.updatedAt === doc.updatedAt && hit.outDir === outDir) return hit.min;
    const min = resultMinConfidence(outDir, doc.path);
    this.#cache.set(key, { updatedAt: doc.updatedAt, outDir, min });
    return min;
  }

  /** The documents of `docs` that need review (done, a value below the threshold, not marked reviewed). */
  filter(folderKey: string, folder: ReviewQueueFolder, docs: readonly DocumentState[]): DocumentState[] {
    return docs.filter((d) => d.stage === 'done' && !folder.reviewed(d.path) && this.minConfidence(folderKey, folder.outDir, d) < folder.threshold);
  }

  clear(): void {
    this.#cache.clear();
  }
}
