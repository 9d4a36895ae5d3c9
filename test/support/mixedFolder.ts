/**
 * A mixed folder for router-job tests (test/unit/classify.test.ts, fleetRouted.test.ts): an invoice, receipts
 * (one claimed by the receipt job's globs) and an unrelated document, with an extraction.config.json whose
 * router job "inbox" classifies among "invoice" and "receipt"; and the model's answers for it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requestSchema, type ModelServer, type RecordedRequest, type Step } from './modelServer';

export const INVOICE_SCHEMA = { type: 'object', properties: { invoiceNumber: { type: 'string' }, total: { type: 'number' } }, required: ['invoiceNumber', 'total'] };
export const RECEIPT_SCHEMA = { type: 'object', properties: { shop: { type: 'string' }, total: { type: 'number' } }, required: ['shop', 'total'] };

/** Prices that make every request's cost visible: classification 1000 per 1M tokens, extraction 10. */
export const CLASSIFY_USAGE = { prompt_tokens: 100, completion_tokens: 5 };
export const EXTRACT_USAGE = { prompt_tokens: 1000, completion_tokens: 50 };
export const CLASSIFY_COST = (100 + 5) * 1000 / 1e6;
export const EXTRACT_COST = (1000 + 50) * 10 / 1e6;

/** A classification request (whatever its mode): its system prompt is the classifier's. */
export function isClassification(req: RecordedRequest): boolean {
  return String(req.body?.messages?.[0]?.content ?? '').startsWith('You sort documents');
}

/** The model: a classification says what the document's text says; an extraction fills the schema it gets. */
export function responder(req: RecordedRequest): Step {
  if (isClassification(req)) {
    const job = /\bINVOICE\b/.test(req.userText) ? 'invoice' : /\bRECEIPT\b/.test(req.userText) ? 'receipt' : 'none';
    return { reply: { job }, usage: CLASSIFY_USAGE };
  }
  // the schema asked for: in the request (structured outputs), else spelled out in the system prompt (JSON mode)
  const schemaText = JSON.stringify(requestSchema(req.body) ?? {}) + String(req.body?.messages?.[0]?.content ?? '');
  const reply = schemaText.includes('"invoiceNumber"') ? { invoiceNumber: 'INV-7', total: 99.5 } : schemaText.includes('"shop"') ? { shop: 'Corner Shop', total: 4.2 } : {};
  return { reply, usage: EXTRACT_USAGE };
}

export interface Fixture {
  root: string;
  state: string;
  out: string;
  args: string[];
  writeConfig(change?: (config: { jobs: Array<Record<string, unknown>> }) => void): void;
}

export function mixedFolder(server: ModelServer): Fixture {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ew-classify-'));
  fs.mkdirSync(path.join(root, 'docs', 'receipts'), { recursive: true });
  fs.mkdirSync(path.join(root, 'schema'));
  fs.writeFileSync(path.join(root, 'schema', 'invoice.json'), JSON.stringify(INVOICE_SCHEMA));
  fs.writeFileSync(path.join(root, 'schema', 'receipt.json'), JSON.stringify(RECEIPT_SCHEMA));
  fs.writeFileSync(path.join(root, 'docs', 'invoice-1.txt'), 'ACME Ltd\nINVOICE INV-7\nTotal due: 99.50 EUR\n');
  fs.writeFileSync(path.join(root, 'docs', 'till.txt'), 'Corner Shop\nRECEIPT\nMilk 1.20\nBread 3.00\nTotal 4.20\n');
  fs.writeFileSync(path.join(root, 'docs', 'notes.txt'), 'Minutes of the garden club meeting.\nWe talked about roses.\n');
  // claimed by the receipt job's globs: no classification for it
  fs.writeFileSync(path.join(root, 'docs', 'receipts', 'r2.txt'), 'Bakery\nTotal 2.10\n');
  const config = {
    jobs: [
      {
        name: 'inbox',
        include: ['docs/**'],
        classify: { jobs: ['invoice', 'receipt'], model: 'cheap-classifier', maxChars: 500, price: { inputPer1M: 1000, outputPer1M: 1000 } },
        price: { inputPer1M: 10, outputPer1M: 10 },
      },
      { name: 'invoice', schema: 'schema/invoice.json', description: 'Supplier invoices with an invoice number and a total' },
      { name: 'receipt', schema: 'schema/receipt.json', description: 'Till receipts of shops', include: ['docs/receipts/**'] },
    ],
  };
  const state = path.join(root, '.extraction');
  return {
    root,
    state,
    out: path.join(root, 'extracted'),
    args: ['run', root, '--base-url', server.url, '--model', 'big-extractor', '--json', '--retry-base-seconds', '0', '--retry-max-seconds', '0'],
    writeConfig(change) {
      const c = JSON.parse(JSON.stringify(config)) as { jobs: Array<Record<string, unknown>> };
      change?.(c);
      fs.writeFileSync(path.join(root, 'extraction.config.json'), JSON.stringify(c, null, 2));
    },
  };
}
