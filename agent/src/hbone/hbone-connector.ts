// The client side of the HBONE tunnel: HTTP/2 CONNECT streams over TLS 1.3 to the destination
// node's port 15008. One HTTP/2 session (one TLS handshake) per (source identity, destination
// node IP, destination identity) carries many CONNECT streams; a second session opens only when
// the first has `maxStreamsPerSession` streams. A session that gets GOAWAY, closes or fails
// leaves the pool at once (its streams finish on their own); the next connect opens a new one.
// When the source's certificate rotates, sessions opened with the old one are closed gracefully:
// open streams keep working, new streams go to a session with the new certificate.
//
// The client presents the source workload's certificate (its SecureContext, built once per
// certificate by WorkloadCredentials), asks for the destination identity by SNI
// (sni-identity.ts), verifies the server's chain against the trust bundle (the context's CA) and
// that its only URI SAN is exactly the expected destination SPIFFE ID.
import http2 from 'node:http2';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { ProxyErrorCode } from '../proxy/error-codes.js';
import { WEFT_ERROR_HEADER } from '../proxy/error-responses.js';
import { ProxyError } from '../proxy/proxy-error.js';
import type { UpstreamConnectCallback } from '../proxy/upstream-connector.js';
import { formatConnectAuthority } from './connect-authority.js';
import { peerSpiffeId } from './peer-spiffe-id.js';
import { sniForIdentity } from './sni-identity.js';
import type { SpiffeId, WorkloadCredentials } from './workload-credentials.js';

export const HBONE_PORT = 15008;

export interface HboneTunnelRequest {
  readonly sourceIdentity: SpiffeId;
  readonly nodeIp: string;
  readonly destinationIdentity: SpiffeId;
  readonly targetIp: string;
  readonly targetPort: number;
}

export interface HboneConnectorOptions {
  credentials: WorkloadCredentials;
  log: Logger;
  /** The destination nodes' HBONE port (15008; tests use others). */
  port?: number;
  /** From asking for a tunnel stream to its 200 (includes the TLS handshake of a new session). */
  connectTimeoutMs?: number;
  /** CONNECT streams per session before another session to the same peer is opened. */
  maxStreamsPerSession?: number;
  /** A session with no stream for this long is closed. */
  sessionIdleTimeoutMs?: number;
  /** Called when a session fails before it was up (handshake or identity refused); reason is a short code. */
  onHandshakeFailure?: (reason: string) => void;
  /**
   * How long a tunnel whose peer refused it untouched (connection refused: the peer's agent
   * is restarting; stream refused by a GOAWAY: the peer is handing over) is tried again.
   */
  refusedRetryWindowMs?: number;
}

export const HBONE_CONNECTOR_DEFAULTS = {
  port: HBONE_PORT,
  connectTimeoutMs: 5_000,
  maxStreamsPerSession: 100,
  sessionIdleTimeoutMs: 60_000,
  refusedRetryWindowMs: 15_000,
} as const;

const RETRY_FIRST_DELAY_MS = 50;
const RETRY_MAX_DELAY_MS = 1_000;

/** A bigger per-stream window than HTTP/2's 64 KiB default, so one stream is not throttled by round trips. */
const STREAM_WINDOW_BYTES = 1 << 20;
const SESSION_WINDOW_BYTES = 16 << 20;

class TunnelSession {
  streams = 0;
  /** False once the session must not take new streams (GOAWAY, closing, failed, old certificate). */
  usable = true;
  connected = false;
  failure: Error | null = null;

  constructor(
    readonly key: string,
    readonly session: http2.ClientHttp2Session,
    readonly sourceIdentity: SpiffeId,
    readonly context: tls.SecureContext,
    readonly peer: string,
  ) {}
}

export class HboneConnector {
  private readonly credentials: WorkloadCredentials;
  private readonly log: Logger;
  private readonly port: number;
  private readonly connectTimeoutMs: number;
  private readonly maxStreamsPerSession: number;
  private readonly sessionIdleTimeoutMs: number;
  private readonly pools = new Map<string, TunnelSession[]>();
  private readonly unsubscribe: () => void;
  private readonly onHandshakeFailure: ((reason: string) => void) | undefined;
  private readonly refusedRetryWindowMs: number;
  private sessionsOpened = 0;

  constructor(options: HboneConnectorOptions) {
    this.credentials = options.credentials;
    this.log = options.log.child({ subsys: 'hbone', direction: 'outbound' });
    this.port = options.port ?? HBONE_CONNECTOR_DEFAULTS.port;
    this.connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? HBONE_CONNECTOR_DEFAULTS.connectTimeoutMs);
    this.maxStreamsPerSession = positive(
      'maxStreamsPerSession',
      options.maxStreamsPerSession ?? HBONE_CONNECTOR_DEFAULTS.maxStreamsPerSession,
    );
    this.sessionIdleTimeoutMs = positive(
      'sessionIdleTimeoutMs',
      options.sessionIdleTimeoutMs ?? HBONE_CONNECTOR_DEFAULTS.sessionIdleTimeoutMs,
    );
    this.onHandshakeFailure = options.onHandshakeFailure;
    this.refusedRetryWindowMs = positive(
      'refusedRetryWindowMs',
      options.refusedRetryWindowMs ?? HBONE_CONNECTOR_DEFAULTS.refusedRetryWindowMs,
    );
    this.unsubscribe = this.credentials.onChange(this.onCredentialsChanged);
  }

  /** Sessions in the pools now, and TLS sessions opened since start (each one is a handshake). */
  stats(): { sessions: number; sessionsOpened: number } {
    let sessions = 0;
    for (const list of this.pools.values()) sessions += list.length;
    return { sessions, sessionsOpened: this.sessionsOpened };
  }

  /**
   * Opens a CONNECT stream to request.targetIp:targetPort through request.nodeIp's HBONE port
   * and calls back with it once the far side answered 200 (or with a ProxyError / socket error).
   */
  open(request: HboneTunnelRequest, callback: UpstreamConnectCallback): void {
    this.attempt(request, performance.now() + this.refusedRetryWindowMs, 0, callback);
  }

  /**
   * One try. A tunnel the peer refused before it could have done anything with it (the
   * connection refused, or the stream refused by GOAWAY) is tried again with a growing delay
   * until retryUntilMs: that is a peer agent restarting or handing over to its successor, and
   * nothing reached the pod yet, so trying again cannot deliver anything twice.
   */
  private attempt(request: HboneTunnelRequest, retryUntilMs: number, retries: number, callback: UpstreamConnectCallback): void {
    let tunnel: TunnelSession | undefined;
    const retryOrFail = (err: Error): void => {
      const delayMs = Math.min(RETRY_MAX_DELAY_MS, RETRY_FIRST_DELAY_MS * 2 ** retries);
      if (!refusedUntouched(err, tunnel?.connected ?? false) || performance.now() + delayMs >= retryUntilMs) {
        callback(err, null);
        return;
      }
      this.log.debug({ peer: request.nodeIp, retries, delayMs, err }, 'HBONE tunnel refused by its peer; trying again');
      setTimeout(() => this.attempt(request, retryUntilMs, retries + 1, callback), delayMs);
    };
    const context = this.credentials.secureContextFor(request.sourceIdentity);
    if (context === undefined) {
      this.log.warn(
        { code: ProxyErrorCode.NO_IDENTITY, source: request.sourceIdentity, destination: request.destinationIdentity },
        'no certificate for the source workload; mesh connection refused',
      );
      callback(
        new ProxyError(
          ProxyErrorCode.NO_IDENTITY,
          `no certificate for ${request.sourceIdentity}; its traffic to ${request.destinationIdentity} is not sent in plaintext`,
        ),
        null,
      );
      return;
    }
    try {
      tunnel = this.sessionFor(request, context);
      new PendingConnect(tunnel, request, this.connectTimeoutMs, (err, stream) => {
        if (err === null) callback(null, stream);
        else retryOrFail(err);
      });
    } catch (err) {
      // request() on a session that began closing in this very tick throws.
      retryOrFail(err as Error);
    }
  }

  /** Closes every session now (streams are cut). */
  async close(): Promise<void> {
    this.unsubscribe();
    const sessions: TunnelSession[] = [];
    for (const list of this.pools.values()) sessions.push(...list);
    this.pools.clear();
    await Promise.all(
      sessions.map(
        (tunnel) =>
          new Promise<void>((resolve) => {
            if (tunnel.session.destroyed) return resolve();
            tunnel.session.once('close', resolve);
            tunnel.session.destroy();
          }),
      ),
    );
  }

  private sessionFor(request: HboneTunnelRequest, context: tls.SecureContext): TunnelSession {
    const key = `${request.sourceIdentity} ${request.nodeIp} ${request.destinationIdentity}`;
    const list = this.pools.get(key);
    if (list !== undefined) {
      for (const tunnel of list) {
        if (tunnel.usable && tunnel.context === context && tunnel.streams < this.maxStreamsPerSession) return tunnel;
      }
    }
    const tunnel = this.connectSession(key, request, context);
    if (list === undefined) this.pools.set(key, [tunnel]);
    else list.push(tunnel);
    return tunnel;
  }

  private connectSession(key: string, request: HboneTunnelRequest, context: tls.SecureContext): TunnelSession {
    const expected = request.destinationIdentity;
    const peer = `${request.nodeIp}:${this.port}`;
    const servername = sniForIdentity(expected);
    const port = this.port;
    const session = http2.connect(`https://${formatConnectAuthority(request.nodeIp, port)}`, {
      createConnection: () =>
        tls.connect({
          host: request.nodeIp,
          port,
          servername,
          secureContext: context,
          minVersion: 'TLSv1.3',
          ALPNProtocols: ['h2'],
          rejectUnauthorized: true,
          // Called after the chain verified against the trust bundle: the server must be the
          // destination workload, not merely some mesh member. Node skips this check on resumed
          // TLS sessions, which is one reason no session tickets are reused here (sessions are
          // long-lived and pooled, so full handshakes are rare anyway).
          checkServerIdentity: (_host, certificate) => {
            const peerIdentity = peerSpiffeId(certificate.subjectaltname);
            if (peerIdentity.ok && peerIdentity.spiffeId === expected) return undefined;
            return new ProxyError(
              ProxyErrorCode.PEER_IDENTITY_MISMATCH,
              `${peer} presented ${peerIdentity.ok ? peerIdentity.spiffeId : `no mesh identity (${peerIdentity.reason})`}, expected ${expected}`,
            );
          },
        }),
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW_BYTES },
    });
    const tunnel = new TunnelSession(key, session, request.sourceIdentity, context, peer);
    this.sessionsOpened++;
    // The server sends its SETTINGS only after it verified our certificate and identity (TLS 1.3
    // lets the client finish the handshake before the server has judged it), so that, not the
    // TLS 'secureConnect', is when the tunnel is up.
    session.once('remoteSettings', () => {
      tunnel.connected = true;
      session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    });
    session.on('error', (err: Error) => {
      tunnel.failure = err;
      this.retire(tunnel);
      const code = tunnel.connected ? ProxyErrorCode.UPSTREAM_RESET : classifySessionFailure(err);
      if (!tunnel.connected) this.onHandshakeFailure?.((err as { code?: string }).code ?? code);
      this.log.warn({ code, peer, source: tunnel.sourceIdentity, destination: expected, err }, 'HBONE session failed');
    });
    session.once('goaway', () => this.retire(tunnel));
    session.once('close', () => this.retire(tunnel));
    session.setTimeout(this.sessionIdleTimeoutMs, () => {
      if (tunnel.streams === 0) {
        this.retire(tunnel);
        session.close();
      }
    });
    return tunnel;
  }

  /** Takes a session out of its pool; its open streams go on until they end. */
  private retire(tunnel: TunnelSession): void {
    if (!tunnel.usable) return;
    tunnel.usable = false;
    const list = this.pools.get(tunnel.key);
    if (list === undefined) return;
    const index = list.indexOf(tunnel);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.pools.delete(tunnel.key);
  }

  private readonly onCredentialsChanged = (): void => {
    for (const list of [...this.pools.values()]) {
      for (const tunnel of [...list]) {
        if (this.credentials.secureContextFor(tunnel.sourceIdentity) === tunnel.context) continue;
        // Rotated (or withdrawn): no new streams on the old certificate; close() lets the open
        // ones finish, then ends the session.
        this.retire(tunnel);
        if (!tunnel.session.closed) tunnel.session.close();
      }
    }
  };
}

/** One CONNECT: per upstream connection, never per request on a pooled connection. */
class PendingConnect {
  private readonly stream: http2.ClientHttp2Stream;
  private readonly timer: NodeJS.Timeout;
  private settled = false;

  constructor(
    private readonly tunnel: TunnelSession,
    private readonly request: HboneTunnelRequest,
    timeoutMs: number,
    private readonly callback: UpstreamConnectCallback,
  ) {
    tunnel.streams++;
    this.stream = tunnel.session.request(
      { ':method': 'CONNECT', ':authority': formatConnectAuthority(request.targetIp, request.targetPort) },
      { endStream: false },
    );
    this.stream.once('response', this.onResponse);
    this.stream.on('error', this.onError);
    this.stream.once('close', this.onClose);
    this.timer = setTimeout(this.onTimeout, timeoutMs);
  }

  private readonly onResponse = (headers: http2.IncomingHttpHeaders): void => {
    if (this.settled) return;
    const status = Number(headers[':status']);
    if (status === 200) {
      this.settle(null);
      return;
    }
    const remoteCode = headers[WEFT_ERROR_HEADER];
    this.settle(remoteFailure(status, typeof remoteCode === 'string' ? remoteCode : undefined, this.request, this.tunnel.peer));
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
  };

  private readonly onError = (err: Error): void => {
    if (this.settled) return;
    this.settle(this.classify(err));
  };

  private readonly onClose = (): void => {
    this.tunnel.streams--;
    if (this.settled) return;
    const failure = this.tunnel.failure;
    if (failure !== null) this.settle(this.classify(failure));
    else if (!this.tunnel.connected) {
      this.settle(
        new ProxyError(
          ProxyErrorCode.TUNNEL_FAILED,
          `${this.tunnel.peer} closed the HBONE tunnel during setup (our certificate or identity refused?)`,
        ),
      );
    } else {
      this.settle(new ProxyError(ProxyErrorCode.UPSTREAM_RESET, `the HBONE stream to ${this.tunnel.peer} closed before an answer`));
    }
  };

  private readonly onTimeout = (): void => {
    if (this.settled) return;
    const timeout = new ProxyError(
      ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT,
      `opening an HBONE stream to ${this.request.targetIp}:${this.request.targetPort} via ${this.tunnel.peer} timed out; maybe a NetworkPolicy or firewall blocks HBONE port 15008`,
    );
    this.settle(timeout);
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
    // A handshake that never finishes would otherwise keep a dead session in the pool (TLS
    // has no handshake timeout of its own); its other waiting streams fail the same way.
    if (!this.tunnel.connected && !this.tunnel.session.destroyed) this.tunnel.session.destroy(timeout);
  };

  private settle(err: Error | null): void {
    this.settled = true;
    clearTimeout(this.timer);
    if (err === null) {
      // From here the stream belongs to whoever relays it; its errors are theirs to handle.
      this.stream.off('error', this.onError);
      this.callback(null, this.stream);
    } else {
      this.callback(err, null);
    }
  }

  private classify(err: Error): Error {
    // Streams cancelled because their session failed carry the session's error as cause.
    const cause = (err as { code?: string }).code === 'ERR_HTTP2_STREAM_CANCEL' ? (err.cause as Error | undefined) : undefined;
    const failure = cause ?? this.tunnel.failure ?? err;
    if (failure instanceof ProxyError) return failure;
    if (!this.tunnel.connected || (failure as { code?: string }).code === 'ERR_HTTP2_STREAM_ERROR') {
      return new ProxyError(
        classifySessionFailure(failure),
        `opening the HBONE tunnel to ${this.tunnel.peer} failed: ${failure.message}`,
        { cause: failure },
      );
    }
    return failure;
  }
}

/**
 * The peer refused the tunnel before anything could reach the pod (see attempt()): the
 * connection refused or reset before the session was up (a listener closing with the
 * handshake still queued on it resets it), or the stream refused by a GOAWAY.
 */
function refusedUntouched(err: Error, sessionWasUp: boolean): boolean {
  const failure = (err.cause as Error | undefined) ?? err;
  const code = (failure as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION') return true;
  if (!sessionWasUp && (code === 'ECONNRESET' || code === 'EPIPE')) return true;
  return code === 'ERR_HTTP2_STREAM_ERROR' && failure.message.includes('REFUSED_STREAM');
}

function classifySessionFailure(err: Error): ProxyErrorCode {
  if (err instanceof ProxyError) return err.code;
  const code = (err as { code?: string }).code;
  if (code === 'ETIMEDOUT') return ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT;
  // A stream the far side reset (not a failed tunnel): the pod connection broke.
  if (code === 'ERR_HTTP2_STREAM_ERROR' && !err.message.includes('REFUSED_STREAM')) return ProxyErrorCode.UPSTREAM_RESET;
  return ProxyErrorCode.TUNNEL_FAILED;
}

/** The destination node answered the CONNECT with something else than 200. */
function remoteFailure(status: number, remoteCode: string | undefined, request: HboneTunnelRequest, peer: string): ProxyError {
  const target = `${request.targetIp}:${request.targetPort}`;
  // The pod behind the far node refused or timed out: report it as the same upstream failure.
  // The destination's policy refused this source: the caller gets the same answer as from the far side.
  if (remoteCode === ProxyErrorCode.AUTHZ_DENIED) return new ProxyError(remoteCode, `${peer} denied ${target} by authorization policy`);
  if (remoteCode === ProxyErrorCode.UPSTREAM_REFUSED || remoteCode === ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT ||
      remoteCode === ProxyErrorCode.UPSTREAM_UNREACHABLE || remoteCode === ProxyErrorCode.UPSTREAM_RESET) {
    return new ProxyError(remoteCode, `${peer} could not connect to ${target}: ${remoteCode}`);
  }
  return new ProxyError(
    ProxyErrorCode.TUNNEL_REJECTED,
    `${peer} answered the CONNECT to ${target} with ${status}${remoteCode === undefined ? '' : ` (${remoteCode})`}`,
  );
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`HboneConnector option ${name} must be a positive number, got ${value}`);
  return value;
}
