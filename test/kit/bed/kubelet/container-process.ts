// Starts one container's process the way a runtime would place it: into the node's cgroup root,
// then into the pod's network namespace (nsenter --net, unlike `ip netns exec`, leaves /sys, bpffs
// and the cgroup mount alone), then `unshare --mount --cgroup` (a cgroup namespace rooted at the
// node's root), where the setup script (container-mounts.ts) moves itself into the container's
// cgroup and binds the pod's volumes before exec of the command - so the command never runs
// outside its cgroup. Every step execs, so the child's pid is the container's main process.
// ENTER_CGROUP_AND_NETNS is also what `bed exec` and the node supervisors use.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { NETNS_DIR } from '../netns-ops.js';
import { UNSHARE_MOUNT, mountSetupScript, type ContainerMount } from './container-mounts.js';

export const ENTER_CGROUP_AND_NETNS =
  'cg=$1; ns=$2; shift 2; echo $$ > "$cg/cgroup.procs" && exec nsenter --net="$ns" -- "$@"';

export interface ContainerProcessSpec {
  command: string[];
  cgroupDir: string;
  /** The node's cgroup root: the root of the container's cgroup namespace. */
  nodeCgroupRoot: string;
  netns: string;
  logFile: string;
  env: Record<string, string>;
  workingDir: string;
  /** Volumes bound in the container's own mount namespace. */
  mounts: ContainerMount[];
  /** An empty directory of the pod's (see mountSetupScript). */
  mountStageDir: string;
}

export function startContainerProcess(spec: ContainerProcessSpec): ChildProcess {
  if (spec.command.length === 0) throw new Error('container has neither command nor args to run');
  const logFd = openSync(spec.logFile, 'a');
  try {
    const inNamespaces = [...UNSHARE_MOUNT, 'sh', '-c', mountSetupScript(spec.mounts, spec.mountStageDir), 'sh', spec.cgroupDir, ...spec.command];
    return spawn('sh', ['-c', ENTER_CGROUP_AND_NETNS, 'sh', spec.nodeCgroupRoot, `${NETNS_DIR}/${spec.netns}`, ...inNamespaces], {
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
