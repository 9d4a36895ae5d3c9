/** Contents of a starter extraction.config.json and its example schema. Pure. */
import type { ExtractionConfig } from '../app/config';

export const EXAMPLE_SCHEMA_PATH = 'schema/example.schema.json';

export function exampleConfig(): ExtractionConfig {
  return {
    jobs: [
      {
        name: 'example',
        schema: EXAMPLE_SCHEMA_PATH,
        include: ['**/*.{pdf,docx,txt,md,html,png,jpg,jpeg,tif,tiff}'],
        exclude: ['schema/**'],
        instructions: 'Extract the fields described by the schema. Leave a field null when the document does not say.',
      },
    ],
  };
}

export function exampleSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Example document',
    description: 'Replace these fields with the ones you need. Every property needs a type; descriptions guide the model.',
    type: 'object',
    properties: {
      title: { type: ['string', 'null'], description: 'Title or subject of the document.' },
      date: { type: ['string', 'null'], description: 'Main date of the document, as YYYY-MM-DD.' },
      parties: {
        type: 'array',
        description: 'People or organisations named as parties (sender, recipient, buyer, seller…).',
        items: { type: 'string' },
      },
      total: { type: ['number', 'null'], description: 'Total amount, if the document has one.' },
      currency: { type: ['string', 'null'], description: 'ISO 4217 currency code of the total, e.g. EUR.' },
    },
    required: ['title', 'date', 'parties', 'total', 'currency'],
    additionalProperties: false,
  };
}

export function toJsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
