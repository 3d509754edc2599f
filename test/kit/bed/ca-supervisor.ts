// Runs `weft ca` on node-1 as the chart's CA Deployment would run there with hostNetwork: inside
// the node's network namespace, in its own cgroup `<node cgroup root>/weft-ca`, listening on the
// node IP, with the bed kubeconfig (the API relay makes its 127.0.0.1 URL work inside the node).
// Restarted when it exits. Tests SIGSTOP/SIGCONT its pid (bed.json `ca.pid`) to simulate an outage.
import { join } from 'node:path';
import { weftCli } from './agent-supervisor.js';
import { NodeProcessSupervisor } from './node-process-supervisor.js';
import type { NodePlan } from './node-plan.js';

export const CA_PORT = 15012;
export const CA_NAMESPACE = 'weft-system';
export const TRUST_DOMAIN = 'cluster.local';
export const TRUST_BUNDLE_CONFIGMAP = 'weft-trust-bundle';

export interface CaSupervisorOptions {
  node: NodePlan;
  kubeconfig: string;
  certTtl: string;
  logFile: string;
  onPidChange: (pid: number | null) => void;
  log: (msg: string, fields?: object) => void;
}

/** `weft ca` with the bed's settings; the lifetime is both default and maximum, so tests get exactly it. */
export function caCommand(node: NodePlan, certTtl: string): string[] {
  return [
    process.execPath, weftCli, 'ca',
    '--namespace', CA_NAMESPACE,
    '--listen-host', node.ip,
    '--port', String(CA_PORT),
    '--ip-san', node.ip,
    '--trust-domain', TRUST_DOMAIN,
    '--default-ttl', certTtl,
    '--max-ttl', certTtl,
  ];
}

export function caAddress(node: NodePlan): string {
  return `${node.ip}:${CA_PORT}`;
}

export class CaSupervisor {
  private readonly process: NodeProcessSupervisor;

  constructor(options: CaSupervisorOptions) {
    this.process = new NodeProcessSupervisor({
      role: 'ca',
      node: options.node,
      cgroupDir: join(options.node.cgroupRoot, 'weft-ca'),
      command: caCommand(options.node, options.certTtl),
      env: { KUBECONFIG: options.kubeconfig },
      logFile: options.logFile,
      onPidChange: options.onPidChange,
      log: options.log,
    });
  }

  get pid(): number | null {
    return this.process.pid;
  }

  start(): Promise<void> {
    return this.process.start();
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}
