// Schema handling for custom resources: prune unknown fields, fill defaults, validate, and
// (for fieldValidation=Strict) name the fields pruning would drop.
import type { KubeObject } from './kube-object.js';
import { isPlainObject } from './kube-object.js';
import { applySchemaDefaults, pruneUnknownFields, validateAgainstSchema } from './schema-validation.js';
import type { FieldCause } from './schema-validation.js';

/** Fields that the schema does not declare (dotted paths), found by comparing with the pruned copy. */
export function unknownFieldPaths(original: unknown, pruned: unknown, path = ''): string[] {
  if (isPlainObject(original)) {
    if (!isPlainObject(pruned)) return [];
    const out: string[] = [];
    for (const key of Object.keys(original)) {
      const child = path === '' ? key : `${path}.${key}`;
      if (!(key in pruned)) out.push(child);
      else out.push(...unknownFieldPaths(original[key], pruned[key], child));
    }
    return out;
  }
  if (Array.isArray(original) && Array.isArray(pruned)) {
    return original.flatMap((v, i) => unknownFieldPaths(v, pruned[i], `${path}[${i}]`));
  }
  return [];
}

/** The metadata fields pruning must keep whatever the schema says about metadata. */
function withMetadata(pruned: unknown, obj: KubeObject): KubeObject {
  const out = (isPlainObject(pruned) ? pruned : {}) as KubeObject;
  out.apiVersion = obj.apiVersion;
  out.kind = obj.kind;
  out.metadata = obj.metadata;
  return out;
}

export interface PreparedCustomResource {
  object: KubeObject;
  unknownFields: string[];
}

export function pruneAndDefault(obj: KubeObject, schema: object | undefined): PreparedCustomResource {
  if (schema === undefined) return { object: obj, unknownFields: [] };
  const { metadata, ...rest } = obj;
  const pruned = pruneUnknownFields(rest, schema);
  const unknownFields = unknownFieldPaths(rest, pruned);
  const defaulted = applySchemaDefaults(pruned, schema);
  return { object: withMetadata(defaulted, { ...obj, metadata }), unknownFields };
}

export function validateCustomResource(obj: KubeObject, schema: object | undefined): FieldCause[] {
  if (schema === undefined) return [];
  // metadata is validated by the ObjectMeta rules, never by the CRD schema.
  const { metadata: _metadata, ...rest } = obj;
  return validateAgainstSchema(rest, schema, '');
}
