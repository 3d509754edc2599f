// Where one request or opaque connection goes, with the metric labels of that destination
// already built. Objects are cached per snapshot object (see route-table.ts), so the hot path
// reuses them instead of building strings per request.
import type { DestinationLabels } from '../metrics/proxy-metrics.js';
import type { PodInfo } from '../state/mesh-snapshot.js';

export interface UpstreamTarget {
  readonly ip: string;
  readonly port: number;
  /** `ip:port` (logs, round-robin state). */
  readonly key: string;
  /**
   * The key of the keep-alive pool that may carry requests to this target: the address plus
   * everything that decides how it is reached (plain TCP, or an HBONE tunnel to which node and
   * to which destination identity). When a snapshot changes any of these (a pod enrolled, an IP
   * reused by another pod), the key changes, so no pooled connection made under the old
   * decision carries a request made under the new one.
   */
  readonly poolKey: string;
  readonly labels: DestinationLabels;
  /**
   * The destination pod as the snapshot knew it when the target was built (undefined for
   * addresses that are not known pods). The connector reads its node and service account to
   * decide between local TCP and an HBONE tunnel to the pod's node.
   */
  readonly pod?: PodInfo;
}

/** UpstreamTarget.poolKey for an address and the pod the snapshot knows there (if any). */
export function transportPoolKey(addressKey: string, pod: PodInfo | undefined): string {
  return pod === undefined || !pod.enrolled
    ? `${addressKey} plain`
    : `${addressKey} hbone node=${pod.hostIp} identity=${pod.namespace}/${pod.serviceAccount}`;
}
