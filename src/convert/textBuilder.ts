/**
 * An append-only text buffer whose trailing whitespace can be inspected and trimmed in time proportional
 * to what is trimmed, for converters that decide spacing and line breaks as they go (html.ts).
 *
 * Why not a string: checking or trimming the end of a growing string with a regex (`/[ \t]+$/`,
 * `/\s$/`) looks at — and flattens — the whole string on every call, which made a converter quadratic
 * (40,000 paragraphs took 15 s), and `/\s+$/` backtracks quadratically on a long run of spaces that is
 * not at the end. Here the text ends in a whitespace-only tail kept as its own small pieces.
 */

/** The characters of `\s` in JavaScript regular expressions (what `String.prototype.trim` removes). */
export function isWhitespace(c: number): boolean {
  return (
    (c >= 9 && c <= 13) ||
    c === 32 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

export class TextBuilder {
  /** Everything before the whitespace tail; its last character is not whitespace. */
  #body: string[] = [];
  #bodyLength = 0;
  /** The trailing whitespace, in the pieces it was appended in (each one flat and whitespace only). */
  #tail: string[] = [];
  #tailLength = 0;

  get length(): number {
    return this.#bodyLength + this.#tailLength;
  }

  /** Whether the text is empty or ends with whitespace (`/\s$/` of the text, or empty). */
  get endsWithWhitespaceOrEmpty(): boolean {
    return this.#tailLength > 0 || this.#bodyLength === 0;
  }

  append(s: string): void {
    let j = s.length;
    while (j > 0 && isWhitespace(s.charCodeAt(j - 1))) j--;
    if (j === 0) {
      if (s.length > 0) this.#pushTail(s);
      return;
    }
    // the tail is whitespace in the middle now
    if (this.#tailLength > 0) {
      for (const piece of this.#tail) this.#body.push(piece);
      this.#bodyLength += this.#tailLength;
      this.#tail = [];
      this.#tailLength = 0;
    }
    const head = j === s.length ? s : s.slice(0, j);
    this.#body.push(head);
    this.#bodyLength += head.length;
    if (j < s.length) this.#pushTail(s.slice(j));
  }

  /** Removes the trailing run of characters for which `strip(code)` is true (they must be whitespace). */
  trimEnd(strip: (c: number) => boolean): void {
    while (this.#tail.length > 0) {
      const last = this.#tail[this.#tail.length - 1];
      let k = last.length;
      while (k > 0 && strip(last.charCodeAt(k - 1))) k--;
      this.#tailLength -= last.length - k;
      if (k > 0) {
        this.#tail[this.#tail.length - 1] = last.slice(0, k);
        return;
      }
      this.#tail.pop();
    }
  }

  /** Line feeds at the very end, counted up to `max`. */
  trailingNewlines(max: number): number {
    let n = 0;
    for (let p = this.#tail.length - 1; p >= 0; p--) {
      const piece = this.#tail[p];
      for (let k = piece.length - 1; k >= 0; k--) {
        if (piece.charCodeAt(k) !== 10 || n >= max) return n;
        n++;
      }
    }
    return n;
  }

  /** The text without its trailing whitespace. */
  trimmedText(): string {
    return this.#body.join('');
  }

  #pushTail(ws: string): void {
    this.#tail.push(ws);
    this.#tailLength += ws.length;
  }
}
