// The agent's configuration, from flags with environment fallbacks, validated once at start.
// This is the only place that reads process.env. A bad value stops the agent with a message that
// names the flag and the variable.
import { isIPv4 } from 'node:net';
import { ConfigError, optionValue, parseFlags, type OptionSpec } from './command-flags.js';

export interface AgentConfig {
  nodeName: string;
  nodeIp: string;
  /** Kubeconfig file; undefined means in-cluster (service-account token and KUBERNETES_SERVICE_HOST). */
  kubeconfig?: string;
  /** Where pod cgroups are searched for (the kubelet's cgroup root or a bed node's subtree). */
  cgroupRoot: string;
  /** This node's bpffs directory for pinned maps and links. */
  bpffsDir: string;
  /** Directory of the compiled bpf objects. */
  bpfObjectDir: string;
  outboundPort: number;
  adminPort: number;
  logLevel: string;
}


export const AGENT_OPTIONS = {
  nodeName: { flag: '--node-name', env: 'WEFT_NODE_NAME', description: 'this node\'s name (downward API spec.nodeName)' },
  nodeIp: { flag: '--node-ip', env: 'WEFT_NODE_IP', description: 'this node\'s IPv4 address (downward API status.hostIP)' },
  kubeconfig: { flag: '--kubeconfig', env: 'KUBECONFIG', description: 'kubeconfig file; in-cluster config when absent' },
  cgroupRoot: { flag: '--cgroup-root', env: 'WEFT_CGROUP_ROOT', description: 'cgroup v2 directory searched for pod cgroups', default: '/sys/fs/cgroup' },
  bpffsDir: { flag: '--bpffs-dir', env: 'WEFT_BPFFS_DIR', description: 'bpffs directory for pins', default: '/sys/fs/bpf/weft' },
  bpfObjectDir: { flag: '--bpf-object-dir', env: 'WEFT_BPF_OBJECT_DIR', description: 'directory of the compiled bpf objects' },
  outboundPort: { flag: '--outbound-port', env: 'WEFT_OUTBOUND_PORT', description: 'outbound capture port', default: '15001' },
  adminPort: { flag: '--admin-port', env: 'WEFT_ADMIN_PORT', description: 'admin port (/metrics, /healthz, /readyz)', default: '15020' },
  logLevel: { flag: '--log-level', env: 'WEFT_LOG_LEVEL', description: 'pino log level', default: 'info' },
} satisfies Record<keyof AgentConfig, OptionSpec>;

type Key = keyof typeof AGENT_OPTIONS;

function port(key: Key, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    const spec = AGENT_OPTIONS[key];
    throw new ConfigError(`${spec.flag} (or ${spec.env}) must be a port 1-65535, got "${text}"`);
  }
  return value;
}

export function loadAgentConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  defaultBpfObjectDir: string,
): AgentConfig {
  const flags = parseFlags(argv, AGENT_OPTIONS);
  const get = (key: Key): string | undefined => optionValue(key, AGENT_OPTIONS, flags, env);
  const required = (key: Key): string => {
    const value = get(key);
    if (!value) {
      const spec = AGENT_OPTIONS[key];
      throw new ConfigError(`${spec.flag} (or ${spec.env}) is required: ${spec.description}`);
    }
    return value;
  };
  const nodeIp = required('nodeIp');
  if (!isIPv4(nodeIp)) throw new ConfigError(`--node-ip (or WEFT_NODE_IP) must be an IPv4 address, got "${nodeIp}"`);
  const nodeName = required('nodeName');
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(nodeName)) {
    throw new ConfigError(`--node-name (or WEFT_NODE_NAME) is not a valid node name: "${nodeName}"`);
  }
  const logLevel = required('logLevel');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of fatal, error, warn, info, debug, trace; got "${logLevel}"`);
  }
  return {
    nodeName,
    nodeIp,
    kubeconfig: get('kubeconfig'),
    cgroupRoot: required('cgroupRoot'),
    bpffsDir: required('bpffsDir'),
    bpfObjectDir: get('bpfObjectDir') ?? defaultBpfObjectDir,
    outboundPort: port('outboundPort', required('outboundPort')),
    adminPort: port('adminPort', required('adminPort')),
    logLevel,
  };
}
