// The destination side of HTTP/2 tunnels (h2c with prior knowledge: gRPC and other HTTP/2
// clients): the tunnel stream is served by a Node http2 server that never listens itself, and
// every request stream is forwarded to the pod over one HTTP/2 client session per tunnel, with
// `x-weft-peer-identity` set to the verified source identity and every copy the client sent
// removed - the same promise as for HTTP/1.x. Bodies stream both ways under HTTP/2 flow
// control, and response trailers (gRPC's grpc-status) are passed on.
import http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { HttpFacts } from '../authz/authz-evaluator.js';
import type { TunnelPolicy } from '../authz/inbound-authorizer.js';
import type { TrafficMetrics } from '../metrics/proxy-metrics.js';
import { ProxyErrorCode } from '../proxy/error-codes.js';
import { classifyProxyError, statusForErrorCode, WEFT_ERROR_HEADER } from '../proxy/error-responses.js';
import { PlainTcpConnector } from '../proxy/upstream-connector.js';
import type { UpstreamTarget } from '../proxy/upstream-target.js';
import { PEER_IDENTITY_HEADER } from './peer-identity.js';
import type { SpiffeId } from './workload-credentials.js';

/** One tunnel stream being served as HTTP/2. */
export interface InboundHttp2Tunnel {
  readonly stream: Duplex;
  readonly sourceIdentity: SpiffeId;
  /** Authorization per request; null when no policies are enforced here. */
  readonly policy: TunnelPolicy | null;
  /** The pod connection opened when the CONNECT arrived: the first session runs on it. */
  readonly firstPodSocket: net.Socket;
  readonly target: UpstreamTarget;
  readonly traffic: TrafficMetrics;
  readonly log: Logger;
  readonly connectTimeoutMs: number;
  /** Called once when the tunnel is done, with the bytes to and from the pod. */
  readonly ended: (fromPeer: number, toPeer: number) => void;
}

/** Connection-specific headers (RFC 9113 8.2.2) never forwarded, plus our own. */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', PEER_IDENTITY_HEADER]);

export class InboundHttp2Delivery {
  private readonly server: http2.Http2Server;
  private readonly tunnels = new WeakMap<http2.ServerHttp2Session, PodSessions>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(
    private readonly log: Logger,
    /** A caller session with no frames either way for this long is closed (as HTTP/1.x's). */
    idleTimeoutMs: number,
  ) {
    this.server = http2.createServer();
    this.server.setTimeout(idleTimeoutMs);
    this.server.on('session', this.onSession);
    this.server.on('stream', this.onStream);
    this.server.on('sessionError', (err) => this.log.debug({ err }, 'inbound HTTP/2 caller session failed'));
  }

  /** Serves a tunnel stream (paused, its first bytes unshifted) as HTTP/2 from here on. */
  adopt(tunnel: InboundHttp2Tunnel): void {
    this.adopting = tunnel;
    try {
      this.server.emit('connection', tunnel.stream);
    } finally {
      this.adopting = undefined;
    }
    tunnel.stream.resume();
  }

  /**
   * The agent is leaving: GOAWAY to every caller session, so callers open new connections (to
   * the successor) for new streams while the open ones finish.
   */
  drain(): void {
    for (const session of this.sessions) if (!session.closed) session.close();
  }

  /** The tunnel being handed to the http2 server (its 'session' event is synchronous). */
  private adopting: InboundHttp2Tunnel | undefined;

  private readonly onSession = (session: http2.ServerHttp2Session): void => {
    const tunnel = this.adopting;
    if (tunnel === undefined) {
      session.destroy();
      return;
    }
    const pods = new PodSessions(tunnel);
    this.tunnels.set(session, pods);
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    session.on('error', (err) => tunnel.log.debug({ err }, 'inbound HTTP/2 caller session error'));
    session.once('close', () => pods.close());
    // The session over a tunnel stream does not always learn that the stream is gone (it reads
    // through a JS wrapper); the tunnel's end ends both sessions.
    tunnel.stream.once('close', () => {
      session.destroy();
      pods.close();
    });
  };

  private readonly onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]): void => {
    const startedAtMs = performance.now();
    // A caller stream's failure (reset, session gone) reaches ForwardedStream as its 'close';
    // the error itself needs no handling beyond not being thrown.
    stream.on('error', ignoreStreamError);
    const pods = this.tunnels.get(stream.session as http2.ServerHttp2Session);
    if (pods === undefined) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    pods.forward(stream, headers, rawHeaders, startedAtMs);
  };
}

/** The pod-side HTTP/2 session(s) of one tunnel: the first on the CONNECT's pod connection. */
class PodSessions {
  private session: http2.ClientHttp2Session | null = null;
  private firstSocket: net.Socket | null;
  private readonly connector: PlainTcpConnector;
  /** Streams waiting for the pod connection being made; null when none is. */
  private waiting: ((err: Error | null, session: http2.ClientHttp2Session | null) => void)[] | null = null;
  private bytesFromPeer = 0;
  private bytesToPeer = 0;
  private closed = false;

  constructor(private readonly tunnel: InboundHttp2Tunnel) {
    this.firstSocket = tunnel.firstPodSocket;
    this.connector = new PlainTcpConnector({ connectTimeoutMs: tunnel.connectTimeoutMs });
  }

  forward(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, rawHeaders: string[], startedAtMs: number): void {
    const tunnel = this.tunnel;
    if (tunnel.policy !== null && tunnel.policy.authorizer.selects(tunnel.policy.authz)) {
      const facts = http2Facts(headers, rawHeaders);
      if (tunnel.policy.authorizer.request(tunnel.policy.authz, facts) === 'deny') {
        if (facts.grpc) this.failGrpc(stream, ProxyErrorCode.AUTHZ_DENIED, GRPC_PERMISSION_DENIED, startedAtMs);
        else this.fail(stream, ProxyErrorCode.AUTHZ_DENIED, startedAtMs);
        return;
      }
    }
    const outgoing: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || NOT_FORWARDED.has(name)) continue;
      outgoing[name] = value;
    }
    outgoing[PEER_IDENTITY_HEADER] = tunnel.sourceIdentity;
    this.withSession((err, session) => {
      if (err !== null || session === null) {
        this.fail(stream, classifyProxyError(err), startedAtMs);
        return;
      }
      let upstream: http2.ClientHttp2Stream;
      try {
        upstream = session.request(outgoing, { endStream: stream.readableEnded && stream.readableLength === 0 });
      } catch (requestErr) {
        tunnel.log.info({ err: requestErr, code: ProxyErrorCode.MALFORMED_REQUEST }, 'HTTP/2 request the pod session refused to send');
        this.fail(stream, ProxyErrorCode.MALFORMED_REQUEST, startedAtMs);
        return;
      }
      new ForwardedStream(stream, upstream, tunnel.traffic, startedAtMs, this);
    });
  }

  /** Answers a request the pod never saw. */
  fail(stream: http2.ServerHttp2Stream, code: ProxyErrorCode, startedAtMs: number): void {
    const status = statusForErrorCode(code);
    if (!stream.destroyed && !stream.headersSent) stream.respond({ ':status': status, [WEFT_ERROR_HEADER]: code }, { endStream: true });
    this.tunnel.traffic.recordRequest(status, (performance.now() - startedAtMs) / 1000);
  }

  /** Answers a gRPC call the pod never saw, Trailers-Only, as gRPC clients expect an error. */
  failGrpc(stream: http2.ServerHttp2Stream, code: ProxyErrorCode, grpcStatus: number, startedAtMs: number): void {
    if (!stream.destroyed && !stream.headersSent) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(grpcStatus), 'grpc-message': code, [WEFT_ERROR_HEADER]: code }, { endStream: true });
    }
    this.tunnel.traffic.recordRequest(200, (performance.now() - startedAtMs) / 1000);
  }

  countBytes(fromPeer: number, toPeer: number): void {
    this.bytesFromPeer += fromPeer;
    this.bytesToPeer += toPeer;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.firstSocket?.destroy();
    this.session?.destroy();
    this.tunnel.ended(this.bytesFromPeer, this.bytesToPeer);
  }

  private withSession(callback: (err: Error | null, session: http2.ClientHttp2Session | null) => void): void {
    if (this.session !== null && !this.session.closed && !this.session.destroyed) {
      callback(null, this.session);
      return;
    }
    const first = this.firstSocket;
    this.firstSocket = null;
    // A session reads the socket natively, past Node's stream buffer: if the pod's SETTINGS were
    // already read (they arrive before the caller has spoken), that connection cannot be used.
    if (first !== null && !first.destroyed && first.readyState === 'open' && first.readableLength === 0) {
      callback(null, this.open(first));
      return;
    }
    first?.destroy();
    // Streams that arrive while the connection is being made wait for it: one session per tunnel.
    if (this.waiting !== null) {
      this.waiting.push(callback);
      return;
    }
    this.waiting = [callback];
    this.connector.connect(this.tunnel.target, null, (err, socket) => {
      const waiting = this.waiting ?? [];
      this.waiting = null;
      if (err !== null || socket === null || this.closed) {
        socket?.destroy();
        for (const waiter of waiting) waiter(err ?? new Error('the tunnel closed'), null);
        return;
      }
      const session = this.open(socket as net.Socket);
      for (const waiter of waiting) waiter(null, session);
    });
  }

  private open(socket: net.Socket): http2.ClientHttp2Session {
    socket.resume();
    const session = http2.connect(`http://${this.tunnel.target.key}`, { createConnection: () => socket });
    session.on('error', (err) => this.tunnel.log.debug({ err, target: this.tunnel.target.key }, 'HTTP/2 session to the pod failed'));
    this.session = session;
    return session;
  }
}

/** One request stream relayed to the pod and its answer relayed back, trailers included. */
class ForwardedStream {
  private trailers: http2.IncomingHttpHeaders | null = null;
  private status = 0;
  private recorded = false;

  constructor(
    private readonly caller: http2.ServerHttp2Stream,
    private readonly upstream: http2.ClientHttp2Stream,
    private readonly traffic: TrafficMetrics,
    private readonly startedAtMs: number,
    private readonly pods: PodSessions,
  ) {
    upstream.on('response', this.onResponse);
    upstream.on('trailers', (trailers: http2.IncomingHttpHeaders) => (this.trailers = trailers));
    upstream.on('error', this.onUpstreamError);
    upstream.on('close', this.onUpstreamClose);
    caller.on('close', this.onCallerClose);
    caller.on('data', (chunk: Buffer) => this.pods.countBytes(chunk.length, 0));
    upstream.on('data', (chunk: Buffer) => this.pods.countBytes(0, chunk.length));
    if (!caller.readableEnded) caller.pipe(upstream);
  }

  private readonly onResponse = (headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void => {
    if (this.caller.destroyed) return;
    const status = Number(headers[':status']);
    if (status < 200) return; // informational: the final answer follows
    this.status = status;
    const outgoing: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || NOT_FORWARDED.has(name)) continue;
      outgoing[name] = value;
    }
    this.caller.respond(outgoing, { waitForTrailers: true });
    this.caller.on('wantTrailers', this.onWantTrailers);
    this.upstream.pipe(this.caller);
  };

  private readonly onWantTrailers = (): void => {
    const trailers: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(this.trailers ?? {})) if (value !== undefined) trailers[name] = value;
    this.caller.sendTrailers(trailers);
    this.record(this.status);
  };

  private readonly onUpstreamError = (err: Error): void => {
    if (this.caller.headersSent) {
      if (!this.caller.destroyed) this.caller.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      this.record(0);
      return;
    }
    this.recorded = true;
    this.pods.fail(this.caller, classifyProxyError(err), this.startedAtMs);
  };

  private readonly onUpstreamClose = (): void => {
    if (this.caller.headersSent || this.caller.destroyed) return;
    // Closed without an answer (RST_STREAM from the pod, its connection gone).
    this.recorded = true;
    this.pods.fail(this.caller, ProxyErrorCode.UPSTREAM_RESET, this.startedAtMs);
  };

  private readonly onCallerClose = (): void => {
    if (!this.upstream.destroyed) this.upstream.close(http2.constants.NGHTTP2_CANCEL);
    this.record(0);
  };

  private record(status: number): void {
    if (this.recorded) return;
    this.recorded = true;
    this.traffic.recordRequest(status, (performance.now() - this.startedAtMs) / 1000);
  }
}

function ignoreStreamError(): void {}

const GRPC_PERMISSION_DENIED = 7;

/** What authorization reads of an HTTP/2 request: every value of a header, as received. */
function http2Facts(headers: http2.IncomingHttpHeaders, rawHeaders: string[]): HttpFacts {
  const contentType = headers['content-type'];
  return {
    method: String(headers[':method'] ?? ''),
    target: String(headers[':path'] ?? ''),
    grpc: typeof contentType === 'string' && /^application\/grpc(\+|;|$)/.test(contentType),
    header(name: string): string[] {
      const values: string[] = [];
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i] === name) values.push(rawHeaders[i + 1]!);
      return values;
    },
  };
}
