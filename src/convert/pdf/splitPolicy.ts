/**
 * When a worker gives pages of its document to an idle worker, and how many.
 *
 * The helper opens the document again and parses the fonts it meets again: measured on the benchmark
 * corpus that costs 15–23 ms of CPU per split (9–31 % of those documents' conversion time), i.e. several
 * pages' worth. So the owner keeps enough pages to finish at about the time the helper does:
 * helper `open + given × page` ≈ owner `(notStarted + 1 − given) × page`.
 */

/** Parts with at most this many pages are never asked to split (the pool's filter). */
export const MIN_SPLIT_PAGES = 6;

/** A split that would give fewer pages than this is refused: the reopen would eat the gain. */
export const MIN_PAGES_GIVEN = 3;

/**
 * Pages to give away from the end of a part.
 * @param notStarted pages after the one being converted
 * @param pageMs average time of one page so far
 * @param openMs time the worker needed to open the document and convert its first page (what the helper pays again)
 * @returns 0 to refuse
 */
export function pagesToGiveAway(notStarted: number, pageMs: number, openMs: number): number {
  if (notStarted < MIN_SPLIT_PAGES) return 0;
  // without a usable measurement fall back to half of the pages not started
  const reopenPages = pageMs > 0 && Number.isFinite(openMs / pageMs) ? Math.max(0, openMs / pageMs) : 0;
  const given = Math.floor((notStarted + 1 - reopenPages) / 2);
  return given >= MIN_PAGES_GIVEN ? Math.min(given, notStarted) : 0;
}
