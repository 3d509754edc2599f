// Where one request or opaque connection goes, with the metric labels of that destination
// already built. Objects are cached per snapshot object (see route-table.ts), so the hot path
// reuses them instead of building strings per request.
import type { DestinationLabels } from '../metrics/proxy-metrics.js';

export interface UpstreamTarget {
  readonly ip: string;
  readonly port: number;
  /** `ip:port`, the key of the endpoint's connection pool. */
  readonly key: string;
  readonly labels: DestinationLabels;
}
