// How many CPUs the agent may use: the CPUs it may run on (its affinity mask, which a
// Kubernetes static CPU policy narrows), further capped by its cgroup's CPU quota (a container
// CPU limit: `cpu.max` "quota period"), rounded up. Read once at start.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** The cgroup v2 mount and this process's cgroup path below it (from /proc/self/cgroup). */
export function cpusAvailable(cgroupMount = '/sys/fs/cgroup', selfCgroup = readSelfCgroup()): number {
  const affinity = availableParallelism();
  const quota = selfCgroup === undefined ? undefined : cpuQuota(`${cgroupMount}${selfCgroup === '/' ? '' : selfCgroup}/cpu.max`);
  return quota === undefined ? affinity : Math.max(1, Math.min(affinity, quota));
}

/** CPUs granted by a cgroup v2 cpu.max file ("max 100000" = no limit), rounded up. */
export function cpuQuota(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined; // no cpu controller here, or another cgroup layout: no quota known
  }
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || period === undefined) return undefined;
  const cpus = Number(quota) / Number(period);
  return Number.isFinite(cpus) && cpus > 0 ? Math.ceil(cpus) : undefined;
}

function readSelfCgroup(): string | undefined {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
    return line?.slice(3).trim();
  } catch {
    return undefined;
  }
}
