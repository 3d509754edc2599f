// Turns an original destination into a route, and a route into an upstream target per request
// or opaque connection, reading only the current immutable MeshSnapshot.
//
// - `clusterIP:port` of a Service -> its ready endpoints for that port, round robin per
//   service port (the cursor survives snapshot swaps);
// - a pod IP (known pod, or any address inside the pod CIDRs) -> that ip:port directly;
// - anything else -> passed through untouched as opaque TCP, labelled "unknown".
//
// Metric label objects and upstream targets are cached per snapshot object (WeakMaps keyed by
// the immutable PodInfo / MeshService / Endpoint), so per request nothing is built.
import type { Endpoint, MeshService, MeshSnapshot, PodInfo, ServiceTarget } from '../state/mesh-snapshot.js';
import { serviceAddressKey } from '../state/mesh-snapshot.js';
import {
  UNKNOWN_DESTINATION,
  UNKNOWN_LABEL,
  UNKNOWN_SOURCE,
  type DestinationLabels,
  type SourceLabels,
} from '../metrics/proxy-metrics.js';
import { formatWorkloadSpiffeId } from '../identity/spiffe-id.js';
import { Ipv4CidrSet } from './ipv4-cidr-set.js';
import type { SourceWorkload } from './source-workload.js';
import { transportPoolKey, type UpstreamTarget } from './upstream-target.js';

/** How the first bytes of a connection are treated. */
export type ProtocolHint = 'sniff' | 'http1' | 'tcp';

interface RoundRobinCursor {
  next: number;
}

export interface ServiceRoute {
  readonly kind: 'service';
  /** `clusterIP:port`, looked up again in the current snapshot for every request. */
  readonly addressKey: string;
  readonly protocol: ProtocolHint;
  /** Service-level labels (destination workload unknown): L7 connections and no-endpoint errors. */
  readonly labels: DestinationLabels;
  readonly cursor: RoundRobinCursor;
}

export interface DirectRoute {
  readonly kind: 'direct';
  /** 'pod' for a mesh pod address, 'passthrough' for anything else (relayed untouched). */
  readonly reason: 'pod' | 'passthrough';
  readonly target: UpstreamTarget;
  readonly protocol: ProtocolHint;
}

export type ConnectionRoute = ServiceRoute | DirectRoute;

interface ServiceCache {
  readonly labels: DestinationLabels;
  readonly targets: WeakMap<Endpoint, UpstreamTarget>;
}

export class RouteTable {
  private readonly cursors = new Map<string, RoundRobinCursor>();
  private readonly sources = new WeakMap<PodInfo, SourceLabels>();
  private readonly sourceWorkloads = new WeakMap<PodInfo, SourceWorkload>();
  private readonly podDestinations = new WeakMap<PodInfo, DestinationLabels>();
  private readonly services = new WeakMap<MeshService, ServiceCache>();
  private readonly podCidrSets = new WeakMap<readonly string[], Ipv4CidrSet>();

  constructor(
    private readonly currentSnapshot: () => MeshSnapshot,
    /** Without one (no identities), source_principal stays unknown. */
    private readonly trustDomain?: string,
  ) {}

  sourceLabels(snapshot: MeshSnapshot, peerIp: string): SourceLabels {
    const pod = snapshot.podsByIp.get(peerIp);
    if (pod === undefined) return UNKNOWN_SOURCE;
    let labels = this.sources.get(pod);
    if (labels === undefined) {
      // The identity the mesh speaks for an enrolled source; others have none.
      const principal =
        pod.enrolled && this.trustDomain !== undefined
          ? formatWorkloadSpiffeId({ trustDomain: this.trustDomain, namespace: pod.namespace, serviceAccount: pod.serviceAccount })
          : UNKNOWN_LABEL;
      labels = Object.freeze({ workload: pod.workload, namespace: pod.namespace, principal });
      this.sources.set(pod, labels);
    }
    return labels;
  }

  /** The identity-relevant part of the source pod (null when the snapshot does not know it). */
  sourceWorkload(snapshot: MeshSnapshot, peerIp: string): SourceWorkload | null {
    const pod = snapshot.podsByIp.get(peerIp);
    if (pod === undefined) return null;
    let workload = this.sourceWorkloads.get(pod);
    if (workload === undefined) {
      workload = Object.freeze({
        namespace: pod.namespace,
        serviceAccount: pod.serviceAccount,
        key: `${pod.namespace}/${pod.serviceAccount}`,
      });
      this.sourceWorkloads.set(pod, workload);
    }
    return workload;
  }

  resolve(snapshot: MeshSnapshot, ip: string, port: number): ConnectionRoute {
    const addressKey = serviceAddressKey(ip, port);
    const serviceTarget = snapshot.servicesByAddress.get(addressKey);
    if (serviceTarget !== undefined) {
      let cursor = this.cursors.get(addressKey);
      if (cursor === undefined) {
        cursor = { next: 0 };
        this.cursors.set(addressKey, cursor);
      }
      return {
        kind: 'service',
        addressKey,
        protocol: protocolOf(serviceTarget),
        labels: this.serviceCache(serviceTarget.service).labels,
        cursor,
      };
    }
    const pod = snapshot.podsByIp.get(ip);
    if (pod !== undefined || this.podCidrs(snapshot).has(ip)) {
      const labels = pod === undefined ? UNKNOWN_DESTINATION : this.podDestinationLabels(pod);
      return { kind: 'direct', reason: 'pod', target: { ip, port, key: addressKey, poolKey: transportPoolKey(addressKey, pod), labels, pod }, protocol: 'sniff' };
    }
    return {
      kind: 'direct',
      reason: 'passthrough',
      target: { ip, port, key: addressKey, poolKey: transportPoolKey(addressKey, undefined), labels: UNKNOWN_DESTINATION },
      protocol: 'tcp',
    };
  }

  /**
   * The next ready endpoint of a service route in the current snapshot, or null when there is
   * none (also when the Service has disappeared since the connection was accepted).
   */
  pickServiceTarget(route: ServiceRoute): UpstreamTarget | null {
    const serviceTarget = this.currentSnapshot().servicesByAddress.get(route.addressKey);
    if (serviceTarget === undefined) return null;
    const endpoints = serviceTarget.service.endpointsByPort.get(serviceTarget.port.port);
    if (endpoints === undefined || endpoints.length === 0) return null;
    const count = endpoints.length;
    const start = route.cursor.next % count;
    for (let tried = 0; tried < count; tried++) {
      const index = (start + tried) % count;
      const endpoint = endpoints[index]!;
      if (!endpoint.ready) continue;
      route.cursor.next = index + 1;
      return this.endpointTarget(serviceTarget.service, endpoint);
    }
    return null;
  }

  private endpointTarget(service: MeshService, endpoint: Endpoint): UpstreamTarget {
    const cache = this.serviceCache(service);
    let target = cache.targets.get(endpoint);
    if (target === undefined) {
      const pod = endpoint.pod ?? this.currentSnapshot().podsByIp.get(endpoint.ip);
      const key = serviceAddressKey(endpoint.ip, endpoint.port);
      target = Object.freeze({
        ip: endpoint.ip,
        port: endpoint.port,
        key,
        poolKey: transportPoolKey(key, pod),
        labels: Object.freeze({
          service: cache.labels.service,
          workload: pod?.workload ?? UNKNOWN_LABEL,
          namespace: pod?.namespace ?? service.namespace,
        }),
        pod,
      });
      cache.targets.set(endpoint, target);
    }
    return target;
  }

  private serviceCache(service: MeshService): ServiceCache {
    let cache = this.services.get(service);
    if (cache === undefined) {
      cache = {
        labels: Object.freeze({
          service: `${service.name}.${service.namespace}.svc.cluster.local`,
          workload: UNKNOWN_LABEL,
          namespace: service.namespace,
        }),
        targets: new WeakMap(),
      };
      this.services.set(service, cache);
    }
    return cache;
  }

  private podDestinationLabels(pod: PodInfo): DestinationLabels {
    let labels = this.podDestinations.get(pod);
    if (labels === undefined) {
      labels = Object.freeze({ service: pod.workload, workload: pod.workload, namespace: pod.namespace });
      this.podDestinations.set(pod, labels);
    }
    return labels;
  }

  private podCidrs(snapshot: MeshSnapshot): Ipv4CidrSet {
    let set = this.podCidrSets.get(snapshot.podCIDRs);
    if (set === undefined) {
      set = new Ipv4CidrSet(snapshot.podCIDRs);
      this.podCidrSets.set(snapshot.podCIDRs, set);
    }
    return set;
  }
}

function protocolOf(target: ServiceTarget): ProtocolHint {
  const appProtocol = target.port.appProtocol?.toLowerCase();
  if (appProtocol === 'tcp') return 'tcp';
  if (appProtocol === 'http') return 'http1';
  return 'sniff';
}

/** The connection-level destination labels of a route. */
export function routeLabels(route: ConnectionRoute): DestinationLabels {
  return route.kind === 'service' ? route.labels : route.target.labels;
}
