// The accounting of an HBONE server built without metrics (tests of the tunnel itself): the
// same TrafficMetrics type as the agent's, on a registry nobody scrapes.
import { Registry } from 'prom-client';
import { ProxyMetrics, UNKNOWN_DESTINATION, UNKNOWN_SOURCE } from '../metrics/proxy-metrics.js';
import type { InboundTunnelEvent, TunnelAccounting } from './inbound-tunnel-accounting.js';

let accounting: TunnelAccounting | undefined;

export function unobservedTunnel(_event: InboundTunnelEvent): TunnelAccounting {
  accounting ??= {
    requests: new ProxyMetrics(new Registry(), { reporter: 'destination' }).traffic(UNKNOWN_SOURCE, UNKNOWN_DESTINATION),
    ended: () => undefined,
  };
  return accounting;
}
