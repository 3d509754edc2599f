// The pod-side connections of one tunnel that carries HTTP/1.x: an undici Client (one request
// at a time, in the order the caller sent them) whose first connection is the one opened when
// the CONNECT arrived (so the tunnel was only accepted once the pod was reachable); if the pod
// closes it, the next request opens another. Bytes are counted over every connection, for the
// destination side's TCP metrics.
import type net from 'node:net';
import type { Socket } from 'node:net';
import { Client, type buildConnector } from 'undici';
import { PlainTcpConnector } from '../proxy/upstream-connector.js';
import type { UpstreamTarget } from '../proxy/upstream-target.js';
import type { TunnelBytes } from './inbound-tunnel-accounting.js';

export interface LocalPodConnectionsOptions {
  target: UpstreamTarget;
  /** The connection opened when the CONNECT arrived; handed to the first request. */
  first: net.Socket;
  connectTimeoutMs: number;
  /** How long a response may take to start, and the longest pause inside its body. */
  responseTimeoutMs: number;
}

export class LocalPodConnections {
  readonly client: Client;
  private first: net.Socket | null;
  private readonly live = new Set<net.Socket>();
  /** Bytes of connections already closed (a long tunnel may reconnect many times). */
  private closedBytes: TunnelBytes = { fromPeer: 0, toPeer: 0 };
  private readonly connector: PlainTcpConnector;
  private readonly target: UpstreamTarget;

  constructor(options: LocalPodConnectionsOptions) {
    this.target = options.target;
    this.first = options.first;
    this.track(options.first);
    this.connector = new PlainTcpConnector({ connectTimeoutMs: options.connectTimeoutMs });
    this.client = new Client(`http://${options.target.ip}:${options.target.port}`, {
      connect: this.connect,
      pipelining: 1,
      headersTimeout: options.responseTimeoutMs,
      bodyTimeout: options.responseTimeoutMs,
      // The tunnel's life bounds the pod connection's; the pod's own Keep-Alive hint still wins.
      keepAliveTimeout: options.responseTimeoutMs,
      keepAliveMaxTimeout: options.responseTimeoutMs,
    });
  }

  /** Bytes written to and read from the pod over all connections so far. */
  bytes(): TunnelBytes {
    let { fromPeer, toPeer } = this.closedBytes;
    for (const socket of this.live) {
      fromPeer += socket.bytesWritten;
      toPeer += socket.bytesRead;
    }
    return { fromPeer, toPeer };
  }

  /** Ends every pod connection, failing what is still in flight. */
  destroy(): Promise<void> {
    this.first?.destroy();
    this.first = null;
    return this.client.destroy();
  }

  private readonly connect: buildConnector.connector = (_options, callback) => {
    const first = this.first;
    this.first = null;
    if (first !== null && !first.destroyed && first.readyState === 'open') {
      // undici must be called back later than the call: a callback from inside connect() is
      // taken while the client is still resuming, and the request then never starts.
      process.nextTick(callback, null, first as Socket);
      return;
    }
    first?.destroy();
    this.connector.connect(this.target, null, (err, stream) => {
      if (err !== null || stream === null) {
        callback(err ?? new Error('connecting the pod failed'), null);
        return;
      }
      this.track(stream as net.Socket);
      callback(null, stream as Socket);
    });
  };

  private track(socket: net.Socket): void {
    this.live.add(socket);
    // undici reports failures of the requests it runs; an error on a connection it does not
    // hold at that moment must not become an uncaught exception.
    socket.on('error', ignoreSocketError);
    socket.once('close', () => {
      this.live.delete(socket);
      this.closedBytes = {
        fromPeer: this.closedBytes.fromPeer + socket.bytesWritten,
        toPeer: this.closedBytes.toPeer + socket.bytesRead,
      };
    });
  }
}

function ignoreSocketError(): void {}
