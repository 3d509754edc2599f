// Validation, pruning and defaulting of custom resources against an apiextensions.k8s.io/v1
// structural `openAPIV3Schema`, with causes worded like a real kube-apiserver's (the kube-openapi
// validator's messages, mapped to field errors as apiextensions-apiserver does).
import { isDeepStrictEqual } from 'node:util';
import { fieldErrors, goQuote, type FieldCause } from './field-errors.js';

export type { FieldCause, FieldCauseReason } from './field-errors.js';

/** The subset of JSONSchemaProps this server understands. */
export interface StructuralSchema {
  type?: string;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  enum?: unknown[];
  items?: StructuralSchema;
  additionalProperties?: boolean | StructuralSchema;
  nullable?: boolean;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  format?: string;
  allOf?: StructuralSchema[];
  anyOf?: StructuralSchema[];
  oneOf?: StructuralSchema[];
  not?: StructuralSchema;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The JSON schema type name kube-openapi infers for a decoded JSON value. */
function jsonTypeOf(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'object') return 'object';
  return typeof value; // string, boolean
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const integerRanges: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

const compiledPatterns = new Map<string, RegExp | undefined>();

/** A schema `pattern` as a RegExp (cached), or undefined when JavaScript cannot compile it. */
function compilePattern(source: string): RegExp | undefined {
  if (!compiledPatterns.has(source)) {
    let compiled: RegExp | undefined;
    try {
      // No 'u' flag: Go's RE2 accepts escapes like `\:` that unicode-mode JavaScript refuses.
      compiled = new RegExp(source);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      compiled = undefined;
    }
    compiledPatterns.set(source, compiled);
  }
  return compiledPatterns.get(source);
}

/** `%v` of a schema bound: Go prints float64 bounds like 10 or 1.5. */
function bound(n: number): string {
  return String(n);
}

class SchemaValidator {
  readonly causes: FieldCause[] = [];

  validate(value: unknown, schema: StructuralSchema, path: string): void {
    const c = this.causes;
    const allowedTypes = schema['x-kubernetes-int-or-string'] === true ? ['integer', 'string'] : schema.type !== undefined ? [schema.type] : [];
    if (value === null || value === undefined) {
      if (schema.nullable === true || allowedTypes.length === 0) return;
      c.push(fieldErrors.typeInvalid(path, 'null', `${path} in body must be of type ${allowedTypes.join(',')}: "null"`));
      return;
    }
    const actual = jsonTypeOf(value);
    const typeOk = allowedTypes.length === 0 || allowedTypes.includes(actual) || (actual === 'integer' && allowedTypes.includes('number'));
    if (!typeOk) {
      c.push(fieldErrors.typeInvalid(path, actual, `${path} in body must be of type ${allowedTypes.join(',')}: ${goQuote(actual)}`));
      this.validateEnum(value, schema, path);
      return;
    }
    this.validateComposition(value, schema, path);
    if (typeof value === 'string') this.validateString(value, schema, path);
    if (typeof value === 'number') this.validateNumber(value, schema, path);
    if (Array.isArray(value)) this.validateArray(value, schema, path);
    this.validateEnum(value, schema, path);
    if (isObject(value)) this.validateObject(value, schema, path);
  }

  private validateComposition(value: unknown, schema: StructuralSchema, path: string): void {
    const run = (sub: StructuralSchema): FieldCause[] => {
      const v = new SchemaValidator();
      v.validate(value, sub, path);
      return v.causes;
    };
    // Composite failures are not field errors in kube-openapi; apiextensions reports them at the root.
    const composite = (msg: string): FieldCause => fieldErrors.invalid('', '', `${path} ${msg}`);
    const validCount = (results: FieldCause[][]): number => results.filter((r) => r.length === 0).length;
    if (schema.allOf !== undefined && schema.allOf.length > 0) {
      const results = schema.allOf.map(run);
      for (const r of results) this.causes.push(...r);
      const valid = validCount(results);
      if (valid !== results.length) {
        this.causes.push(composite(`must validate all the schemas (allOf)${valid === 0 ? '. Found none valid' : `. Found only ${valid} valid alternatives`}`));
      }
    }
    if (schema.anyOf !== undefined && schema.anyOf.length > 0) {
      const results = schema.anyOf.map(run);
      if (validCount(results) === 0) {
        this.causes.push(composite('must validate at least one schema (anyOf)'));
        this.causes.push(...results[0]!);
      }
    }
    if (schema.oneOf !== undefined && schema.oneOf.length > 0) {
      const results = schema.oneOf.map(run);
      const valid = validCount(results);
      if (valid === 0) {
        this.causes.push(composite('must validate one and only one schema (oneOf). Found none valid'));
        this.causes.push(...results[0]!);
      } else if (valid > 1) {
        this.causes.push(composite(`must validate one and only one schema (oneOf). Found ${valid} valid alternatives`));
      }
    }
    if (schema.not !== undefined && run(schema.not).length === 0) {
      this.causes.push(composite('must not validate the schema (not)'));
    }
  }

  private validateString(value: string, schema: StructuralSchema, path: string): void {
    const length = [...value].length; // Go counts runes
    if (schema.maxLength !== undefined && length > schema.maxLength) this.causes.push(fieldErrors.tooLong(path, schema.maxLength));
    if (schema.minLength !== undefined && length < schema.minLength) {
      this.causes.push(fieldErrors.invalid(path, value, `${path} in body should be at least ${schema.minLength} chars long`));
    }
    if (schema.pattern !== undefined) {
      const pattern = compilePattern(schema.pattern);
      if (pattern === undefined) {
        this.causes.push(fieldErrors.invalid(path, value, `${path} in body has a schema pattern that is not a valid regular expression: '${schema.pattern}'`));
      } else if (!pattern.test(value)) {
        this.causes.push(fieldErrors.invalid(path, value, `${path} in body should match '${schema.pattern}'`));
      }
    }
    if (schema.format === 'date-time' && !rfc3339.test(value)) {
      this.causes.push(fieldErrors.typeInvalid(path, value, `${path} in body must be of type date-time: ${goQuote(value)}`));
    }
  }

  private validateNumber(value: number, schema: StructuralSchema, path: string): void {
    const range = schema.format !== undefined ? integerRanges[schema.format] : undefined;
    if (range !== undefined && (value < range[0] || value > range[1])) {
      this.causes.push(fieldErrors.invalid(path, value, `${path} in body must be of type ${schema.format}: ${goQuote(String(value))}`));
    }
    if (schema.maximum !== undefined) {
      const exclusive = schema.exclusiveMaximum === true;
      if (exclusive ? value >= schema.maximum : value > schema.maximum) {
        this.causes.push(fieldErrors.invalid(path, value, `${path} in body should be less than ${exclusive ? '' : 'or equal to '}${bound(schema.maximum)}`));
      }
    }
    if (schema.minimum !== undefined) {
      const exclusive = schema.exclusiveMinimum === true;
      if (exclusive ? value <= schema.minimum : value < schema.minimum) {
        this.causes.push(fieldErrors.invalid(path, value, `${path} in body should be greater than ${exclusive ? '' : 'or equal to '}${bound(schema.minimum)}`));
      }
    }
    if (schema.multipleOf !== undefined && schema.multipleOf > 0 && !Number.isInteger(value / schema.multipleOf)) {
      this.causes.push(fieldErrors.invalid(path, value, `${path} in body should be a multiple of ${bound(schema.multipleOf)}`));
    }
  }

  private validateArray(value: unknown[], schema: StructuralSchema, path: string): void {
    if (schema.items !== undefined) value.forEach((item, i) => this.validate(item, schema.items!, `${path}[${i}]`));
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      this.causes.push(fieldErrors.invalid(path, value.length, `${path} in body should have at least ${schema.minItems} items`));
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) this.causes.push(fieldErrors.tooMany(path, value.length, schema.maxItems));
    const listType = schema['x-kubernetes-list-type'];
    if (schema.uniqueItems === true || listType === 'set') {
      value.forEach((item, i) => {
        if (value.slice(0, i).some((earlier) => isDeepStrictEqual(earlier, item))) this.causes.push(fieldErrors.duplicate(`${path}[${i}]`, item));
      });
    } else if (listType === 'map') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const keyOf = (item: unknown): JsonObject => Object.fromEntries(keys.filter((k) => isObject(item) && item[k] !== undefined).map((k) => [k, (item as JsonObject)[k]]));
      value.forEach((item, i) => {
        if (value.slice(0, i).some((earlier) => isDeepStrictEqual(keyOf(earlier), keyOf(item)))) this.causes.push(fieldErrors.duplicate(`${path}[${i}]`, keyOf(item)));
      });
    }
  }

  private validateEnum(value: unknown, schema: StructuralSchema, path: string): void {
    if (schema.enum === undefined || schema.enum.some((allowed) => isDeepStrictEqual(allowed, value))) return;
    const supported = schema.enum.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
    this.causes.push(fieldErrors.notSupported(path, value, supported));
  }

  private validateObject(value: JsonObject, schema: StructuralSchema, path: string): void {
    const count = Object.keys(value).length;
    if (schema.minProperties !== undefined && count < schema.minProperties) {
      this.causes.push(fieldErrors.invalid(path, count, `${path} in body should have at least ${schema.minProperties} properties`));
    }
    if (schema.maxProperties !== undefined && count > schema.maxProperties) this.causes.push(fieldErrors.tooMany(path, count, schema.maxProperties));
    const properties = schema.properties ?? {};
    for (const [name, sub] of Object.entries(properties)) {
      if (Object.prototype.hasOwnProperty.call(value, name)) this.validate(value[name], sub, join(path, name));
    }
    const extra = Object.keys(value).filter((k) => !Object.prototype.hasOwnProperty.call(properties, k));
    if (isObject(schema.additionalProperties)) {
      for (const k of extra) this.validate(value[k], schema.additionalProperties, join(path, k));
    } else if (schema.additionalProperties === false) {
      for (const k of extra) this.causes.push(fieldErrors.invalid(path, k, `${join(path, k)} in body is a forbidden property`));
    }
    for (const name of schema.required ?? []) {
      if (!Object.prototype.hasOwnProperty.call(value, name)) this.causes.push(fieldErrors.required(join(path, name)));
    }
    if (schema['x-kubernetes-embedded-resource'] === true) {
      for (const name of ['apiVersion', 'kind']) {
        if (typeof value[name] !== 'string' || value[name] === '') this.causes.push(fieldErrors.required(join(path, name), 'must not be empty'));
      }
    }
  }
}

/** Compares field paths with numbers in index brackets ordered numerically (`[2]` before `[10]`). */
function comparePaths(a: string, b: string): number {
  const chunks = (s: string): (string | number)[] => s.split(/(\d+)/).map((p, i) => (i % 2 === 1 ? Number(p) : p));
  const ca = chunks(a);
  const cb = chunks(b);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i]!;
    const y = cb[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return ca.length - cb.length;
}

/**
 * Validates `value` (a whole custom resource, or a part of one at `rootPath`) against a structural
 * schema. Causes come sorted by field path, which is how the golden 422 of a real server reads.
 */
export function validateAgainstSchema(value: unknown, schema: object, rootPath = ''): FieldCause[] {
  const validator = new SchemaValidator();
  validator.validate(value, schema as StructuralSchema, rootPath);
  // Stable sort: causes for the same field keep the validator's order (type before enum, etc.).
  return validator.causes.map((cause, index) => ({ cause, index }))
    .sort((a, b) => comparePaths(a.cause.field, b.cause.field) || a.index - b.index)
    .map((e) => e.cause);
}

const resourceMetaFields = new Set(['apiVersion', 'kind', 'metadata']);

function prune(value: unknown, schema: StructuralSchema, isResource: boolean): unknown {
  if (Array.isArray(value)) {
    return schema.items !== undefined ? value.map((item) => prune(item, schema.items!, schema.items!['x-kubernetes-embedded-resource'] === true)) : value;
  }
  if (!isObject(value)) return value;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const properties = schema.properties ?? {};
  const result: JsonObject = {};
  for (const [key, child] of Object.entries(value)) {
    const sub = properties[key];
    if (sub !== undefined) {
      result[key] = prune(child, sub, sub['x-kubernetes-embedded-resource'] === true);
    } else if (isObject(schema.additionalProperties)) {
      const ap = schema.additionalProperties;
      result[key] = prune(child, ap, ap['x-kubernetes-embedded-resource'] === true);
    } else if (preserve || schema.additionalProperties === true || (isResource && resourceMetaFields.has(key))) {
      // apiVersion, kind and metadata of a resource are never pruned; ObjectMeta is checked elsewhere.
      result[key] = child;
    }
  }
  return result;
}

/** Drops fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields). */
export function pruneUnknownFields(value: unknown, schema: object): unknown {
  return prune(structuredClone(value), schema as StructuralSchema, true);
}

function applyDefaults(value: unknown, schema: StructuralSchema): unknown {
  if (Array.isArray(value)) return schema.items !== undefined ? value.map((item) => applyDefaults(item, schema.items!)) : value;
  if (!isObject(value)) return value;
  const result: JsonObject = { ...value };
  const fill = (key: string, sub: StructuralSchema): void => {
    const has = Object.prototype.hasOwnProperty.call(result, key);
    if ((!has || result[key] === null) && sub.default !== undefined && !(has && sub.nullable === true)) {
      result[key] = structuredClone(sub.default);
    } else if (has && result[key] === null && sub.nullable !== true) {
      // A real server drops nulls of non-nullable fields without a default before validating.
      delete result[key];
    }
    if (Object.prototype.hasOwnProperty.call(result, key)) result[key] = applyDefaults(result[key], sub);
  };
  for (const [key, sub] of Object.entries(schema.properties ?? {})) fill(key, sub);
  if (isObject(schema.additionalProperties)) {
    for (const key of Object.keys(result)) {
      if (!Object.prototype.hasOwnProperty.call(schema.properties ?? {}, key)) fill(key, schema.additionalProperties);
    }
  }
  return result;
}

/** Fills `default:` values of absent (or null, non-nullable) fields, recursively. */
export function applySchemaDefaults(value: unknown, schema: object): unknown {
  return applyDefaults(structuredClone(value), schema as StructuralSchema);
}
