/** JSON Lines: one JSON object per line (`\n`), UTF-8, streamed to the file. */
import { once } from 'node:events';
import * as fs from 'node:fs';
import { finished } from 'node:stream/promises';

/** Writes one line per object; returns the number of lines. */
export async function writeJsonl(file: string, objects: AsyncIterable<unknown>): Promise<number> {
  const out = fs.createWriteStream(file, { flags: 'wx', encoding: 'utf8' });
  const done = finished(out);
  done.catch(() => undefined);
  let n = 0;
  try {
    for await (const o of objects) {
      if (!out.write(JSON.stringify(o) + '\n')) await Promise.race([once(out, 'drain'), done]);
      n++;
    }
    out.end();
    await done;
  } catch (err) {
    out.destroy();
    throw err;
  }
  return n;
}
