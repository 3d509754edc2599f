// Membership test of an IPv4 address in a list of CIDRs (the cluster's pod CIDRs). IPv6 is not
// supported yet (see README); IPv6 CIDRs and addresses simply never match.
export class Ipv4CidrSet {
  private readonly bases: Uint32Array;
  private readonly masks: Uint32Array;

  constructor(cidrs: readonly string[]) {
    const parsed = cidrs.filter((cidr) => !cidr.includes(':')).map(parseIpv4Cidr);
    this.bases = Uint32Array.from(parsed, (cidr) => cidr.base);
    this.masks = Uint32Array.from(parsed, (cidr) => cidr.mask);
  }

  has(ip: string): boolean {
    const value = ipv4ToUint32(ip);
    if (value === undefined) return false;
    for (let i = 0; i < this.bases.length; i++) {
      if (((value & this.masks[i]!) >>> 0) === this.bases[i]) return true;
    }
    return false;
  }
}

export function ipv4ToUint32(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

function parseIpv4Cidr(cidr: string): { base: number; mask: number } {
  const [address, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const value = address === undefined ? undefined : ipv4ToUint32(address);
  if (value === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    throw new Error(`invalid IPv4 CIDR '${cidr}' in the mesh snapshot's podCIDRs (expected e.g. 10.244.1.0/24)`);
  }
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (value & mask) >>> 0, mask };
}
