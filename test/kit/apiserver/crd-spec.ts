// What a CustomResourceDefinition declares: validation of its spec (the subset of the real
// rules that catches typos) and the resource descriptors it adds to the server.
import type { KubeObject } from './kube-object.js';
import { isPlainObject } from './kube-object.js';
import type { FieldCause } from './schema-validation.js';
import type { ResourceDescriptor } from './resource-registry.js';

type Obj = Record<string, any>;

const allVerbs = ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'];

function required(field: string): FieldCause {
  return { reason: 'FieldValueRequired', message: 'Required value', field };
}

function invalid(field: string, value: unknown, why: string): FieldCause {
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${why}`, field };
}

const dns1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function validateCrdSpec(crd: KubeObject, existing: KubeObject | undefined): FieldCause[] {
  const causes: FieldCause[] = [];
  const spec = (isPlainObject(crd.spec) ? crd.spec : {}) as Obj;
  const names = (isPlainObject(spec.names) ? spec.names : {}) as Obj;
  if (typeof spec.group !== 'string' || spec.group === '') causes.push(required('spec.group'));
  else if (!spec.group.includes('.')) causes.push(invalid('spec.group', spec.group, 'should be a domain with at least one dot'));
  if (typeof names.plural !== 'string' || names.plural === '') causes.push(required('spec.names.plural'));
  else if (!dns1035.test(names.plural)) causes.push(invalid('spec.names.plural', names.plural, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"));
  if (typeof names.kind !== 'string' || names.kind === '') causes.push(required('spec.names.kind'));
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') {
    causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(spec.scope ?? '')}: supported values: "Cluster", "Namespaced"`, field: 'spec.scope' });
  }
  const expectedName = `${names.plural}.${spec.group}`;
  if (crd.metadata.name && crd.metadata.name !== expectedName) {
    causes.push(invalid('metadata.name', crd.metadata.name, 'must be spec.names.plural+"."+spec.group'));
  }
  const versions: Obj[] = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0) causes.push(required('spec.versions'));
  const storageCount = versions.filter((v) => v?.storage === true).length;
  if (versions.length > 0 && storageCount !== 1) causes.push(invalid('spec.versions', versions.map((v) => v?.name), 'must have exactly one version marked as storage version'));
  versions.forEach((v, i) => {
    if (!isPlainObject(v) || typeof v.name !== 'string' || v.name === '') causes.push(required(`spec.versions[${i}].name`));
    if (!isPlainObject(v?.schema) || !isPlainObject((v.schema as Obj).openAPIV3Schema)) {
      causes.push({ reason: 'FieldValueRequired', message: 'Required value: schemas are required', field: `spec.versions[${i}].schema.openAPIV3Schema` });
    }
  });
  if (existing) {
    const oldSpec = (existing.spec ?? {}) as Obj;
    if (oldSpec.group !== spec.group) causes.push(invalid('spec.group', spec.group, 'field is immutable'));
    if (oldSpec.names?.plural !== names.plural) causes.push(invalid('spec.names.plural', names.plural, 'field is immutable'));
  }
  return causes;
}

/** The served versions of a CRD as resource descriptors (storage key shared by all versions). */
export function descriptorsForCrd(crd: KubeObject): ResourceDescriptor[] {
  const spec = crd.spec as Obj;
  const names = spec.names as Obj;
  const versions: Obj[] = (spec.versions as Obj[]).filter((v) => v.served !== false);
  return versions.map((v) => ({
    group: spec.group,
    version: v.name,
    plural: names.plural,
    singular: names.singular ?? String(names.kind).toLowerCase(),
    kind: names.kind,
    listKind: names.listKind ?? `${names.kind}List`,
    namespaced: spec.scope === 'Namespaced',
    shortNames: Array.isArray(names.shortNames) ? names.shortNames : [],
    categories: Array.isArray(names.categories) ? names.categories : [],
    verbs: allVerbs,
    subresources: isPlainObject(v.subresources) && isPlainObject((v.subresources as Obj).status) ? ['status'] : [],
    nameRule: 'dns1123subdomain',
    generation: 'non-metadata',
    custom: {
      crdName: crd.metadata.name!,
      schema: (v.schema as Obj | undefined)?.openAPIV3Schema,
      printerColumns: Array.isArray(v.additionalPrinterColumns) ? v.additionalPrinterColumns.filter((c: Obj) => typeof c?.name === 'string' && typeof c?.jsonPath === 'string') : [],
    },
  }));
}
