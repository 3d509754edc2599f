// OpenAPI documents: Kubernetes' own published schemas for the built-in groups (copied from a
// real 1.26 server into ./openapi/), and a v3 document per CRD group/version built from its
// schema, so `kubectl apply` validates (server-side, via fieldValidation) as against a cluster.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { repoRoot } from '../../support/repo-root.js';
import type { ResourceDescriptor, ResourceRegistry } from './resource-registry.js';

const openapiDir = join(repoRoot, 'test', 'kit', 'apiserver', 'openapi');

/** v3 documents shipped in ./openapi: file name v3-<path with / and . as _>.json. */
const builtinV3Paths = [
  'api/v1',
  'apis/apiextensions.k8s.io/v1',
  'apis/apps/v1',
  'apis/authentication.k8s.io/v1',
  'apis/coordination.k8s.io/v1',
  'apis/discovery.k8s.io/v1',
  'apis/rbac.authorization.k8s.io/v1',
];

function fileFor(path: string): string {
  return join(openapiDir, `v3-${path.replace(/[/.]/g, '_')}.json`);
}

/** The parsed v3 document of a built-in group-version ("api/v1", "apis/discovery.k8s.io/v1"). */
export function readBuiltinV3(path: string): any | undefined {
  if (!builtinV3Paths.includes(path)) return undefined;
  return JSON.parse(readFileSync(fileFor(path), 'utf8'));
}

function hashOf(text: string): string {
  return createHash('sha512').update(text).digest('hex').toUpperCase();
}

interface Document {
  text: string;
  hash: string;
}

export class OpenApiDocuments {
  private v2: Buffer | undefined;
  private readonly builtinV3 = new Map<string, Document>();
  private readonly metaSchemas: Record<string, unknown>;

  constructor(private readonly registry: ResourceRegistry) {
    // ObjectMeta and friends, which every CRD document references.
    const coordination = JSON.parse(readFileSync(fileFor('apis/coordination.k8s.io/v1'), 'utf8'));
    this.metaSchemas = Object.fromEntries(
      Object.entries(coordination.components.schemas as Record<string, unknown>).filter(([k]) => k.startsWith('io.k8s.apimachinery.')),
    );
  }

  /** The Swagger 2.0 document (JSON; kubectl asks for protobuf and then falls back). */
  v2Json(): Buffer {
    this.v2 ??= readFileSync(join(openapiDir, 'v2.json'));
    return this.v2;
  }

  private builtin(path: string): Document | undefined {
    if (!builtinV3Paths.includes(path)) return undefined;
    let doc = this.builtinV3.get(path);
    if (!doc) {
      const text = readFileSync(fileFor(path), 'utf8');
      doc = { text, hash: hashOf(text) };
      this.builtinV3.set(path, doc);
    }
    return doc;
  }

  private customPaths(): string[] {
    const paths = new Set<string>();
    for (const d of this.registry.all()) if (d.custom) paths.add(`apis/${d.group}/${d.version}`);
    return [...paths];
  }

  /** /openapi/v3: where each group-version's document is, with content hashes. */
  v3Index(): object {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const path of [...builtinV3Paths, ...this.customPaths()]) {
      const doc = this.v3(path);
      if (doc) paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${doc.hash}` };
    }
    return { paths };
  }

  /** /openapi/v3/<path>, e.g. "api/v1" or "apis/example.io/v1". */
  v3(path: string): Document | undefined {
    const builtin = this.builtin(path);
    if (builtin) return builtin;
    const m = /^apis\/([^/]+)\/([^/]+)$/.exec(path);
    if (!m) return undefined;
    const descriptors = this.registry.inGroupVersion(m[1]!, m[2]!).filter((d) => d.custom);
    if (descriptors.length === 0) return undefined;
    const text = JSON.stringify(this.customDocument(descriptors));
    return { text, hash: hashOf(text) };
  }

  private customDocument(descriptors: ResourceDescriptor[]): object {
    const paths: Record<string, unknown> = {};
    const schemas: Record<string, unknown> = { ...this.metaSchemas };
    for (const d of descriptors) {
      const gvk = [{ group: d.group, version: d.version, kind: d.kind }];
      const schemaName = `${d.group.split('.').reverse().join('.')}.${d.version}.${d.kind}`;
      const ref = { $ref: `#/components/schemas/${schemaName}` };
      const base = (d.custom?.schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }) as Record<string, any>;
      schemas[schemaName] = {
        ...base,
        properties: {
          ...(base.properties ?? {}),
          apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
          kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
          metadata: { allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }], description: 'Standard object\'s metadata.' },
        },
        'x-kubernetes-group-version-kind': gvk,
      };
      schemas[`${schemaName}List`] = {
        type: 'object',
        required: ['items'],
        properties: {
          apiVersion: { type: 'string' },
          items: { type: 'array', items: ref },
          kind: { type: 'string' },
          metadata: { allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta' }] },
        },
        'x-kubernetes-group-version-kind': [{ ...gvk[0], kind: d.listKind }],
      };
      const writeParams = ['dryRun', 'fieldManager', 'fieldValidation'].map((name) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } }));
      const json = (schema: object): object => ({ content: { 'application/json': { schema } } });
      const op = (action: string, extra: object = {}): object => ({
        'x-kubernetes-action': action,
        'x-kubernetes-group-version-kind': gvk[0],
        responses: { '200': { description: 'OK', ...json(ref) } },
        ...extra,
      });
      const prefix = `/apis/${d.group}/${d.version}${d.namespaced ? '/namespaces/{namespace}' : ''}/${d.plural}`;
      paths[prefix] = {
        get: op('list'),
        post: op('post', { parameters: writeParams, requestBody: json(ref) }),
        delete: op('deletecollection'),
      };
      const patchBody = { content: Object.fromEntries(['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'].map((t) => [t, { schema: { type: 'object' } }])) };
      paths[`${prefix}/{name}`] = {
        get: op('get'),
        put: op('put', { parameters: writeParams, requestBody: json(ref) }),
        patch: op('patch', { parameters: [...writeParams, { name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } }], requestBody: patchBody }),
        delete: op('delete'),
      };
      if (d.subresources.includes('status')) {
        paths[`${prefix}/{name}/status`] = {
          get: op('get'),
          put: op('put', { parameters: writeParams, requestBody: json(ref) }),
          patch: op('patch', { parameters: writeParams, requestBody: patchBody }),
        };
      }
    }
    return {
      openapi: '3.0.0',
      info: { title: 'Kubernetes CRD Swagger', version: 'v0.1.0' },
      paths,
      components: { schemas },
    };
  }
}
