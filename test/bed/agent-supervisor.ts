// One supervisor per node starts the Weft agent inside the node's network namespace - as a
// hostNetwork DaemonSet pod would run - in the node's own cgroup, tells it where its cgroup
// root, bpffs directory and kubeconfig are, and restarts it when it exits, as kubelet restarts
// a DaemonSet pod.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENTER_CGROUP_AND_NETNS } from './kubelet/container-process.js';
import { NETNS_DIR } from './netns-ops.js';
import { ensureCgroup } from './cgroup-ops.js';
import type { NodePlan } from './node-plan.js';

const RESTART_DELAY_MS = 1000;

/** The compiled `weft` CLI (dist/agent/src/cli/main.js), as the image runs it. */
const weftCli = fileURLToPath(new URL('../../agent/src/cli/main.js', import.meta.url));

/** The command that runs a node agent. */
export function agentCommand(): string[] {
  return [process.execPath, weftCli, 'agent'];
}

export interface AgentSupervisorOptions {
  node: NodePlan;
  command: string[];
  kubeconfig: string;
  logFile: string;
  onPidChange: (pid: number | null) => void;
  log: (msg: string, fields?: object) => void;
}

export class AgentSupervisor {
  private child: ChildProcess | null = null;
  private stopped = false;

  constructor(private readonly options: AgentSupervisorOptions) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  async start(): Promise<void> {
    const { node } = this.options;
    // The agent's own cgroup sits beside kubepods, where a DaemonSet pod's would not, so the
    // agent never attaches programs to itself.
    const cgroupDir = join(node.cgroupRoot, 'weft-agent');
    await ensureCgroup(cgroupDir);
    const logFd = openSync(this.options.logFile, 'a');
    const child = spawn('sh', ['-c', ENTER_CGROUP_AND_NETNS, 'sh', cgroupDir, `${NETNS_DIR}/${node.netns}`, ...this.options.command], {
      env: {
        ...process.env,
        WEFT_NODE_NAME: node.name,
        WEFT_NODE_IP: node.ip,
        WEFT_CGROUP_ROOT: node.cgroupRoot,
        WEFT_BPFFS_DIR: node.bpffsDir,
        KUBECONFIG: this.options.kubeconfig,
      },
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    this.child = child;
    this.options.onPidChange(child.pid ?? null);
    child.once('exit', (code, signal) => {
      this.options.onPidChange(null);
      if (this.stopped) return;
      this.options.log('agent exited; restarting', { node: node.name, code, signal });
      setTimeout(() => {
        if (!this.stopped) this.start().catch((err: unknown) => this.options.log('agent restart failed', { node: node.name, err: String(err) }));
      }, RESTART_DELAY_MS);
    });
  }

  stop(): void {
    this.stopped = true;
    this.child?.kill('SIGTERM');
  }
}
