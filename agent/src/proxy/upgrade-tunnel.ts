// `Connection: upgrade` requests (WebSocket and friends): the request head is replayed to a
// fresh upstream connection and from then on bytes are relayed both ways untouched, so the
// upstream's 101 (or its refusal) and everything after reach the client as sent. Upgrades are
// rare and long-lived, so a closure per upgrade is fine here.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { TrafficMetrics } from '../metrics/proxy-metrics.js';
import { classifyProxyError, rawErrorResponse, statusForErrorCode } from './error-responses.js';
import { relayStreams } from './stream-relay.js';
import type { SourceWorkload } from './source-workload.js';
import type { UpstreamConnector } from './upstream-connector.js';
import type { UpstreamTarget } from './upstream-target.js';

export interface UpgradeTunnelRequest {
  req: IncomingMessage;
  client: Socket;
  /** Bytes the client sent after the request head. */
  head: Buffer;
  target: UpstreamTarget;
  source: SourceWorkload | null;
  connector: UpstreamConnector;
  traffic: TrafficMetrics;
  startedAtMs: number;
  log: Logger;
}

export function openUpgradeTunnel(request: UpgradeTunnelRequest): void {
  const { req, client, target, traffic, startedAtMs, log } = request;
  request.connector.connect(target, request.source, (err, upstream) => {
    if (err !== null || upstream === null) {
      const code = classifyProxyError(err);
      log.warn({ code, upstream: target.key, err }, 'upgrade: connecting upstream failed');
      client.end(rawErrorResponse(code));
      traffic.recordRequest(statusForErrorCode(code), secondsSince(startedAtMs));
      return;
    }
    if (client.destroyed) {
      upstream.destroy();
      traffic.recordRequest(0, secondsSince(startedAtMs));
      return;
    }
    upstream.write(requestHead(req), 'latin1');
    if (request.head.length > 0) upstream.write(request.head);
    recordStatusOfFirstResponse(upstream, traffic, startedAtMs);
    relayStreams(client, upstream, null);
  });
}

function requestHead(req: IncomingMessage): string {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  // Connection and Upgrade are kept: they are what asks the upstream to switch protocols.
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return head + '\r\n';
}

/** Counts the request with the status of the upstream's first response line (101 when it switched). */
function recordStatusOfFirstResponse(upstream: Duplex, traffic: TrafficMetrics, startedAtMs: number): void {
  let recorded = false;
  const record = (statusCode: number): void => {
    if (recorded) return;
    recorded = true;
    traffic.recordRequest(statusCode, secondsSince(startedAtMs));
  };
  upstream.once('data', (chunk: Buffer) => {
    // "HTTP/1.1 101 ..." -> the three digits at offset 9.
    const status = chunk.length >= 12 ? Number(chunk.toString('latin1', 9, 12)) : NaN;
    record(Number.isInteger(status) && status >= 100 && status <= 999 ? status : 0);
  });
  upstream.once('close', () => record(0));
}

function secondsSince(startedAtMs: number): number {
  return (performance.now() - startedAtMs) / 1000;
}
