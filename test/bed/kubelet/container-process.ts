// Starts one container's process the way a runtime would place it: first into the container's
// cgroup, then into the pod's network namespace, then exec of the command. The shell moves itself
// (echo $$ > cgroup.procs) before exec, so the command never runs outside its cgroup even briefly,
// and nsenter --net (unlike `ip netns exec`) leaves /sys, bpffs and the cgroup mount alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { NETNS_DIR } from '../netns-ops.js';

export const ENTER_CGROUP_AND_NETNS =
  'cg=$1; ns=$2; shift 2; echo $$ > "$cg/cgroup.procs" && exec nsenter --net="$ns" -- "$@"';

export interface ContainerProcessSpec {
  command: string[];
  cgroupDir: string;
  netns: string;
  logFile: string;
  env: Record<string, string>;
  workingDir: string;
}

export function startContainerProcess(spec: ContainerProcessSpec): ChildProcess {
  if (spec.command.length === 0) throw new Error('container has neither command nor args to run');
  const logFd = openSync(spec.logFile, 'a');
  try {
    return spawn('sh', ['-c', ENTER_CGROUP_AND_NETNS, 'sh', spec.cgroupDir, `${NETNS_DIR}/${spec.netns}`, ...spec.command], {
      cwd: spec.workingDir,
      env: spec.env,
      // Own process group: signals aimed at the daemon never reach pod processes by accident.
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
}
