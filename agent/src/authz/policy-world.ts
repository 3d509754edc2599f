// What `weft policy explain` evaluates against: the policies, namespaces, Services and pods of a
// cluster (read through the API) or of YAML files (offline, so policies can be checked in CI
// before they are applied). It feeds the same table builder and evaluator as the agent.
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Labels } from '../k8s/label-selector.js';
import type { PolicyDefinition } from './policy-definition.js';
import { validatePolicy } from './policy-validation.js';

export interface PolicyWorld {
  policies: PolicyDefinition[];
  namespaces: Map<string, Labels>;
  /** `${namespace}/${name}` -> the Service's selector and ports. */
  services: Map<string, { selector: Labels; ports: { port: number; targetPort: number | string | undefined; name?: string }[] }>;
  /** Pods (or pod templates of workloads) with their namespace and labels. */
  pods: { namespace: string; name: string; labels: Labels; /** Named container ports (a Service's named targetPort). */ ports: Record<string, number> }[];
}

export function emptyWorld(): PolicyWorld {
  return { policies: [], namespaces: new Map(), services: new Map(), pods: [] };
}

type Obj = KubernetesObject & { spec?: Record<string, any> };

const NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * Makes a namespace known with at least the label kube-apiserver gives every namespace
 * (`kubernetes.io/metadata.name`), so selectors by name work for namespaces the files only mention.
 */
export function ensureNamespace(world: PolicyWorld, name: string, labels: Record<string, string> = {}): void {
  world.namespaces.set(name, { ...(world.namespaces.get(name) ?? {}), ...labels, [NAME_LABEL]: name });
}

/** Adds one object; kinds the evaluation does not need are ignored. */
export function addObject(world: PolicyWorld, object: Obj): void {
  const meta = object.metadata ?? {};
  const namespace = meta.namespace ?? 'default';
  if (object.kind !== 'Namespace' && object.kind !== 'ClusterAuthorizationPolicy' && object.kind !== 'List' && !world.namespaces.has(namespace)) ensureNamespace(world, namespace);
  switch (object.kind) {
    case 'AuthorizationPolicy':
      world.policies.push(validatePolicy('AuthorizationPolicy', { ...object, metadata: { ...meta, namespace } }));
      break;
    case 'ClusterAuthorizationPolicy':
      world.policies.push(validatePolicy('ClusterAuthorizationPolicy', object));
      break;
    case 'Namespace':
      if (meta.name) ensureNamespace(world, meta.name, meta.labels ?? {});
      break;
    case 'Service':
      if (meta.name) {
        world.services.set(`${namespace}/${meta.name}`, {
          selector: object.spec?.selector ?? {},
          ports: (object.spec?.ports ?? []).map((p: any) => ({ port: p.port, targetPort: p.targetPort, name: p.name })),
        });
      }
      break;
    case 'Pod':
      world.pods.push({ namespace, name: meta.name ?? '', labels: meta.labels ?? {}, ports: namedPorts(object.spec) });
      break;
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
      world.pods.push({ namespace, name: meta.name ?? '', labels: object.spec?.template?.metadata?.labels ?? {}, ports: namedPorts(object.spec?.template?.spec) });
      break;
    case 'List':
      for (const item of (object as unknown as { items?: Obj[] }).items ?? []) addObject(world, item);
      break;
  }
}

function namedPorts(podSpec: Record<string, any> | undefined): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const container of podSpec?.containers ?? []) {
    for (const port of container?.ports ?? []) if (typeof port?.name === 'string') ports[port.name] = port.containerPort;
  }
  return ports;
}

/** Every YAML/JSON document of the files given (directories: their *.yaml, *.yml, *.json, recursively). */
export async function loadWorldFromFiles(paths: readonly string[]): Promise<PolicyWorld> {
  const world = emptyWorld();
  for (const file of await expandFiles(paths)) {
    const text = await readFile(file, 'utf8');
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const object = doc.toJS() as Obj | null;
      if (object && typeof object === 'object') addObject(world, object);
    }
  }
  return world;
}

async function expandFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    if ((await stat(path)).isDirectory()) {
      const entries = (await readdir(path)).sort();
      files.push(...(await expandFiles(entries.filter((e) => !e.startsWith('.')).map((e) => join(path, e)))).filter((f) => /\.(ya?ml|json)$/.test(f)));
    } else {
      files.push(path);
    }
  }
  return files;
}
