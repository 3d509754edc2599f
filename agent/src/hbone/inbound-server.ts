// The server side of the HBONE tunnel: node IP:15008, HTTP/2 over TLS 1.3 only. The caller must
// present a certificate that chains to the trust bundle and whose only URI SAN is a SPIFFE ID in
// our trust domain; anything else fails the handshake (bad chain) or is closed right after it
// (wrong trust domain), before a single HTTP/2 frame is sent: the TLS server verifies the peer
// first and only then hands the socket to the HTTP/2 server. The server presents the
// certificate of the identity the caller named in SNI (sni-identity.ts); no certificate for that
// identity fails the handshake.
//
// Each CONNECT stream names `<pod ip>:<port>`; it is served only if that pod is enrolled, runs
// on this node, and runs as the SNI identity (403 otherwise, 400 for a malformed authority).
// Authorization policies decide next (authz/inbound-authorizer.ts): a connection they deny is
// refused with 403 ERR_AUTHZ_DENIED before the pod is dialled; otherwise they decide again per
// HTTP request, or once for a stream that is not HTTP. The pod is then reached over plain local
// TCP. Streams that carry HTTP/1.x or HTTP/2 are parsed (inbound-http-delivery.ts,
// inbound-http2-delivery.ts) and every request gets `x-weft-peer-identity`; anything else is
// relayed both ways with backpressure.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { InboundAuthorizer, TunnelAuthz, TunnelPolicy } from '../authz/inbound-authorizer.js';
import { WorkloadSpiffeIds } from '../identity/workload-spiffe-ids.js';
import { listenShared } from '../net/shared-listener.js';
import { ProxyErrorCode } from '../proxy/error-codes.js';
import { classifyProxyError, rawErrorResponse, statusForErrorCode, WEFT_ERROR_HEADER } from '../proxy/error-responses.js';
import { UNKNOWN_DESTINATION } from '../metrics/proxy-metrics.js';
import type { UpstreamTarget } from '../proxy/upstream-target.js';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import { parseConnectAuthority } from './connect-authority.js';
import { HBONE_PORT } from './hbone-connector.js';
import { InboundHttpDelivery } from './inbound-http-delivery.js';
import { InboundHttp2Delivery } from './inbound-http2-delivery.js';
import { FirstLineGuard } from './first-line-guard.js';
import { detectInboundProtocol } from './inbound-protocol.js';
import type { InboundTunnelEvent, TunnelAccounting, TunnelBytes } from './inbound-tunnel-accounting.js';
import { LocalPodConnections } from './local-pod-connections.js';
import { relayTunnelToPod } from './tunnel-relay.js';
import { unobservedTunnel } from './unobserved-tunnel.js';
import { peerSpiffeIdOfCertificate } from './peer-spiffe-id.js';
import { identityFromSni } from './sni-identity.js';
import type { SpiffeId, WorkloadCredentials } from './workload-credentials.js';

export interface HboneInboundServerOptions {
  /** The node IP (tests: a loopback address). */
  host: string;
  /** 15008 in the agent; 0 picks a free port (tests). */
  port?: number;
  credentials: WorkloadCredentials;
  currentSnapshot: () => MeshSnapshot;
  log: Logger;
  /** Local TCP connect timeout to the pod; 504 after that. */
  connectTimeoutMs?: number;
  /** How long the pod may take to start a response, and the longest pause inside one; 504 after that. */
  responseTimeoutMs?: number;
  /** A caller's HTTP connection with no bytes either way for this long is closed. */
  httpIdleTimeoutMs?: number;
  /**
   * How long a caller may sit on an HTTP-like prefix before its bytes are relayed under a
   * FirstLineGuard (default 150 ms).
   */
  undecidedRelayAfterMs?: number;
  /**
   * Parse HTTP/1.x streams and set `x-weft-peer-identity` on every request (default true).
   * False relays every stream as opaque bytes (tests of the tunnel itself).
   */
  injectPeerIdentityHeader?: boolean;
  /** Enforces authorization policies; undefined: none are (tests of the tunnel itself). */
  authorizer?: InboundAuthorizer;
  /** Called for each tunnelled connection delivered to a pod; returns where it is counted. */
  onTunnel?: (event: InboundTunnelEvent) => TunnelAccounting;
  /**
   * Called when a peer is refused, in or right after the TLS handshake: `reason` is a short code
   * from a fixed set (a metric label), `detail` says what exactly (logs, tests).
   */
  onPeerRejected?: (reason: string, detail: string) => void;
}

interface InboundDeliveries {
  readonly http1: InboundHttpDelivery;
  readonly http2: InboundHttp2Delivery;
}

interface TunnelTimeouts {
  readonly connectMs: number;
  readonly responseMs: number;
  readonly undecidedRelayAfterMs: number;
}

interface PeerSession {
  readonly sourceIdentity: SpiffeId;
  /** The source as authorization policies see it (namespace and service account from the verified ID). */
  readonly authzSource: TunnelAuthz['source'];
  readonly destinationIdentity: SpiffeId;
  /** Serial of the certificate the peer presented (debug: which issuance a session runs on). */
  readonly peerCertificateSerial: string;
  readonly log: Logger;
}

/** One open HBONE session as the debug endpoint shows it. */
export interface InboundSessionInfo {
  sourceIdentity: SpiffeId;
  destinationIdentity: SpiffeId;
  peerCertificateSerial: string;
}

const MAX_STREAMS_PER_SESSION = 1000;
const DEFAULT_RESPONSE_TIMEOUT_MS = 300_000;
const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 300_000;
/**
 * How long a caller may sit on an HTTP-like prefix (only token characters, or a first word and
 * no line end) before its bytes are relayed under a FirstLineGuard: long enough for a request
 * line split over packets, short enough for a line protocol that waits for the server.
 */
const DEFAULT_UNDECIDED_RELAY_AFTER_MS = 150;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const DRAIN_POLL_MS = 100;
const STREAM_WINDOW_BYTES = 1 << 20;
const SESSION_WINDOW_BYTES = 16 << 20;

export class HboneInboundServer {
  private readonly server: tls.Server;
  private readonly h2: http2.Http2Server;
  /** The verified peer of the socket being handed to the HTTP/2 server (its 'session' event is synchronous). */
  private acceptingPeer: PeerSession | undefined;
  private trustBundlePem: string;
  private readonly options: HboneInboundServerOptions;
  private readonly log: Logger;
  private readonly timeouts: TunnelTimeouts;
  /** The HTTP parsers of every tunnel that carries HTTP (null: every stream is opaque). */
  private readonly delivery: InboundDeliveries | null;
  private readonly peers = new WeakMap<http2.ServerHttp2Session, PeerSession>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Every accepted TCP connection, also those still in their handshake, so close() can end them. */
  private readonly connections = new Set<net.Socket>();
  /** Streams open per session, so a drain can tell idle sessions. */
  private readonly openStreams = new WeakMap<http2.ServerHttp2Session, number>();
  /** Set by acceptOnlyFrom(): connections from elsewhere are reset. */
  private onlyFrom: string | undefined;
  private readonly unsubscribe: () => void;
  /** Each local pod's SPIFFE ID, formatted once per snapshot pod object. */
  private readonly podIdentities: WorkloadSpiffeIds;

  constructor(options: HboneInboundServerOptions) {
    this.options = options;
    this.log = options.log.child({ subsys: 'hbone', direction: 'inbound' });
    this.timeouts = {
      connectMs: options.connectTimeoutMs ?? 5_000,
      responseMs: options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS,
      undecidedRelayAfterMs: options.undecidedRelayAfterMs ?? DEFAULT_UNDECIDED_RELAY_AFTER_MS,
    };
    this.delivery =
      options.injectPeerIdentityHeader === false
        ? null
        : {
            http1: new InboundHttpDelivery({ idleTimeoutMs: options.httpIdleTimeoutMs ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS, log: this.log }),
            http2: new InboundHttp2Delivery(this.log, options.httpIdleTimeoutMs ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS),
          };
    const credentials = options.credentials;
    this.podIdentities = new WorkloadSpiffeIds(credentials.trustDomain);
    this.trustBundlePem = credentials.trustBundlePem();
    this.server = tls.createServer({
      ca: this.trustBundlePem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      SNICallback: this.selectContext,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    this.server.on('connection', this.onConnection);
    this.server.on('secureConnection', this.onSecureConnection);
    this.server.on('tlsClientError', this.onTlsClientError);
    this.h2 = http2.createServer({
      settings: { maxConcurrentStreams: MAX_STREAMS_PER_SESSION, initialWindowSize: STREAM_WINDOW_BYTES, enablePush: false },
    });
    this.h2.on('session', this.onSession);
    this.h2.on('stream', this.onStream);
    this.unsubscribe = credentials.onChange(this.onCredentialsChanged);
  }

  /** The sessions open now, with the certificate each peer presented. */
  openSessions(): InboundSessionInfo[] {
    return [...this.sessions].flatMap((session) => {
      const peer = this.peers.get(session);
      return peer === undefined
        ? []
        : [{ sourceIdentity: peer.sourceIdentity, destinationIdentity: peer.destinationIdentity, peerCertificateSerial: peer.peerCertificateSerial }];
    });
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** The TLS server, for tests and metrics that count handshakes ('secureConnection'). */
  get tlsServer(): tls.Server {
    return this.server;
  }

  address(): net.AddressInfo {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the HBONE inbound server is not listening');
    return address;
  }

  async listen(): Promise<void> {
    await listenShared(this.server, this.options.host, this.options.port ?? HBONE_PORT);
    this.server.on('error', (err) => this.log.error({ err }, 'HBONE listener failed'));
    this.log.info({ address: this.address() }, 'HBONE inbound listening');
  }

  /**
   * Sends GOAWAY on every session: callers open new sessions for new streams (to this node or,
   * after a restart, its successor) while the open streams finish. For shutdowns and upgrades.
   */
  goAway(): void {
    for (const session of this.sessions) if (!session.closed) session.close();
  }

  /**
   * Closes the listener: new sessions go to a successor listening on the same port (the kernel
   * moves the handshakes still queued here to it), or are refused until the next agent listens
   * (callers retry refused connects for a while).
   */
  stopAccepting(): Promise<void> {
    this.onlyFrom = undefined;
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close();
      setImmediate(resolve);
    });
  }

  /**
   * While this agent drains without a successor, only its own node may still open sessions:
   * its proxy's same-node tunnels have nowhere else to go (and its drain waits for them), while
   * other nodes' connections are reset at once, so they retry until the next agent listens
   * instead of keeping this one busy. stopAccepting() ends this.
   */
  acceptOnlyFrom(address: string): void {
    this.onlyFrom = address;
  }

  /**
   * Sends GOAWAY on every session and asks the HTTP callers inside the tunnels to reconnect
   * (Connection: close; GOAWAY on h2c), then waits up to timeoutMs for the sessions to finish
   * their streams before cutting what is left; sessions opened meanwhile (acceptOnlyFrom) get
   * their GOAWAY once idle. Closes the listener at the end; resolves with the sessions cut.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.goAway();
    this.delivery?.http1.drain();
    this.delivery?.http2.drain();
    const deadline = performance.now() + timeoutMs;
    while (this.sessions.size > 0 && performance.now() < deadline) {
      for (const session of this.sessions) {
        // Once the listener is closed every late session gets its GOAWAY; before, only idle ones.
        if (!session.closed && (!this.server.listening || (this.openStreams.get(session) ?? 0) === 0)) session.close();
      }
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    const cut = this.sessions.size;
    if (cut > 0) this.log.warn({ cut, timeoutMs }, 'drain timeout: open HBONE sessions cut');
    await this.close();
    return cut;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    const closed = new Promise<void>((resolve, reject) => {
      if (!this.server.listening) return resolve();
      this.server.close((err) => (err ? reject(err) : resolve()));
    });
    for (const session of this.sessions) session.destroy();
    for (const socket of this.connections) socket.destroy();
    await closed;
  }

  private readonly onConnection = (socket: net.Socket): void => {
    if (this.onlyFrom !== undefined && socket.remoteAddress !== this.onlyFrom) {
      socket.resetAndDestroy();
      return;
    }
    this.connections.add(socket);
    socket.once('close', () => this.connections.delete(socket));
  };

  // The certificate is chosen by the identity the caller asks for; an identity this node holds
  // no certificate for fails the handshake (the caller sees a TLS alert, not a wrong identity).
  private readonly selectContext = (
    serverName: string,
    callback: (err: Error | null, context?: tls.SecureContext) => void,
  ): void => {
    const identity = identityFromSni(serverName, this.options.credentials.trustDomain);
    const context = identity === undefined ? undefined : this.options.credentials.secureContextFor(identity);
    if (context === undefined) {
      this.log.info({ serverName, identity }, 'HBONE handshake for an identity without a certificate here; refused');
      callback(new Error(`no certificate for the identity named by SNI "${serverName}"`));
      return;
    }
    callback(null, context);
  };

  private readonly onTlsClientError = (err: Error & { code?: string }, socket: tls.TLSSocket): void => {
    // A client certificate that does not verify makes OpenSSL end the handshake and Node report
    // only the hang-up (ECONNRESET); the real reason (DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED,
    // ...) is on the socket, so a forged certificate is told apart from a client that went away.
    const verification = socket.authorizationError as unknown as (Error & { code?: string }) | string | null | undefined;
    const reason = typeof verification === 'string' ? verification : verification?.code ?? err.code ?? 'tls_error';
    const detail = verification ? `client certificate refused: ${String((verification as Error).message ?? verification)}` : err.message;
    this.log.info({ err, peer: socket.remoteAddress, reason, detail }, 'HBONE TLS handshake failed');
    this.options.onPeerRejected?.(reason, detail);
  };

  private readonly onCredentialsChanged = (): void => {
    // The default context only verifies clients (per-identity contexts come by SNI); keep its
    // CA list in step with the trust bundle. Certificates themselves are looked up per handshake.
    const bundle = this.options.credentials.trustBundlePem();
    if (bundle === this.trustBundlePem) return;
    this.trustBundlePem = bundle;
    this.server.setSecureContext({ ca: bundle, minVersion: 'TLSv1.3' });
  };

  private readonly onSecureConnection = (socket: tls.TLSSocket): void => {
    const trustDomain = this.options.credentials.trustDomain;
    const peer = peerSpiffeIdOfCertificate(socket.getPeerX509Certificate());
    const serverName = typeof socket.servername === 'string' ? socket.servername : '';
    const destinationIdentity = identityFromSni(serverName, trustDomain);
    let refusal: { reason: string; detail: string } | undefined;
    if (!peer.ok) refusal = { reason: 'peer_identity_invalid', detail: peer.reason };
    else if (peer.identity.trustDomain !== trustDomain) {
      refusal = { reason: 'foreign_trust_domain', detail: `the peer identity ${peer.spiffeId} is not in the trust domain ${trustDomain}` };
    } else if (destinationIdentity === undefined) refusal = { reason: 'sni_not_workload', detail: `SNI "${serverName}" names no workload identity` };
    else if (socket.alpnProtocol !== 'h2') refusal = { reason: 'no_h2', detail: 'the peer did not negotiate h2 (ALPN)' };
    if (refusal !== undefined || !peer.ok || destinationIdentity === undefined) {
      refusal ??= { reason: 'internal', detail: 'unknown' };
      this.log.warn({ peer: socket.remoteAddress, reason: refusal.detail }, 'HBONE peer refused after the handshake');
      this.options.onPeerRejected?.(refusal.reason, refusal.detail);
      socket.destroy();
      return;
    }
    socket.on('error', (err) => this.log.debug({ err, source: peer.spiffeId }, 'HBONE connection error'));
    this.acceptingPeer = {
      sourceIdentity: peer.spiffeId,
      authzSource: { kind: 'mesh', spiffeId: peer.spiffeId, namespace: peer.identity.namespace, serviceAccount: peer.identity.serviceAccount },
      destinationIdentity,
      peerCertificateSerial: socket.getPeerX509Certificate()?.serialNumber ?? '',
      log: this.log.child({ source: peer.spiffeId, destination: destinationIdentity }),
    };
    try {
      this.h2.emit('connection', socket);
    } finally {
      this.acceptingPeer = undefined;
    }
  };

  private readonly onSession = (session: http2.ServerHttp2Session): void => {
    const peer = this.acceptingPeer;
    if (peer === undefined) {
      // Only sockets verified above reach the HTTP/2 server; anything else is a bug.
      this.log.error({ code: ProxyErrorCode.INTERNAL }, 'HBONE session without a verified peer; closed');
      session.destroy();
      return;
    }
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    session.on('error', (err) => peer.log.debug({ err }, 'HBONE session error'));
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    this.peers.set(session, peer);
  };

  private readonly onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    stream.on('error', (err) => this.log.debug({ err }, 'HBONE stream error'));
    const session = stream.session as http2.ServerHttp2Session;
    this.openStreams.set(session, (this.openStreams.get(session) ?? 0) + 1);
    stream.once('close', () => this.openStreams.set(session, (this.openStreams.get(session) ?? 1) - 1));
    const peer = this.peers.get(stream.session as http2.ServerHttp2Session);
    if (peer === undefined) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (headers[':method'] !== 'CONNECT') {
      // Only CONNECT tunnels are served on this port; not one of the proxy's stable error codes.
      respondEmpty(stream, 405);
      return;
    }
    const authority = parseConnectAuthority(headers[':authority']);
    if (authority === undefined) {
      peer.log.info({ code: ProxyErrorCode.INBOUND_BAD_AUTHORITY, authority: headers[':authority'] }, 'HBONE CONNECT with a malformed authority');
      respondError(stream, ProxyErrorCode.INBOUND_BAD_AUTHORITY);
      return;
    }
    const snapshot = this.options.currentSnapshot();
    const pod = snapshot.podsByIp.get(authority.ip);
    const allowed =
      pod !== undefined &&
      pod.enrolled &&
      pod.nodeName === snapshot.nodeName &&
      this.podIdentities.of(pod) === peer.destinationIdentity;
    if (!allowed) {
      peer.log.info(
        { code: ProxyErrorCode.INBOUND_TARGET_FORBIDDEN, target: headers[':authority'], pod: pod === undefined ? undefined : `${pod.namespace}/${pod.name}` },
        'HBONE CONNECT to a target that is not an enrolled pod of this node with the requested identity',
      );
      respondError(stream, ProxyErrorCode.INBOUND_TARGET_FORBIDDEN);
      return;
    }
    const authorizer = this.options.authorizer;
    const authz: TunnelAuthz = { source: peer.authzSource, podIp: authority.ip, port: authority.port };
    if (authorizer !== undefined && authorizer.atConnect(authz) === 'deny') {
      respondError(stream, ProxyErrorCode.AUTHZ_DENIED);
      return;
    }
    const accounting = (this.options.onTunnel ?? unobservedTunnel)({
      sourceIdentity: peer.sourceIdentity,
      destinationIdentity: peer.destinationIdentity,
      targetIp: authority.ip,
      targetPort: authority.port,
      securityPolicy: 'mutual_tls',
    });
    const key = `${authority.ip}:${authority.port}`;
    const target: UpstreamTarget = {
      ip: authority.ip,
      port: authority.port,
      key,
      // Delivered over local TCP whatever the pod is (this server is the end of the tunnel).
      poolKey: `${key} local`,
      labels: UNKNOWN_DESTINATION,
      pod,
    };
    new InboundTunnel(stream, target, peer, accounting, this.delivery, this.timeouts, authorizer === undefined ? null : { authorizer, authz });
  };
}

/**
 * One CONNECT stream delivered to a local pod. The pod is connected first (the caller learns
 * of a refused port from the CONNECT answer); then the caller's first bytes decide
 * (inbound-protocol.ts): HTTP/1.x goes through the parser, anything else is relayed opaquely.
 * A pod that speaks first (SMTP, MySQL, SSH) is not HTTP: the stream is opaque at once.
 */
class InboundTunnel {
  private readonly socket: net.Socket;
  private readonly timer: NodeJS.Timeout;
  private connected = false;
  private detecting = false;
  private detectTimer: NodeJS.Timeout | null = null;
  private endReported = false;
  private received: Buffer = Buffer.alloc(0);
  private readonly log: Logger;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly target: UpstreamTarget,
    private readonly peer: PeerSession,
    private readonly accounting: TunnelAccounting,
    private readonly deliveries: InboundDeliveries | null,
    private readonly timeouts: TunnelTimeouts,
    private readonly policy: TunnelPolicy | null,
  ) {
    this.log = peer.log;
    this.socket = net.connect({ host: target.ip, port: target.port, noDelay: true, allowHalfOpen: true });
    this.socket.once('connect', this.onConnect);
    this.socket.on('error', this.onSocketError);
    this.timer = setTimeout(this.onTimeout, timeouts.connectMs);
    stream.once('close', this.onStreamClose);
  }

  private readonly onConnect = (): void => {
    clearTimeout(this.timer);
    if (this.stream.destroyed) {
      this.socket.destroy();
      return;
    }
    this.connected = true;
    this.stream.respond({ ':status': 200 });
    writeBatchesAsOneBuffer(this.stream);
    if (this.deliveries === null) {
      this.startOpaque();
      return;
    }
    this.detecting = true;
    this.stream.on('data', this.onCallerBytes);
    this.stream.once('end', this.onCallerEndedEarly);
    this.socket.once('data', this.onPodSpokeFirst);
  };

  private readonly onCallerBytes = (chunk: Buffer): void => {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    switch (detectInboundProtocol(this.received)) {
      case 'undecided':
        this.detectTimer ??= setTimeout(this.onDetectTimeout, this.timeouts.undecidedRelayAfterMs);
        return;
      case 'http1':
        this.stopDetecting();
        this.startHttp();
        return;
      case 'refused':
        this.stopDetecting();
        this.log.info({ code: ProxyErrorCode.MALFORMED_REQUEST, target: this.target.key }, 'HTTP-like first line too long; stream closed');
        this.accounting.requests.recordRequest(statusForErrorCode(ProxyErrorCode.MALFORMED_REQUEST), 0);
        this.stream.end(rawErrorResponse(ProxyErrorCode.MALFORMED_REQUEST));
        this.socket.destroy();
        this.ended({ fromPeer: 0, toPeer: 0 });
        return;
      case 'http2-prior-knowledge':
        this.stopDetecting();
        this.startHttp2();
        return;
      case 'opaque':
        this.stopDetecting();
        this.startOpaque();
        return;
    }
  };

  /** A caller that paused mid-way through something HTTP-like: relay it, guarded. */
  private readonly onDetectTimeout = (): void => {
    this.detectTimer = null;
    if (!this.detecting) return;
    this.stopDetecting();
    this.startOpaque(new FirstLineGuard());
  };

  private readonly onPodSpokeFirst = (chunk: Buffer): void => {
    if (isHttp2SettingsFrame(chunk)) {
      // An h2c server sends its SETTINGS at once. Whether the caller speaks HTTP/2 (then this
      // node terminates it and the pod's SETTINGS belong to our session with it) or not (then
      // they are relayed), the caller's first bytes decide; keep them for whoever reads next.
      this.socket.pause();
      this.socket.unshift(chunk);
      return;
    }
    this.stopDetecting();
    if (this.opaqueDenied()) return;
    this.stream.write(chunk);
    this.startOpaque(undefined, true);
  };

  private readonly onCallerEndedEarly = (): void => {
    // Half-closed before the protocol was known (a few token characters, or nothing): what
    // was sent is delivered with the FIN, guarded like any undecided stream.
    this.stopDetecting();
    this.startOpaque(new FirstLineGuard());
  };

  private stopDetecting(): void {
    this.detecting = false;
    if (this.detectTimer !== null) clearTimeout(this.detectTimer);
    this.detectTimer = null;
    this.stream.off('data', this.onCallerBytes);
    this.stream.off('end', this.onCallerEndedEarly);
    this.stream.pause();
    this.socket.off('data', this.onPodSpokeFirst);
    this.socket.pause();
  }

  /**
   * Asks the policies about a stream that is not HTTP, once; when they deny it, the caller sees a
   * reset and the pod (dialled at CONNECT) never gets a byte, nor does the caller get one of its.
   */
  private opaqueDenied(): boolean {
    if (this.policy === null || this.policy.authorizer.opaqueStream(this.policy.authz) === 'allow') return false;
    this.socket.destroy();
    this.stream.close(http2.constants.NGHTTP2_CONNECT_ERROR);
    this.ended({ fromPeer: 0, toPeer: 0 });
    return true;
  }

  private startOpaque(guard?: FirstLineGuard, alreadyAuthorized = false): void {
    if (!alreadyAuthorized && this.opaqueDenied()) return;
    this.socket.off('error', this.onSocketError);
    this.socket.once('close', () => {
      this.ended({ fromPeer: this.socket.bytesWritten, toPeer: this.socket.bytesRead });
    });
    if (guard !== undefined) {
      guard.once('error', (err) => this.log.info({ err, target: this.target.key }, 'HTTP request line on a stream relayed as opaque bytes; reset'));
    }
    // Bytes read while detecting go first, through the guard when there is one.
    if (this.received.length > 0) (guard ?? this.socket).write(this.received);
    this.received = Buffer.alloc(0);
    relayTunnelToPod(this.stream, this.socket, guard);
  }

  private startHttp(): void {
    this.socket.off('error', this.onSocketError);
    const pod = new LocalPodConnections({
      target: this.target,
      first: this.socket,
      connectTimeoutMs: this.timeouts.connectMs,
      responseTimeoutMs: this.timeouts.responseMs,
    });
    this.stream.once('close', () => {
      pod.destroy().then(
        () => this.ended(pod.bytes()),
        (err: unknown) => {
          this.log.debug({ err }, 'closing the pod connections of a tunnel failed');
          this.ended(pod.bytes());
        },
      );
    });
    this.stream.unshift(this.received);
    this.received = Buffer.alloc(0);
    this.deliveries!.http1.adopt({
      stream: this.stream,
      sourceIdentity: this.peer.sourceIdentity,
      policy: this.policy,
      pod,
      target: this.target,
      traffic: this.accounting.requests,
      log: this.log,
    });
  }

  private startHttp2(): void {
    this.socket.off('error', this.onSocketError);
    this.stream.unshift(this.received);
    this.received = Buffer.alloc(0);
    this.deliveries!.http2.adopt({
      stream: this.stream,
      sourceIdentity: this.peer.sourceIdentity,
      policy: this.policy,
      firstPodSocket: this.socket,
      target: this.target,
      traffic: this.accounting.requests,
      log: this.log,
      connectTimeoutMs: this.timeouts.connectMs,
      ended: (fromPeer, toPeer) => this.ended({ fromPeer, toPeer }),
    });
  }

  private readonly onSocketError = (err: Error): void => {
    clearTimeout(this.timer);
    if (!this.connected) {
      const code = classifyProxyError(err);
      this.log.info({ code, err, target: this.target.key }, 'HBONE: connecting the local pod failed');
      respondError(this.stream, code);
      return;
    }
    // Reset while the protocol was still being detected: the tunnel's "TCP reset".
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CONNECT_ERROR);
  };

  private readonly onTimeout = (): void => {
    if (this.connected) return;
    this.socket.destroy();
    this.log.info({ code: ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT, target: this.target.key }, 'HBONE: connecting the local pod timed out');
    respondError(this.stream, ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT);
  };

  private readonly onStreamClose = (): void => {
    clearTimeout(this.timer);
    // Before a mode is chosen the pod connection is ours to close; afterwards the relay or the
    // HTTP delivery owns it.
    if (!this.connected || this.detecting) {
      this.detecting = false;
      this.socket.destroy();
      this.ended({ fromPeer: this.socket.bytesWritten, toPeer: this.socket.bytesRead });
    }
  };

  /** Reports the tunnel's end once, whichever path it took (metrics: opened == closed). */
  private ended(bytes: TunnelBytes): void {
    if (this.endReported) return;
    this.endReported = true;
    this.accounting.ended(bytes);
  }
}

/** The first frame an HTTP/2 server sends: SETTINGS (type 4) on stream 0. */
function isHttp2SettingsFrame(bytes: Buffer): boolean {
  return bytes.length >= 9 && bytes[3] === 0x04 && (bytes.readUInt32BE(5) & 0x7fffffff) === 0 && bytes.readUIntBE(0, 3) % 6 === 0;
}

/**
 * Node 20's Http2Stream corrupts batched writes that contain strings: its `_writev` of latin1
 * strings (how http.ServerResponse writes a head) sends freed memory in place of the head's first
 * bytes. Every tunnel stream gets a `_writev` that joins a batch into one Buffer and writes it
 * with `_write`: no string reaches the native batch path, and a response head and its body
 * leave as one write (fewer native writes per request, the largest cost in a profile).
 */
function writeBatchesAsOneBuffer(stream: http2.ServerHttp2Stream): void {
  const writable = stream as unknown as WritableInternals;
  writable._writev = joinedWritev;
}

interface WritableInternals {
  _write(chunk: Buffer, encoding: string, callback: (error?: Error | null) => void): void;
  _writev: (this: WritableInternals, chunks: { chunk: Buffer | string; encoding: BufferEncoding }[], callback: (error?: Error | null) => void) => void;
}

function joinedWritev(this: WritableInternals, chunks: { chunk: Buffer | string; encoding: BufferEncoding }[], callback: (error?: Error | null) => void): void {
  const buffers = new Array<Buffer>(chunks.length);
  for (let i = 0; i < chunks.length; i++) {
    const { chunk, encoding } = chunks[i]!;
    buffers[i] = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
  }
  this._write(Buffer.concat(buffers), 'buffer', callback);
}

function respondError(stream: http2.ServerHttp2Stream, code: ProxyErrorCode): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': statusForErrorCode(code), [WEFT_ERROR_HEADER]: code }, { endStream: true });
}

function respondEmpty(stream: http2.ServerHttp2Stream, status: number): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': status }, { endStream: true });
}
