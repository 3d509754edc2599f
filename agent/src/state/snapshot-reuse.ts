// Keeps a new snapshot's objects identical (===) to the previous snapshot's wherever nothing
// changed: a pod whose fields are the same, a Service whose ports and endpoints are the same,
// the CIDR list and the enrolled-pod list. The data path caches per object (label objects per
// pod, round-robin state and upstream targets per Service, in WeakMaps), so those caches survive
// unrelated cluster events, and the control thread sends workers only what changed
// (workers/snapshot-delta.ts). Runs on a freshly built snapshot before it is published: the
// fresh objects are still private to the builder, so re-pointing their pods is safe.
import {
  serviceAddressKey,
  type Endpoint,
  type LocalPodRef,
  type MeshService,
  type MeshSnapshot,
  type PodInfo,
  type ServicePort,
  type ServiceTarget,
} from './mesh-snapshot.js';

export function reuseUnchanged(next: MeshSnapshot, previous: MeshSnapshot): MeshSnapshot {
  const podsByIp = new Map<string, PodInfo>();
  const replaced = new Map<PodInfo, PodInfo>();
  for (const [ip, pod] of next.podsByIp) {
    const before = previous.podsByIp.get(ip);
    const kept = before !== undefined && samePod(before, pod) ? before : pod;
    if (kept !== pod) replaced.set(pod, kept);
    podsByIp.set(ip, kept);
  }

  const servicesByAddress = new Map<string, ServiceTarget>();
  const keptServices = new Map<MeshService, MeshService>();
  for (const [key, target] of next.servicesByAddress) {
    let service = keptServices.get(target.service);
    if (service === undefined) {
      service = keepService(target.service, previous, replaced);
      keptServices.set(target.service, service);
    }
    const port = service.ports.find((p) => p.port === target.port.port) ?? target.port;
    const before = previous.servicesByAddress.get(key);
    servicesByAddress.set(key, before !== undefined && before.service === service && before.port === port ? before : { service, port });
  }

  return Object.freeze({
    version: next.version,
    nodeName: next.nodeName,
    nodeIp: next.nodeIp,
    servicesByAddress,
    podsByIp,
    podCIDRs: sameList(previous.podCIDRs, next.podCIDRs, (a, b) => a === b) ? previous.podCIDRs : next.podCIDRs,
    enrolledLocalPods: sameList(previous.enrolledLocalPods, next.enrolledLocalPods, sameLocalPod) ? previous.enrolledLocalPods : next.enrolledLocalPods,
    authz: previous.authz.fingerprint === next.authz.fingerprint ? previous.authz : next.authz,
  });
}

/** The previous snapshot's object for this Service when nothing in it changed, else the fresh one with kept pods. */
function keepService(fresh: MeshService, previous: MeshSnapshot, replaced: ReadonlyMap<PodInfo, PodInfo>): MeshService {
  for (const endpoints of fresh.endpointsByPort.values()) {
    for (const endpoint of endpoints as Endpoint[]) {
      const kept = endpoint.pod === undefined ? undefined : replaced.get(endpoint.pod);
      if (kept !== undefined) endpoint.pod = kept;
    }
  }
  const first = fresh.ports[0];
  const before = first === undefined ? undefined : previous.servicesByAddress.get(serviceAddressKey(fresh.clusterIP, first.port))?.service;
  return before !== undefined && sameService(before, fresh) ? before : fresh;
}

function sameService(a: MeshService, b: MeshService): boolean {
  if (a.namespace !== b.namespace || a.name !== b.name || a.clusterIP !== b.clusterIP) return false;
  if (!sameList(a.ports, b.ports, samePort) || a.endpointsByPort.size !== b.endpointsByPort.size) return false;
  for (const [port, endpoints] of a.endpointsByPort) {
    const other = b.endpointsByPort.get(port);
    if (other === undefined || !sameList(endpoints, other, sameEndpoint)) return false;
  }
  return true;
}

function samePort(a: ServicePort, b: ServicePort): boolean {
  return a.name === b.name && a.port === b.port && a.protocol === b.protocol && a.appProtocol === b.appProtocol;
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.ip === b.ip && a.port === b.port && a.ready === b.ready && a.nodeName === b.nodeName && a.zone === b.zone && a.pod === b.pod;
}

function samePod(a: PodInfo, b: PodInfo): boolean {
  return a.uid === b.uid && a.namespace === b.namespace && a.name === b.name && a.ip === b.ip && a.nodeName === b.nodeName
    && a.hostIp === b.hostIp && a.workload === b.workload && a.serviceAccount === b.serviceAccount && a.enrolled === b.enrolled;
}

function sameLocalPod(a: LocalPodRef, b: LocalPodRef): boolean {
  return a.uid === b.uid && a.namespace === b.namespace && a.name === b.name && a.serviceAccount === b.serviceAccount && a.strict === b.strict && a.mtlsStrict === b.mtlsStrict;
}

function sameList<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): boolean {
  return a.length === b.length && a.every((item, i) => same(item, b[i]!));
}
