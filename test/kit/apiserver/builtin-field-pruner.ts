// Unknown fields in built-in objects: a real server decodes bodies into typed structs, so fields
// its schema does not know are dropped (fieldValidation Ignore/Warn) or refused (Strict, what
// kubectl asks for), and values its types cannot hold (a MicroTime without six fractional
// digits) fail the decoding. The schemas are Kubernetes' own published OpenAPI v3 documents.
import { isPlainObject } from './kube-object.js';
import { MICRO_TIME_SCHEMA_REF, microTimeParseError } from './micro-time.js';
import { readBuiltinV3 } from './openapi.js';

type Schema = Record<string, any>;

interface GroupVersionSchemas {
  components: Record<string, Schema>;
  byKind: Map<string, Schema>;
}

export class BuiltinFieldPruner {
  private readonly loaded = new Map<string, GroupVersionSchemas | undefined>();

  private schemas(group: string, version: string): GroupVersionSchemas | undefined {
    const path = group === '' ? `api/${version}` : `apis/${group}/${version}`;
    if (!this.loaded.has(path)) {
      const doc = readBuiltinV3(path);
      let entry: GroupVersionSchemas | undefined;
      if (doc) {
        const components: Record<string, Schema> = doc.components?.schemas ?? {};
        const byKind = new Map<string, Schema>();
        for (const schema of Object.values(components)) {
          for (const gvk of schema['x-kubernetes-group-version-kind'] ?? []) {
            if (gvk.group === group && gvk.version === version) byKind.set(gvk.kind, schema);
          }
        }
        entry = { components, byKind };
      }
      this.loaded.set(path, entry);
    }
    return this.loaded.get(path);
  }

  /**
   * Returns the object without fields the kind's schema does not declare, their paths, and the
   * values the kind's types cannot decode (Go's parse errors). Kinds without a published schema
   * come back unchanged.
   */
  prune(group: string, version: string, kind: string, obj: Record<string, unknown>): { object: Record<string, unknown>; unknownFields: string[]; decodeErrors: string[] } {
    const gv = this.schemas(group, version);
    const schema = gv?.byKind.get(kind);
    if (!gv || !schema) return { object: obj, unknownFields: [], decodeErrors: [] };
    const found = { unknown: [] as string[], decodeErrors: [] as string[] };
    const object = this.walk(obj, schema, '', gv.components, found) as Record<string, unknown>;
    return { object, unknownFields: found.unknown, decodeErrors: found.decodeErrors };
  }

  /** Whether a property schema is a MicroTime (a `$ref`, or an `allOf` of one, as the v3 documents write it). */
  private isMicroTime(schema: Schema): boolean {
    const ref: unknown = schema.$ref ?? (Array.isArray(schema.allOf) && schema.allOf.length === 1 ? schema.allOf[0].$ref : undefined);
    return typeof ref === 'string' && ref.endsWith(`/${MICRO_TIME_SCHEMA_REF}`);
  }

  private resolve(schema: Schema, components: Record<string, Schema>): Schema {
    let current = schema;
    for (let depth = 0; depth < 10; depth++) {
      if (typeof current.$ref === 'string') {
        current = components[current.$ref.replace('#/components/schemas/', '')] ?? {};
      } else if (Array.isArray(current.allOf) && current.allOf.length === 1 && current.properties === undefined) {
        current = current.allOf[0];
      } else {
        return current;
      }
    }
    return current;
  }

  private walk(value: unknown, rawSchema: Schema, path: string, components: Record<string, Schema>, found: { unknown: string[]; decodeErrors: string[] }): unknown {
    if (this.isMicroTime(rawSchema) && value !== null) {
      const error = microTimeParseError(value);
      if (error !== undefined) found.decodeErrors.push(error);
      return value;
    }
    const unknown = found.unknown;
    const schema = this.resolve(rawSchema, components);
    if (schema['x-kubernetes-preserve-unknown-fields'] === true) return value;
    if (Array.isArray(value)) {
      if (!schema.items) return value;
      return value.map((v, i) => this.walk(v, schema.items, `${path}[${i}]`, components, found));
    }
    if (!isPlainObject(value)) return value;
    if (isPlainObject(schema.properties)) {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) {
        const childPath = path === '' ? key : `${path}.${key}`;
        const childSchema = (schema.properties as Record<string, Schema>)[key];
        if (childSchema === undefined) {
          unknown.push(childPath);
          continue;
        }
        out[key] = this.walk(child, childSchema, childPath, components, found);
      }
      return out;
    }
    if (isPlainObject(schema.additionalProperties)) {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) out[key] = this.walk(child, schema.additionalProperties, `${path}.${key}`, components, found);
      return out;
    }
    return value; // free-form (RawExtension, FieldsV1, ...)
  }
}
