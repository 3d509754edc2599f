// Discovery documents (/version, /api, /apis, /api/v1, /apis/<group>[/<version>]) in the legacy
// shapes of a real 1.26 server. kubectl asks for aggregated discovery first and falls back to
// these when the answer's content type is plain application/json.
import type { ResourceDescriptor, ResourceRegistry } from './resource-registry.js';
import { apiVersionOf } from './resource-registry.js';

export const versionInfo = {
  major: '1',
  minor: '26',
  gitVersion: 'v1.26.0',
  gitCommit: '8f94681cd294aa8cfd3407b8191f6c70214973a4',
  gitTreeState: 'clean',
  buildDate: '1970-01-01T00:00:00Z',
  goVersion: 'go1.19.8',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/** Kubernetes version priority: GA before beta before alpha, higher numbers first. */
export function compareKubeVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    const stability = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
    return [stability, Number(m[1]), Number(m[3] ?? 0)];
  };
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return rb[i]! - ra[i]!;
  return a.localeCompare(b);
}

export function apiVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupEntry(group: string, versions: string[]): object {
  const sorted = [...versions].sort(compareKubeVersions);
  const list = sorted.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { name: group, versions: list, preferredVersion: list[0] };
}

export function apiGroupList(registry: ResourceRegistry): object {
  const groups = registry.groups().filter((g) => g.group !== '').map((g) => groupEntry(g.group, g.versions));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiGroup(registry: ResourceRegistry, group: string): object | undefined {
  const entry = registry.groups().find((g) => g.group === group && group !== '');
  if (!entry) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(entry.group, entry.versions) };
}

const subresourceVerbs: Record<string, string[]> = {
  status: ['get', 'patch', 'update'],
  finalize: ['update'],
  token: ['create'],
};

/** Subresources whose kind lives in another group-version (serviceaccounts/token: TokenRequest). */
const foreignSubresourceKinds: Record<string, { group: string; version: string; kind: string }> = {
  'serviceaccounts/token': { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' },
};

function resourceEntries(d: ResourceDescriptor): object[] {
  const main: Record<string, unknown> = {
    name: d.plural,
    // Real 1.26 servers leave singularName empty for built-ins and fill it for custom resources.
    singularName: d.custom ? d.singular : '',
    namespaced: d.namespaced,
    kind: d.kind,
    verbs: d.verbs,
  };
  if (d.shortNames.length > 0) main.shortNames = d.shortNames;
  if (d.categories.length > 0) main.categories = d.categories;
  if (d.storageVersionHash) main.storageVersionHash = d.storageVersionHash;
  const subs = d.subresources.map((sub) => {
    const name = `${d.plural}/${sub}`;
    const foreign = d.group === '' ? foreignSubresourceKinds[name] : undefined;
    return {
      name,
      singularName: '',
      namespaced: d.namespaced,
      ...(foreign ? { group: foreign.group, version: foreign.version } : {}),
      kind: foreign?.kind ?? d.kind,
      verbs: subresourceVerbs[sub] ?? ['get'],
    };
  });
  return [main, ...subs];
}

export function apiResourceList(registry: ResourceRegistry, group: string, version: string): object | undefined {
  const descriptors = registry.inGroupVersion(group, version).sort((a, b) => a.plural.localeCompare(b.plural));
  if (descriptors.length === 0) return undefined;
  const doc: Record<string, unknown> = { kind: 'APIResourceList' };
  if (group !== '') doc.apiVersion = 'v1';
  doc.groupVersion = apiVersionOf({ group, version });
  doc.resources = descriptors.flatMap(resourceEntries);
  return doc;
}
