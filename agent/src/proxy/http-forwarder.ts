// The L7 side of the outbound proxy. Client sockets that sniffed as HTTP/1.x are handed to a
// Node http.Server that never listens itself (llhttp parses, keep-alive, chunked decoding and
// encoding, 100-continue and 400s for garbage come from Node); each request is dispatched to
// the keep-alive pool of the endpoint picked for it, with request and response bodies
// streamed both ways under backpressure.
import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { ClientConnection } from './client-connection.js';
import { ProxyErrorCode } from './error-codes.js';
import { rawErrorResponse, sendErrorResponse, statusForErrorCode } from './error-responses.js';
import { ForwardExchange } from './forward-exchange.js';
import { forwardableRequestHeaders } from './hop-by-hop-headers.js';
import { ProxyResponse, countInFlight, ownProxyResponse } from './proxy-response.js';
import { routeLabels, type RouteTable } from './route-table.js';
import type { UpstreamConnector } from './upstream-connector.js';
import type { UpstreamPools } from './upstream-pools.js';
import type { UpstreamTarget } from './upstream-target.js';
import { openUpgradeTunnel } from './upgrade-tunnel.js';

export interface HttpForwarderOptions {
  routes: RouteTable;
  pools: UpstreamPools;
  connector: UpstreamConnector;
  metrics: ProxyMetrics;
  log: Logger;
  /** A client connection with no traffic either way for this long is closed. */
  clientIdleTimeoutMs: number;
}

export class HttpForwarder {
  private readonly server: http.Server<typeof IncomingMessage, typeof ProxyResponse>;
  private readonly connections = new WeakMap<Socket, ClientConnection>();
  private readonly routes: RouteTable;
  private readonly pools: UpstreamPools;
  private readonly connector: UpstreamConnector;
  private readonly metrics: ProxyMetrics;
  private readonly log: Logger;
  /** Set by drain(): every response from now on closes its connection. */
  private draining = false;

  constructor(options: HttpForwarderOptions) {
    this.routes = options.routes;
    this.pools = options.pools;
    this.connector = options.connector;
    this.metrics = options.metrics;
    this.log = options.log;
    this.server = http.createServer<typeof IncomingMessage, typeof ProxyResponse>({
      ServerResponse: ProxyResponse,
      // Long uploads and long polls are legitimate through a proxy; idleness is what is bounded.
      requestTimeout: 0,
      noDelay: true,
    });
    this.server.timeout = options.clientIdleTimeoutMs;
    this.server.on('request', this.onRequest);
    this.server.on('upgrade', this.onUpgrade);
    this.server.on('clientError', this.onClientError);
  }

  /** Takes over a sniffed client socket (paused, first bytes unshifted). */
  adopt(connection: ClientConnection): void {
    const socket = connection.socket;
    this.connections.set(socket, connection);
    this.server.emit('connection', socket);
    // The sniffer paused the socket; the http parser reads from here on, starting with the
    // bytes that were pushed back.
    socket.resume();
  }

  /**
   * The agent is leaving: each response from now on carries `Connection: close`, so keep-alive
   * clients open their next connection to the successor (or wait for it) instead of being cut.
   */
  drain(): void {
    this.draining = true;
  }

  private readonly onRequest = (req: IncomingMessage, res: ProxyResponse): void => {
    const startedAtMs = performance.now();
    const connection = this.connections.get(req.socket);
    if (connection === undefined) {
      this.log.error({ code: ProxyErrorCode.INTERNAL }, 'request on a socket the proxy does not know');
      sendErrorResponse(res, ProxyErrorCode.INTERNAL);
      return;
    }
    countInFlight(res, connection);
    if (this.draining) res.shouldKeepAlive = false;
    const target = this.targetFor(connection);
    if (target === null) {
      const status = sendErrorResponse(res, ProxyErrorCode.NO_ENDPOINTS);
      this.metrics
        .traffic(connection.source, routeLabels(connection.route))
        .recordRequest(status, (performance.now() - startedAtMs) / 1000);
      return;
    }
    const headers: string[] = [];
    const hasBody = forwardableRequestHeaders(req.rawHeaders, headers);
    const exchange = new ForwardExchange(
      res,
      target,
      this.metrics.traffic(connection.source, target.labels),
      startedAtMs,
      this.log,
    );
    ownProxyResponse(res, exchange);
    this.pools.get(target, connection.sourceWorkload).dispatch(
      { method: req.method!, path: req.url!, headers, body: hasBody ? req : null },
      exchange,
    );
  };

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const startedAtMs = performance.now();
    const client = socket as Socket;
    const connection = this.connections.get(client);
    if (connection === undefined) {
      this.log.error({ code: ProxyErrorCode.INTERNAL }, 'upgrade on a socket the proxy does not know');
      client.end(rawErrorResponse(ProxyErrorCode.INTERNAL));
      return;
    }
    // An upgraded connection is a tunnel from here on: never idle for a drain.
    connection.requestsInFlight++;
    const target = this.targetFor(connection);
    if (target === null) {
      client.end(rawErrorResponse(ProxyErrorCode.NO_ENDPOINTS));
      this.metrics
        .traffic(connection.source, routeLabels(connection.route))
        .recordRequest(statusForErrorCode(ProxyErrorCode.NO_ENDPOINTS), (performance.now() - startedAtMs) / 1000);
      return;
    }
    openUpgradeTunnel({
      req,
      client,
      head,
      target,
      source: connection.sourceWorkload,
      connector: this.connector,
      traffic: this.metrics.traffic(connection.source, target.labels),
      startedAtMs,
      log: this.log,
    });
  };

  private readonly onClientError = (err: Error & { code?: string }, socket: Duplex): void => {
    const client = socket as Socket;
    const code = err.code ?? '';
    if (!code.startsWith('HPE_') || !client.writable) {
      // Resets, timeouts and the like: nothing sensible can be answered.
      this.log.debug({ err }, 'client connection failed');
      client.destroy();
      return;
    }
    this.log.info({ code: ProxyErrorCode.MALFORMED_REQUEST, parserError: code }, 'malformed HTTP request from client');
    client.end(rawErrorResponse(ProxyErrorCode.MALFORMED_REQUEST));
    const connection = this.connections.get(client);
    if (connection !== undefined) {
      this.metrics
        .traffic(connection.source, routeLabels(connection.route))
        .recordRequest(statusForErrorCode(ProxyErrorCode.MALFORMED_REQUEST), 0);
    }
  };

  private targetFor(connection: ClientConnection): UpstreamTarget | null {
    const route = connection.route;
    return route.kind === 'service' ? this.routes.pickServiceTarget(route) : route.target;
  }
}
