/**
 * Text documents on the left side: the converted text (what grounding offsets refer to) with line
 * numbers. Grounded values are marked in the text; hovering a mark tells which field it supports,
 * clicking it selects the field. The text is only ever inserted as text nodes.
 */
import type { FieldGroundingView } from '../../src/shared/reviewProtocol';
import { h, replaceChildren } from './dom';

export interface TextViewCallbacks {
  select(pointer: string): void;
  nameOf(pointer: string): string;
}

interface Range {
  start: number;
  end: number;
  pointers: string[];
}

/** Lines per block; blocks use `content-visibility: auto`, so long documents stay fast to scroll. */
const BLOCK = 200;

export class TextView {
  readonly el: HTMLElement;
  readonly #cb: TextViewCallbacks;
  #text = '';
  #marks = new Map<string, HTMLElement[]>();
  #lineEls: HTMLElement[] = [];

  constructor(cb: TextViewCallbacks) {
    this.#cb = cb;
    this.el = h('div', { class: 'text-view', role: 'document', 'aria-label': 'Document text with line numbers' });
    this.el.addEventListener('click', (e) => {
      const mark = (e.target as HTMLElement).closest('mark[data-pointer]');
      if (mark) this.#cb.select(mark.getAttribute('data-pointer')!);
    });
  }

  render(text: string, fields: readonly FieldGroundingView[]): void {
    this.#text = text;
    this.#marks.clear();
    this.#lineEls = [];
    const ranges = this.#ranges(fields);
    const lines = text.split('\n');
    const width = String(lines.length).length;
    const blocks: HTMLElement[] = [];
    let block: HTMLElement | undefined;
    let offset = 0;
    let r = 0; // first range that may touch the current line
    lines.forEach((line, i) => {
      if (i % BLOCK === 0) {
        block = h('div', { class: 'text-block' });
        blocks.push(block);
      }
      const start = offset;
      const end = offset + line.length;
      offset = end + 1;
      const content = h('span', { class: 'line-text' });
      while (r < ranges.length && ranges[r].end <= start) r++;
      let pos = start;
      for (let k = r; k < ranges.length && ranges[k].start < end; k++) {
        const rg = ranges[k];
        const a = Math.max(rg.start, start);
        const b = Math.min(rg.end, end);
        if (b <= a) continue;
        if (a > pos) content.append(text.slice(pos, a));
        const mark = h('mark', { class: 'hl', 'data-pointer': rg.pointers[0], title: `Supports ${rg.pointers.map((p) => this.#cb.nameOf(p)).join(', ')}` }, text.slice(a, b));
        for (const p of rg.pointers) {
          const list = this.#marks.get(p) ?? [];
          list.push(mark);
          this.#marks.set(p, list);
        }
        content.append(mark);
        pos = b;
      }
      if (pos < end) content.append(text.slice(pos, end));
      if (line.length === 0) content.append('\u200b');
      const row = h('div', { class: 'line', 'data-line': i + 1 }, h('span', { class: 'line-number', 'aria-hidden': 'true' }, String(i + 1).padStart(width, ' ')), content);
      this.#lineEls.push(row);
      block!.append(row);
    });
    replaceChildren(this.el, ...blocks);
  }

  /** Non-overlapping ranges, each with the fields it supports. */
  #ranges(fields: readonly FieldGroundingView[]): Range[] {
    const cuts = new Set<number>();
    const spans = fields.filter((f) => f.status === 'grounded' && f.start !== undefined && f.end !== undefined && f.end > f.start);
    for (const f of spans) {
      cuts.add(f.start!);
      cuts.add(f.end!);
    }
    const points = [...cuts].sort((a, b) => a - b);
    const out: Range[] = [];
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i];
      const b = points[i + 1];
      const pointers = spans.filter((f) => f.start! <= a && f.end! >= b).map((f) => f.pointer);
      if (pointers.length) out.push({ start: a, end: b, pointers });
    }
    return out;
  }

  /** Highlights the field's text (or clears it) and scrolls it into view. */
  highlight(pointer: string | undefined, scroll: boolean, g?: FieldGroundingView): boolean {
    for (const m of Array.from(this.el.querySelectorAll('mark.selected'))) m.classList.remove('selected');
    for (const l of Array.from(this.el.querySelectorAll('.line.selected'))) l.classList.remove('selected');
    if (!pointer) return false;
    const marks = this.#marks.get(pointer) ?? [];
    for (const m of marks) m.classList.add('selected');
    if (marks.length) {
      if (scroll) marks[0].scrollIntoView({ block: 'center' });
      return true;
    }
    if (g?.line && this.#lineEls[g.line - 1]) {
      this.#lineEls[g.line - 1].classList.add('selected');
      if (scroll) this.#lineEls[g.line - 1].scrollIntoView({ block: 'center' });
      return true;
    }
    return false;
  }

  get text(): string {
    return this.#text;
  }
}
