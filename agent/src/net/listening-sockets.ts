// Whether some process of this network namespace listens on an address, read from
// /proc/net/tcp (the calling thread's namespace, which is the node's for the agent). Used at
// a handover to learn whether a successor agent already listens beside this one (with
// SO_REUSEPORT every process's listener is its own line).
import { readFileSync } from 'node:fs';

const TCP_LISTEN = '0A';

/** TCP sockets listening on ip4:port (or on 0.0.0.0:port) in this network namespace. */
export function listenerCount(ip4: string, port: number, table = readFileSync('/proc/net/tcp', 'utf8')): number {
  const wanted = [procAddress(ip4, port), procAddress('0.0.0.0', port)];
  let count = 0;
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[3] === TCP_LISTEN && wanted.includes(fields[1]!)) count++;
  }
  return count;
}

/** /proc/net/tcp writes an address as the in-memory u32 in hex (little endian here) and the port in hex. */
function procAddress(ip4: string, port: number): string {
  const octets = ip4.split('.').map(Number);
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');
  return `${hex(octets[3]!)}${hex(octets[2]!)}${hex(octets[1]!)}${hex(octets[0]!)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}
