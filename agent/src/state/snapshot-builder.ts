// Builds an immutable MeshSnapshot from the cluster caches. Pure: the same caches give the same
// snapshot, so it is tested without a cluster.
import { buildAuthzTable, type AuthzTable } from '../authz/authz-table.js';
import { validatePolicyOnce } from '../authz/policy-validation.js';
import type { ClusterCaches } from '../k8s/cluster-caches.js';
import type { Pod, Service } from '../k8s/kube-types.js';
import { enrolledNamespaces, isPodEnrolled, strictNamespaces } from './enrollment.js';
import {
  serviceAddressKey,
  type Endpoint,
  type MeshService,
  type MeshSnapshot,
  type PodInfo,
  type ServicePort,
  type ServiceTarget,
} from './mesh-snapshot.js';
import { workloadName } from './workload-name.js';

export interface SnapshotInput {
  version: number;
  nodeName: string;
  nodeIp: string;
  caches: ClusterCaches;
}

function podInfo(pod: Pod, enrolled: ReadonlySet<string>): PodInfo | undefined {
  const ip = pod.status?.podIP;
  const meta = pod.metadata;
  if (!ip || !meta?.name || !meta.namespace || !meta.uid) return undefined;
  // host-network pods share the node's IP: they are not mesh workloads
  if (pod.spec?.hostNetwork) return undefined;
  return {
    uid: meta.uid,
    namespace: meta.namespace,
    name: meta.name,
    ip,
    nodeName: pod.spec?.nodeName ?? '',
    hostIp: pod.status?.hostIP ?? '',
    workload: workloadName(pod),
    serviceAccount: podServiceAccount(pod),
    enrolled: isPodEnrolled(pod, enrolled),
  };
}

/** The pod's service account; Kubernetes fills in `default` when the spec names none. */
function podServiceAccount(pod: Pod): string {
  return pod.spec?.serviceAccountName || 'default';
}

function servicePorts(service: Service): ServicePort[] {
  return (service.spec?.ports ?? [])
    .filter((p) => (p.protocol ?? 'TCP') === 'TCP')
    .map((p) => ({ name: p.name, port: p.port, protocol: p.protocol ?? 'TCP', appProtocol: p.appProtocol }));
}

export function buildSnapshot(input: SnapshotInput): MeshSnapshot {
  const { caches } = input;
  const enrolled = enrolledNamespaces(caches.namespaces());
  const strict = strictNamespaces(caches.namespaces());

  const podsByIp = new Map<string, PodInfo>();
  const podsByUid = new Map<string, PodInfo>();
  for (const pod of [...caches.allPods(), ...caches.localPods()]) {
    const info = podInfo(pod, enrolled);
    if (!info) continue;
    podsByIp.set(info.ip, info);
    podsByUid.set(info.uid, info);
  }

  const nodeZones = new Map<string, string>();
  const podCIDRs = new Set<string>();
  for (const node of caches.nodes()) {
    const zone = node.metadata?.labels?.['topology.kubernetes.io/zone'];
    if (node.metadata?.name && zone) nodeZones.set(node.metadata.name, zone);
    for (const cidr of node.spec?.podCIDRs ?? (node.spec?.podCIDR ? [node.spec.podCIDR] : [])) {
      if (!cidr.includes(':')) podCIDRs.add(cidr);
    }
  }

  // Endpoints per (namespace/service, port name) from every slice of the service.
  const endpointsByServicePortName = new Map<string, Endpoint[]>();
  for (const slice of caches.endpointSlices()) {
    if (slice.addressType !== 'IPv4') continue;
    const serviceName = slice.metadata?.labels?.['kubernetes.io/service-name'];
    const namespace = slice.metadata?.namespace;
    if (!serviceName || !namespace) continue;
    for (const port of slice.ports ?? []) {
      if (port.port === undefined || (port.protocol ?? 'TCP') !== 'TCP') continue;
      const key = `${namespace}/${serviceName}/${port.name ?? ''}`;
      let list = endpointsByServicePortName.get(key);
      if (!list) endpointsByServicePortName.set(key, (list = []));
      for (const endpoint of slice.endpoints ?? []) {
        const ready = endpoint.conditions?.ready !== false;
        for (const ip of endpoint.addresses ?? []) {
          const pod = endpoint.targetRef?.uid ? podsByUid.get(endpoint.targetRef.uid) : podsByIp.get(ip);
          list.push({
            ip,
            port: port.port,
            ready,
            nodeName: endpoint.nodeName,
            zone: endpoint.zone ?? (endpoint.nodeName ? nodeZones.get(endpoint.nodeName) : undefined),
            pod,
          });
        }
      }
    }
  }

  const servicesByAddress = new Map<string, ServiceTarget>();
  for (const service of caches.services()) {
    const clusterIP = service.spec?.clusterIP;
    const name = service.metadata?.name;
    const namespace = service.metadata?.namespace;
    if (!clusterIP || clusterIP === 'None' || clusterIP.includes(':') || !name || !namespace) continue;
    const ports = servicePorts(service);
    const endpointsByPort = new Map<number, Endpoint[]>();
    for (const port of ports) {
      const all = endpointsByServicePortName.get(`${namespace}/${name}/${port.name ?? ''}`) ?? [];
      endpointsByPort.set(port.port, all.filter((e) => e.ready));
    }
    const meshService: MeshService = { namespace, name, clusterIP, ports, endpointsByPort };
    for (const port of ports) {
      servicesByAddress.set(serviceAddressKey(clusterIP, port.port), { service: meshService, port });
    }
  }

  const authz = authzTable(caches, enrolled);
  return Object.freeze({
    authz,
    version: input.version,
    nodeName: input.nodeName,
    nodeIp: input.nodeIp,
    servicesByAddress,
    podsByIp,
    podCIDRs: [...podCIDRs].sort(),
    enrolledLocalPods: caches
      .localPods()
      .filter((pod) => pod.metadata?.uid && isPodEnrolled(pod, enrolled))
      .map((pod) => ({
        uid: pod.metadata!.uid!,
        namespace: pod.metadata!.namespace ?? '',
        name: pod.metadata!.name ?? '',
        serviceAccount: podServiceAccount(pod),
        // Strict mTLS, or a policy that would deny plaintext: either way the kernel drops it.
        strict: strict.has(pod.metadata!.namespace ?? '') || authz.plaintextGuardedUids.has(pod.metadata!.uid!),
        mtlsStrict: strict.has(pod.metadata!.namespace ?? ''),
      })),
  });
}

/** The inputs of the last authorization table, by object identity (informers replace changed objects). */
let lastAuthz: { inputs: readonly (readonly object[])[]; enrolled: ReadonlySet<string>; table: AuthzTable } | undefined;

/**
 * The policies of every enrolled pod: this node's are enforced by its HBONE server, the others'
 * tell which connects its pods may be refused at connect() already (connect-deny-entries.ts).
 * Rebuilt only when a policy, a namespace, a pod or a Service changed: endpoint changes, the
 * most frequent ones, reuse the last table.
 */
function authzTable(caches: ClusterCaches, enrolled: ReadonlySet<string>): AuthzTable {
  const inputs = [caches.authorizationPolicies(), caches.clusterAuthorizationPolicies(), caches.namespaces(), caches.localPods(), caches.allPods(), caches.services()];
  if (lastAuthz !== undefined && sameSets(lastAuthz.enrolled, enrolled) && inputs.every((list, i) => sameObjects(list, lastAuthz!.inputs[i]!))) return lastAuthz.table;
  const table = buildAuthzTableFrom(caches, enrolled);
  lastAuthz = { inputs, enrolled, table };
  return table;
}

function sameObjects(a: readonly object[], b: readonly object[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameSets(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const v of a) if (!b.has(v)) return false;
  return true;
}

function buildAuthzTableFrom(caches: ClusterCaches, enrolled: ReadonlySet<string>): AuthzTable {
  const policies = [
    ...caches.authorizationPolicies().map((p) => validatePolicyOnce('AuthorizationPolicy', p)),
    ...caches.clusterAuthorizationPolicies().map((p) => validatePolicyOnce('ClusterAuthorizationPolicy', p)),
  ];
  const selectors = new Map<string, Record<string, string>>();
  for (const service of caches.services()) {
    const selector = service.spec?.selector;
    if (selector) selectors.set(`${service.metadata?.namespace}/${service.metadata?.name}`, selector);
  }
  // Local pods first: one without an IP yet still needs its plaintext guard decided.
  const byUid = new Map<string, Pod>();
  for (const pod of [...caches.localPods(), ...caches.allPods()]) if (pod.metadata?.uid && !byUid.has(pod.metadata.uid)) byUid.set(pod.metadata.uid, pod);
  const workloads = [...byUid.values()]
    .filter((pod) => !pod.spec?.hostNetwork && pod.metadata?.namespace && isPodEnrolled(pod, enrolled))
    .map((pod) => ({ uid: pod.metadata!.uid!, ip: pod.status?.podIP ?? '', namespace: pod.metadata!.namespace!, workload: workloadName(pod), labels: pod.metadata?.labels ?? {} }));
  return buildAuthzTable({
    policies,
    namespaces: caches.namespaces().map((ns) => ({ name: ns.metadata?.name ?? '', labels: ns.metadata?.labels ?? {} })),
    workloads,
    serviceSelector: (namespace, name) => selectors.get(`${namespace}/${name}`),
  });
}
