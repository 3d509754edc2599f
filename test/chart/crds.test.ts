// The chart's CRDs as kube-apiserver 1.26 would take them: valid CustomResourceDefinition
// objects (kubernetes-models' schema, no field the API does not declare) whose schemas are
// structural (apiextensions' rules: a type on every node, properties and additionalProperties
// never together, additionalProperties never false, no $ref), with a status subresource, and
// with defaults that satisfy their own schemas. The in-repo API server installs and enforces
// them in test/authz and test/e2e.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { chartDir, type KubeObject } from './helm-render.js';
import { validateWithKubernetesModels } from './kube-models.js';
import { unknownFields } from './openapi-fields.js';

const crdDir = join(chartDir, 'crds');
const files = readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).sort();

type Schema = Record<string, any>;

/** Violations of the structural-schema rules, with their paths. */
function structuralProblems(schema: Schema, path: string): string[] {
  const problems: string[] = [];
  const skipType = schema['x-kubernetes-int-or-string'] === true || schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (!skipType && typeof schema.type !== 'string') problems.push(`${path}: no type`);
  if ('$ref' in schema) problems.push(`${path}: $ref is not allowed`);
  if (schema.properties && schema.additionalProperties !== undefined) problems.push(`${path}: properties and additionalProperties together`);
  if (schema.additionalProperties === false) problems.push(`${path}: additionalProperties: false`);
  if (schema.default !== undefined && schema.enum && !schema.enum.includes(schema.default)) problems.push(`${path}: default ${schema.default} not in enum`);
  for (const [name, child] of Object.entries(schema.properties ?? {})) problems.push(...structuralProblems(child as Schema, `${path}.properties.${name}`));
  if (typeof schema.additionalProperties === 'object') problems.push(...structuralProblems(schema.additionalProperties, `${path}.additionalProperties`));
  if (schema.items) problems.push(...structuralProblems(schema.items, `${path}.items`));
  return problems;
}

test('the chart ships both authorization CRDs', () => {
  assert.deepEqual(files, ['weft.io_authorizationpolicies.yaml', 'weft.io_clusterauthorizationpolicies.yaml']);
});

for (const file of files) {
  const crd = parse(readFileSync(join(crdDir, file), 'utf8')) as KubeObject & { spec: Schema };
  test(`${file}: a valid CustomResourceDefinition with a structural schema`, async () => {
    await validateWithKubernetesModels(crd);
    assert.deepEqual(unknownFields(crd), []);
    assert.equal(crd.metadata.name, `${crd.spec.names.plural}.${crd.spec.group}`);
    assert.equal(crd.spec.group, 'weft.io');
    const versions = crd.spec.versions as Schema[];
    assert.deepEqual(versions.map((v) => [v.name, v.served, v.storage]), [['v1alpha1', true, true]]);
    const version = versions[0]!;
    assert.deepEqual(version.subresources, { status: {} }, 'status is written through its subresource only');
    assert.deepEqual(structuralProblems(version.schema.openAPIV3Schema, 'openAPIV3Schema'), []);
    assert.equal(JSON.stringify(version.schema).includes('x-kubernetes-validations'), false, 'no CEL: kube-apiserver 1.26 enforces the schema as written');
  });
}

test('the structural check catches what kube-apiserver refuses (so a pass above means something)', () => {
  assert.deepEqual(structuralProblems({ type: 'object', properties: { a: {}, b: { type: 'object', properties: { c: { type: 'string' } }, additionalProperties: false } } }, 's'), [
    's.properties.a: no type',
    's.properties.b: properties and additionalProperties together',
    's.properties.b: additionalProperties: false',
  ]);
});
