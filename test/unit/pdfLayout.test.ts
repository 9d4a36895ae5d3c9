/** Reading order and box interpolation on synthetic text items (no pdf.js). */
import * as assert from 'assert';
import { dedupeRow, layoutPage, locate, pageAt, subBox, type LayoutItem } from '../../src/convert/pdf/layout';
import type { ConvertedDocument } from '../../src/convert/types';

/** An item of `str` at (x, baseline), width proportional to length. */
function item(str: string, x: number, baseline: number, fontSize = 10, charW = 5): LayoutItem {
  return { str, x0: x, x1: x + str.length * charW, y0: baseline - 0.8 * fontSize, y1: baseline + 0.2 * fontSize, baseline, fontSize, horizontal: true };
}

describe('pdf/layout: reading order', () => {
  it('single column: rows top to bottom, items left to right with word spaces', () => {
    const { text } = layoutPage([item('world', 136, 100), item('second line', 100, 114), item('Hello', 100, 100)]);
    assert.strictEqual(text, 'Hello world\nsecond line');
  });

  it('two text columns are read one after the other', () => {
    const items: LayoutItem[] = [item('Header across the whole page width here', 50, 40, 12, 12)];
    for (let i = 0; i < 8; i++) {
      items.push(item(`left column line ${i} with words xx`, 50, 80 + i * 13)); // 50..225
      items.push(item(`right column line ${i} with word yy`, 300, 80 + i * 13.5)); // 300..475
    }
    items.push(item('Footer line spanning the page from left to right margin', 50, 400, 10, 7));
    const { text } = layoutPage(items);
    const lines = text.split('\n').filter(Boolean);
    assert.strictEqual(lines[0], 'Header across the whole page width here');
    assert.deepStrictEqual(lines.slice(1, 9), Array.from({ length: 8 }, (_, i) => `left column line ${i} with words xx`));
    assert.deepStrictEqual(lines.slice(9, 17), Array.from({ length: 8 }, (_, i) => `right column line ${i} with word yy`));
    assert.strictEqual(lines[17], 'Footer line spanning the page from left to right margin');
  });

  it('tables keep row order (narrow numeric columns are not text columns)', () => {
    const items: LayoutItem[] = [];
    const rows = [
      ['Description', 'Qty', 'Price'],
      ['Apples, red', '3', '1.20'],
      ['Pears', '10', '0.50'],
      ['Plums from the orchard', '7', '2.00'],
    ];
    rows.forEach((r, i) => {
      items.push(item(r[0], 50, 100 + i * 15), item(r[1], 300, 100 + i * 15), item(r[2], 380, 100 + i * 15));
    });
    const { text } = layoutPage(items);
    assert.strictEqual(text, 'Description\tQty\tPrice\nApples, red\t3\t1.20\nPears\t10\t0.50\nPlums from the orchard\t7\t2.00');
  });

  it('three columns', () => {
    const items: LayoutItem[] = [];
    for (let i = 0; i < 6; i++) {
      items.push(item(`aaaa aaaa aaaa ${i}`, 50, 100 + i * 12)); // 50..135
      items.push(item(`bbbb bbbb bbbb ${i}`, 200, 100 + i * 12));
      items.push(item(`cccc cccc cccc ${i}`, 350, 100 + i * 12));
    }
    const lines = layoutPage(items).text.split('\n').filter(Boolean);
    assert.deepStrictEqual(
      lines.map((l) => l[0]),
      [...'aaaaaabbbbbbcccccc'],
    );
  });

  it('superscripts and subscripts stay on their line (Adobe®, footnote marks, H2O)', () => {
    const sup = (str: string, x: number, baseline: number): LayoutItem => ({ ...item(str, x, baseline - 3.5, 6, 3) });
    const sub = (str: string, x: number, baseline: number): LayoutItem => ({ ...item(str, x, baseline + 2, 6, 3) });
    const { text } = layoutPage([
      item('Adobe', 100, 100),
      sup('®', 125, 100),
      item('Acrobat and water H', 129, 100),
      sub('2', 224, 100),
      item('O.', 227, 100),
      item('Next line', 100, 113),
    ]);
    assert.strictEqual(text, 'Adobe® Acrobat and water H2O.\nNext line');
  });

  it('rotated items come after the horizontal text', () => {
    const rot: LayoutItem = { ...item('vertical', 10, 300), horizontal: false, x0: 5, x1: 15, y0: 260, y1: 300 };
    const { text, spans } = layoutPage([rot, item('main text', 100, 100)]);
    assert.strictEqual(text, 'main text\nvertical');
    assert.deepStrictEqual(spans[1].bbox, [5, 260, 15, 300]);
  });

  it('spans map text offsets to item boxes; whitespace trimmed from items', () => {
    const { text, spans } = layoutPage([item('  padded  ', 100, 100), item('next', 160, 100)]);
    assert.strictEqual(text, 'padded next');
    assert.strictEqual(text.slice(spans[0].start, spans[0].end), 'padded');
    assert.ok(spans[0].bbox[0] > 100 && spans[0].bbox[2] < 150, `trimmed box ${spans[0].bbox}`);
  });

  it('removes glyphs drawn twice on top of each other (shadow titles)', () => {
    const row = dedupeRow([item('SA', 100, 50), item('AM', 105, 50), item('MP', 110, 50), item('LE', 115, 50)]);
    assert.deepStrictEqual(
      row.map((r) => r.str),
      ['SA', 'M', 'P', 'LE'].slice(0, row.length),
    );
    assert.strictEqual(layoutPage([item('Bold', 100, 50), item('Bold', 100.3, 50)]).text, 'Bold');
    assert.strictEqual(layoutPage([item('A', 100, 50), item('AM', 100, 50)]).text, 'AM');
  });
});

describe('pdf/layout: locate()', () => {
  const doc: ConvertedDocument = {
    format: 'pdf',
    text: 'Total due: 12.50\n\nPage two',
    pages: [
      { page: 1, start: 0, end: 16 },
      { page: 2, start: 18, end: 26 },
    ],
    positions: [
      { start: 0, end: 10, page: 1, bbox: [100, 50, 150, 60] },
      { start: 11, end: 16, page: 1, bbox: [155, 50, 180, 60] },
      { start: 18, end: 26, page: 2, bbox: [10, 10, 50, 20] },
    ],
  };

  it('interpolates a substring inside an item', () => {
    const [b] = locate(doc, 6, 9); // "due"
    assert.strictEqual(b.page, 1);
    assert.ok(b.bbox[0] > 120 && b.bbox[2] < 150 && b.bbox[0] < b.bbox[2], String(b.bbox));
    assert.deepStrictEqual([b.bbox[1], b.bbox[3]], [50, 60]);
  });

  it('merges boxes on the same line and splits across pages', () => {
    assert.deepStrictEqual(locate(doc, 0, 16), [{ page: 1, bbox: [100, 50, 180, 60] }]);
    const across = locate(doc, 11, 22);
    assert.deepStrictEqual(
      across.map((b) => b.page),
      [1, 2],
    );
    assert.deepStrictEqual(locate(doc, 16, 18), []);
    assert.deepStrictEqual(locate({ format: 'text', text: 'abc' }, 0, 2), []);
  });

  it('subBox weights characters by width (a narrow "i" vs a wide "W")', () => {
    const box: [number, number, number, number] = [0, 0, 100, 10];
    const [, , iEnd] = subBox('iW', box, 0, 1);
    assert.ok(iEnd < 30, `i is narrow: ${iEnd}`);
    assert.deepStrictEqual(subBox('abc', box, 0, 3), box);
  });

  it('pageAt finds the page of an offset', () => {
    assert.strictEqual(pageAt(doc, 0), 1);
    assert.strictEqual(pageAt(doc, 20), 2);
    assert.strictEqual(pageAt(doc, 17), undefined);
  });
});
