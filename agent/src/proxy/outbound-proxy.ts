// The node's outbound proxy (node IP:15001). The eBPF programs rewrite connections of enrolled
// pods to this listener; for each one the proxy asks where it was going (originalDestination),
// finds the source workload and the route in the current mesh snapshot, sniffs the protocol
// and proxies it at L7 (HTTP/1.x) or as opaque TCP.
import net from 'node:net';
import type { Logger } from 'pino';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import { listenShared } from '../net/shared-listener.js';
import { ClientConnection } from './client-connection.js';
import { ProxyErrorCode } from './error-codes.js';
import { classifyProxyError } from './error-responses.js';
import { HttpForwarder } from './http-forwarder.js';
import { sniffProtocol } from './protocol-sniffer.js';
import { RouteTable, routeLabels } from './route-table.js';
import { relayStreams, resetStream } from './stream-relay.js';
import { PlainTcpConnector, type UpstreamConnector } from './upstream-connector.js';
import { UpstreamPools } from './upstream-pools.js';

export interface OriginalDestination {
  ip: string;
  port: number;
}

export interface OutboundProxyOptions {
  host: string;
  /** 15001 in the agent; 0 picks a free port (tests). */
  port: number;
  currentSnapshot: () => MeshSnapshot;
  /** Where the accepted connection from peerIp:peerPort was going (the bpf map; it also deletes the entry). */
  originalDestination: (peerIp: string, peerPort: number) => OriginalDestination | undefined;
  metrics: ProxyMetrics;
  log: Logger;
  /** Silence after accept before a connection is treated as opaque TCP (server-speaks-first). */
  detectTimeoutMs?: number;
  /** Upstream TCP connect timeout; 504 (HTTP) or reset (TCP) after that. */
  connectTimeoutMs?: number;
  /** Time for an upstream to start its response once the request is sent; 504 after that. */
  responseHeadersTimeoutMs?: number;
  /** Longest silence inside an upstream response body before it is cut. */
  responseBodyIdleTimeoutMs?: number;
  /** Unused upstream pools are closed after one to two of these periods. */
  idlePoolSweepMs?: number;
  /** HTTP client connections idle for this long are closed. */
  clientIdleTimeoutMs?: number;
  maxConnectionsPerEndpoint?: number;
  /** How endpoints are reached; plain TCP by default (the agent passes hbone/MeshUpstreamConnector). */
  connector?: UpstreamConnector;
  /** The mesh's SPIFFE trust domain: enrolled sources are labelled with their identity (source_principal). */
  trustDomain?: string;
}

export const OUTBOUND_PROXY_DEFAULTS = {
  detectTimeoutMs: 150,
  connectTimeoutMs: 5_000,
  responseHeadersTimeoutMs: 300_000,
  responseBodyIdleTimeoutMs: 300_000,
  idlePoolSweepMs: 60_000,
  clientIdleTimeoutMs: 300_000,
  maxConnectionsPerEndpoint: 256,
} as const;

/**
 * While draining, an HTTP connection with no request in flight that received nothing for this
 * long is closed: long enough that a keep-alive client between two requests has sent the next
 * one (which then gets `Connection: close`), short enough that idle pools do not hold the exit.
 */
const DRAIN_QUIET_MS = 1_000;
const DRAIN_POLL_MS = 100;

export class OutboundProxy {
  private readonly server: net.Server;
  private readonly host: string;
  private readonly port: number;
  private readonly currentSnapshot: () => MeshSnapshot;
  private readonly originalDestination: OutboundProxyOptions['originalDestination'];
  private readonly metrics: ProxyMetrics;
  private readonly log: Logger;
  private readonly detectTimeoutMs: number;
  private readonly connector: UpstreamConnector;
  private readonly routes: RouteTable;
  private readonly pools: UpstreamPools;
  private readonly http: HttpForwarder;
  private readonly open = new Set<ClientConnection>();
  private readonly flushOpenConnections = (): void => {
    for (const connection of this.open) connection.flushBytes();
  };

  constructor(options: OutboundProxyOptions) {
    this.host = options.host;
    this.port = options.port;
    this.currentSnapshot = options.currentSnapshot;
    this.originalDestination = options.originalDestination;
    this.metrics = options.metrics;
    this.log = options.log.child({ subsys: 'proxy', direction: 'outbound' });
    this.detectTimeoutMs = positive('detectTimeoutMs', options.detectTimeoutMs ?? OUTBOUND_PROXY_DEFAULTS.detectTimeoutMs);
    this.connector =
      options.connector ??
      new PlainTcpConnector({
        connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs ?? OUTBOUND_PROXY_DEFAULTS.connectTimeoutMs),
      });
    this.routes = new RouteTable(this.currentSnapshot, options.trustDomain);
    this.pools = new UpstreamPools({
      connector: this.connector,
      maxConnectionsPerEndpoint: positive(
        'maxConnectionsPerEndpoint',
        options.maxConnectionsPerEndpoint ?? OUTBOUND_PROXY_DEFAULTS.maxConnectionsPerEndpoint,
      ),
      responseHeadersTimeoutMs: positive(
        'responseHeadersTimeoutMs',
        options.responseHeadersTimeoutMs ?? OUTBOUND_PROXY_DEFAULTS.responseHeadersTimeoutMs,
      ),
      responseBodyIdleTimeoutMs: positive(
        'responseBodyIdleTimeoutMs',
        options.responseBodyIdleTimeoutMs ?? OUTBOUND_PROXY_DEFAULTS.responseBodyIdleTimeoutMs,
      ),
      idlePoolSweepMs: positive('idlePoolSweepMs', options.idlePoolSweepMs ?? OUTBOUND_PROXY_DEFAULTS.idlePoolSweepMs),
      log: this.log,
    });
    this.http = new HttpForwarder({
      routes: this.routes,
      pools: this.pools,
      connector: this.connector,
      metrics: this.metrics,
      log: this.log,
      clientIdleTimeoutMs: positive(
        'clientIdleTimeoutMs',
        options.clientIdleTimeoutMs ?? OUTBOUND_PROXY_DEFAULTS.clientIdleTimeoutMs,
      ),
    });
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, this.onConnection);
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** A cheap picture for /debug endpoints and tests. */
  stats(): { listening: boolean; openConnections: number; upstreamPools: number } {
    return { listening: this.server.listening, openConnections: this.open.size, upstreamPools: this.pools.size };
  }

  /** The bound address (useful with port 0). */
  address(): net.AddressInfo {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the outbound proxy is not listening');
    return address;
  }

  async listen(): Promise<void> {
    await listenShared(this.server, this.host, this.port);
    this.server.on('error', this.onServerError);
    this.metrics.addCollectHook(this.flushOpenConnections);
    this.log.info({ address: this.address() }, 'outbound proxy listening');
  }

  /**
   * Closes the listener: new connections go to a successor listening on the same port (the
   * kernel moves the ones still queued here to it), or wait for the next agent (held SYNs).
   */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      // net.Server calls back only once every accepted connection has closed; the listening
      // socket itself is closed now.
      this.server.close();
      setImmediate(resolve);
    });
  }

  /**
   * Lets the open client connections finish, for at most timeoutMs: HTTP/1 clients get
   * `Connection: close` on their next response, HTTP connections that stay quiet are closed,
   * opaque TCP runs until either side ends it. Then what is left is cut and the listener
   * closed (stopAccepting() closes it earlier). Resolves with the number of connections cut.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.http.drain();
    const deadline = performance.now() + timeoutMs;
    while (this.open.size > 0 && performance.now() < deadline) {
      const now = performance.now();
      for (const connection of this.open) {
        if (connection.kind === 'http' && connection.idleFor(DRAIN_QUIET_MS, now)) connection.socket.end();
      }
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    const cut = this.open.size;
    if (cut > 0) this.log.warn({ cut, timeoutMs }, 'drain timeout: open client connections cut');
    await this.close();
    return cut;
  }

  /** Stops accepting, ends every open client connection and every upstream connection. */
  async close(): Promise<void> {
    this.metrics.removeCollectHook(this.flushOpenConnections);
    const closed = new Promise<void>((resolve, reject) => {
      if (!this.server.listening) return resolve();
      this.server.close((err) => (err ? reject(err) : resolve()));
    });
    for (const connection of this.open) connection.socket.destroy();
    await Promise.all([closed, this.pools.destroyAll()]);
  }

  private readonly onServerError = (err: Error): void => {
    this.log.error({ err }, 'outbound proxy listener failed');
  };

  private readonly onConnection = (socket: net.Socket): void => {
    socket.on('error', this.onClientSocketError);
    const peerIp = unmapIpv4(socket.remoteAddress);
    const peerPort = socket.remotePort;
    if (peerIp === undefined || peerPort === undefined) {
      // Already gone before we looked at it.
      socket.destroy();
      return;
    }
    let connection: ClientConnection;
    try {
      const original = this.originalDestination(peerIp, peerPort);
      if (original === undefined) {
        this.metrics.rejectConnection(ProxyErrorCode.NO_ORIGINAL_DESTINATION);
        this.log.warn(
          { code: ProxyErrorCode.NO_ORIGINAL_DESTINATION, peer: `${peerIp}:${peerPort}` },
          'connection without a recorded original destination; reset',
        );
        resetStream(socket);
        return;
      }
      const snapshot = this.currentSnapshot();
      connection = new ClientConnection(
        socket,
        this.routes.sourceLabels(snapshot, peerIp),
        this.routes.resolve(snapshot, original.ip, original.port),
        this.routes.sourceWorkload(snapshot, peerIp),
      );
    } catch (err) {
      this.metrics.rejectConnection(ProxyErrorCode.INTERNAL);
      this.log.error({ code: ProxyErrorCode.INTERNAL, err, peer: `${peerIp}:${peerPort}` }, 'routing a connection failed');
      resetStream(socket);
      return;
    }
    this.open.add(connection);
    socket.once('close', () => {
      this.open.delete(connection);
      connection.closed();
    });
    switch (connection.route.protocol) {
      case 'tcp':
        this.startTcp(connection, null);
        break;
      case 'http1':
        this.startHttp(connection);
        break;
      case 'sniff':
        sniffProtocol(socket, this.detectTimeoutMs, (protocol, endedEarly) => {
          if (protocol === 'http1') this.startHttp(connection);
          else this.startTcp(connection, endedEarly);
        });
        // pauseOnConnect: nothing is read until a consumer is attached.
        socket.resume();
        break;
    }
  };

  private readonly onClientSocketError = (err: Error): void => {
    // Client resets are routine; the relay or the http server reacts to them.
    this.log.debug({ err }, 'client socket error');
  };

  private startHttp(connection: ClientConnection): void {
    connection.kind = 'http';
    connection.opened(this.metrics.traffic(connection.source, routeLabels(connection.route)));
    this.http.adopt(connection);
  }

  private startTcp(connection: ClientConnection, clientEndedEarly: Buffer | null): void {
    const route = connection.route;
    const client = connection.socket;
    const target = route.kind === 'service' ? this.routes.pickServiceTarget(route) : route.target;
    if (target === null) {
      this.metrics.rejectConnection(ProxyErrorCode.NO_ENDPOINTS);
      this.log.info({ code: ProxyErrorCode.NO_ENDPOINTS, service: routeLabels(route).service }, 'no ready endpoints; reset');
      resetStream(client);
      return;
    }
    connection.opened(this.metrics.traffic(connection.source, target.labels));
    this.connector.connect(target, connection.sourceWorkload, (err, upstream) => {
      if (err !== null || upstream === null) {
        const code = classifyProxyError(err);
        this.metrics.rejectConnection(code);
        this.log.warn({ code, upstream: target.key, err }, 'opaque TCP: connecting upstream failed; reset');
        resetStream(client);
        return;
      }
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      relayStreams(client, upstream, clientEndedEarly);
    });
  }
}

function unmapIpv4(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') ? address.slice(7) : address;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`OutboundProxy option ${name} must be a positive number, got ${value}`);
  }
  return value;
}
