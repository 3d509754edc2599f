// Keeps the kernel's view of "mesh destinations" equal to the snapshot: weft_svc holds every
// Service ClusterIP:port, weft_pod_cidr every pod CIDR. Writes only the difference, so a
// snapshot that changed nothing here costs two map walks and no writes.
import * as libbpf from '../../../native/src/libbpf.js';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import { cidrKeyCodec, svcKeyCodec, type StructCodec } from './abi.js';

const PRESENT = Uint8Array.of(1);

function currentKeys(fd: number, size: number): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  let key: Uint8Array | null = null;
  for (;;) {
    const next = new Uint8Array(size);
    if (!libbpf.mapNextKey(fd, key, next)) return keys;
    keys.set(Buffer.from(next).toString('hex'), next);
    key = next;
  }
}

function syncSet<T>(fd: number, codec: StructCodec<T>, wanted: readonly T[]): void {
  const have = currentKeys(fd, codec.size);
  for (const value of wanted) {
    const key = codec.encode(value);
    const id = Buffer.from(key).toString('hex');
    if (have.delete(id)) continue;
    libbpf.mapUpdate(fd, key, PRESENT);
  }
  for (const stale of have.values()) libbpf.mapDelete(fd, stale);
}

export function parseCidr(cidr: string): { ip4: string; prefixLength: number } {
  const [ip4, bits] = cidr.split('/');
  const prefixLength = Number(bits);
  if (!ip4 || !Number.isInteger(prefixLength)) throw new RangeError(`not an IPv4 CIDR: ${cidr}`);
  return { ip4, prefixLength };
}

export function syncMeshMaps(snapshot: MeshSnapshot, svcMapFd: number, podCidrMapFd: number): void {
  const services = [...snapshot.servicesByAddress.values()].map((t) => ({ ip4: t.service.clusterIP, port: t.port.port }));
  syncSet(svcMapFd, svcKeyCodec, services);
  syncSet(podCidrMapFd, cidrKeyCodec, snapshot.podCIDRs.map(parseCidr));
}
