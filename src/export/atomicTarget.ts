/**
 * Export files written atomically: each is written to a temp file beside its target, flushed, and renamed
 * over the target only when every file of the export is complete; a failure leaves the old files as they
 * were and no temp file behind.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { tempId } from '../core/tempNames';
import { ErrorCodes, ExtractionError } from '../core/errors';

/** Checks that `file` can be written (its folder exists or can be made, and it is no folder); OUTPUT_UNWRITABLE otherwise. */
export async function checkTarget(file: string): Promise<void> {
  const dir = path.dirname(file);
  try {
    await fsp.mkdir(dir, { recursive: true });
    const st = await fsp.stat(file).catch(() => undefined);
    if (st?.isDirectory()) throw new Error('it is a folder');
    const probe = path.join(dir, `.${tempId()}.probe`);
    await (await fsp.open(probe, 'wx')).close();
    await fsp.rm(probe, { force: true });
  } catch (err) {
    throw new ExtractionError(ErrorCodes.OUTPUT_UNWRITABLE, `Cannot write the export to ${file}: ${(err as Error).message}`, { cause: err, retryable: false });
  }
}

/** Temp files of one export: `temp(target)` names one, `commit()` renames them all, `abort()` removes them. */
export class AtomicFiles {
  readonly #pending = new Map<string, string>();

  temp(target: string): string {
    const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${tempId()}.tmp`);
    this.#pending.set(target, tmp);
    return tmp;
  }

  async commit(): Promise<string[]> {
    const targets = [...this.#pending.keys()];
    for (const [target, tmp] of this.#pending) {
      const fh = await fsp.open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, target);
    }
    this.#pending.clear();
    return targets;
  }

  async abort(): Promise<void> {
    await Promise.all([...this.#pending.values()].map((tmp) => fsp.rm(tmp, { force: true })));
    this.#pending.clear();
  }
}
