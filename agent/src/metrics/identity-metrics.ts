// Metrics of the agent's workload identities, kept by the control thread: when each
// certificate expires (alert before it does) and how the CA answers. Label values are SPIFFE
// IDs of this node's workloads (bounded by its pods) and short codes from fixed sets. Handshake
// failures happen in the proxy workers (handshake-metrics.ts).
import { Counter, Gauge, type Registry } from 'prom-client';

export class IdentityMetrics {
  /** Seconds since the epoch at which each identity's current certificate expires. */
  readonly certificateExpiry: Gauge<'identity'>;
  /** CreateCertificate calls by outcome. */
  readonly caRequests: Counter<'result'>;

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
  }

  certificateChanged(identity: string, notAfterMs: number | undefined): void {
    if (notAfterMs === undefined) this.certificateExpiry.remove(identity);
    else this.certificateExpiry.labels(identity).set(Math.floor(notAfterMs / 1000));
  }
}
