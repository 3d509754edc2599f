// The destination side of HTTP/1.x tunnels: each tunnel stream that carries HTTP/1.x is handed
// to a Node http.Server that never listens itself, so llhttp (strict) frames every request, a
// pipelined one included, and each request is forwarded to the pod over the tunnel's own
// pod connection with `x-weft-peer-identity: <verified source SPIFFE ID>` set and every
// client-sent spelling of that header removed. Only a `101` to an Upgrade request or a `2xx`
// to a CONNECT switches the stream to opaque bytes (inbound-upgrade.ts); a declined upgrade
// is answered and the stream goes back to this parser. Bytes the parser cannot read get a
// 400 and the stream is closed: nothing reaches the pod unparsed.
import http, { type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { HttpFacts } from '../authz/authz-evaluator.js';
import type { TunnelPolicy } from '../authz/inbound-authorizer.js';
import { ProxyErrorCode } from '../proxy/error-codes.js';
import { rawErrorResponse, sendErrorResponse, statusForErrorCode } from '../proxy/error-responses.js';
import { ForwardExchange } from '../proxy/forward-exchange.js';
import { forwardableRequestHeaders } from '../proxy/hop-by-hop-headers.js';
import { ProxyResponse, ownProxyResponse } from '../proxy/proxy-response.js';
import type { UpstreamTarget } from '../proxy/upstream-target.js';
import type { TrafficMetrics } from '../metrics/proxy-metrics.js';
import { EndedStreamReplay } from './ended-stream-replay.js';
import { InboundUpgradeExchange } from './inbound-upgrade.js';
import type { LocalPodConnections } from './local-pod-connections.js';
import { setPeerIdentityHeader } from './peer-identity.js';
import type { SpiffeId } from './workload-credentials.js';

const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** One tunnel stream being served as HTTP/1.x. */
export interface InboundHttpTunnel {
  readonly stream: Duplex;
  readonly sourceIdentity: SpiffeId;
  readonly pod: LocalPodConnections;
  readonly target: UpstreamTarget;
  readonly traffic: TrafficMetrics;
  readonly log: Logger;
  /** Authorization per request; null when no policies are enforced here. */
  readonly policy: TunnelPolicy | null;
}

/** Per-stream state: responses not yet finished, and an upgrade waiting for them. */
interface TunnelState {
  readonly tunnel: InboundHttpTunnel;
  inFlight: number;
  whenIdle: (() => void) | null;
}

/** The response type of the inbound server: it knows its tunnel, to count what is in flight. */
class InboundResponse extends ProxyResponse {
  tunnelState: TunnelState | null = null;
}

function onInboundResponseClose(this: InboundResponse): void {
  const state = this.tunnelState;
  if (state === null) return;
  this.tunnelState = null;
  state.inFlight--;
  if (state.inFlight === 0 && state.whenIdle !== null) {
    const run = state.whenIdle;
    state.whenIdle = null;
    run();
  }
}

export interface InboundHttpDeliveryOptions {
  /** A request in progress with no bytes either way for this long is cut. */
  idleTimeoutMs: number;
  log: Logger;
}

export class InboundHttpDelivery {
  private readonly server: http.Server<typeof IncomingMessage, typeof InboundResponse>;
  private readonly states = new WeakMap<Duplex, TunnelState>();
  private readonly log: Logger;
  /** Set by drain(): every response from now on ends its tunnel stream. */
  private draining = false;

  constructor(options: InboundHttpDeliveryOptions) {
    this.log = options.log;
    this.server = http.createServer<typeof IncomingMessage, typeof InboundResponse>({
      ServerResponse: InboundResponse,
      requestTimeout: 0,
      // Idle keep-alive between requests stays short (Node's 5 s, announced in Keep-Alive, so the
      // caller's pool closes first): a pooled connection rides the tunnel session it was opened
      // on, and after a certificate rotation new requests should move to the new session soon.
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      // Strict parsing: a lenient parser is how requests get smuggled past a proxy.
      insecureHTTPParser: false,
    });
    this.server.timeout = options.idleTimeoutMs;
    // A caller that half-closes after its last request still gets every answer (by default
    // Node aborts what is in flight on the client's FIN); the stream ends after the last one.
    (this.server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    this.server.on('request', this.onRequest);
    this.server.on('upgrade', this.onUpgrade);
    this.server.on('connect', this.onUpgrade);
    this.server.on('clientError', this.onClientError);
  }

  /** Serves a tunnel stream (paused, its first bytes unshifted) as HTTP/1.x from here on. */
  adopt(tunnel: InboundHttpTunnel): void {
    this.states.set(tunnel.stream, { tunnel, inFlight: 0, whenIdle: null });
    this.attach(tunnel.stream);
  }

  /**
   * The agent is leaving: each response from now on carries `Connection: close` and ends its
   * tunnel stream, so the caller's pool opens the next connection through a new session (to
   * the successor). Idle streams end by the keep-alive timeout, which callers anticipate.
   */
  drain(): void {
    this.draining = true;
  }

  /** (Re)attaches the parser: at adoption, and after a declined upgrade. */
  private attach(stream: Duplex): void {
    this.server.emit('connection', stream);
    stream.resume();
  }

  private readonly onRequest = (req: IncomingMessage, res: InboundResponse): void => {
    const startedAtMs = performance.now();
    const state = this.states.get(req.socket);
    if (state === undefined) {
      this.log.error({ code: ProxyErrorCode.INTERNAL }, 'inbound request on a stream the server does not know');
      sendErrorResponse(res, ProxyErrorCode.INTERNAL);
      return;
    }
    const tunnel = state.tunnel;
    state.inFlight++;
    res.tunnelState = state;
    if (this.draining) res.shouldKeepAlive = false;
    res.on('close', onInboundResponseClose);
    if (deniedByPolicy(tunnel.policy, req)) {
      const status = sendErrorResponse(res, ProxyErrorCode.AUTHZ_DENIED);
      tunnel.traffic.recordRequest(status, (performance.now() - startedAtMs) / 1000);
      return;
    }
    const headers: string[] = [];
    const hasBody = forwardableRequestHeaders(req.rawHeaders, headers);
    setPeerIdentityHeader(headers, tunnel.sourceIdentity);
    const exchange = new ForwardExchange(res, tunnel.target, tunnel.traffic, startedAtMs, tunnel.log);
    ownProxyResponse(res, exchange);
    tunnel.pod.client.dispatch({ method: req.method!, path: req.url!, headers, body: hasBody ? req : null }, exchange);
  };

  /** Upgrade requests and CONNECT: answered once every earlier response on the stream is done. */
  private readonly onUpgrade = (req: IncomingMessage, stream: Duplex, head: Buffer): void => {
    const startedAtMs = performance.now();
    const state = this.states.get(stream);
    if (state === undefined) {
      this.log.error({ code: ProxyErrorCode.INTERNAL }, 'inbound upgrade on a stream the server does not know');
      stream.end(rawErrorResponse(ProxyErrorCode.INTERNAL));
      return;
    }
    const tunnel = state.tunnel;
    const headers: string[] = [];
    const hasBody = forwardableRequestHeaders(req.rawHeaders, headers);
    if (hasBody) {
      // The body would have to reach the pod before its answer, unparsed; and after a refusal
      // it could not be told from the next request. Refused instead (RFC 9110 allows it).
      tunnel.log.info({ code: ProxyErrorCode.MALFORMED_REQUEST, method: req.method }, 'upgrade or CONNECT request with a body refused');
      stream.end(rawErrorResponse(ProxyErrorCode.MALFORMED_REQUEST));
      tunnel.traffic.recordRequest(statusForErrorCode(ProxyErrorCode.MALFORMED_REQUEST), 0);
      return;
    }
    setPeerIdentityHeader(headers, tunnel.sourceIdentity);
    const exchange = new InboundUpgradeExchange({
      req,
      stream,
      head,
      tunnel,
      startedAtMs,
      onDeclined: this.onUpgradeDeclined,
    });
    const dispatch = (): void => {
      // Decided once the earlier responses are out, so the refusal is answered in order.
      if (deniedByPolicy(tunnel.policy, req)) {
        stream.end(rawErrorResponse(ProxyErrorCode.AUTHZ_DENIED));
        tunnel.traffic.recordRequest(statusForErrorCode(ProxyErrorCode.AUTHZ_DENIED), (performance.now() - startedAtMs) / 1000);
        return;
      }
      tunnel.pod.client.dispatch(
        req.method === 'CONNECT'
          ? { method: 'CONNECT', path: req.url!, headers }
          : { method: req.method!, path: req.url!, headers, upgrade: upgradeProtocol(req) },
        exchange,
      );
    };
    if (state.inFlight === 0) dispatch();
    else state.whenIdle = dispatch;
  };

  /** The pod answered an upgrade without switching: the stream is HTTP again, parsed as before. */
  private readonly onUpgradeDeclined = (stream: Duplex, head: Buffer): void => {
    if (stream.destroyed) return;
    if (!stream.readableEnded) {
      if (head.length > 0) stream.unshift(head);
      this.attach(stream);
      return;
    }
    // The caller half-closed while the upgrade was answered: what it sent after the upgrade
    // request is parsed from a replay, and the answers still reach it.
    const state = this.states.get(stream);
    if (state === undefined) return;
    const replay = new EndedStreamReplay(stream, head);
    this.states.set(replay, state);
    this.attach(replay);
  };

  private readonly onClientError = (err: Error & { code?: string }, stream: Duplex): void => {
    const code = err.code ?? '';
    const state = this.states.get(stream);
    if (!code.startsWith('HPE_') || !stream.writable) {
      this.log.debug({ err }, 'inbound caller connection failed');
      stream.destroy();
      return;
    }
    state?.tunnel.log.info({ code: ProxyErrorCode.MALFORMED_REQUEST, parserError: code }, 'malformed HTTP request from the caller; stream closed');
    stream.end(rawErrorResponse(ProxyErrorCode.MALFORMED_REQUEST));
    state?.tunnel.traffic.recordRequest(statusForErrorCode(ProxyErrorCode.MALFORMED_REQUEST), 0);
  };
}

/** The protocol the caller asked to switch to (undici sends the Connection/Upgrade pair itself). */
function upgradeProtocol(req: IncomingMessage): string {
  const value = req.headers.upgrade;
  return typeof value === 'string' && value !== '' ? value : 'unknown';
}

function deniedByPolicy(policy: TunnelPolicy | null, req: IncomingMessage): boolean {
  return policy !== null && policy.authorizer.selects(policy.authz) && policy.authorizer.request(policy.authz, http1Facts(req)) === 'deny';
}

/** What authorization reads of a parsed request: every value of a header, as received. */
function http1Facts(req: IncomingMessage): HttpFacts {
  return {
    method: req.method ?? '',
    target: req.url ?? '',
    grpc: false,
    header(name: string): string[] {
      const values: string[] = [];
      const raw = req.rawHeaders;
      for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) values.push(raw[i + 1]!);
      return values;
    },
  };
}
