// Finds fields a real kube-apiserver would not know: kubernetes-models' schemas accept unknown
// properties (the API server drops them silently, or refuses them with fieldValidation=Strict),
// so a misspelt `mountPropagaton` would pass them. This walks a rendered object along the
// OpenAPI v2 document of kube-apiserver 1.26 (test/kit/apiserver/openapi/v2.json) and lists every
// property its definition does not declare.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';
import type { KubeObject } from './helm-render.js';

interface SchemaNode {
  $ref?: string;
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  'x-kubernetes-group-version-kind'?: Array<{ group: string; version: string; kind: string }>;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

interface OpenApiDocument {
  definitions: Record<string, SchemaNode>;
}

let cached: OpenApiDocument | undefined;
function document(): OpenApiDocument {
  cached ??= JSON.parse(readFileSync(join(repoRoot, 'test', 'kit', 'apiserver', 'openapi', 'v2.json'), 'utf8')) as OpenApiDocument;
  return cached;
}

/** The definition of a built-in kind, or undefined when kube-apiserver 1.26 has none (CRDs). */
export function definitionOf(apiVersion: string, kind: string): SchemaNode | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return Object.values(document().definitions).find((definition) =>
    definition['x-kubernetes-group-version-kind']?.some((gvk) => gvk.group === group && gvk.version === version && gvk.kind === kind),
  );
}

function resolve(node: SchemaNode): SchemaNode {
  let current = node;
  while (current.$ref) {
    const name = current.$ref.replace('#/definitions/', '');
    const target = document().definitions[name];
    if (!target) throw new Error(`OpenAPI document has no definition ${name}`);
    current = target;
  }
  return current;
}

function walk(value: unknown, node: SchemaNode, path: string, unknown: string[]): void {
  const schema = resolve(node);
  if (schema['x-kubernetes-preserve-unknown-fields']) return;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, index) => walk(item, schema.items!, `${path}[${index}]`, unknown));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    const declared = schema.properties?.[key];
    if (declared) walk(child, declared, `${path}.${key}`, unknown);
    else if (typeof schema.additionalProperties === 'object') walk(child, schema.additionalProperties, `${path}.${key}`, unknown);
    else if (schema.properties || schema.type === 'object') unknown.push(`${path}.${key}`);
  }
}

/** Paths of fields the API server's schema does not declare; [] when none (or no built-in schema). */
export function unknownFields(object: KubeObject): string[] {
  const definition = definitionOf(object.apiVersion, object.kind);
  if (!definition) return [];
  const unknown: string[] = [];
  walk(object, definition, object.kind, unknown);
  return unknown;
}
