// What the control thread sends a proxy worker when the snapshot changes: only the pods and
// Service targets whose objects changed (state/snapshot-reuse.ts keeps unchanged ones
// identical), the keys that went away, and the small lists when they changed. The worker
// rebuilds the full snapshot from the one it holds, keeping its own objects for everything
// that did not change, so its per-object caches survive, and a change to one Service among
// thousands costs the clone of that Service only.
import type { AuthzTable } from '../authz/authz-table.js';
import type { LocalPodRef, MeshSnapshot, PodInfo, ServiceTarget } from '../state/mesh-snapshot.js';

export interface SnapshotDelta {
  /** The version the delta applies to: the last snapshot sent to this worker. */
  baseVersion: number;
  version: number;
  nodeName: string;
  nodeIp: string;
  podsSet: [string, PodInfo][];
  podsDeleted: string[];
  servicesSet: [string, ServiceTarget][];
  servicesDeleted: string[];
  /** null: unchanged. */
  podCIDRs: readonly string[] | null;
  enrolledLocalPods: readonly LocalPodRef[] | null;
  /** null: unchanged. Sent whole: it changes with policies, rarely. */
  authz: AuthzTable | null;
}

export function snapshotDelta(base: MeshSnapshot, next: MeshSnapshot): SnapshotDelta {
  const pods = changedEntries(base.podsByIp, next.podsByIp);
  const services = changedEntries(base.servicesByAddress, next.servicesByAddress);
  return {
    baseVersion: base.version,
    version: next.version,
    nodeName: next.nodeName,
    nodeIp: next.nodeIp,
    podsSet: pods.set,
    podsDeleted: pods.deleted,
    servicesSet: services.set,
    servicesDeleted: services.deleted,
    podCIDRs: next.podCIDRs === base.podCIDRs ? null : next.podCIDRs,
    enrolledLocalPods: next.enrolledLocalPods === base.enrolledLocalPods ? null : next.enrolledLocalPods,
    authz: next.authz === base.authz ? null : next.authz,
  };
}

/** Entries whose value is another object than before (new or changed), and keys gone. */
function changedEntries<V>(base: ReadonlyMap<string, V>, next: ReadonlyMap<string, V>): { set: [string, V][]; deleted: string[] } {
  const set: [string, V][] = [];
  for (const [key, value] of next) if (base.get(key) !== value) set.push([key, value]);
  const deleted: string[] = [];
  for (const key of base.keys()) if (!next.has(key)) deleted.push(key);
  return { set, deleted };
}

/**
 * The snapshot `delta` describes, built on `current` (which must be the delta's base). Pods the
 * delta's Services point at are re-pointed at this side's objects for the same pod, so one pod
 * is one object here as on the control thread.
 */
export function applySnapshotDelta(current: MeshSnapshot, delta: SnapshotDelta): MeshSnapshot {
  if (delta.baseVersion !== current.version) {
    throw new Error(`snapshot delta for version ${delta.baseVersion} cannot apply to version ${current.version}`);
  }
  const podsByIp = new Map(current.podsByIp);
  for (const ip of delta.podsDeleted) podsByIp.delete(ip);
  for (const [ip, pod] of delta.podsSet) podsByIp.set(ip, pod);
  const servicesByAddress = new Map(current.servicesByAddress);
  for (const key of delta.servicesDeleted) servicesByAddress.delete(key);
  for (const [key, target] of delta.servicesSet) {
    for (const endpoints of target.service.endpointsByPort.values()) {
      for (const endpoint of endpoints) {
        const known = endpoint.pod === undefined ? undefined : podsByIp.get(endpoint.pod.ip);
        if (known !== undefined && known.uid === endpoint.pod!.uid) endpoint.pod = known;
      }
    }
    servicesByAddress.set(key, target);
  }
  return Object.freeze({
    version: delta.version,
    nodeName: delta.nodeName,
    nodeIp: delta.nodeIp,
    servicesByAddress,
    podsByIp,
    podCIDRs: delta.podCIDRs ?? current.podCIDRs,
    enrolledLocalPods: delta.enrolledLocalPods ?? current.enrolledLocalPods,
    authz: delta.authz ?? current.authz,
  });
}
