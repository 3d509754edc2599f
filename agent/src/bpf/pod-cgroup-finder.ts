// Finds pod cgroups the way kubelet names them, under a configurable root:
//   systemd driver:  kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<UID with _>.slice/
//                    (Guaranteed: kubepods.slice/kubepods-pod<UID with _>.slice/)
//   cgroupfs driver: kubepods/<qos>/pod<UID>/   (Guaranteed: kubepods/pod<UID>/)
// Containers are children of the pod directory, so programs attached there cover them all;
// the walk therefore never descends into a pod directory.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** A pod's cgroup directory name (either driver), capturing the UID. */
export const POD_CGROUP_DIR = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
/** kubepods hierarchies are at most a few levels deep; the bound keeps a bad root cheap. */
const MAX_DEPTH = 8;

export class PodCgroupFinder {
  private byUid = new Map<string, string>();

  constructor(private readonly root: string) {}

  /** The pod's cgroup directory, rescanning once when the cached view does not have it. */
  find(podUid: string): string | undefined {
    const uid = podUid.toLowerCase();
    const cached = this.byUid.get(uid);
    if (cached) return cached;
    this.rescan();
    return this.byUid.get(uid);
  }

  rescan(): void {
    const found = new Map<string, string>();
    this.walk(this.root, 0, found);
    this.byUid = found;
  }

  private walk(dir: string, depth: number, found: Map<string, string>): void {
    if (depth > MAX_DEPTH) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      // a directory removed while walking (pod deleted) is expected
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      const match = POD_CGROUP_DIR.exec(entry.name);
      if (match) found.set(match[1]!.replaceAll('_', '-'), path);
      else this.walk(path, depth + 1, found);
    }
  }
}
