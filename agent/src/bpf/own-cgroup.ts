// The agent's own cgroup v2 id (the inode of its cgroup directory), which the programs skip so
// the proxy's own connections are never redirected back to itself.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The first cgroup2 mount point, e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified on hybrid hosts. */
export function cgroup2MountPoint(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string {
  for (const line of mountinfo.split('\n')) {
    // fields: id parent major:minor root mountpoint options ... - fstype source superoptions
    const [left, right] = line.split(' - ');
    if (!left || !right || !right.startsWith('cgroup2 ')) continue;
    return left.split(' ')[4]!;
  }
  throw new Error('no cgroup2 mount found in /proc/self/mountinfo: Weft needs cgroup v2');
}

export function ownCgroupId(): bigint {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
  if (!line) throw new Error('this process has no cgroup v2 membership (/proc/self/cgroup has no 0:: line)');
  const path = line.slice(3);
  return statSync(join(cgroup2MountPoint(), path), { bigint: true }).ino;
}
