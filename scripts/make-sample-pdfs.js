#!/usr/bin/env node
// Generates the two sample invoices in samples/invoices/ with pdf-lib (standard fonts, not embedded,
// deterministic dates so reruns produce identical files):
//   invoice-single-column.pdf  classic one-column invoice with a line-item table
//   invoice-two-column.pdf     seller/buyer details in a left column, terms and notes in a right column,
//                              line items below across the full width
// Usage: node scripts/make-sample-pdfs.js [outDir]
const fs = require('fs');
const path = require('path');
const { PDFDocument, StandardFonts, rgb } = require('pdf-lib');

const FIXED_DATE = new Date('2024-03-15T10:00:00Z');

function wrap(text, font, size, width) {
  const lines = [];
  let cur = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    const next = cur ? `${cur} ${w}` : w;
    if (cur && font.widthOfTextAtSize(next, size) > width) {
      lines.push(cur);
      cur = w;
    } else cur = next;
  }
  if (cur) lines.push(cur);
  return lines;
}

async function newDoc(title) {
  const pdf = await PDFDocument.create({ updateMetadata: false });
  pdf.setTitle(title);
  pdf.setProducer('scripts/make-sample-pdfs.js (pdf-lib)');
  pdf.setCreationDate(FIXED_DATE);
  pdf.setModificationDate(FIXED_DATE);
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const bold = await pdf.embedFont(StandardFonts.HelveticaBold);
  return { pdf, font, bold };
}

function drawItems(page, font, bold, items, top, currency) {
  const cols = [50, 330, 390, 480];
  const header = ['Description', 'Qty', 'Unit price', 'Amount'];
  header.forEach((h, i) => page.drawText(h, { x: cols[i], y: top, size: 10, font: bold }));
  page.drawLine({ start: { x: 50, y: top - 4 }, end: { x: 562, y: top - 4 }, thickness: 0.5, color: rgb(0.4, 0.4, 0.4) });
  let y = top - 18;
  let subtotal = 0;
  for (const [desc, qty, unit] of items) {
    const amount = qty * unit;
    subtotal += amount;
    page.drawText(desc, { x: cols[0], y, size: 10, font });
    page.drawText(String(qty), { x: cols[1], y, size: 10, font });
    page.drawText(unit.toFixed(2), { x: cols[2], y, size: 10, font });
    page.drawText(amount.toFixed(2), { x: cols[3], y, size: 10, font });
    y -= 15;
  }
  const tax = Math.round(subtotal * 0.2 * 100) / 100;
  y -= 6;
  for (const [label, value, f] of [
    ['Subtotal', subtotal, font],
    ['VAT 20%', tax, font],
    [`Total due (${currency})`, subtotal + tax, bold],
  ]) {
    page.drawText(label, { x: 330, y, size: 10, font: f });
    page.drawText(value.toFixed(2), { x: cols[3], y, size: 10, font: f });
    y -= 15;
  }
  return y;
}

async function singleColumn() {
  const { pdf, font, bold } = await newDoc('Invoice INV-2024-0042');
  const page = pdf.addPage([612, 792]);
  page.drawText('INVOICE', { x: 50, y: 730, size: 22, font: bold });
  const lines = [
    'Invoice number: INV-2024-0042',
    'Invoice date: 2024-03-15',
    'Due date: 2024-04-14',
    '',
    'From: Northwind Office Supplies GmbH, Hafenstrasse 12, 20457 Hamburg, Germany',
    'VAT ID: DE123456789',
    'Bill to: Contoso Consulting Ltd, 48 Baker Street, London W1U 7BN, United Kingdom',
    'Customer reference: PO-77812',
  ];
  let y = 700;
  for (const l of lines) {
    if (l) page.drawText(l, { x: 50, y, size: 10, font });
    y -= 14;
  }
  y = drawItems(
    page,
    font,
    bold,
    [
      ['A4 copy paper, 80 g/m2, box of 5 reams', 4, 23.5],
      ['Ballpoint pens, blue, pack of 50', 2, 12.9],
      ['Desk organiser, bamboo', 3, 18.0],
      ['Stapler, heavy duty', 1, 34.75],
    ],
    y - 16,
    'EUR',
  );
  const note = 'Payment terms: 30 days net. Please transfer the total amount to IBAN DE89 3704 0044 0532 0130 00 (BIC COBADEFFXXX) quoting the invoice number. Thank you for your business.';
  y -= 10;
  for (const l of wrap(note, font, 9, 512)) {
    page.drawText(l, { x: 50, y, size: 9, font });
    y -= 12;
  }
  return pdf.save({ useObjectStreams: true });
}

async function twoColumn() {
  const { pdf, font, bold } = await newDoc('Invoice 2024-117');
  const page = pdf.addPage([612, 792]);
  page.drawText('Fabrikam Print & Design Studio', { x: 50, y: 740, size: 18, font: bold });
  const left = [
    ['Seller', bold],
    ['Fabrikam Print & Design Studio', font],
    ['Rue de la Loi 200', font],
    ['1040 Brussels, Belgium', font],
    ['VAT BE0123456789', font],
    ['', font],
    ['Buyer', bold],
    ['Tailspin Toys Nordic AB', font],
    ['Kungsgatan 8', font],
    ['111 43 Stockholm, Sweden', font],
    ['Buyer VAT SE556677889901', font],
  ];
  const rightIntro = [
    ['Invoice 2024-117', bold],
    ['Issue date 2024-03-15', font],
    ['Delivery date 2024-03-11', font],
    ['Order number TT-5531', font],
  ];
  let y = 705;
  for (const [t, f] of left) {
    if (t) page.drawText(t, { x: 50, y, size: 10, font: f });
    y -= 14;
  }
  const leftBottom = y;
  y = 705;
  for (const [t, f] of rightIntro) {
    page.drawText(t, { x: 320, y, size: 10, font: f });
    y -= 14;
  }
  y -= 6;
  const terms =
    'Terms: payment within 14 days of the issue date by bank transfer to IBAN BE68 5390 0754 7034. Late payments carry interest at 8% per year. The goods remain our property until paid in full.';
  for (const l of wrap(terms, font, 10, 240)) {
    page.drawText(l, { x: 320, y, size: 10, font });
    y -= 14;
  }
  y = Math.min(y, leftBottom) - 24;
  drawItems(
    page,
    font,
    bold,
    [
      ['Poster printing A2, matte', 150, 2.4],
      ['Brochure design, 8 pages', 1, 640.0],
      ['Business cards, 500 pcs', 6, 29.0],
    ],
    y,
    'EUR',
  );
  return pdf.save({ useObjectStreams: true });
}

async function main() {
  const out = process.argv[2] || path.join(__dirname, '..', 'samples', 'invoices');
  fs.mkdirSync(out, { recursive: true });
  const files = [
    ['invoice-single-column.pdf', await singleColumn()],
    ['invoice-two-column.pdf', await twoColumn()],
  ];
  for (const [name, bytes] of files) {
    fs.writeFileSync(path.join(out, name), bytes);
    console.log(`${path.join(out, name)} (${bytes.length} bytes)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
