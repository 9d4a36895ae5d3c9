import { strict as assert } from 'node:assert';
import { inspect } from 'node:util';
import { ExtractionError } from '../../src/core/errors';

/** Awaits `p`, asserts it rejected with an ExtractionError of `code`, runs `check` on it and returns it. */
export async function rejectsWithCode(p: Promise<unknown>, code: string, check?: (e: ExtractionError) => void): Promise<ExtractionError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ExtractionError, `expected an ExtractionError, got ${inspect(caught)}`);
  assert.equal(caught.code, code, `code (message: ${caught.message})`);
  check?.(caught);
  return caught;
}

/** Polls `cond` until it holds; fails naming `what` after `ms` (a deadline for a hung test, not a timing check). */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
