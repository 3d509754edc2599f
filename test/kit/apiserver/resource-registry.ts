// What the server serves: one descriptor per resource (built-in kinds, plus those that
// CustomResourceDefinitions add at run time). Routing, discovery and storage all read these.

export type NameRule = 'dns1123subdomain' | 'dns1035label' | 'dns1123label' | 'path';

/**
 * When metadata.generation moves: 'spec' = on a change to spec, 'spec-or-annotations' = on a change
 * to spec or annotations (Deployments: annotations are copied to ReplicaSets), 'non-metadata' = on any change
 * outside metadata (and outside status when a status subresource exists), 'never' = no generation.
 */
export type GenerationPolicy = 'spec' | 'spec-or-annotations' | 'non-metadata' | 'never';

export interface CustomResourceInfo {
  /** Name of the CRD that defines the resource. */
  crdName: string;
  /** openAPIV3Schema of this version; undefined when the CRD declared none. */
  schema: object | undefined;
  /** additionalPrinterColumns of this version (what `kubectl get` shows). */
  printerColumns: PrinterColumn[];
}

export interface PrinterColumn {
  name: string;
  type?: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface ResourceDescriptor {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  /** Subresources served besides the object itself, e.g. 'status', 'finalize'. */
  subresources: string[];
  storageVersionHash?: string;
  nameRule: NameRule;
  generation: GenerationPolicy;
  /** Set for custom resources. */
  custom?: CustomResourceInfo;
}

export function apiVersionOf(d: { group: string; version: string }): string {
  return d.group === '' ? d.version : `${d.group}/${d.version}`;
}

/** Storage key shared by all versions of one resource. */
export function storageKeyOf(d: { group: string; plural: string }): string {
  return `${d.group}/${d.plural}`;
}

const allVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function builtin(partial: Partial<ResourceDescriptor> & Pick<ResourceDescriptor, 'group' | 'version' | 'plural' | 'kind' | 'namespaced'>): ResourceDescriptor {
  return {
    singular: partial.kind.toLowerCase(),
    listKind: `${partial.kind}List`,
    shortNames: [],
    categories: [],
    verbs: allVerbs,
    subresources: [],
    nameRule: 'dns1123subdomain',
    generation: 'never',
    ...partial,
  };
}

/** The built-in resources, with the discovery facts (short names, hashes) of a real 1.26 server. */
export const builtinResources: ResourceDescriptor[] = [
  builtin({ group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'], storageVersionHash: 'qFsyl6wFWjQ=' }),
  builtin({ group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'], storageVersionHash: 'r2yiGXH7wu8=' }),
  builtin({
    group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], subresources: ['finalize', 'status'],
    storageVersionHash: 'Q3oi5N2YM8M=', nameRule: 'dns1123label', generation: 'never',
  }),
  builtin({ group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, shortNames: ['no'], subresources: ['status'], storageVersionHash: 'XwShjMxG9Fs=' }),
  builtin({ group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'], subresources: ['status'], storageVersionHash: 'xPOwRZ+Yhw8=', generation: 'never' }),
  builtin({ group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, storageVersionHash: 'S6u1pOWzb84=' }),
  builtin({ group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'], subresources: ['token'], storageVersionHash: 'pbx9ZvyFpBE=' }),
  builtin({
    group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, shortNames: ['svc'], categories: ['all'],
    subresources: ['status'], storageVersionHash: '0/CO1lhkEBI=', nameRule: 'dns1035label', generation: 'never',
  }),
  // Groups in the order a real 1.26 server lists them in /apis.
  builtin({
    group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], categories: ['all'],
    subresources: ['status'], storageVersionHash: 'dd7pWHUlMKQ=', generation: 'spec',
  }),
  builtin({
    group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'],
    subresources: ['status'], storageVersionHash: '8aSe+NMegvE=', generation: 'spec-or-annotations',
  }),
  // Create-only and never stored: the server answers it from the token it reviews.
  builtin({ group: 'authentication.k8s.io', version: 'v1', plural: 'tokenreviews', kind: 'TokenReview', namespaced: false, verbs: ['create'] }),
  // Create-only reviews the authorizer answers (access-review-handler.ts).
  builtin({ group: 'authorization.k8s.io', version: 'v1', plural: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview', namespaced: false, verbs: ['create'] }),
  builtin({ group: 'authorization.k8s.io', version: 'v1', plural: 'selfsubjectrulesreviews', kind: 'SelfSubjectRulesReview', namespaced: false, verbs: ['create'] }),
  builtin({ group: 'authorization.k8s.io', version: 'v1', plural: 'subjectaccessreviews', kind: 'SubjectAccessReview', namespaced: false, verbs: ['create'] }),
  // RBAC names are path segments (ValidateRBACName), e.g. "system:discovery".
  builtin({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false, storageVersionHash: '48tpQ8gZHFc=', nameRule: 'path' }),
  builtin({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false, storageVersionHash: 'bYE5ZWDrJ44=', nameRule: 'path' }),
  builtin({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true, storageVersionHash: 'eGsCzGH6b1g=', nameRule: 'path' }),
  builtin({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role', namespaced: true, storageVersionHash: '7FuwZcIIItM=', nameRule: 'path' }),
  builtin({
    group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false,
    shortNames: ['crd', 'crds'], categories: ['api-extensions'], subresources: ['status'], storageVersionHash: 'jfWCUB31mvA=', generation: 'spec',
  }),
  builtin({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, storageVersionHash: 'gqkMMb/YqFM=' }),
  builtin({ group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true, storageVersionHash: 'Nx3SIv6I0mE=', generation: 'non-metadata' }),
];

export interface GroupVersions {
  group: string;
  /** Served versions, preferred first. */
  versions: string[];
}

export class ResourceRegistry {
  private readonly builtins: ResourceDescriptor[];
  /** Custom resources by CRD name: all served versions of that CRD. */
  private readonly customByCrd = new Map<string, ResourceDescriptor[]>();

  constructor(builtins: ResourceDescriptor[] = builtinResources) {
    this.builtins = builtins;
  }

  all(): ResourceDescriptor[] {
    return [...this.builtins, ...[...this.customByCrd.values()].flat()];
  }

  find(group: string, version: string, plural: string): ResourceDescriptor | undefined {
    return this.all().find((d) => d.group === group && d.version === version && d.plural === plural);
  }

  /** Every served version of one resource (custom resources may have several). */
  versionsOf(group: string, plural: string): ResourceDescriptor[] {
    return this.all().filter((d) => d.group === group && d.plural === plural);
  }

  inGroupVersion(group: string, version: string): ResourceDescriptor[] {
    return this.all().filter((d) => d.group === group && d.version === version);
  }

  /** Groups in the order real servers list them (built-ins first, then CRD groups). */
  groups(): GroupVersions[] {
    const out: GroupVersions[] = [];
    for (const d of this.all()) {
      let entry = out.find((g) => g.group === d.group);
      if (!entry) {
        entry = { group: d.group, versions: [] };
        out.push(entry);
      }
      if (!entry.versions.includes(d.version)) entry.versions.push(d.version);
    }
    return out;
  }

  setCustom(crdName: string, descriptors: ResourceDescriptor[]): void {
    this.customByCrd.set(crdName, descriptors);
  }

  removeCustom(crdName: string): void {
    this.customByCrd.delete(crdName);
  }

  customOf(crdName: string): ResourceDescriptor[] {
    return this.customByCrd.get(crdName) ?? [];
  }
}
