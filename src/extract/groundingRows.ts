/**
 * Grounding of one array item (a line item) as a row: when a value occurs several times, the occurrence
 * consistent with the item's other values wins.
 *
 * The values found exactly once (in their best match kind) fix the item's row: the lines they are on.
 * Every other value then takes, in order of preference, an occurrence
 *  1. on a word boundary,
 *  2. not already taken by another value of the same item (an amount equal to the unit price is the
 *     other `640.00` of the row, not the same one),
 *  3. on the item's row (when the row is known),
 *  4. nearest to the item's values already placed (else: nearest after the previous item, as before).
 * A value is `ambiguous` when several occurrences remain equally good by 1–3 (the nearest one is kept).
 *
 * Pure: works on candidate lists and a line lookup the {@link Grounder} provides.
 */

export interface RowCandidate {
  start: number;
  end: number;
  boundary: boolean;
}

export interface RowChoice<C extends RowCandidate> {
  candidate: C;
  ambiguous: boolean;
}

/** Lower is better: word boundaries first, then distance to the anchor (after it preferred). */
export function anchorCost(c: RowCandidate, anchor: number): number {
  const d = c.start >= anchor ? c.start - anchor : 2 * (anchor - c.start) + 1;
  return (c.boundary ? 0 : 1e12) + d;
}

/**
 * Chooses an occurrence for every value of one item. `values[i]` are the candidates of the i-th value (in
 * the item's key order; an empty list: not found). Returns the choices by index, and the anchor for the
 * next item (the furthest placed value on the row).
 */
export function chooseRow<C extends RowCandidate>(values: readonly C[][], anchor: number, lineOf: (offset: number) => number): { choices: (RowChoice<C> | undefined)[]; anchor: number } {
  const choices: (RowChoice<C> | undefined)[] = values.map(() => undefined);
  const taken = new Set<string>();
  const key = (c: RowCandidate) => `${c.start}:${c.end}`;
  const placed: number[] = [];
  const rows = new Set<number>();
  const pool = (cands: readonly C[]) => {
    const b = cands.filter((c) => c.boundary);
    return b.length ? b : cands;
  };
  // values found once fix the row
  values.forEach((cands, i) => {
    const p = pool(cands);
    if (p.length !== 1) return;
    choices[i] = { candidate: p[0], ambiguous: false };
    taken.add(key(p[0]));
    placed.push(p[0].start);
    rows.add(lineOf(p[0].start));
  });
  values.forEach((cands, i) => {
    if (choices[i] || !cands.length) return;
    const klass = (c: C) => (c.boundary ? 0 : 4) + (taken.has(key(c)) ? 2 : 0) + (rows.size && !rows.has(lineOf(c.start)) ? 1 : 0);
    const near = (c: C) => (placed.length ? Math.min(...placed.map((p) => Math.abs(c.start - p))) : anchorCost(c, anchor));
    let best: C | undefined;
    let bestClass = Infinity;
    let bestNear = Infinity;
    let tied = 0;
    for (const c of cands) {
      const k = klass(c);
      const n = near(c);
      if (k < bestClass) {
        bestClass = k;
        tied = 1;
        best = c;
        bestNear = n;
      } else if (k === bestClass) {
        tied++;
        if (n < bestNear) {
          best = c;
          bestNear = n;
        }
      }
    }
    if (!best) return;
    choices[i] = { candidate: best, ambiguous: tied > 1 };
    taken.add(key(best));
    placed.push(best.start);
  });
  let next = anchor;
  let any = false;
  for (const ch of choices) {
    if (!ch) continue;
    const s = ch.candidate.start;
    if (rows.size && !rows.has(lineOf(s))) continue;
    next = any ? Math.max(next, s) : s;
    any = true;
  }
  if (!any) for (const ch of choices) if (ch) next = ch.candidate.start; // off-row only: the last one, as before
  return { choices, anchor: next };
}
