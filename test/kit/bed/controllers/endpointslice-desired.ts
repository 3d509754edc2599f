// What the EndpointSlices of one Service should contain, computed the way kube-controller-manager's
// EndpointSlice controller (pkg/controller/endpointslice, 1.26) does it. Pure functions: the
// controller feeds them its informer caches and diffs the result against the slices it owns.
import type {
  DiscoveryV1EndpointPort,
  V1Endpoint,
  V1EndpointSlice,
  V1Node,
  V1OwnerReference,
  V1Pod,
  V1Service,
  V1ServicePort,
} from '@kubernetes/client-node';
import { hasReadyCondition } from '../pod-conditions.js';

export const serviceNameLabel = 'kubernetes.io/service-name';
export const managedByLabel = 'endpointslice.kubernetes.io/managed-by';
export const controllerName = 'endpointslice-controller.k8s.io';
export const headlessLabel = 'service.kubernetes.io/headless';
export const zoneLabel = 'topology.kubernetes.io/zone';
/** The real controller's default --max-endpoints-per-slice. */
export const maxEndpointsPerSlice = 100;

/** The content the controller owns in one slice (metadata name/uid/RV stay the server's). */
export interface DesiredSlice {
  /** Identifies the resolved port set; slices are reused only for the same set. */
  portKey: string;
  labels: Record<string, string>;
  ownerReferences: V1OwnerReference[];
  addressType: 'IPv4';
  endpoints: V1Endpoint[];
  ports: DiscoveryV1EndpointPort[];
}

/**
 * Services without a selector get their slices from users, ExternalName services get none: the
 * controller leaves the former alone and removes its own slices of both.
 */
export function serviceWantsSlices(service: V1Service): boolean {
  const selector = service.spec?.selector;
  return (
    selector !== undefined &&
    selector !== null &&
    Object.keys(selector).length > 0 &&
    service.spec?.type !== 'ExternalName'
  );
}

export function selectorMatches(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/** endpointutil.ShouldPodBeInEndpoints with terminating pods included (EndpointSlice behaviour). */
export function podBelongsInSlices(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  return ipv4Addresses(pod).length > 0;
}

export function desiredEndpointSlices(
  service: V1Service,
  pods: readonly V1Pod[],
  nodeByName: (name: string) => V1Node | undefined,
): DesiredSlice[] {
  const namespace = service.metadata?.namespace;
  const labels = sliceLabels(service);
  const ownerReferences = [serviceOwnerReference(service)];
  const groups = new Map<string, { ports: DiscoveryV1EndpointPort[]; endpoints: V1Endpoint[] }>();
  for (const pod of pods) {
    if (pod.metadata?.namespace !== namespace) continue;
    if (!selectorMatches(service.spec?.selector, pod.metadata?.labels)) continue;
    if (!podBelongsInSlices(pod)) continue;
    const ports = endpointPorts(service, pod);
    const portKey = canonicalJson(sortPorts(ports));
    let group = groups.get(portKey);
    if (!group) {
      group = { ports, endpoints: [] };
      groups.set(portKey, group);
    }
    group.endpoints.push(podEndpoint(pod, service, nodeByName));
  }
  if (groups.size === 0) {
    // Like the real controller: a selector Service with no endpoints keeps one empty placeholder
    // slice, so consumers can tell "no ready pods" from "controller has not run".
    return [{ portKey: canonicalJson([]), labels, ownerReferences, addressType: 'IPv4', endpoints: [], ports: [] }];
  }
  const slices: DesiredSlice[] = [];
  for (const [portKey, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const endpoints = group.endpoints.sort((a, b) => endpointSortKey(a).localeCompare(endpointSortKey(b)));
    for (let start = 0; start < endpoints.length; start += maxEndpointsPerSlice) {
      slices.push({
        portKey,
        labels,
        ownerReferences,
        addressType: 'IPv4',
        endpoints: endpoints.slice(start, start + maxEndpointsPerSlice),
        ports: group.ports,
      });
    }
  }
  return slices;
}

/** The port-set key of an existing slice, comparable with DesiredSlice.portKey. */
export function slicePortKey(slice: V1EndpointSlice): string {
  return canonicalJson(sortPorts(slice.ports ?? []));
}

/** Whether an existing slice already holds the desired content (then it is not written). */
export function sliceMatches(slice: V1EndpointSlice, desired: DesiredSlice): boolean {
  return (
    slice.addressType === desired.addressType &&
    canonicalJson(slice.metadata?.labels ?? {}) === canonicalJson(desired.labels) &&
    canonicalJson(slice.metadata?.ownerReferences ?? []) === canonicalJson(desired.ownerReferences) &&
    canonicalJson(slice.ports ?? []) === canonicalJson(desired.ports) &&
    canonicalJson(sortEndpoints(slice.endpoints ?? [])) === canonicalJson(desired.endpoints)
  );
}

export function serviceOwnerReference(service: V1Service): V1OwnerReference {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    name: service.metadata?.name ?? '',
    uid: service.metadata?.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Service labels (minus the reserved ones) plus the controller's own, as setEndpointSliceLabels. */
function sliceLabels(service: V1Service): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(service.metadata?.labels ?? {})) {
    if (key === serviceNameLabel || key === managedByLabel || key === headlessLabel) continue;
    labels[key] = value;
  }
  const clusterIP = service.spec?.clusterIP;
  if (clusterIP === undefined || clusterIP === '' || clusterIP === 'None') labels[headlessLabel] = '';
  labels[serviceNameLabel] = service.metadata?.name ?? '';
  labels[managedByLabel] = controllerName;
  return labels;
}

/** getEndpointPorts: Service ports with targetPort resolved against this pod; unresolvable ones are left out. */
function endpointPorts(service: V1Service, pod: V1Pod): DiscoveryV1EndpointPort[] {
  const ports: DiscoveryV1EndpointPort[] = [];
  for (const servicePort of service.spec?.ports ?? []) {
    const port = resolveTargetPort(servicePort, pod);
    if (port === undefined) continue;
    const endpointPort: DiscoveryV1EndpointPort = {
      name: servicePort.name ?? '',
      protocol: servicePort.protocol ?? 'TCP',
      port,
    };
    if (servicePort.appProtocol !== undefined) endpointPort.appProtocol = servicePort.appProtocol;
    ports.push(endpointPort);
  }
  return ports;
}

/** podutil.FindPort: a number is taken as is, a name is looked up in the pod's container ports. */
function resolveTargetPort(servicePort: V1ServicePort, pod: V1Pod): number | undefined {
  const target: unknown = servicePort.targetPort ?? servicePort.port;
  if (typeof target === 'number') return target;
  if (typeof target !== 'string' || target === '') return undefined;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = servicePort.protocol ?? 'TCP';
  for (const container of pod.spec?.containers ?? []) {
    for (const containerPort of container.ports ?? []) {
      if (containerPort.name === target && (containerPort.protocol ?? 'TCP') === protocol) {
        return containerPort.containerPort;
      }
    }
  }
  return undefined;
}

/** podToEndpoint: ready never holds for a terminating pod (publishNotReadyAddresses aside). */
function podEndpoint(
  pod: V1Pod,
  service: V1Service,
  nodeByName: (name: string) => V1Node | undefined,
): V1Endpoint {
  const serving = hasReadyCondition(pod);
  const terminating = Boolean(pod.metadata?.deletionTimestamp);
  const ready = service.spec?.publishNotReadyAddresses === true || (serving && !terminating);
  const endpoint: V1Endpoint = {
    addresses: ipv4Addresses(pod),
    conditions: { ready, serving, terminating },
  };
  const hostname = pod.spec?.hostname;
  if (hostname && pod.spec?.subdomain === service.metadata?.name) endpoint.hostname = hostname;
  endpoint.targetRef = {
    kind: 'Pod',
    namespace: pod.metadata?.namespace,
    name: pod.metadata?.name,
    uid: pod.metadata?.uid,
  };
  const nodeName = pod.spec?.nodeName;
  if (nodeName) {
    endpoint.nodeName = nodeName;
    const zone = nodeByName(nodeName)?.metadata?.labels?.[zoneLabel];
    if (zone) endpoint.zone = zone;
  }
  return endpoint;
}


function ipv4Addresses(pod: V1Pod): string[] {
  const ips = (pod.status?.podIPs ?? []).map((entry) => entry.ip);
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips.filter((ip) => /^\d{1,3}(\.\d{1,3}){3}$/.test(ip)).slice(0, 1);
}

function sortPorts(ports: readonly DiscoveryV1EndpointPort[]): DiscoveryV1EndpointPort[] {
  return [...ports].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
}

function sortEndpoints(endpoints: readonly V1Endpoint[]): V1Endpoint[] {
  return [...endpoints].sort((a, b) => endpointSortKey(a).localeCompare(endpointSortKey(b)));
}

function endpointSortKey(endpoint: V1Endpoint): string {
  return `${endpoint.targetRef?.namespace ?? ''}/${endpoint.targetRef?.name ?? ''}/${endpoint.addresses.join(',')}`;
}

/**
 * JSON with sorted keys and undefined dropped, so objects from a list (deserialized by
 * client-node) and from a watch (raw JSON) compare equal when their content is.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner instanceof Date) return inner.toISOString();
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(inner).sort()) {
        const field = (inner as Record<string, unknown>)[key];
        if (field !== undefined) sorted[key] = field;
      }
      return sorted;
    }
    return inner;
  });
}
