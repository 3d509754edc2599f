// ClusterIP allocation from the service CIDR, as the real service IP allocator does: the
// first address is reserved (it belongs to the `kubernetes` Service), the network and broadcast
// addresses are never handed out, and addresses come back when their Service is deleted.
import { isIPv4 } from 'node:net';

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export class ClusterIpError extends Error {}

export class ClusterIpAllocator {
  private readonly first: number;
  private readonly last: number;
  private readonly used = new Set<number>();
  private next: number;

  constructor(readonly cidr: string) {
    const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
    if (!match || !isIPv4(match[1]!) || Number(match[2]) > 30 || Number(match[2]) < 8) {
      throw new Error(`service CIDR must be an IPv4 CIDR between /8 and /30, like 10.96.0.0/16; got "${cidr}"`);
    }
    const size = 2 ** (32 - Number(match[2]));
    const network = Math.floor(ipToInt(match[1]!) / size) * size;
    this.first = network + 2; // network address and the reserved `kubernetes` Service address
    this.last = network + size - 2;
    this.next = this.first;
  }

  contains(ip: string): boolean {
    if (!isIPv4(ip)) return false;
    const n = ipToInt(ip);
    return n >= this.first - 1 && n <= this.last;
  }

  /** Allocates a free address (round robin, so a released address is not reused at once). */
  allocate(): string {
    const count = this.last - this.first + 1;
    for (let i = 0; i < count; i++) {
      const candidate = this.first + ((this.next - this.first + i) % count);
      if (!this.used.has(candidate)) {
        this.used.add(candidate);
        this.next = candidate + 1 > this.last ? this.first : candidate + 1;
        return intToIp(candidate);
      }
    }
    throw new ClusterIpError(`range is full: no more IPs in ${this.cidr}`);
  }

  /** Claims a specific address the user asked for. */
  claim(ip: string): void {
    if (!this.contains(ip)) throw new ClusterIpError(`provided IP is not in the valid range. The range of valid IPs is ${this.cidr}`);
    const n = ipToInt(ip);
    if (this.used.has(n)) throw new ClusterIpError('provided IP is already allocated');
    this.used.add(n);
  }

  release(ip: string): void {
    if (isIPv4(ip)) this.used.delete(ipToInt(ip));
  }
}
