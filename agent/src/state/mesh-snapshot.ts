// The immutable picture of the mesh that the data path reads. One updater (state/) builds a
// new snapshot from the Kubernetes caches and swaps it in; the proxy only reads the current
// one, so its per-connection path never awaits the API server. Nothing here is mutated after
// the snapshot is published.
import { EMPTY_AUTHZ_TABLE, type AuthzTable } from '../authz/authz-table.js';

/** A pod anywhere in the cluster, as far as the mesh cares. */
export interface PodInfo {
  uid: string;
  namespace: string;
  name: string;
  ip: string;
  nodeName: string;
  /** The IP of the pod's node (status.hostIP): where its node's HBONE listener is. */
  hostIp: string;
  /** Workload name for metrics: the owner (ReplicaSet's Deployment, StatefulSet, ...), else the `app` label, else the pod name. */
  workload: string;
  serviceAccount: string;
  /** In an enrolled namespace and not opted out. */
  enrolled: boolean;
}

/** One backend address of a Service port, from an EndpointSlice. */
export interface Endpoint {
  ip: string;
  /** The resolved target port on the pod. */
  port: number;
  ready: boolean;
  nodeName?: string;
  zone?: string;
  /** The pod behind the address, when the slice names one and it is known. */
  pod?: PodInfo;
}

export interface ServicePort {
  name?: string;
  port: number;
  /** 'TCP' only is proxied today. */
  protocol: string;
  /** `appProtocol` from the Service port: 'tcp' forces opaque TCP; 'http' skips detection. */
  appProtocol?: string;
}

export interface MeshService {
  namespace: string;
  name: string;
  clusterIP: string;
  ports: readonly ServicePort[];
  /** Ready endpoints per service port number. */
  endpointsByPort: ReadonlyMap<number, readonly Endpoint[]>;
}

/** What a ClusterIP:port destination resolves to. */
export interface ServiceTarget {
  service: MeshService;
  port: ServicePort;
}

export interface MeshSnapshot {
  /** Increases with every published snapshot. */
  readonly version: number;
  /** This node's name and IP. */
  readonly nodeName: string;
  readonly nodeIp: string;
  /** Keyed by `${clusterIP}:${port}`. */
  readonly servicesByAddress: ReadonlyMap<string, ServiceTarget>;
  /** Every known pod with an IP, keyed by pod IP. */
  readonly podsByIp: ReadonlyMap<string, PodInfo>;
  /** The cluster's pod CIDRs (from Node objects), e.g. '10.244.1.0/24'. */
  readonly podCIDRs: readonly string[];
  /** Pods on this node that are enrolled, IP or not yet (their cgroups get the programs). */
  readonly enrolledLocalPods: readonly LocalPodRef[];
  /** The authorization policies of this node's enrolled pods, in evaluation order. */
  readonly authz: AuthzTable;
}

export interface LocalPodRef {
  uid: string;
  namespace: string;
  name: string;
  /** Its identity: the agent holds a certificate for every enrolled local pod's service account. */
  serviceAccount: string;
  /** Its namespace is in strict mTLS mode (weft.io/mtls=strict). */
  strict: boolean;
  /**
   * Its namespace is in strict mTLS mode (no plaintext at all). When `strict` is set without it,
   * the ingress program is there for the pod's authorization policies, and the plaintext sources
   * they allow (ipBlock) pass.
   */
  mtlsStrict: boolean;
}

export function serviceAddressKey(ip: string, port: number): string {
  return `${ip}:${port}`;
}

export const EMPTY_SNAPSHOT: MeshSnapshot = Object.freeze({
  version: 0,
  nodeName: '',
  nodeIp: '',
  servicesByAddress: new Map(),
  podsByIp: new Map(),
  podCIDRs: [],
  enrolledLocalPods: [],
  authz: EMPTY_AUTHZ_TABLE,
});
