// Whether some process of this network namespace listens on an address, read from
// /proc/net/tcp (the calling thread's namespace, which is the node's for the agent). Used at
// a handover to learn whether a successor agent already listens beside this one: with
// SO_REUSEPORT every listener is its own line, and the ones whose socket inode is not among
// this process's fds (its proxy workers are threads: their fds are its fds) are another's.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const TCP_LISTEN = '0A';

/** TCP sockets listening on ip4:port (or on 0.0.0.0:port) in this network namespace. */
export function listenerCount(ip4: string, port: number, table = readFileSync('/proc/net/tcp', 'utf8')): number {
  return listenerInodes(ip4, port, table).length;
}

/**
 * Like listenerCount, without the listeners this process holds. This process's sockets are
 * read before and after the table: a listener of ours that closes or opens meanwhile (a
 * worker's drain ends, a replacement worker listens) is in one of the two reads, so it is
 * never taken for another process's.
 */
export function otherListenerCount(ip4: string, port: number): number {
  const before = ownSocketInodes();
  const table = readFileSync('/proc/net/tcp', 'utf8');
  const after = ownSocketInodes();
  return countOtherListeners(ip4, port, table, new Set([...before, ...after]));
}

/** Listeners on ip4:port in a /proc/net/tcp table whose inode is not in `own`. */
export function countOtherListeners(ip4: string, port: number, table: string, own: ReadonlySet<string>): number {
  return listenerInodes(ip4, port, table).filter((inode) => !own.has(inode)).length;
}

function listenerInodes(ip4: string, port: number, table: string): string[] {
  const wanted = [procAddress(ip4, port), procAddress('0.0.0.0', port)];
  const inodes: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[3] === TCP_LISTEN && wanted.includes(fields[1]!)) inodes.push(fields[9]!);
  }
  return inodes;
}

/** Inodes of the sockets this process has open (/proc/self/fd links read "socket:[inode]"). */
function ownSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (readdir's own fd, for one)
    }
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match !== null) inodes.add(match[1]!);
  }
  return inodes;
}

/** /proc/net/tcp writes an address as the in-memory u32 in hex (little endian here) and the port in hex. */
function procAddress(ip4: string, port: number): string {
  const octets = ip4.split('.').map(Number);
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');
  return `${hex(octets[3]!)}${hex(octets[2]!)}${hex(octets[1]!)}${hex(octets[0]!)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}
