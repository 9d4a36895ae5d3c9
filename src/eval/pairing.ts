/**
 * Pairs the expected items of an array of objects (line items) with the extracted ones so that the most
 * sub-fields agree: an optimal assignment (Hungarian / Kuhn–Munkres algorithm, the `munkres` package) on
 * the matrix of agreeing sub-fields per pair. Among equally good pairings the one that keeps items at the
 * same position wins. Items left over (the lists differ in length) stay unpaired.
 *
 * Pure: no I/O. O(n³) in the longer list; line-item lists are small.
 */
import { munkres } from 'munkres';

export interface Pairing {
  /** [expected index, actual index], in expected order. */
  pairs: [number, number][];
  unpairedExpected: number[];
  unpairedActual: number[];
}

/** `score(i, j)`: sub-fields of expected item i that agree with actual item j (≥ 0). */
export function pairItems(expected: number, actual: number, score: (i: number, j: number) => number): Pairing {
  if (!expected || !actual) return { pairs: [], unpairedExpected: [...Array(expected).keys()], unpairedActual: [...Array(actual).keys()] };
  // weight = score scaled so one more agreeing sub-field always beats any position bonus (< 1 in total)
  const n = Math.max(expected, actual);
  const weight: number[][] = [];
  let max = 0;
  for (let i = 0; i < expected; i++) {
    const row: number[] = [];
    for (let j = 0; j < actual; j++) {
      const w = score(i, j) * (n + 1) + (i === j ? 1 : 0);
      row.push(w);
      if (w > max) max = w;
    }
    weight.push(row);
  }
  const cost = weight.map((row) => row.map((w) => max - w));
  const pairs = (munkres(cost) as [number, number][]).filter(([i, j]) => i < expected && j < actual).sort((a, b) => a[0] - b[0]);
  const pe = new Set(pairs.map((p) => p[0]));
  const pa = new Set(pairs.map((p) => p[1]));
  return {
    pairs,
    unpairedExpected: [...Array(expected).keys()].filter((i) => !pe.has(i)),
    unpairedActual: [...Array(actual).keys()].filter((j) => !pa.has(j)),
  };
}
