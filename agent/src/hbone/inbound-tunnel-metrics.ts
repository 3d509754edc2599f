// Destination-side traffic metrics of the HBONE server: every tunnelled connection delivered to
// a pod of this node is counted with the verified source identity (source_principal) and
// connection_security_policy="mutual_tls" (set on the ProxyMetrics given), the same metric names
// as the outbound proxy's under reporter="destination"; HTTP requests on such a connection are
// counted in weft_requests_total{reporter="destination"} with the same labels. Label objects
// are cached per identity and per snapshot pod, so a tunnel costs two lookups.
import { parseWorkloadSpiffeId } from '../identity/spiffe-id.js';
import { UNKNOWN_DESTINATION, UNKNOWN_LABEL, type DestinationLabels, type ProxyMetrics, type SourceLabels } from '../metrics/proxy-metrics.js';
import type { MeshSnapshot, PodInfo } from '../state/mesh-snapshot.js';
import type { InboundTunnelEvent, TunnelAccounting } from './inbound-tunnel-accounting.js';

export class InboundTunnelMetrics {
  /** Keyed by verified SPIFFE ID: bounded by the cluster's service accounts. */
  private readonly sources = new Map<string, SourceLabels>();
  private readonly destinations = new WeakMap<PodInfo, DestinationLabels>();

  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly currentSnapshot: () => MeshSnapshot,
  ) {}

  /**
   * For HboneInboundServer's onTunnel: counts the connection now, its requests as they finish
   * and its bytes when it ends.
   */
  readonly onTunnel = (event: InboundTunnelEvent): TunnelAccounting => {
    const traffic = this.metrics.traffic(this.sourceLabels(event.sourceIdentity), this.destinationLabels(event.targetIp));
    traffic.connectionOpened();
    return {
      requests: traffic,
      ended: (bytes) => {
        // Client side of this reporter: received = from the calling workload, sent = back to it.
        traffic.addBytes(bytes.toPeer, bytes.fromPeer);
        traffic.connectionClosed();
      },
    };
  };

  private sourceLabels(identity: string): SourceLabels {
    let labels = this.sources.get(identity);
    if (labels === undefined) {
      // The source's workload name is not in its certificate; its namespace is.
      labels = Object.freeze({ workload: UNKNOWN_LABEL, namespace: parseWorkloadSpiffeId(identity).namespace, principal: identity });
      this.sources.set(identity, labels);
    }
    return labels;
  }

  private destinationLabels(podIp: string): DestinationLabels {
    const pod = this.currentSnapshot().podsByIp.get(podIp);
    if (pod === undefined) return UNKNOWN_DESTINATION;
    let labels = this.destinations.get(pod);
    if (labels === undefined) {
      labels = Object.freeze({ service: UNKNOWN_LABEL, workload: pod.workload, namespace: pod.namespace });
      this.destinations.set(pod, labels);
    }
    return labels;
  }
}
