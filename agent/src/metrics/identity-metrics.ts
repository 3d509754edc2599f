// Metrics of the agent's workload identities: when each certificate expires (alert before it
// does), how the CA answers, and why TLS handshakes on the HBONE port fail. Label values are
// SPIFFE IDs of this node's workloads (bounded by its pods) and short codes from fixed sets.
import { Counter, Gauge, type Registry } from 'prom-client';

export type HandshakeDirection = 'inbound' | 'outbound';

export class IdentityMetrics {
  /** Seconds since the epoch at which each identity's current certificate expires. */
  readonly certificateExpiry: Gauge<'identity'>;
  /** CreateCertificate calls by outcome. */
  readonly caRequests: Counter<'result'>;
  /** Failed or refused HBONE TLS handshakes, by side and reason. */
  readonly handshakeFailures: Counter<'direction' | 'reason'>;

  constructor(registry: Registry) {
    this.certificateExpiry = new Gauge({
      name: 'weft_identity_cert_expiry_timestamp_seconds',
      help: 'When the current certificate of each workload identity on this node expires (Unix seconds)',
      labelNames: ['identity'],
      registers: [registry],
    });
    this.caRequests = new Counter({
      name: 'weft_ca_requests_total',
      help: 'Certificate requests this agent sent to weft ca, by result (ok or error)',
      labelNames: ['result'],
      registers: [registry],
    });
    this.handshakeFailures = new Counter({
      name: 'weft_tls_handshake_failures_total',
      help: 'HBONE TLS handshakes that failed or whose peer was refused, by direction and reason',
      labelNames: ['direction', 'reason'],
      registers: [registry],
    });
  }

  certificateChanged(identity: string, notAfterMs: number | undefined): void {
    if (notAfterMs === undefined) this.certificateExpiry.remove(identity);
    else this.certificateExpiry.labels(identity).set(Math.floor(notAfterMs / 1000));
  }

  handshakeFailed(direction: HandshakeDirection, reason: string): void {
    this.handshakeFailures.labels(direction, reason).inc();
  }
}
