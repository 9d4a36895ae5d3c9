/**
 * XLSX workbooks and e-mail messages as documents: what the model reads from them, and a code for each bad
 * input. Workbooks are written with exceljs (what Excel and LibreOffice read), messages are raw RFC 5322 text.
 */
import { strict as assert } from 'node:assert';
import ExcelJS from 'exceljs';
import { ErrorCodes } from '../../src/core/errors';
import { createConverterRegistry, type ConverterRegistry } from '../../src/convert';
import { cellText } from '../../src/convert/xlsx';
import { makeDocx, zipStored } from '../fixtures/convert/docx';
import { rejectsWithCode } from '../support/assertions';

const input = (bytes: Uint8Array, path: string) => ({ path, absPath: `/tmp/${path}`, bytes });

async function workbook(fill: (wb: ExcelJS.Workbook) => void): Promise<Uint8Array> {
  const wb = new ExcelJS.Workbook();
  fill(wb);
  return new Uint8Array(await wb.xlsx.writeBuffer());
}

describe('convert/xlsx', () => {
  let registry: ConverterRegistry;
  before(() => (registry = createConverterRegistry({ maxWorkerMemoryMb: 64 })));
  after(() => registry.dispose());
  const convert = (bytes: Uint8Array, name = 'book.xlsx') => registry.get('.xlsx')!.convert(input(bytes, name));

  it('every sheet with values as "Sheet: name" and one " | " line per row, cells as a person sees them', async () => {
    const bytes = await workbook((wb) => {
      const inv = wb.addWorksheet('Invoices');
      inv.addRow(['Invoice', 'Date', 'Net', 'VAT', 'Total']);
      inv.addRow(['INV-1', new Date(Date.UTC(2024, 2, 5)), 100, 20, { formula: 'C2+D2', result: 120 }]);
      inv.addRow([]);
      inv.addRow(['INV-2', new Date(Date.UTC(2024, 2, 6, 9, 30)), 50, null, { formula: 'C4', result: 50 }]);
      inv.getCell('A5').value = { richText: [{ text: 'Note: ' }, { font: { bold: true }, text: 'paid' }] };
      inv.getCell('B5').value = { text: 'portal', hyperlink: 'https://example.com/inv' };
      inv.getCell('C5').value = { error: '#DIV/0!' };
      wb.addWorksheet('Empty');
      wb.addWorksheet('Notes').addRow(['multi\nline', true]);
    });
    const doc = await convert(bytes);
    assert.strictEqual(doc.format, 'xlsx');
    assert.strictEqual(
      doc.text,
      [
        'Sheet: Invoices',
        'Invoice | Date | Net | VAT | Total',
        'INV-1 | 2024-03-05 | 100 | 20 | 120',
        'INV-2 | 2024-03-06T09:30:00Z | 50 |  | 50',
        'Note: paid | portal | #DIV/0!',
        '',
        'Sheet: Notes',
        'multi line | true',
      ].join('\n'),
    );
    assert.deepStrictEqual(doc.meta, { sheets: 3 });
  });

  it('cellText: empty, formula without a cached result, shared formula, plain values', () => {
    assert.strictEqual(cellText(null), '');
    assert.strictEqual(cellText({ formula: 'A1*2' } as ExcelJS.CellFormulaValue), '');
    assert.strictEqual(cellText({ sharedFormula: 'A1', result: 3 } as unknown as ExcelJS.CellValue), '3');
    assert.strictEqual(cellText(12.5), '12.5');
  });

  it('bad input: empty file, no values, not a ZIP, a ZIP that is no workbook, password-protected, a bomb', async () => {
    await rejectsWithCode(convert(new Uint8Array(0)), ErrorCodes.EMPTY_DOCUMENT);
    await rejectsWithCode(convert(await workbook((wb) => wb.addWorksheet('Blank'))), ErrorCodes.EMPTY_DOCUMENT);
    const notZip = await rejectsWithCode(convert(new TextEncoder().encode('Invoice,Total\nINV-1,12\n'), 'renamed.xlsx'), ErrorCodes.CORRUPT_INPUT);
    assert.match(notZip.message, /Cannot read XLSX renamed\.xlsx/);
    await rejectsWithCode(convert(new Uint8Array(zipStored({ 'hello.txt': 'not a workbook' })), 'other.xlsx'), ErrorCodes.CORRUPT_INPUT);
    const ole = new Uint8Array(512);
    ole.set([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
    const locked = await rejectsWithCode(convert(ole, 'locked.xlsx'), ErrorCodes.CORRUPT_INPUT);
    assert.match(locked.message, /password-protected or in the old binary format; save it as an unprotected \.xlsx file/);
    // 5 MB of sheet XML against the 4 MB bound of a 64 MB memory limit
    const bomb = zipStored({ '[Content_Types].xml': '<Types/>', 'xl/worksheets/sheet1.xml': `<worksheet>${'<row/>'.repeat(900_000)}</worksheet>` });
    const big = await rejectsWithCode(convert(new Uint8Array(bomb), 'bomb.xlsx'), ErrorCodes.TOO_LARGE);
    assert.match(big.message, /4 MB of XML allowed under the memory limit of 64 MB/);
  });
});

const CRLF = (lines: string[]) => lines.join('\r\n');

describe('convert/eml', () => {
  let registry: ConverterRegistry;
  before(() => (registry = createConverterRegistry()));
  after(() => registry.dispose());
  const convert = (raw: string | Uint8Array, name = 'mail.eml') => registry.get('.eml')!.convert(input(typeof raw === 'string' ? new TextEncoder().encode(raw) : raw, name));

  it('headers, the text body, and attachments converted by type (text, DOCX) or named (unsupported, corrupt)', async () => {
    const docx = makeDocx(['Invoice INV-77', 'Total 640.00 EUR']).toString('base64');
    const raw = CRLF([
      'From: Billing <billing@acme.example>',
      'To: ap@customer.example',
      'Cc: Jane <jane@customer.example>, bob@customer.example',
      'Subject: =?UTF-8?Q?Rechnung_f=C3=BCr_M=C3=A4rz?=',
      'Date: Tue, 5 Mar 2024 10:00:00 +0100',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary=B',
      '',
      '--B',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Please find the invoice attached.',
      '--B',
      'Content-Type: text/plain; name=note.txt',
      'Content-Disposition: attachment; filename=note.txt',
      '',
      'Purchase order PO-5',
      '--B',
      'Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name=inv.docx',
      'Content-Disposition: attachment; filename=inv.docx',
      'Content-Transfer-Encoding: base64',
      '',
      docx,
      '--B',
      'Content-Type: application/zip; name=all.zip',
      'Content-Disposition: attachment; filename=all.zip',
      '',
      'PK-not-really',
      '--B',
      'Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name=broken.docx',
      'Content-Disposition: attachment; filename=broken.docx',
      '',
      'not a zip',
      '--B--',
      '',
    ]);
    const doc = await convert(raw);
    assert.strictEqual(doc.format, 'eml');
    assert.strictEqual(
      doc.text,
      [
        'From: "Billing" <billing@acme.example>',
        'To: ap@customer.example',
        'Cc: "Jane" <jane@customer.example>, bob@customer.example',
        'Date: 2024-03-05T09:00:00.000Z',
        'Subject: Rechnung für März',
        '',
        'Please find the invoice attached.',
        '',
        'Attachment: note.txt\nPurchase order PO-5',
        '',
        'Attachment: inv.docx\nInvoice INV-77\n\nTotal 640.00 EUR',
        '',
        'Attachment: all.zip (application/zip, 13 B)',
        '',
        'Attachment: broken.docx (application/vnd.openxmlformats-officedocument.wordprocessingml.document, 9 B)',
      ].join('\n'),
    );
    assert.strictEqual(doc.warnings?.length, 1);
    assert.match(doc.warnings![0], /^attachment broken\.docx was not converted: Cannot read DOCX mail\.eml#broken\.docx/);
  });

  it('an HTML-only message is read as text', async () => {
    const doc = await convert(CRLF(['From: a@x.example', 'Subject: Receipt', 'Content-Type: text/html; charset=utf-8', '', '<html><body><h1>Receipt</h1><p>Total <b>12.50</b></p></body></html>']));
    assert.match(doc.text, /^From: a@x\.example\nSubject: Receipt\n\n/);
    assert.match(doc.text, /Receipt[\s\S]*Total 12\.50/);
  });

  it('bad input: empty file, bytes without headers, a message with nothing to read', async () => {
    await rejectsWithCode(convert(new Uint8Array(0)), ErrorCodes.EMPTY_DOCUMENT);
    const junk = await rejectsWithCode(convert(new Uint8Array([0, 1, 2, 3, 255, 254, 10, 10, 65])), ErrorCodes.CORRUPT_INPUT);
    assert.match(junk.message, /not an e-mail message/);
    await rejectsWithCode(convert(CRLF(['From: a@x.example', 'Subject: empty', '', ''])), ErrorCodes.EMPTY_DOCUMENT);
  });
});
