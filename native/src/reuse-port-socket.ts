// A listening IPv4 TCP socket with SO_REUSEPORT, made through libc because Node 20's net.Server
// cannot set the option (`reusePort` arrived in Node 22.12). Node then serves the descriptor
// with `server.listen({ fd })`. SO_REUSEPORT is what lets a new agent listen on the same ports
// while the one it replaces drains (and, with net.ipv4.tcp_migrate_req, lets the old listener's
// queued connections move to the new one instead of being reset).
import koffi from 'koffi';
import { BpfError } from './bpf-error.js';

const libc = koffi.load('libc.so.6');

const c = {
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t length)'),
  bind: libc.func('int bind(int fd, const void *address, uint32_t length)'),
  listen: libc.func('int listen(int fd, int backlog)'),
  close: libc.func('int close(int fd)'),
};

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_REUSEPORT = 15;
const SOCKADDR_IN_SIZE = 16;

/**
 * A socket bound to ip4:port and listening, with SO_REUSEADDR and SO_REUSEPORT set; returns its
 * descriptor (the caller hands it to `server.listen({ fd })`, which owns it from then on).
 */
export function listenReusePort(ip4: string, port: number, backlog = 511): number {
  const address = sockaddrIn(ip4, port);
  const fd = c.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) throw new BpfError('socket', koffi.errno());
  try {
    const one = Buffer.alloc(4);
    one.writeInt32LE(1);
    if ((c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4) as number) < 0) throw new BpfError('setsockopt(SO_REUSEADDR)', koffi.errno());
    if ((c.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one, 4) as number) < 0) throw new BpfError('setsockopt(SO_REUSEPORT)', koffi.errno());
    if ((c.bind(fd, address, SOCKADDR_IN_SIZE) as number) < 0) throw new BpfError('bind', koffi.errno(), `${ip4}:${port}`);
    if ((c.listen(fd, backlog) as number) < 0) throw new BpfError('listen', koffi.errno(), `${ip4}:${port}`);
    return fd;
  } catch (err) {
    c.close(fd);
    throw err;
  }
}

function sockaddrIn(ip4: string, port: number): Buffer {
  const octets = ip4.split('.').map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : NaN));
  if (octets.length !== 4 || octets.some((octet) => !(octet >= 0 && octet <= 255))) throw new RangeError(`not an IPv4 address: ${ip4}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`not a port: ${port}`);
  const address = Buffer.alloc(SOCKADDR_IN_SIZE);
  address.writeUInt16LE(AF_INET, 0); // sa_family is host order
  address.writeUInt16BE(port, 2);
  for (let i = 0; i < 4; i++) address[4 + i] = octets[i]!;
  return address;
}
