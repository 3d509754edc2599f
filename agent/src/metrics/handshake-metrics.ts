// Failed or refused HBONE TLS handshakes, counted where they happen: in the proxy workers
// (the control thread sums every worker's count into the node's /metrics page). Reasons come
// from a fixed set (peer-identity.ts), so the series stay bounded.
import { Counter, type Registry } from 'prom-client';

export type HandshakeDirection = 'inbound' | 'outbound';

export class HandshakeMetrics {
  private readonly failures: Counter<'direction' | 'reason'>;

  constructor(registry: Registry) {
    this.failures = new Counter({
      name: 'weft_tls_handshake_failures_total',
      help: 'HBONE TLS handshakes that failed or whose peer was refused, by direction and reason',
      labelNames: ['direction', 'reason'],
      registers: [registry],
    });
  }

  handshakeFailed(direction: HandshakeDirection, reason: string): void {
    this.failures.labels(direction, reason).inc();
  }
}
