// One supervisor per node starts the Weft agent inside the node's network namespace - as a
// hostNetwork DaemonSet pod would run - in the node's own cgroup, tells it where its cgroup
// root, bpffs directory, kubeconfig and (when the bed runs one) the CA are, and restarts it when
// it exits, as kubelet restarts a DaemonSet pod.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeProcessSupervisor } from './node-process-supervisor.js';
import type { NodePlan } from './node-plan.js';

/** The compiled `weft` CLI (dist/agent/src/cli/main.js), as the image runs it. */
export const weftCli = fileURLToPath(new URL('../../../agent/src/cli/main.js', import.meta.url));

/**
 * Node flags for the bed's agents, from WEFT_BED_AGENT_NODE_ARGS (space-separated), for
 * diagnostics such as `--cpu-prof --cpu-prof-dir=DIR` (Node refuses those in NODE_OPTIONS).
 */
const AGENT_NODE_ARGS_ENV = 'WEFT_BED_AGENT_NODE_ARGS';

/** The command that runs a node agent. */
export function agentCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const nodeArgs = (env[AGENT_NODE_ARGS_ENV] ?? '').split(' ').filter((arg) => arg !== '');
  return [process.execPath, ...nodeArgs, weftCli, 'agent'];
}

/** Where the agent finds the CA and its credentials for it. */
export interface AgentCaSettings {
  address: string;          // host:port of the CA
  tokenFile: string;        // the pod-bound service-account token for the CA audience
  trustDomain: string;
  namespace: string;        // the CA's namespace (its weft-trust-bundle ConfigMap)
  certTtl: string;          // requested certificate lifetime, e.g. 60s or 24h
}

export interface AgentSupervisorOptions {
  node: NodePlan;
  command: string[];
  kubeconfig: string;
  logFile: string;
  /** null when the bed runs no CA (`up --no-ca`): the agent then gets no CA settings. */
  ca: AgentCaSettings | null;
  onPidChange: (pid: number | null) => void;
  log: (msg: string, fields?: object) => void;
}

/** The agent's environment, as the DaemonSet's pod spec would set it. */
export function agentEnvironment(node: NodePlan, kubeconfig: string, ca: AgentCaSettings | null): Record<string, string> {
  const env: Record<string, string> = {
    WEFT_NODE_NAME: node.name,
    WEFT_NODE_IP: node.ip,
    WEFT_CGROUP_ROOT: node.cgroupRoot,
    WEFT_BPFFS_DIR: node.bpffsDir,
    KUBECONFIG: kubeconfig,
  };
  if (ca) {
    env.WEFT_CA_ADDRESS = ca.address;
    env.WEFT_CA_TOKEN_FILE = ca.tokenFile;
    env.WEFT_TRUST_DOMAIN = ca.trustDomain;
    env.WEFT_CA_NAMESPACE = ca.namespace;
    env.WEFT_CERT_TTL = ca.certTtl;
  }
  return env;
}

export class AgentSupervisor {
  private readonly process: NodeProcessSupervisor;

  constructor(options: AgentSupervisorOptions) {
    const { node } = options;
    this.process = new NodeProcessSupervisor({
      role: 'agent',
      node,
      // The agent's own cgroup sits beside kubepods, where a DaemonSet pod's would not, so the
      // agent never attaches programs to itself.
      cgroupDir: join(node.cgroupRoot, 'weft-agent'),
      command: options.command,
      env: agentEnvironment(node, options.kubeconfig, options.ca),
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
