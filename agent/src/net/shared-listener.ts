// Every listener of the agent (outbound proxy, HBONE server, admin server) is opened with
// SO_REUSEPORT, so the agent that replaces this one (a rolling update with maxSurge, or a
// restart) listens on the same ports while this one drains: the kernel spreads new
// connections over both until this one closes its listeners, and then moves the connections
// still queued on them to the successor (net.ipv4.tcp_migrate_req, set by enableListenerMigration).
import { writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import type net from 'node:net';
import { listenReusePort } from '../../../native/src/reuse-port-socket.js';

/**
 * Listens on host:port with SO_REUSEPORT (IPv4 hosts; others listen as usual). Resolves once
 * listening; rejects with the bind error (e.g. EADDRINUSE held by a process of another user).
 */
export function listenShared(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (!isIPv4(host)) {
      server.listen({ host, port }, done);
      return;
    }
    let fd: number;
    try {
      fd = listenReusePort(host, port);
    } catch (err) {
      server.off('error', onError);
      reject(err as Error);
      return;
    }
    server.listen({ fd }, done);
  });
}

const TCP_MIGRATE_REQ = '/proc/sys/net/ipv4/tcp_migrate_req';

/**
 * Lets connections queued on a closing SO_REUSEPORT listener move to another listener of the
 * same group instead of being reset (per network namespace; the agent's is the node's).
 * Returns the error when the kernel or the mount does not allow it (nothing else changes then:
 * only connections queued at the moment a listener closes would be reset).
 */
export function enableListenerMigration(): Error | null {
  try {
    writeFileSync(TCP_MIGRATE_REQ, '1');
    return null;
  } catch (err) {
    return err as Error;
  }
}
