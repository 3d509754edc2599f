// The agents' counters that tell the benchmark's paths apart, picked out of their metrics and
// /debug/identities: what the client node's proxy counted (reporter="source"), what the server
// node's HBONE server delivered from the meshed client's identity (reporter="destination"), and
// how many TLS sessions the client node's HBONE connector has opened (one handshake each).
import type { Sample } from '../../agent/src/cli/prometheus-text.js';
import { sumMetric } from '../e2e/bed-fixture.js';

export interface MeshCounters {
  /** weft_requests_total{reporter="source"} of the client node: requests its proxy forwarded. */
  proxyRequests: number;
  /** weft_tcp_connections_opened_total{reporter="source"} of the client node: client connections its proxy accepted. */
  proxyConnections: number;
  /** Connections the server node's HBONE server opened to the server pod for the client's identity. */
  tunnelledOpened: number;
  tunnelledClosed: number;
  /** Bytes those connections carried back to the client (the responses), counted when each ends. */
  tunnelledSentBytes: number;
  /** TLS sessions the client node's HBONE connector opened since start; null without an HBONE connector. */
  tunnelSessionsOpened: number | null;
}

export interface OutboundTunnels {
  sessions: number;
  sessionsOpened: number;
}

export interface MeshCounterSources {
  clientNodeSamples: readonly Sample[];
  /** The same samples as clientNodeSamples when server and client share a node. */
  serverNodeSamples: readonly Sample[];
  outboundTunnels: OutboundTunnels | null;
  clientIdentity: string;
  serverWorkload: string;
}

export function meshCountersFrom(sources: MeshCounterSources): MeshCounters {
  const source = { reporter: 'source' };
  const tunnelled = {
    reporter: 'destination',
    source_principal: sources.clientIdentity,
    destination_workload: sources.serverWorkload,
    connection_security_policy: 'mutual_tls',
  };
  const tunnels = sources.outboundTunnels;
  if (tunnels !== null && !(Number.isInteger(tunnels.sessionsOpened) && tunnels.sessionsOpened >= 0)) {
    throw new Error(`/debug/identities outboundTunnels has no sessionsOpened count: ${JSON.stringify(tunnels)}`);
  }
  return {
    proxyRequests: sumMetric(sources.clientNodeSamples, 'weft_requests_total', source),
    proxyConnections: sumMetric(sources.clientNodeSamples, 'weft_tcp_connections_opened_total', source),
    tunnelledOpened: sumMetric(sources.serverNodeSamples, 'weft_tcp_connections_opened_total', tunnelled),
    tunnelledClosed: sumMetric(sources.serverNodeSamples, 'weft_tcp_connections_closed_total', tunnelled),
    tunnelledSentBytes: sumMetric(sources.serverNodeSamples, 'weft_tcp_sent_bytes_total', tunnelled),
    tunnelSessionsOpened: tunnels === null ? null : tunnels.sessionsOpened,
  };
}
