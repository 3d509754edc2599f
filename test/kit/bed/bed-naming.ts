// Names of everything a bed creates in kernel-global places (/run/netns, the cgroup v2 tree,
// bpffs). All carry the bed prefix "wb<6 hex of sha256(state dir)>", which is how `down` finds
// leftovers after a crash and how it avoids ever touching another bed's things.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where cgroup v2 is mounted: /sys/fs/cgroup/unified on hybrid hosts (like the project's
 * machines), /sys/fs/cgroup on pure cgroup v2 hosts.
 */
function findCgroupV2Root(): string {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' '));
  const cgroup2 = mounts.filter((fields) => fields[2] === 'cgroup2').map((fields) => fields[1]!);
  for (const candidate of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    if (cgroup2.includes(candidate)) return candidate;
  }
  throw new Error('no cgroup v2 mount at /sys/fs/cgroup/unified or /sys/fs/cgroup; the bed needs cgroup v2');
}

export const CGROUP_V2_ROOT = findCgroupV2Root();
export const BPFFS_ROOT = '/sys/fs/bpf';

export function bedPrefix(stateDir: string): string {
  return `wb${createHash('sha256').update(stateDir).digest('hex').slice(0, 6)}`;
}

export function bridgeNetnsName(prefix: string): string {
  return `${prefix}-bridge`;
}

export function nodeNetnsName(prefix: string, nodeName: string): string {
  return `${prefix}-${nodeName}`;
}

/** Pod UIDs are unique, so 12 hex digits of one never collide within a bed. */
function podKey(podUid: string): string {
  return podUid.replace(/-/g, '').slice(0, 12);
}

export function podNetnsName(prefix: string, podUid: string): string {
  return `${prefix}-pod-${podKey(podUid)}`;
}

/** The node-side end of a pod's veth (interface names are limited to 15 characters). */
export function podHostVethName(podUid: string): string {
  return `vp${podKey(podUid)}`;
}

export function bedCgroupRoot(prefix: string): string {
  return join(CGROUP_V2_ROOT, prefix);
}

export function nodeCgroupRoot(prefix: string, nodeName: string): string {
  return join(bedCgroupRoot(prefix), nodeName);
}

/** Cgroup of the bed's own processes (daemon, API server, relays), so `down` can kill them all. */
export function bedSystemCgroup(prefix: string): string {
  return join(bedCgroupRoot(prefix), 'bed-system');
}

export function bedBpffsRoot(prefix: string): string {
  return join(BPFFS_ROOT, prefix);
}

export function nodeBpffsDir(prefix: string, nodeName: string): string {
  return join(bedBpffsRoot(prefix), nodeName);
}
