/**
 * The JSON Schema keywords the schema module knows: the value types, the constraint keywords strict
 * structured outputs reject (moved into descriptions), annotations, structure keywords, and the
 * keywords we refuse with the reason shown to the user.
 */
export const TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'] as const;
export type TypeName = (typeof TYPES)[number];

/** Keywords that change which values are valid but that strict structured outputs reject. Moved to descriptions. */
const CONSTRAINT_KEYWORDS = [
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
  'minProperties',
  'maxProperties',
] as const;

/** Annotations: allowed in user schemas. `default`/`examples` go into descriptions, the rest are dropped from the strict schema. */
const ANNOTATION_KEYWORDS = [
  'title',
  'description',
  'default',
  'examples',
  '$comment',
  '$schema',
  '$id',
  '$anchor',
  'deprecated',
  'readOnly',
  'writeOnly',
  'contentEncoding',
  'contentMediaType',
] as const;

const STRUCTURE_KEYWORDS = [
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'allOf',
  '$ref',
  '$defs',
  'definitions',
  'nullable',
] as const;

/** Keywords we refuse, with the reason shown to the user. */
export const UNSUPPORTED_KEYWORDS: Record<string, string> = {
  not: '"not" cannot be expressed in strict structured outputs',
  if: 'conditional schemas (if/then/else) cannot be expressed in strict structured outputs',
  then: 'conditional schemas (if/then/else) cannot be expressed in strict structured outputs',
  else: 'conditional schemas (if/then/else) cannot be expressed in strict structured outputs',
  patternProperties: '"patternProperties" (free-form keys) cannot be expressed in strict structured outputs; list the properties',
  propertyNames: '"propertyNames" (free-form keys) cannot be expressed in strict structured outputs; list the properties',
  dependentRequired: '"dependentRequired" is not supported; make the properties optional and describe the rule',
  dependentSchemas: '"dependentSchemas" is not supported',
  dependencies: '"dependencies" is not supported; make the properties optional and describe the rule',
  prefixItems: 'tuples ("prefixItems") are not supported; use an object or an array of one item type',
  additionalItems: 'tuples ("additionalItems") are not supported; use an object or an array of one item type',
  contains: '"contains" is not supported',
  minContains: '"minContains" is not supported',
  maxContains: '"maxContains" is not supported',
  unevaluatedProperties: '"unevaluatedProperties" is not supported; use "additionalProperties"',
  unevaluatedItems: '"unevaluatedItems" is not supported',
  $dynamicRef: '"$dynamicRef" is not supported; use "$ref" to "#/$defs/<name>"',
  $dynamicAnchor: '"$dynamicAnchor" is not supported',
  $recursiveRef: '"$recursiveRef" is not supported; use "$ref" to "#/$defs/<name>"',
};

export const KNOWN_KEYWORDS = new Set<string>([...CONSTRAINT_KEYWORDS, ...ANNOTATION_KEYWORDS, ...STRUCTURE_KEYWORDS]);

/** Siblings of `$ref` we accept (others are ambiguous between drafts). */
export const REF_SIBLINGS = new Set<string>(['$ref', 'title', 'description', 'default', 'examples', '$comment', 'deprecated', 'readOnly', 'writeOnly', 'nullable']);

export const NON_NEGATIVE_INT_KEYWORDS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties'] as const;
