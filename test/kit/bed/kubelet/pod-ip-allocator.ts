// Hands out pod IPs from a node's /24 pod CIDR (.2 to .254; .0, .1 and .255 are left alone),
// like a host-local IPAM plugin. Released addresses go to the back of the line so a new pod does
// not inherit a just-deleted pod's IP while EndpointSlices may still list it.

export class PodIpAllocator {
  private readonly base: string;
  private readonly inUse = new Map<string, string>(); // uid -> ip
  private next = 2;

  constructor(podCIDR: string) {
    const match = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(podCIDR);
    if (!match) throw new Error(`pod CIDR must be a /24 ending in .0, got ${podCIDR}`);
    this.base = match[1]!;
  }

  allocate(uid: string): string {
    const existing = this.inUse.get(uid);
    if (existing) return existing;
    const taken = new Set(this.inUse.values());
    for (let tries = 0; tries < 253; tries++) {
      const candidate = `${this.base}.${this.next}`;
      this.next = this.next >= 254 ? 2 : this.next + 1;
      if (!taken.has(candidate)) {
        this.inUse.set(uid, candidate);
        return candidate;
      }
    }
    throw new Error(`pod CIDR ${this.base}.0/24 is exhausted (253 pods on one node)`);
  }

  release(uid: string): void {
    this.inUse.delete(uid);
  }
}
