// Keeps the kernel's plaintext allow-lists equal to the pods' authorization policies
// (authz/plaintext-allow-list.ts): weft_plain_pod maps the cgroup of each enrolled local pod whose
// ingress program is there for its policies (not for strict mTLS) to an index, and
// weft_plain_allow holds that index's prefixes. A pod whose policies the list cannot express gets
// no index: it takes no plaintext (fail closed). Writes only differences.
import { statSync } from 'node:fs';
import { plaintextAllowList } from '../authz/plaintext-allow-list.js';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import { plainKeyCodec } from './abi.js';
import { hex, u32, u64, writeDifference } from './map-difference.js';
import type { PodCgroupFinder } from './pod-cgroup-finder.js';
import type { RedirectPrograms } from './redirect-programs.js';

export class PlaintextAllowSync {
  private readonly podIndexes = new Map<string, number>();
  private podsWritten: Map<string, string> | undefined;
  private prefixesWritten: Map<string, string> | undefined;
  private lastSnapshot: MeshSnapshot | undefined;

  constructor(
    private readonly programs: Pick<RedirectPrograms, 'mapFds'>,
    private readonly cgroups: PodCgroupFinder,
  ) {}

  /** After every publication and whenever a pod cgroup appears. */
  sync(snapshot: MeshSnapshot): void {
    const guarded = snapshot.enrolledLocalPods.filter((pod) => pod.strict && !pod.mtlsStrict);
    if (snapshot !== this.lastSnapshot) {
      this.lastSnapshot = snapshot;
      const present = new Set(guarded.map((pod) => pod.uid));
      for (const uid of this.podIndexes.keys()) if (!present.has(uid)) this.podIndexes.delete(uid);
      const ipByUid = new Map<string, string>();
      for (const pod of snapshot.podsByIp.values()) ipByUid.set(pod.uid, pod.ip);
      const wanted = new Map<string, string>();
      for (const pod of guarded) {
        const ip = ipByUid.get(pod.uid);
        const workload = ip === undefined ? undefined : snapshot.authz.byPodIp.get(ip);
        const prefixes = workload === undefined ? null : plaintextAllowList(workload);
        if (prefixes === null) continue;
        const index = this.podIndex(pod.uid);
        // Denies first: a write that fails half-way then leaves an allow out, never an except.
        for (const prefix of [...prefixes].sort((a, b) => Number(a.allow) - Number(b.allow))) {
          wanted.set(hex(plainKeyCodec.encode({ prefixLength: prefix.prefixLength, pod: index, ip4: prefix.ip4 })), prefix.allow ? '01' : '00');
        }
      }
      this.prefixesWritten = writeDifference(this.programs.mapFds.weft_plain_allow, plainKeyCodec.size, 1, this.prefixesWritten, wanted);
    }
    const pods = new Map<string, string>();
    for (const pod of guarded) {
      const index = this.podIndexes.get(pod.uid);
      const cgroup = index === undefined ? undefined : this.cgroups.find(pod.uid);
      if (index === undefined || cgroup === undefined) continue;
      try {
        pods.set(hex(u64(statSync(cgroup, { bigint: true }).ino)), hex(u32(index)));
      } catch {
        // removed meanwhile
      }
    }
    this.podsWritten = writeDifference(this.programs.mapFds.weft_plain_pod, 8, 4, this.podsWritten, pods);
  }

  private nextIndex = 1;

  /** Never reused while the process lives: a stale prefix can never apply to another pod. */
  private podIndex(uid: string): number {
    let index = this.podIndexes.get(uid);
    if (index === undefined) this.podIndexes.set(uid, (index = this.nextIndex++));
    return index;
  }
}
