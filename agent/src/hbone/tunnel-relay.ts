// Bytes both ways between a tunnel stream and a local pod connection, for opaque TCP and for
// accepted upgrades: backpressure both ways (pipe), FIN passed on as END_STREAM and back, and
// resets kept as resets: RST_STREAM(CONNECT_ERROR) is how a tunnel says "TCP reset" (RFC 9113
// 8.5), so one becomes a RST towards the pod and a reset pod connection becomes one.
import http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex, Transform } from 'node:stream';
import { resetStream } from '../proxy/stream-relay.js';

/**
 * `guard`, when given, sits between the caller and the pod (first-line-guard.ts); when it
 * fails, the tunnel and the pod connection are reset.
 */
export function relayTunnelToPod(stream: Duplex, socket: net.Socket, guard?: Transform): void {
  const tunnel = stream as http2.ServerHttp2Stream;
  socket.on('error', () => resetStream(tunnel));
  tunnel.once('close', () => {
    // Any other early end (CANCEL: the caller just closed its side, as a socket.destroy()
    // would) closes the pod connection normally; it must not linger either way. (Node's http2
    // sends END_STREAM just before such a RST_STREAM, so the pod side may already be shut
    // down by the relay; a shut-down socket can only be closed, not reset.)
    if (tunnel.rstCode === http2.constants.NGHTTP2_CONNECT_ERROR && !socket.writableEnded) socket.resetAndDestroy();
    else if (!socket.writableEnded || tunnel.rstCode !== http2.constants.NGHTTP2_NO_ERROR) socket.destroy();
  });
  socket.pipe(tunnel);
  if (guard === undefined) {
    tunnel.pipe(socket);
  } else {
    guard.once('error', () => {
      resetStream(tunnel);
      socket.resetAndDestroy();
    });
    tunnel.pipe(guard).pipe(socket);
  }
  tunnel.resume();
}
