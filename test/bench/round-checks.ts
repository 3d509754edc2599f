// What every round must show to count, as a pure function of its record: wrk completed requests
// with 2xx answers; the direct path touched neither agent; the meshed path went through the
// client node's proxy (its count covers every request wrk completed) and through the server
// node's HBONE server (it opened a mutual-TLS connection from the client's identity); a
// new-connection round opened one client TCP connection per request. The HBONE byte check comes
// later (hboneBytesProblem), once the round's tunnelled connections have ended.
import type { RoundRecord } from './bench-round.js';

export function roundProblem(record: RoundRecord): string | null {
  const what = `${record.phase} round ${record.round} (${record.path}, -c${record.load.connections}${record.load.newConnections ? ', Connection: close' : ''})`;
  if (record.wrk.requests === 0) return `${what}: wrk completed no request`;
  if (record.wrk.errors.status > 0) return `${what}: ${record.wrk.errors.status} responses were not 2xx/3xx`;
  if (record.path === 'direct') {
    if (record.proxyRequestsCounted !== 0 || record.proxyConnectionsCounted !== 0 || record.tunnelledConnectionsOpened !== 0) {
      return `${what}: the direct path is not direct: the proxy counted ${record.proxyRequestsCounted} requests and `
        + `${record.proxyConnectionsCounted} connections, the HBONE server opened ${record.tunnelledConnectionsOpened} tunnelled connections`;
    }
  } else {
    // wrk counts responses it read; the proxy may also have finished a few that were in flight when wrk stopped.
    if (record.proxyRequestsCounted < record.wrk.requests) {
      return `${what}: wrk completed ${record.wrk.requests} requests but the proxy counted only ${record.proxyRequestsCounted}: not all went through it`;
    }
    if (record.tunnelHandshakes === null) return `${what}: the client node's agent has no HBONE connector (no mTLS on the meshed path)`;
    if (record.tunnelledConnectionsOpened < 1) {
      return `${what}: the meshed path did not go through HBONE: the server node's `
        + 'weft_tcp_connections_opened_total{reporter="destination"} for the client\'s identity did not move';
    }
  }
  if (record.load.newConnections === true) {
    if (record.clientConnectsOpened < record.wrk.requests) {
      return `${what}: the client pod opened ${record.clientConnectsOpened} TCP connections for ${record.wrk.requests} requests: not one per request`;
    }
    if (record.path === 'meshed' && record.proxyConnectionsCounted < record.wrk.requests) {
      return `${what}: the proxy accepted ${record.proxyConnectionsCounted} client connections for ${record.wrk.requests} requests: not one per request`;
    }
  }
  return null;
}

/**
 * After a meshed round's tunnelled connections ended: the server node's HBONE server must have
 * carried at least one response body back per request wrk completed, else responses came some
 * other way.
 */
export function hboneBytesProblem(record: RoundRecord, bytesBack: number, bodyBytes: number): string | null {
  if (bytesBack >= record.wrk.requests * bodyBytes) return null;
  return `${record.phase} round ${record.round} (meshed): the server node's HBONE server sent ${bytesBack} bytes back for `
    + `${record.wrk.requests} requests of a ${bodyBytes}-byte body: the responses did not all come through the tunnel`;
}

/** TLS handshakes per 1000 requests: ~0 when sessions are pooled, 1000 for one handshake per request. */
export function handshakesPer1000(handshakes: number, requests: number): number {
  if (!(requests > 0)) throw new RangeError(`handshakes per 1000 requests needs requests > 0, got ${requests}`);
  return (handshakes / requests) * 1000;
}
