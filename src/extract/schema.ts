/**
 * The user's JSON Schema, three ways:
 *
 * 1. {@link validateUserSchema} checks that a schema is one we can send and check, and throws an
 *    `INVALID_SCHEMA` {@link ExtractionError} whose message names the exact place and reason.
 * 2. {@link toStrictSchema} rewrites it into the subset OpenAI structured outputs accept with
 *    `strict: true` (every property required, `additionalProperties: false`, optional properties
 *    made nullable, unsupported constraint keywords moved into descriptions).
 * 3. {@link createValidator} checks model output against the ORIGINAL schema (constraints included)
 *    with zod and reports readable errors such as `total: expected number, received string`.
 *
 * Why not `z.fromJSONSchema` (zod 4.6)? Measured on 4.6.7 it handles most keywords, but: it cannot
 * resolve `#/definitions/...` unless `$schema` says draft-07; it injects `default` values into the
 * data (an extractor must not invent values); it rejects `null` for optional properties, which is
 * exactly what strict-mode output sends for "absent"; `format: date-time` demands a zone offset;
 * `minLength` counts UTF-16 units instead of code points; and union errors read "Invalid input".
 * So this module converts the supported subset to zod itself (small, and tested in
 * `test/unit/schema.test.ts`).
 *
 * Supported subset: `type` (incl. arrays like `["string","null"]`), `properties`, `required`,
 * `additionalProperties`, `items`, `enum`, `const`, `anyOf`, `oneOf` (checked as anyOf), single-entry
 * `allOf`, `$ref` to `#`, `#/$defs/<name>` or `#/definitions/<name>`, OpenAPI `nullable`, string
 * `minLength`/`maxLength`/`pattern`/`format` (date, date-time, time, email, uri, uuid checked
 * loosely; other formats are accepted unchecked), number `minimum`/`maximum`/`exclusiveMinimum`/
 * `exclusiveMaximum`/`multipleOf`, array `minItems`/`maxItems`/`uniqueItems`, object
 * `minProperties`/`maxProperties`, and annotations (`title`, `description`, `default`, `examples`, …).
 *
 * The pieces: schemaCheck.ts (1), strictSchema.ts (2), schemaValidator.ts (3), with schemaKeywords.ts,
 * schemaNode.ts, stringFormats.ts, validationMessages.ts and didYouMean.ts. This file is the entry point.
 */
export { validateUserSchema } from './schemaCheck';
export { toStrictSchema } from './strictSchema';
export { createValidator, type ValidationResult, type Validator } from './schemaValidator';
