import { strict as assert } from 'node:assert';
import { z } from 'zod';
import { ErrorCodes, ExtractionError } from '../../src/core/errors';
import { createValidator, toStrictSchema, validateUserSchema } from '../../src/extract/schema';
import type { JsonSchema } from '../../src/extract/types';

type Node = Record<string, unknown>;

const STRICT_FORBIDDEN = [
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'uniqueItems',
  'default',
  'examples',
  'oneOf',
  'allOf',
  'definitions',
  'nullable',
];

/** Checks the invariants of OpenAI strict mode on every node of a transformed schema. */
function assertStrict(schema: Node): void {
  const visit = (node: unknown, ptr: string): void => {
    assert.ok(node && typeof node === 'object' && !Array.isArray(node), `${ptr} is a schema object`);
    const n = node as Node;
    for (const k of STRICT_FORBIDDEN) assert.ok(!(k in n), `${ptr} must not contain "${k}"`);
    if (typeof n.$ref === 'string') {
      assert.deepEqual(Object.keys(n), ['$ref'], `${ptr}: $ref has no siblings`);
      const m = /^#\/\$defs\/(.+)$/.exec(n.$ref);
      assert.ok(n.$ref === '#' || (m && (schema.$defs as Node)?.[m[1]]), `${ptr}: $ref ${n.$ref} resolves`);
      return;
    }
    const types = Array.isArray(n.type) ? n.type : n.type !== undefined ? [n.type] : [];
    if (types.includes('object')) {
      const props = n.properties as Node;
      assert.ok(props && typeof props === 'object', `${ptr}: object has properties`);
      assert.equal(n.additionalProperties, false, `${ptr}: additionalProperties false`);
      assert.deepEqual(n.required, Object.keys(props), `${ptr}: every property required`);
      for (const [k, v] of Object.entries(props)) visit(v, `${ptr}/properties/${k}`);
    }
    if (types.includes('array')) visit(n.items, `${ptr}/items`);
    if (Array.isArray(n.anyOf)) n.anyOf.forEach((a, i) => visit(a, `${ptr}/anyOf/${i}`));
    if (Array.isArray(n.enum) && types.includes('null')) assert.ok(n.enum.includes(null), `${ptr}: nullable enum lists null`);
    if (ptr === '#' && n.$defs) for (const [k, v] of Object.entries(n.$defs as Node)) visit(v, `#/$defs/${k}`);
  };
  visit(schema, '#');
}

function get(schema: Node, ...path: string[]): Node {
  let cur: unknown = schema;
  for (const p of path) cur = (cur as Node)[p];
  return cur as Node;
}

function expectInvalid(schema: unknown, expected: string | RegExp): void {
  assert.throws(
    () => validateUserSchema(schema),
    (e: unknown) => {
      assert.ok(e instanceof ExtractionError, 'an ExtractionError');
      assert.equal(e.code, ErrorCodes.INVALID_SCHEMA);
      assert.equal(e.retryable, false);
      if (typeof expected === 'string') assert.equal(e.message, expected);
      else assert.match(e.message, expected);
      return true;
    },
  );
}

const invoiceSchema = (): JsonSchema => ({
  title: 'Invoice',
  type: 'object',
  properties: {
    invoice_number: { type: 'string', pattern: '^INV-\\d+$', description: 'Invoice number as printed' },
    issue_date: { type: 'string', format: 'date' },
    vendor: {
      type: 'object',
      properties: { name: { type: 'string' }, vat_id: { type: 'string' } },
      required: ['name'],
    },
    currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
    line_items: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          description: { type: 'string' },
          quantity: { type: 'integer', minimum: 1 },
          unit_price: { type: 'number' },
          amount: { type: 'number' },
        },
        required: ['description', 'amount'],
      },
    },
    total: { type: 'number', minimum: 0 },
  },
  required: ['invoice_number', 'total', 'line_items'],
});

const resumeSchema = (): JsonSchema => ({
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1 },
    email: { type: 'string', format: 'email' },
    phone: { type: ['string', 'null'] },
    seniority: { enum: ['junior', 'mid', 'senior'], description: 'Career level' },
    skills: { type: 'array', items: { type: 'string' }, uniqueItems: true },
    experience: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          company: { type: 'string' },
          title: { type: 'string' },
          start: { type: 'string', format: 'date' },
          end: { type: ['string', 'null'], format: 'date' },
          current: { type: 'boolean', default: false },
        },
        required: ['company', 'title', 'start'],
      },
    },
    remote: { type: 'boolean' },
  },
  required: ['name'],
});

const refSchema = (): JsonSchema => ({
  type: 'object',
  $defs: {
    Address: {
      type: 'object',
      properties: {
        street: { type: 'string' },
        city: { type: 'string' },
        postal_code: { type: 'string', pattern: '^[0-9]{5}$' },
        country: { type: 'string', minLength: 2, maxLength: 2 },
      },
      required: ['street', 'city'],
    },
    Person: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        address: { $ref: '#/$defs/Address' },
        manager: { $ref: '#/$defs/Person' },
      },
      required: ['name'],
    },
  },
  properties: {
    billing: { $ref: '#/$defs/Address', description: 'Billing address' },
    shipping: { $ref: '#/$defs/Address' },
    contact: { $ref: '#/$defs/Person' },
  },
  required: ['billing', 'contact'],
});

const constraintSchema = (): JsonSchema => ({
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    created: { type: 'string', format: 'date-time' },
    code: { type: 'string', pattern: '^[A-Z]{3}$' },
    score: { type: 'number', minimum: 0, maximum: 100, description: 'Score in percent' },
    ratio: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    qty: { type: 'integer', multipleOf: 5 },
    tags: { type: 'array', items: { type: 'string', maxLength: 10 }, minItems: 1, maxItems: 3 },
    website: { type: 'string', format: 'uri' },
    initials: { type: 'string', minLength: 2, maxLength: 2 },
  },
  required: ['id', 'created', 'code', 'score', 'ratio', 'qty', 'tags', 'website', 'initials'],
});

describe('schema: toStrictSchema', () => {
  it('invoice with nested line items: all required, no extras, optional made nullable, constraints described', () => {
    const original = invoiceSchema();
    const copy = structuredClone(original);
    const strict = toStrictSchema(original);
    assert.deepEqual(original, copy, 'the input is not modified');
    assertStrict(strict);

    assert.equal(strict.title, 'Invoice');
    assert.deepEqual(strict.required, ['invoice_number', 'issue_date', 'vendor', 'currency', 'line_items', 'total']);
    // required stays non-nullable
    assert.equal(get(strict, 'properties', 'total').type, 'number');
    assert.equal(get(strict, 'properties', 'total').description, 'Constraint: minimum 0.');
    assert.equal(get(strict, 'properties', 'invoice_number').type, 'string');
    assert.equal(get(strict, 'properties', 'invoice_number').description, 'Invoice number as printed. Constraint: must match the regular expression ^INV-\\d+$.');
    // optional → nullable
    assert.deepEqual(get(strict, 'properties', 'issue_date').type, ['string', 'null']);
    assert.equal(get(strict, 'properties', 'issue_date').description, 'Constraint: format date (YYYY-MM-DD).');
    assert.deepEqual(get(strict, 'properties', 'vendor').type, ['object', 'null']);
    assert.deepEqual(get(strict, 'properties', 'vendor', 'properties', 'vat_id').type, ['string', 'null']);
    assert.equal(get(strict, 'properties', 'vendor', 'properties', 'name').type, 'string');
    assert.deepEqual(get(strict, 'properties', 'currency'), { type: ['string', 'null'], enum: ['EUR', 'USD', 'GBP', null] });
    const items = get(strict, 'properties', 'line_items');
    assert.equal(items.type, 'array');
    assert.equal(items.description, 'Constraint: at least 1 item.');
    assert.deepEqual(get(items, 'items', 'properties', 'quantity'), { type: ['integer', 'null'], description: 'Constraint: minimum 1.' });
    assert.equal(get(items, 'items', 'properties', 'amount').type, 'number');
  });

  it('resume with optional fields and enums: existing nullables kept, enum type inferred, default/format described', () => {
    const strict = toStrictSchema(resumeSchema());
    assertStrict(strict);
    assert.deepEqual(get(strict, 'properties', 'phone').type, ['string', 'null']);
    assert.deepEqual(get(strict, 'properties', 'seniority'), {
      type: ['string', 'null'],
      enum: ['junior', 'mid', 'senior', null],
      description: 'Career level',
    });
    assert.deepEqual(get(strict, 'properties', 'email'), { type: ['string', 'null'], description: 'Constraint: format email (an e-mail address).' });
    assert.deepEqual(get(strict, 'properties', 'skills'), {
      type: ['array', 'null'],
      description: 'Constraint: items must be unique.',
      items: { type: 'string' },
    });
    const exp = get(strict, 'properties', 'experience', 'items');
    assert.deepEqual(get(exp, 'properties', 'current'), { type: ['boolean', 'null'], description: 'Constraint: default false.' });
    assert.deepEqual(get(exp, 'properties', 'end').type, ['string', 'null']);
    assert.equal(get(exp, 'properties', 'start').type, 'string');
    assert.equal(get(strict, 'properties', 'name').description, 'Constraint: at least 1 character.');
  });

  it('$defs/$ref: kept, optional refs wrapped in anyOf with null, recursion preserved, described ref inlined', () => {
    const strict = toStrictSchema(refSchema());
    assertStrict(strict);
    const defs = strict.$defs as Node;
    assert.deepEqual(Object.keys(defs), ['Address', 'Person']);
    assert.deepEqual(get(defs, 'Address').required, ['street', 'city', 'postal_code', 'country']);
    assert.deepEqual(get(defs, 'Address', 'properties', 'country'), {
      type: ['string', 'null'],
      description: 'Constraints: at least 2 characters; at most 2 characters.',
    });
    assert.deepEqual(get(defs, 'Person', 'properties', 'manager'), { anyOf: [{ $ref: '#/$defs/Person' }, { type: 'null' }] });
    assert.deepEqual(get(strict, 'properties', 'shipping'), { anyOf: [{ $ref: '#/$defs/Address' }, { type: 'null' }] });
    assert.deepEqual(get(strict, 'properties', 'contact'), { $ref: '#/$defs/Person' });
    // strict mode rejects siblings of $ref: the described reference is inlined
    const billing = get(strict, 'properties', 'billing');
    assert.equal(billing.description, 'Billing address');
    assert.equal(billing.type, 'object');
    assert.equal(billing.additionalProperties, false);
  });

  it('draft-07 "definitions" are moved to $defs and references rewritten', () => {
    const strict = toStrictSchema({
      type: 'object',
      definitions: { Money: { type: 'object', properties: { amount: { type: 'number' }, currency: { type: 'string' } }, required: ['amount'] } },
      properties: { total: { $ref: '#/definitions/Money' } },
      required: ['total'],
    });
    assertStrict(strict);
    assert.equal(strict.definitions, undefined);
    assert.deepEqual(get(strict, 'properties', 'total'), { $ref: '#/$defs/Money' });
    assert.deepEqual(get(strict, '$defs', 'Money', 'properties', 'currency').type, ['string', 'null']);
  });

  it('formats, patterns and min/max: removed and described, nothing else lost', () => {
    const strict = toStrictSchema(constraintSchema());
    assertStrict(strict);
    const p = strict.properties as Record<string, Node>;
    assert.deepEqual(p.score, { type: 'number', description: 'Score in percent. Constraints: minimum 0; maximum 100.' });
    assert.deepEqual(p.ratio, { type: 'number', description: 'Constraints: greater than 0; less than 1.' });
    assert.deepEqual(p.qty, { type: 'integer', description: 'Constraint: a multiple of 5.' });
    assert.deepEqual(p.code, { type: 'string', description: 'Constraint: must match the regular expression ^[A-Z]{3}$.' });
    assert.deepEqual(p.id, { type: 'string', description: 'Constraint: format uuid (a UUID).' });
    assert.deepEqual(p.created, { type: 'string', description: 'Constraint: format date-time (ISO 8601, e.g. 2024-05-31T14:30:00Z).' });
    assert.deepEqual(p.tags, {
      type: 'array',
      description: 'Constraints: at least 1 item; at most 3 items.',
      items: { type: 'string', description: 'Constraint: at most 10 characters.' },
    });
  });

  it('oneOf becomes anyOf; optional anyOf gains a null branch; const and single allOf are handled', () => {
    const strict = toStrictSchema({
      type: 'object',
      properties: {
        payment: {
          oneOf: [
            { type: 'object', properties: { iban: { type: 'string' } }, required: ['iban'] },
            { type: 'object', properties: { card_last4: { type: 'string' } }, required: ['card_last4'] },
          ],
        },
        kind: { const: 'invoice' },
        total: { allOf: [{ $ref: '#/$defs/Amount' }], description: 'Grand total' },
      },
      required: ['kind', 'total'],
      $defs: { Amount: { type: 'number', minimum: 0 } },
    });
    assertStrict(strict);
    const payment = get(strict, 'properties', 'payment');
    assert.equal((payment.anyOf as Node[]).length, 3);
    assert.deepEqual((payment.anyOf as Node[])[2], { type: 'null' });
    assert.deepEqual(get(strict, 'properties', 'kind'), { const: 'invoice', type: 'string' });
    assert.deepEqual(get(strict, 'properties', 'total'), { type: 'number', description: 'Grand total. Constraint: minimum 0.' });
  });
});

describe('schema: validateUserSchema', () => {
  it('accepts the real-world schemas', () => {
    for (const s of [invoiceSchema(), resumeSchema(), refSchema(), constraintSchema()]) validateUserSchema(s);
  });

  it('rejects invalid schemas with the exact reason', () => {
    expectInvalid([], 'Invalid schema: the schema must be a JSON object, got an array.');
    expectInvalid('{"type":"object"}', /^Invalid schema: the schema must be a JSON object, got the string/);
    expectInvalid({ type: 'array', items: { type: 'string' } }, /the root must be an object schema .* got type "array"\. Structured outputs need an object at the root/);
    expectInvalid({ anyOf: [{ type: 'object', properties: { a: { type: 'string' } } }] }, /the root must be an object schema .* got anyOf/);
    expectInvalid(
      { type: 'object', properties: { total: { type: 'numbr' } } },
      'Invalid schema: unknown type "numbr" at #/properties/total (did you mean "number"?); expected one of string, number, integer, boolean, object, array, null.',
    );
    expectInvalid(
      { type: 'object', $defs: { Address: { type: 'object', properties: { city: { type: 'string' } } } }, properties: { billing: { $ref: '#/$defs/Adress' } } },
      'Invalid schema: "$ref": "#/$defs/Adress" at #/properties/billing points to nothing: #/$defs has no "Adress" (did you mean "Address"?).',
    );
    expectInvalid(
      { type: 'object', properties: { billing: { $ref: '#/definitions/Address' } } },
      'Invalid schema: "$ref": "#/definitions/Address" at #/properties/billing points to nothing: the schema has no #/definitions.',
    );
    expectInvalid({ type: 'object', properties: { a: { $ref: 'https://example.com/a.json' } } }, /points outside the schema; only local references/);
    expectInvalid({ type: 'object', properties: { a: { type: 'string' }, b: { $ref: '#/properties/a' } } }, /"\$ref": "#\/properties\/a" at #\/properties\/b is not supported/);
    expectInvalid(
      { type: 'object', properties: { total: { type: 'number' } }, required: ['totl'] },
      'Invalid schema: "required" at the root (#) lists "totl", which is not in "properties" (did you mean "total"?).',
    );
    expectInvalid({ type: 'object', properties: { total: { type: 'number' } }, requried: ['total'] }, 'Invalid schema: unknown keyword "requried" at the root (#) (did you mean "required"?). Custom annotations must start with "x-".');
    expectInvalid({ type: 'object', properties: { lines: { type: 'array' } } }, 'Invalid schema: the array at #/properties/lines has no "items" schema; strict structured outputs need the type of the items.');
    expectInvalid({ type: 'object', properties: { meta: { type: 'object' } } }, /the object at #\/properties\/meta declares no properties, so it is free-form/);
    expectInvalid({ type: 'object', properties: { a: { description: 'anything' } } }, /the schema at #\/properties\/a has no "type"/);
    expectInvalid({ type: 'object', properties: { a: true } }, /boolean schemas \(true\/false\) are not supported at #\/properties\/a/);
    expectInvalid({ type: 'object', properties: { code: { type: 'string', pattern: '[A-Z' } } }, /"pattern" "\[A-Z" at #\/properties\/code is not a valid regular expression/);
    expectInvalid({ type: 'object', properties: { n: { type: 'number', minimum: 10, maximum: 5 } } }, 'Invalid schema: "minimum" (10) is greater than "maximum" (5) at #/properties/n, so no value can match.');
    expectInvalid({ type: 'object', properties: { c: { type: 'string', enum: ['EUR', 1] } } }, 'Invalid schema: enum value 1 at #/properties/c does not match the declared type "string".');
    expectInvalid({ type: 'object', properties: { c: { type: 'string', enum: [] } } }, /"enum" at #\/properties\/c must be a non-empty array/);
    expectInvalid({ type: 'object', properties: { a: { allOf: [{ type: 'string' }, { minLength: 2 }] } } }, /"allOf" with 2 schemas at #\/properties\/a is not supported/);
    expectInvalid({ type: 'object', properties: { a: { not: { type: 'string' } } } }, /"not" cannot be expressed in strict structured outputs \(at #\/properties\/a\)/);
    expectInvalid({ type: 'object', properties: { a: { type: 'string', minLength: -1 } } }, '"minLength" at #/properties/a must be a non-negative integer, got number -1.'.replace(/^/, 'Invalid schema: '));
    expectInvalid(
      { type: 'object', $defs: { A: { $ref: '#/$defs/B' }, B: { $ref: '#/$defs/A' } }, properties: { a: { $ref: '#/$defs/A' } } },
      'Invalid schema: "$ref": "#/$defs/B" at #/$defs/A starts a circular chain of references that never reaches a type (#/$defs/B → #/$defs/A → #/$defs/B).',
    );
    expectInvalid({ type: 'object', properties: { a: { $ref: '#/$defs/A', type: 'string' } }, $defs: { A: { type: 'string' } } }, /"type" next to "\$ref" at #\/properties\/a is not supported/);
  });

  it('allows x- annotations and recursive references to the root', () => {
    validateUserSchema({ type: 'object', 'x-ui': { order: 1 }, properties: { child: { $ref: '#' }, name: { type: 'string', 'x-hint': 'full name' } } });
    const strict = toStrictSchema({ type: 'object', properties: { child: { $ref: '#' }, name: { type: 'string' } } });
    assert.deepEqual(get(strict, 'properties', 'child'), { anyOf: [{ $ref: '#' }, { type: 'null' }] });
    assert.equal('x-ui' in strict, false);
  });
});

describe('schema: createValidator', () => {
  const goodInvoice = () => ({
    invoice_number: 'INV-1042',
    issue_date: '2024-03-01',
    vendor: { name: 'ACME GmbH', vat_id: null },
    currency: 'EUR',
    line_items: [
      { description: 'Widget', quantity: 2, unit_price: 5, amount: 10 },
      { description: 'Shipping', quantity: null, unit_price: null, amount: 2.5 },
    ],
    total: 12.5,
  });

  it('accepts valid data and drops nulls of optional properties (strict-mode "absent")', () => {
    const validate = createValidator(invoiceSchema());
    const r = validate(goodInvoice());
    assert.equal(r.ok, true);
    if (!r.ok) return;
    const data = r.data as Node;
    assert.deepEqual(data.vendor, { name: 'ACME GmbH' });
    assert.deepEqual((data.line_items as Node[])[1], { description: 'Shipping', amount: 2.5 });
    assert.equal(JSON.stringify(data).includes('null'), false);
  });

  it('reports readable errors with paths', () => {
    const validate = createValidator(invoiceSchema());
    const bad = {
      ...goodInvoice(),
      total: '12.50',
      currency: 'YEN',
      invoice_number: 'X-1',
      issue_date: '2024-02-30',
      line_items: [{ description: 'Widget', quantity: 1.5, amount: 10 }],
      extra: 1,
    } as Node;
    delete (bad.vendor as Node).name;
    const r = validate(bad);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.errors.sort(), [
      'currency: expected one of "EUR", "USD", "GBP", received "YEN"',
      'invoice_number: expected a string matching ^INV-\\d+$, received "X-1"',
      'issue_date: expected a date (YYYY-MM-DD), received "2024-02-30"',
      'line_items[0].quantity: expected integer, received number (1.5)',
      'total: expected number, received string ("12.50")',
      'vendor.name: missing required property',
    ]);
  });

  it('rejects null for required properties, extra keys where additionalProperties is false, and empty arrays below minItems', () => {
    const validate = createValidator({
      type: 'object',
      properties: { total: { type: 'number' }, tags: { type: 'array', items: { type: 'string' }, minItems: 1 } },
      required: ['total', 'tags'],
      additionalProperties: false,
    });
    const r = validate({ total: null, tags: [], note: 'x' });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.errors.sort(), [
      '(root): unexpected property "note" (additionalProperties is false)',
      'tags: expected at least 1 item, got 0',
      'total: expected number, received null',
    ]);
  });

  it('checks $ref (recursive) data with exact paths', () => {
    const validate = createValidator(refSchema());
    const data = {
      billing: { street: 'Main St 1', city: 'Berlin', postal_code: '10115', country: 'DE' },
      contact: { name: 'Ann', manager: { name: 'Bob', manager: { name: 'Cy', address: { street: 'x', city: 5 } } } },
    };
    const r = validate(data);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.errors, ['contact.manager.manager.address.city: expected string, received number (5)']);
    const ok = validate({ ...data, contact: { name: 'Ann', manager: { name: 'Bob', manager: null } }, shipping: null });
    assert.deepEqual(ok, { ok: true, data: { billing: data.billing, contact: { name: 'Ann', manager: { name: 'Bob' } } } });
  });

  it('checks string/number/array constraints and loose formats', () => {
    const validate = createValidator(constraintSchema());
    const good = {
      id: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
      created: '2024-05-31T14:30:00', // no offset: accepted (loose)
      code: 'EUR',
      score: 100,
      ratio: 0.5,
      qty: 15,
      tags: ['a', 'b'],
      website: 'https://example.com/x',
      initials: '😀😀', // two code points, four UTF-16 units
    };
    assert.deepEqual(validate(good), { ok: true, data: good });
    const r = validate({
      id: 'not-a-uuid',
      created: 'yesterday',
      code: 'eur',
      score: 101,
      ratio: 1,
      qty: 7,
      tags: ['a', 'b', 'c', 'this is far too long'],
      website: 'example',
      initials: 'ABC',
    });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.errors.sort(), [
      'code: expected a string matching ^[A-Z]{3}$, received "eur"',
      'created: expected a date-time (ISO 8601, e.g. 2024-05-31T14:30:00Z), received "yesterday"',
      'id: expected a UUID, received "not-a-uuid"',
      'initials: expected at most 2 characters, got 3',
      'qty: expected a multiple of 5, received 7',
      'ratio: expected < 1, received 1',
      'score: expected <= 100, received 101',
      'tags: expected at most 3 items, got 4',
      'tags[3]: expected at most 10 characters, got 20',
      'website: expected an absolute URI, received "example"',
    ]);
  });

  it('formats: email and date checked loosely', () => {
    const validate = createValidator({
      type: 'object',
      properties: { email: { type: 'string', format: 'email' }, d: { type: 'string', format: 'date' }, x: { type: 'string', format: 'hostname' } },
    });
    assert.equal(validate({ email: 'first.last+tag@sub.example.co', d: '2024-02-29', x: 'anything goes' }).ok, true);
    assert.deepEqual(validate({ email: 'a@b', d: '2023-02-29' }), {
      ok: false,
      errors: ['email: expected an e-mail address, received "a@b"', 'd: expected a date (YYYY-MM-DD), received "2023-02-29"'],
    });
  });

  it('unions: type lists read "expected A or B"; object alternatives report the closest branch', () => {
    const validate = createValidator({
      type: 'object',
      properties: {
        id: { type: ['string', 'integer'] },
        payment: {
          anyOf: [
            { type: 'object', properties: { iban: { type: 'string' } }, required: ['iban'], additionalProperties: false },
            { type: 'object', properties: { card_last4: { type: 'string', pattern: '^\\d{4}$' } }, required: ['card_last4'], additionalProperties: false },
          ],
        },
      },
      required: ['id', 'payment'],
    });
    const r = validate({ id: true, payment: { card_last4: '12' } });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.errors[0], 'id: expected string or number, received boolean (true)');
    assert.match(r.errors[1], /^payment: matches none of the 2 allowed alternatives; closest: payment\.card_last4: expected a string matching \^\\d\{4\}\$, received "12"$/);
    assert.equal(validate({ id: 'A1', payment: { iban: 'DE00' } }).ok, true);
    assert.equal(validate({ id: 7, payment: { iban: 'DE00' } }).ok, true);
  });

  it('never fills in defaults, keeps extra properties when additionalProperties is not false', () => {
    const validate = createValidator({ type: 'object', properties: { currency: { type: 'string', default: 'EUR' } } });
    assert.deepEqual(validate({}), { ok: true, data: {} });
    assert.deepEqual(validate({ other: 1 }), { ok: true, data: { other: 1 } });
  });

  it('uniqueItems, const, enum with numbers, OpenAPI nullable', () => {
    const validate = createValidator({
      type: 'object',
      properties: {
        skills: { type: 'array', items: { type: 'string' }, uniqueItems: true },
        kind: { const: 'invoice' },
        vat: { enum: [0, 7, 19] },
        note: { type: 'string', nullable: true },
      },
      required: ['kind', 'note'],
    });
    assert.equal(validate({ kind: 'invoice', vat: 19, note: null, skills: ['a', 'b'] }).ok, true);
    assert.deepEqual(validate({ kind: 'receipt', vat: 16, note: 3, skills: ['a', 'b', 'a'] }), {
      ok: false,
      errors: [
        'skills[2]: duplicate of item 0 (items must be unique)',
        'kind: expected "invoice", received "receipt"',
        'vat: expected one of 0, 7, 19, received 16',
        'note: expected string, received number (3)',
      ],
    });
  });

  it('rejects an invalid schema when compiling', () => {
    assert.throws(() => createValidator({ type: 'object', properties: { a: { type: 'strin' } } }), /unknown type "strin"/);
  });

  it('documents why z.fromJSONSchema is not used directly (zod 4.6 behaviour)', () => {
    // If these start failing, zod changed and z.fromJSONSchema may be worth another look.
    const withDefault = z.fromJSONSchema({ type: 'object', properties: { currency: { type: 'string', default: 'EUR' } } });
    assert.deepEqual(withDefault.parse({}), { currency: 'EUR' }, 'fromJSONSchema injects defaults');
    assert.throws(() => z.fromJSONSchema({ type: 'object', properties: { a: { $ref: '#/definitions/A' } }, definitions: { A: { type: 'string' } } }), /Reference not found/);
    const optional = z.fromJSONSchema({ type: 'object', properties: { a: { type: 'string' } } });
    assert.equal(optional.safeParse({ a: null }).success, false, 'null for an optional property is rejected');
  });
});
