// Joins two sockets both ways; an error or close on either side tears down the other, so a
// relay never keeps half-open connections around.
import type { Socket } from 'node:net';

export function pipeSockets(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const destroyBoth = (): void => {
    a.destroy();
    b.destroy();
  };
  // Connection resets are normal for a relay (clients hang up); tearing down is the handling.
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  a.on('close', destroyBoth);
  b.on('close', destroyBoth);
}
