// What the inbound side reports about each tunnel it delivers, for destination-side metrics:
// the types shared by the HBONE server, its HTTP delivery and the metrics that count them.
import type { TrafficMetrics } from '../metrics/proxy-metrics.js';
import type { SpiffeId } from './workload-credentials.js';

/** What the inbound side learnt about one tunnelled connection (metrics, authorization). */
export interface InboundTunnelEvent {
  /** The verified SPIFFE ID of the calling workload (metrics: source_principal). */
  sourceIdentity: SpiffeId;
  /** The identity this node presented (the destination pod's service account). */
  destinationIdentity: SpiffeId;
  targetIp: string;
  targetPort: number;
  /** Always mutual_tls here (metrics: connection_security_policy). */
  securityPolicy: 'mutual_tls';
}

export interface TunnelBytes {
  /** Bytes from the calling workload, written to the pod. */
  fromPeer: number;
  /** Bytes from the pod, sent back to the calling workload. */
  toPeer: number;
}

/** The counters of one delivered tunnel. */
export interface TunnelAccounting {
  /** Where the HTTP requests carried by the tunnel are recorded (reporter="destination"). */
  readonly requests: TrafficMetrics;
  /** Called once when the tunnel ends, with the bytes each way. */
  ended(bytes: TunnelBytes): void;
}
