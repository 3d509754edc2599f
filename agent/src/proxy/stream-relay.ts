// Relays bytes both ways between a client socket and an upstream stream, for opaque TCP and for
// HTTP upgrades after the handshake. Half-close is passed on (FIN for FIN, both sides are
// allowHalfOpen), a reset on one side becomes a reset on the other, and when one side goes
// away abruptly the other is not left hanging.
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';

export function relayStreams(client: net.Socket, upstream: Duplex, clientEndedEarly: Buffer | null): void {
  new StreamRelay(client, upstream, clientEndedEarly);
}

class StreamRelay {
  constructor(
    private readonly client: net.Socket,
    private readonly upstream: Duplex,
    clientEndedEarly: Buffer | null,
  ) {
    upstream.on('error', this.onUpstreamError);
    client.on('error', this.onClientError);
    upstream.once('close', this.onUpstreamClose);
    client.once('close', this.onClientClose);
    upstream.pipe(client);
    // The client already half-closed during protocol sniffing: its bytes cannot flow through
    // pipe() any more, so they are written and the FIN passed on by hand.
    if (clientEndedEarly === null) {
      client.pipe(upstream);
      client.resume();
    } else {
      upstream.end(clientEndedEarly);
    }
  }

  private readonly onUpstreamError = (): void => {
    // The cause is counted and logged by whoever opened the upstream; the client sees a reset.
    resetStream(this.client);
  };

  private readonly onClientError = (): void => {
    resetStream(this.upstream);
  };

  private readonly onUpstreamClose = (): void => {
    // Closed without its end having reached the client: cut the client too.
    if (!this.client.writableEnded) this.client.destroy();
  };

  private readonly onClientClose = (): void => {
    if (!this.upstream.writableEnded) this.upstream.destroy();
  };
}

/**
 * Ends a stream with a TCP RST when it is a socket (so the peer sees a reset, not a clean FIN),
 * or with RST_STREAM(CONNECT_ERROR) when it is an HBONE tunnel stream (the far node turns that
 * into a TCP reset towards the pod).
 */
export function resetStream(stream: Duplex): void {
  if (stream.destroyed) return;
  if (stream instanceof net.Socket && !stream.connecting) stream.resetAndDestroy();
  else if (isHttp2Stream(stream)) stream.close(http2.constants.NGHTTP2_CONNECT_ERROR);
  else stream.destroy();
}

// node:http2 does not export its stream class; its streams are the Duplexes with a session.
function isHttp2Stream(stream: Duplex): stream is http2.Http2Stream {
  const candidate = stream as Partial<http2.Http2Stream>;
  return candidate.session !== undefined && typeof candidate.close === 'function';
}
