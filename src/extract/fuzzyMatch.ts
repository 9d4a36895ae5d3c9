/** Approximate matching for grounding's fuzzy search (src/extract/grounding.ts). */

/**
 * Best approximate occurrence of `p` in `text[ws, we)` with at most `k` edits (Sellers' algorithm:
 * edit distance with a free start and end in the text). Returns the smallest distance and its span.
 */
export function semiGlobal(p: string, text: string, ws: number, we: number, k: number): { distance: number; start: number; end: number } | undefined {
  const m = p.length;
  let prev = new Int32Array(m + 1);
  let cur = new Int32Array(m + 1);
  let prevStart = new Int32Array(m + 1);
  let curStart = new Int32Array(m + 1);
  for (let i = 0; i <= m; i++) {
    prev[i] = i;
    prevStart[i] = ws;
  }
  let bestD = k + 1;
  let bestStart = -1;
  let bestEnd = -1;
  for (let j = ws; j < we; j++) {
    const c = text[j];
    cur[0] = 0;
    curStart[0] = j + 1;
    for (let i = 1; i <= m; i++) {
      const sub = prev[i - 1] + (p[i - 1] === c ? 0 : 1);
      const del = prev[i] + 1; // text char not in pattern
      const ins = cur[i - 1] + 1; // pattern char not in text
      let v = sub;
      let s = prevStart[i - 1];
      if (del < v) {
        v = del;
        s = prevStart[i];
      }
      if (ins < v) {
        v = ins;
        s = curStart[i - 1];
      }
      cur[i] = v;
      curStart[i] = s;
    }
    if (cur[m] < bestD) {
      bestD = cur[m];
      bestStart = curStart[m];
      bestEnd = j + 1;
    }
    [prev, cur] = [cur, prev];
    [prevStart, curStart] = [curStart, prevStart];
  }
  return bestStart >= 0 ? { distance: bestD, start: bestStart, end: bestEnd } : undefined;
}
