// Keeps the connect-time authorization maps equal to what the snapshot says
// (authz/connect-deny-entries.ts): weft_authz_deny holds the refused (source identity index,
// address, port) pairs with the deciding policy's index, weft_authz_src maps each enrolled local
// pod's cgroup to its identity's index. Indexes are given once per process and never reused, so
// a counter in weft_authz_cnt always belongs to one policy. Writes only differences.
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import * as libbpf from '../../../native/src/libbpf.js';
import { connectDenyEntries } from '../authz/connect-deny-entries.js';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import { authzDenyKeyCodec } from './abi.js';
import { hex, u32, u64, writeDifference } from './map-difference.js';
import type { PodCgroupFinder } from './pod-cgroup-finder.js';
import type { RedirectPrograms } from './redirect-programs.js';

/** bpf/include/weft_abi.h WEFT_MAX_AUTHZ_POLICIES: index 0 is the default deny. */
const MAX_POLICIES = 4096;

export class ConnectDenySync {
  private readonly sourceIndexes = new Map<string, number>();
  private readonly policyIndexes = new Map<string, number>();
  /** A counter's value when its index was given out: counts of an earlier agent are not ours. */
  private readonly baselines = new Map<number, bigint>();
  /** What the maps hold, by hex key -> hex value; read from the (pinned) maps on first use. */
  private denyWritten: Map<string, string> | undefined;
  private srcWritten: Map<string, string> | undefined;
  private lastSnapshot: MeshSnapshot | undefined;
  private warnedFull = false;

  constructor(
    private readonly programs: Pick<RedirectPrograms, 'mapFds' | 'authzConnectDenials'>,
    private readonly cgroups: PodCgroupFinder,
    private readonly trustDomain: string,
    private readonly log: Logger,
  ) {}

  /** After every publication and whenever a pod cgroup appears. */
  sync(snapshot: MeshSnapshot): void {
    if (snapshot !== this.lastSnapshot) {
      this.lastSnapshot = snapshot;
      const wanted = new Map<string, string>();
      for (const entry of connectDenyEntries(snapshot, snapshot.authz, this.trustDomain)) {
        const policy = this.policyIndex(entry.policy);
        if (policy === undefined) continue;
        const key = authzDenyKeyCodec.encode({ source: this.sourceIndex(entry.source), ip4: entry.ip4, port: entry.port });
        wanted.set(hex(key), hex(u32(policy)));
      }
      this.denyWritten = writeDifference(this.programs.mapFds.weft_authz_deny, authzDenyKeyCodec.size, 4, this.denyWritten, wanted);
    }
    const sources = new Map<string, string>();
    for (const pod of snapshot.enrolledLocalPods) {
      const cgroup = this.cgroups.find(pod.uid);
      if (cgroup === undefined) continue; // not there yet: the next cgroup appearance syncs again
      let id: bigint;
      try {
        id = statSync(cgroup, { bigint: true }).ino; // a cgroup v2 directory's inode is its cgroup id
      } catch {
        continue; // removed meanwhile
      }
      sources.set(hex(u64(id)), hex(u32(this.sourceIndex(`${pod.namespace}/${pod.serviceAccount}`))));
    }
    this.srcWritten = writeDifference(this.programs.mapFds.weft_authz_src, 8, 4, this.srcWritten, sources);
  }

  /** Refused connects per policy id since the maps were created. */
  denials(): Map<string, bigint> {
    const counts = this.programs.authzConnectDenials(this.policyIndexes.values());
    const byPolicy = new Map<string, bigint>();
    for (const [policy, index] of this.policyIndexes) {
      const count = (counts.get(index) ?? 0n) - (this.baselines.get(index) ?? 0n);
      if (count > 0n) byPolicy.set(policy, count);
    }
    return byPolicy;
  }

  private sourceIndex(source: string): number {
    let index = this.sourceIndexes.get(source);
    if (index === undefined) this.sourceIndexes.set(source, (index = this.sourceIndexes.size + 1));
    return index;
  }

  private policyIndex(policy: string): number | undefined {
    let index = this.policyIndexes.get(policy);
    if (index === undefined) {
      if (this.policyIndexes.size >= MAX_POLICIES) {
        if (!this.warnedFull) this.log.warn({ policy }, `more than ${MAX_POLICIES - 1} policies have denied at connect time since the agent started; further ones are enforced at the destination only`);
        this.warnedFull = true;
        return undefined;
      }
      this.policyIndexes.set(policy, (index = this.policyIndexes.size));
      this.baselines.set(index, this.programs.authzConnectDenials([index]).get(index) ?? 0n);
    }
    return index;
  }
}
