import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applySchemaDefaults, pruneUnknownFields, validateAgainstSchema } from './schema-validation.js';
import { invalidMessage } from './object-validation.js';
import { readGoldenFixture } from './golden-fixture.js';

// The Widget CRD the golden answers were recorded with: spec.mode enum, spec.size required.
const widgetSchema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      required: ['size'],
      properties: {
        mode: { type: 'string', enum: ['fast', 'safe'] },
        size: { type: 'integer', minimum: 1, maximum: 10 },
      },
    },
  },
};

describe('validateAgainstSchema', () => {
  test('reproduces the golden 422 of a custom resource refused by its CRD schema', () => {
    const golden = readGoldenFixture('error-422-crd-schema.json');
    const causes = validateAgainstSchema({ apiVersion: 'example.io/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { mode: 'slow' } }, widgetSchema);
    assert.deepEqual(causes, golden.details.causes);
    assert.equal(invalidMessage('Widget.example.io', 'w', causes), golden.message);
  });

  test('accepts the golden created custom resource', () => {
    assert.deepEqual(validateAgainstSchema({ apiVersion: 'example.io/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { mode: 'fast', size: 3 } }, widgetSchema), []);
  });

  const s = (props: object, extra: object = {}): object => ({ type: 'object', properties: { spec: { type: 'object', properties: props, ...extra } } });
  const cases: { name: string; schema: object; spec: unknown; causes: { reason: string; message: string; field: string }[] }[] = [
    {
      name: 'a string where an integer belongs',
      schema: s({ replicas: { type: 'integer' } }),
      spec: { replicas: 'three' },
      causes: [{ reason: 'FieldValueTypeInvalid', message: 'Invalid value: "string": spec.replicas in body must be of type integer: "string"', field: 'spec.replicas' }],
    },
    {
      name: 'a fraction where an integer belongs',
      schema: s({ replicas: { type: 'integer' } }),
      spec: { replicas: 1.5 },
      causes: [{ reason: 'FieldValueTypeInvalid', message: 'Invalid value: "number": spec.replicas in body must be of type integer: "number"', field: 'spec.replicas' }],
    },
    {
      name: 'an integer is a number',
      schema: s({ ratio: { type: 'number' } }),
      spec: { ratio: 2 },
      causes: [],
    },
    {
      name: 'an object where a string belongs, and a list where an object belongs',
      schema: s({ a: { type: 'string' }, b: { type: 'object' } }),
      spec: { a: { x: 1 }, b: [] },
      causes: [
        { reason: 'FieldValueTypeInvalid', message: 'Invalid value: "object": spec.a in body must be of type string: "object"', field: 'spec.a' },
        { reason: 'FieldValueTypeInvalid', message: 'Invalid value: "array": spec.b in body must be of type object: "array"', field: 'spec.b' },
      ],
    },
    {
      name: 'null for a non-nullable field; null for a nullable one is fine',
      schema: s({ a: { type: 'string' }, b: { type: 'string', nullable: true } }),
      spec: { a: null, b: null },
      causes: [{ reason: 'FieldValueTypeInvalid', message: 'Invalid value: "null": spec.a in body must be of type string: "null"', field: 'spec.a' }],
    },
    {
      name: 'array items with their index in the path, sorted numerically',
      schema: s({ ports: { type: 'array', items: { type: 'object', required: ['port'], properties: { port: { type: 'integer', maximum: 65535 } } } } }),
      spec: { ports: [{ port: 1 }, { port: 70000 }, {}, {}, {}, {}, {}, {}, {}, {}, { port: 'x' }] },
      causes: [
        { reason: 'FieldValueInvalid', message: 'Invalid value: 70000: spec.ports[1].port in body should be less than or equal to 65535', field: 'spec.ports[1].port' },
        ...[2, 3, 4, 5, 6, 7, 8, 9].map((i) => ({ reason: 'FieldValueRequired', message: 'Required value', field: `spec.ports[${i}].port` })),
        { reason: 'FieldValueTypeInvalid', message: 'Invalid value: "string": spec.ports[10].port in body must be of type integer: "string"', field: 'spec.ports[10].port' },
      ],
    },
    {
      name: 'numeric bounds, exclusive and inclusive',
      schema: s({ a: { type: 'integer', minimum: 1 }, b: { type: 'number', minimum: 0, exclusiveMinimum: true }, c: { type: 'integer', maximum: 5, exclusiveMaximum: true }, d: { type: 'integer', multipleOf: 2 } }),
      spec: { a: 0, b: 0, c: 5, d: 3 },
      causes: [
        { reason: 'FieldValueInvalid', message: 'Invalid value: 0: spec.a in body should be greater than or equal to 1', field: 'spec.a' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: 0: spec.b in body should be greater than 0', field: 'spec.b' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: 5: spec.c in body should be less than 5', field: 'spec.c' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: 3: spec.d in body should be a multiple of 2', field: 'spec.d' },
      ],
    },
    {
      name: 'string length and pattern',
      schema: s({ a: { type: 'string', maxLength: 3 }, b: { type: 'string', minLength: 2 }, c: { type: 'string', pattern: '^[a-z]+$' } }),
      spec: { a: 'abcd', b: 'x', c: 'A1' },
      causes: [
        { reason: 'FieldValueTooLong', message: 'Too long: may not be longer than 3', field: 'spec.a' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: "x": spec.b in body should be at least 2 chars long', field: 'spec.b' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: "A1": spec.c in body should match \'^[a-z]+$\'', field: 'spec.c' },
      ],
    },
    {
      name: 'RE2-style escapes compile; an uncompilable pattern is a cause, not a crash',
      schema: s({ a: { type: 'string', pattern: '^[a-z\\:]+$' }, b: { type: 'string', pattern: '([' } }),
      spec: { a: 'x:y', b: 'z' },
      causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: "z": spec.b in body has a schema pattern that is not a valid regular expression: \'([\'', field: 'spec.b' }],
    },
    {
      name: 'array size and uniqueness',
      schema: s({ a: { type: 'array', items: { type: 'string' }, maxItems: 1 }, b: { type: 'array', minItems: 1 }, c: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } } }),
      spec: { a: ['x', 'y'], b: [], c: ['p', 'q', 'p'] },
      causes: [
        { reason: 'FieldValueTooMany', message: 'Too many: 2: must have at most 1 items', field: 'spec.a' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: 0: spec.b in body should have at least 1 items', field: 'spec.b' },
        { reason: 'FieldValueDuplicate', message: 'Duplicate value: "p"', field: 'spec.c[2]' },
      ],
    },
    {
      name: 'int-or-string',
      schema: s({ a: { 'x-kubernetes-int-or-string': true }, b: { 'x-kubernetes-int-or-string': true }, c: { 'x-kubernetes-int-or-string': true } }),
      spec: { a: 8080, b: 'http', c: true },
      causes: [{ reason: 'FieldValueTypeInvalid', message: 'Invalid value: "boolean": spec.c in body must be of type integer,string: "boolean"', field: 'spec.c' }],
    },
    {
      name: 'integer enums and formats',
      schema: s({ a: { type: 'integer', enum: [1, 2] }, b: { type: 'string', format: 'date-time' }, c: { type: 'string', format: 'date-time' }, d: { type: 'integer', format: 'int32' } }),
      spec: { a: 3, b: '2026-11-26T02:13:32Z', c: 'yesterday', d: 4294967296 },
      causes: [
        { reason: 'FieldValueNotSupported', message: 'Unsupported value: 3: supported values: "1", "2"', field: 'spec.a' },
        { reason: 'FieldValueTypeInvalid', message: 'Invalid value: "yesterday": spec.c in body must be of type date-time: "yesterday"', field: 'spec.c' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: 4294967296: spec.d in body must be of type int32: "4294967296"', field: 'spec.d' },
      ],
    },
    {
      name: 'additionalProperties as a schema validates map values',
      schema: s({ limits: { type: 'object', additionalProperties: { type: 'integer' } } }),
      spec: { limits: { cpu: 1, mem: 'lots' } },
      causes: [{ reason: 'FieldValueTypeInvalid', message: 'Invalid value: "string": spec.limits.mem in body must be of type integer: "string"', field: 'spec.limits.mem' }],
    },
    {
      name: 'anyOf/allOf/not over enums and required',
      schema: s({ a: { type: 'string', anyOf: [{ enum: ['x'] }, { enum: ['y'] }] }, b: { type: 'string', allOf: [{ enum: ['p', 'q'] }] }, c: { type: 'string', not: { enum: ['bad'] } } }),
      spec: { a: 'z', b: 'r', c: 'bad' },
      causes: [
        { reason: 'FieldValueInvalid', message: 'Invalid value: "": spec.a must validate at least one schema (anyOf)', field: '' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: "": spec.b must validate all the schemas (allOf). Found none valid', field: '' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: "": spec.c must not validate the schema (not)', field: '' },
        { reason: 'FieldValueNotSupported', message: 'Unsupported value: "z": supported values: "x"', field: 'spec.a' },
        { reason: 'FieldValueNotSupported', message: 'Unsupported value: "r": supported values: "p", "q"', field: 'spec.b' },
      ],
    },
    {
      name: 'an embedded resource needs apiVersion and kind',
      schema: s({ template: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true } }),
      spec: { template: { metadata: { name: 'x' } } },
      causes: [
        { reason: 'FieldValueRequired', message: 'Required value: must not be empty', field: 'spec.template.apiVersion' },
        { reason: 'FieldValueRequired', message: 'Required value: must not be empty', field: 'spec.template.kind' },
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(validateAgainstSchema({ spec: c.spec }, c.schema), c.causes);
    });
  }

  test('rootPath prefixes the fields', () => {
    assert.deepEqual(validateAgainstSchema({ size: 'x' }, { type: 'object', properties: { size: { type: 'integer' } } }, 'spec'), [
      { reason: 'FieldValueTypeInvalid', message: 'Invalid value: "string": spec.size in body must be of type integer: "string"', field: 'spec.size' },
    ]);
  });
});

describe('pruneUnknownFields', () => {
  test('drops undeclared fields, keeps apiVersion/kind/metadata of the resource', () => {
    const input = Object.freeze({
      apiVersion: 'example.io/v1', kind: 'Widget', metadata: { name: 'w', labels: { a: 'b' }, unknownMeta: 1 },
      spec: { mode: 'fast', size: 3, extra: true }, status: { x: 1 }, junk: 'x',
    });
    assert.deepEqual(pruneUnknownFields(input, widgetSchema), {
      apiVersion: 'example.io/v1', kind: 'Widget', metadata: { name: 'w', labels: { a: 'b' }, unknownMeta: 1 },
      spec: { mode: 'fast', size: 3 },
    });
    assert.equal((input.spec as Record<string, unknown>)['extra'], true, 'input must not be mutated');
  });

  test('preserve-unknown-fields, additionalProperties, items and embedded resources', () => {
    const schema = {
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          properties: {
            free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { inner: { type: 'object', properties: { keep: { type: 'string' } } } } },
            map: { type: 'object', additionalProperties: { type: 'object', properties: { v: { type: 'string' } } } },
            list: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
            template: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object', properties: { a: { type: 'string' } } } } },
          },
        },
      },
    };
    const input = {
      spec: {
        free: { anything: { goes: 1 }, inner: { keep: 'k', drop: 'd' } },
        map: { k1: { v: 'x', drop: 1 } },
        list: [{ name: 'n', drop: 1 }],
        template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { a: 'x', b: 'y' }, other: 1 },
      },
    };
    assert.deepEqual(pruneUnknownFields(input, schema), {
      spec: {
        free: { anything: { goes: 1 }, inner: { keep: 'k' } },
        map: { k1: { v: 'x' } },
        list: [{ name: 'n' }],
        template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { a: 'x' } },
      },
    });
  });
});

describe('applySchemaDefaults', () => {
  test('fills absent fields, nested too, and replaces nulls of non-nullable fields', () => {
    const schema = {
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          default: {},
          properties: {
            mode: { type: 'string', default: 'safe' },
            size: { type: 'integer', default: 1 },
            opt: { type: 'string', nullable: true, default: 'x' },
            gone: { type: 'string' },
            list: { type: 'array', items: { type: 'object', properties: { p: { type: 'integer', default: 80 } } } },
          },
        },
      },
    };
    assert.deepEqual(applySchemaDefaults({}, schema), { spec: { mode: 'safe', size: 1, opt: 'x' } });
    const input = Object.freeze({ spec: Object.freeze({ mode: 'fast', size: null, opt: null, gone: null, list: [{}, { p: 1 }] }) });
    assert.deepEqual(applySchemaDefaults(input, schema), { spec: { mode: 'fast', size: 1, opt: null, list: [{ p: 80 }, { p: 1 }] } });
  });

  test('a default is a copy, not shared between objects', () => {
    const schema = { type: 'object', properties: { tags: { type: 'array', default: ['a'] } } };
    const one = applySchemaDefaults({}, schema) as { tags: string[] };
    one.tags.push('b');
    assert.deepEqual(applySchemaDefaults({}, schema), { tags: ['a'] });
  });
});
