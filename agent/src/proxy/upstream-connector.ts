// The single step that opens a byte stream to an endpoint. Both the L7 pools and the opaque TCP
// relay go through it, so the issue "Workload identity and mutual TLS between nodes" can swap
// this plain TCP connector for an HBONE tunnel (HTTP/2 CONNECT over mTLS) in one place.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { ProxyErrorCode } from './error-codes.js';
import { ProxyError } from './proxy-error.js';
import type { SourceWorkload } from './source-workload.js';
import type { UpstreamTarget } from './upstream-target.js';

export type UpstreamConnectCallback = (err: Error | null, stream: Duplex | null) => void;

export interface UpstreamConnector {
  /**
   * Calls back once with a connected stream, or with an error (codes as in net: ECONNREFUSED,
   * ..., or a ProxyError). `source` is the workload that opened the client connection (null when
   * the snapshot does not know it); a connector that crosses nodes speaks with its identity.
   */
  connect(target: UpstreamTarget, source: SourceWorkload | null, callback: UpstreamConnectCallback): void;
}

export interface PlainTcpConnectorOptions {
  connectTimeoutMs: number;
}

/** Plain TCP to the endpoint, with a connect timeout and Nagle off (the proxy writes whole messages). */
export class PlainTcpConnector implements UpstreamConnector {
  private readonly connectTimeoutMs: number;

  constructor(options: PlainTcpConnectorOptions) {
    if (!(options.connectTimeoutMs > 0)) {
      throw new Error(`connectTimeoutMs must be a positive number of milliseconds, got ${options.connectTimeoutMs}`);
    }
    this.connectTimeoutMs = options.connectTimeoutMs;
  }

  connect(target: UpstreamTarget, _source: SourceWorkload | null, callback: UpstreamConnectCallback): void {
    new PendingTcpConnect(target.ip, target.port, this.connectTimeoutMs, callback);
  }
}

/** One connection attempt; per connection, not per request, so a small object is fine. */
class PendingTcpConnect {
  private readonly socket: net.Socket;
  private readonly timer: NodeJS.Timeout;
  private settled = false;

  constructor(
    private readonly ip: string,
    private readonly port: number,
    timeoutMs: number,
    private readonly callback: UpstreamConnectCallback,
  ) {
    this.socket = net.connect({ host: ip, port, noDelay: true, allowHalfOpen: true });
    this.socket.once('connect', this.onConnect);
    this.socket.once('error', this.onError);
    this.timer = setTimeout(this.onTimeoutTimer, timeoutMs);
  }

  // A blocked event loop runs due timers before the poll phase that would report a connect
  // that completed in time; deciding in the check phase (setImmediate) lets it arrive first.
  private readonly onTimeoutTimer = (): void => {
    setImmediate(this.onTimeout);
  };

  private readonly onConnect = (): void => {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.socket.off('error', this.onError);
    this.callback(null, this.socket);
  };

  private readonly onError = (err: Error): void => {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.callback(err, null);
  };

  private readonly onTimeout = (): void => {
    if (this.settled) return;
    this.settled = true;
    this.socket.off('error', this.onError);
    // A late error on the abandoned socket must not crash the process.
    this.socket.on('error', ignoreAbandonedSocketError);
    this.socket.destroy();
    this.callback(
      new ProxyError(
        ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT,
        `connecting to ${this.ip}:${this.port} timed out; maybe a NetworkPolicy or firewall drops the traffic`,
      ),
      null,
    );
  };
}

function ignoreAbandonedSocketError(): void {
  // The attempt already failed with a timeout and was reported; what the destroyed socket says
  // afterwards has no one left to tell.
}
