// One Upgrade (WebSocket, h2c, ...) or CONNECT request from a tunnel, sent to the pod by undici,
// which parses the pod's answer. Only a `101 Switching Protocols` to an Upgrade, or a `2xx` to a
// CONNECT, makes the rest of the stream opaque (relayed both ways untouched). Any other answer
// is written back to the caller with its own framing and the stream returns to the HTTP parser,
// so a request sent after a declined upgrade is parsed and gets the verified identity like
// every other. Upgrades are rare and long-lived: closures per upgrade are fine here.
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { classifyProxyError, rawErrorResponse, statusForErrorCode } from '../proxy/error-responses.js';
import { forwardableResponseHeaders } from '../proxy/hop-by-hop-headers.js';
import type { InboundHttpTunnel } from './inbound-http-delivery.js';
import { relayTunnelToPod } from './tunnel-relay.js';

export interface InboundUpgradeRequest {
  req: IncomingMessage;
  stream: Duplex;
  /** Bytes the caller sent after the request head (not parsed yet). */
  head: Buffer;
  tunnel: InboundHttpTunnel;
  startedAtMs: number;
  /** The pod declined and its answer was relayed: the stream is HTTP again from `head` on. */
  onDeclined: (stream: Duplex, head: Buffer) => void;
}

export class InboundUpgradeExchange implements Dispatcher.DispatchHandler {
  private abortPod: ((err?: Error) => void) | null = null;
  private responded = false;
  private chunked = false;
  private bodyless = false;
  private recorded = false;
  private resumePod: (() => void) | null = null;
  private readonly isConnect: boolean;
  private readonly closeAfter: boolean;

  constructor(private readonly request: InboundUpgradeRequest) {
    this.isConnect = request.req.method === 'CONNECT';
    this.closeAfter = this.isConnect || !keepsAlive(request.req);
    request.stream.once('close', this.onStreamClose);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortPod = abort;
    if (this.request.stream.destroyed) abort(new Error('the caller went away'));
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, podSocket: Duplex): void {
    const { stream, head } = this.request;
    this.responded = true;
    this.record(statusCode);
    const switched = this.isConnect ? statusCode >= 200 && statusCode < 300 : statusCode === 101;
    if (!switched || stream.destroyed) {
      // Only a CONNECT answered with a refusal gets here: say so and close, nothing follows.
      podSocket.destroy();
      if (!stream.destroyed) {
        stream.end(statusLine(statusCode, '') + headerLines(forwardableResponseHeaders(asBuffers(rawHeaders))) + 'content-length: 0\r\nconnection: close\r\n\r\n', 'latin1');
      }
      return;
    }
    // 101 keeps its Connection/Upgrade headers: they are what tells the caller it switched.
    let response = statusLine(statusCode, '');
    const raw = asBuffers(rawHeaders);
    for (let i = 0; i < raw.length; i += 2) response += `${raw[i]!.toString('latin1')}: ${raw[i + 1]!.toString('latin1')}\r\n`;
    stream.write(response + '\r\n', 'latin1');
    if (head.length > 0) podSocket.write(head);
    relayTunnelToPod(stream, podSocket as net.Socket);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // Informational answers other than 101 are not relayed; the final one follows.
    if (statusCode < 200) return true;
    const { stream, req } = this.request;
    this.responded = true;
    this.record(statusCode);
    const headers = forwardableResponseHeaders(rawHeaders);
    this.bodyless = statusCode === 204 || statusCode === 304 || req.method === 'HEAD';
    const hasLength = headers.some((value, index) => index % 2 === 0 && value.toLowerCase() === 'content-length');
    this.chunked = !this.bodyless && !hasLength;
    let head = statusLine(statusCode, statusText) + headerLines(headers);
    if (this.chunked) head += 'transfer-encoding: chunked\r\n';
    if (this.closeAfter) head += 'connection: close\r\n';
    stream.write(head + '\r\n', 'latin1');
    this.resumePod = resume;
    stream.on('drain', resume);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.bodyless) return true;
    const stream = this.request.stream;
    if (!this.chunked) return stream.write(chunk);
    stream.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    stream.write(chunk);
    return stream.write('\r\n', 'latin1');
  }

  onComplete(): void {
    const { stream, head } = this.request;
    if (this.chunked) stream.write('0\r\n\r\n', 'latin1');
    if (this.resumePod !== null) stream.off('drain', this.resumePod);
    stream.off('close', this.onStreamClose);
    if (this.closeAfter) stream.end();
    else this.request.onDeclined(stream, head);
  }

  onError(err: Error): void {
    const { stream, tunnel } = this.request;
    stream.off('close', this.onStreamClose);
    if (stream.destroyed) return;
    if (this.responded) {
      stream.destroy();
      return;
    }
    const code = classifyProxyError(err);
    tunnel.log.warn({ code, upstream: tunnel.target.key, err }, 'upgrade: the pod did not answer');
    this.record(statusForErrorCode(code));
    stream.end(rawErrorResponse(code));
  }

  private readonly onStreamClose = (): void => {
    this.abortPod?.(new Error('the caller went away'));
    this.record(0);
  };

  private record(statusCode: number): void {
    if (this.recorded) return;
    this.recorded = true;
    this.request.tunnel.traffic.recordRequest(statusCode, (performance.now() - this.request.startedAtMs) / 1000);
  }
}

function statusLine(statusCode: number, statusText: string): string {
  return `HTTP/1.1 ${statusCode} ${statusText || STATUS_CODES[statusCode] || 'Unknown'}\r\n`;
}

function headerLines(flat: readonly string[]): string {
  let out = '';
  for (let i = 0; i < flat.length; i += 2) out += `${flat[i]}: ${flat[i + 1]}\r\n`;
  return out;
}

function asBuffers(raw: Buffer[] | string[] | null): Buffer[] {
  if (raw === null) return [];
  return raw.map((value) => (typeof value === 'string' ? Buffer.from(value, 'latin1') : value));
}


/** Whether the caller expects the connection to stay open after this exchange (RFC 9112 9.3). */
function keepsAlive(req: IncomingMessage): boolean {
  const connection = (req.headers.connection ?? '').toLowerCase();
  if (/(^|,)\s*close\s*(,|$)/.test(connection)) return false;
  return req.httpVersion === '1.1' || /(^|,)\s*keep-alive\s*(,|$)/.test(connection);
}
