// Runs one long-lived host-network process on a bed node - as kubelet runs a hostNetwork pod's
// container - inside the node's network namespace and in its own cgroup under the node's cgroup
// root, and restarts it when it exits. The agent and the CA supervisors are built on it.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { ENTER_CGROUP_AND_NETNS } from './kubelet/container-process.js';
import { NETNS_DIR } from './netns-ops.js';
import { ensureCgroup } from './cgroup-ops.js';
import type { NodePlan } from './node-plan.js';

const RESTART_DELAY_MS = 1000;

export interface NodeProcessOptions {
  /** What runs, for log lines ("agent", "ca"). */
  role: string;
  node: NodePlan;
  cgroupDir: string;
  command: string[];
  env: Record<string, string>;
  logFile: string;
  onPidChange: (pid: number | null) => void;
  log: (msg: string, fields?: object) => void;
}

export class NodeProcessSupervisor {
  private child: ChildProcess | null = null;
  private stopped = false;

  constructor(private readonly options: NodeProcessOptions) {}

  /** The process itself: sh and nsenter exec into the command, so the pid stays the same. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  async start(): Promise<void> {
    const { node, role } = this.options;
    await ensureCgroup(this.options.cgroupDir);
    const logFd = openSync(this.options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn('sh', ['-c', ENTER_CGROUP_AND_NETNS, 'sh', this.options.cgroupDir, `${NETNS_DIR}/${node.netns}`, ...this.options.command], {
        env: { ...process.env, ...this.options.env },
        stdio: ['ignore', logFd, logFd],
      });
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    this.options.onPidChange(child.pid ?? null);
    child.once('exit', (code, signal) => {
      this.options.onPidChange(null);
      if (this.stopped) return;
      this.options.log(`${role} exited; restarting`, { node: node.name, code, signal });
      setTimeout(() => {
        if (!this.stopped) this.start().catch((err: unknown) => this.options.log(`${role} restart failed`, { node: node.name, err: String(err) }));
      }, RESTART_DELAY_MS);
    });
  }

  /** SIGTERM (SIGCONT too, in case a test left it stopped), SIGKILL after `graceMs`; resolves once it exited. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    child.kill('SIGCONT');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
