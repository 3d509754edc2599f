// Where one request or opaque connection goes, with the metric labels of that destination
// already built. Objects are cached per snapshot object (see route-table.ts), so the hot path
// reuses them instead of building strings per request.
import type { DestinationLabels } from '../metrics/proxy-metrics.js';
import type { PodInfo } from '../state/mesh-snapshot.js';

export interface UpstreamTarget {
  readonly ip: string;
  readonly port: number;
  /** `ip:port`, the key of the endpoint's connection pool. */
  readonly key: string;
  readonly labels: DestinationLabels;
  /**
   * The destination pod as the snapshot knew it when the target was built (undefined for
   * addresses that are not known pods). The connector reads its node and service account to
   * decide between local TCP and an HBONE tunnel to the pod's node.
   */
  readonly pod?: PodInfo;
}
