// The agent's configuration, from flags with environment fallbacks, validated once at start.
// This is the only place that reads process.env. A bad value stops the agent with a message that
// names the flag and the variable.
import { isIPv4 } from 'node:net';
import { ConfigError, optionValue, parseFlags, type OptionSpec } from './command-flags.js';
import { parseDurationSeconds } from './duration.js';
import { cpusAvailable } from './cpus-available.js';

/** The CA refuses lifetimes under a minute; so does the agent, before asking. */
const MIN_CERT_TTL_SECONDS = 60;

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
  /** Where the agent gets workload certificates; undefined runs without identity (cross-node mesh traffic is then refused). */
  ca?: AgentCaConfig;
  /** SPIFFE trust domain of the mesh identities. */
  trustDomain: string;
  /** HBONE tunnel port: this node accepts on it, peers' agents connect to it. */
  hbonePort: number;
  /**
   * The agent's own Pod (downward API), when it runs as a DaemonSet pod: on exit the agent asks
   * whether its DaemonSet is being deleted (uninstall: remove redirection) or not (upgrade,
   * restart: keep it). Undefined: always keep.
   */
  pod?: { namespace: string; name: string };
  /**
   * On SIGTERM (not an uninstall) the agent stops accepting and lets open connections finish
   * for up to this long before it cuts what is left and exits; below the pod's
   * terminationGracePeriodSeconds, so the kubelet never has to kill it.
   */
  drainTimeoutSeconds: number;
  /** Proxy worker threads; default one per CPU the agent may use (cpus-available.ts). */
  proxyWorkers: number;
}

export interface AgentCaConfig {
  /** host:port of `weft ca`. */
  address: string;
  /** Name to check in the CA's serving certificate when the address is not in it (e.g. an IP). */
  serverName?: string;
  /** The projected service-account token (audience weft-ca); read again for every request because the kubelet rotates it. */
  tokenFile: string;
  /** Namespace of the `weft-trust-bundle` ConfigMap. */
  namespace: string;
  /** Lifetime asked for each workload certificate (the CA may cap it). */
  certTtlSeconds: number;
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
  trustDomain: { flag: '--trust-domain', env: 'WEFT_TRUST_DOMAIN', description: 'SPIFFE trust domain', default: 'cluster.local' },
  hbonePort: { flag: '--hbone-port', env: 'WEFT_HBONE_PORT', description: 'HBONE (mTLS tunnel) port on every node', default: '15008' },
  caAddress: { flag: '--ca-address', env: 'WEFT_CA_ADDRESS', description: 'host:port of weft ca; without it no certificates are issued and cross-node mesh traffic is refused' },
  caServerName: { flag: '--ca-server-name', env: 'WEFT_CA_SERVER_NAME', description: 'name checked in the CA serving certificate (default: the host of --ca-address)' },
  caTokenFile: { flag: '--ca-token-file', env: 'WEFT_CA_TOKEN_FILE', description: 'service-account token (audience weft-ca) sent to the CA', default: '/var/run/secrets/weft/ca-token/token' },
  caNamespace: { flag: '--ca-namespace', env: 'WEFT_CA_NAMESPACE', description: 'namespace of the weft-trust-bundle ConfigMap', default: 'weft-system' },
  podName: { flag: '--pod-name', env: 'WEFT_POD_NAME', description: 'this agent\'s Pod name (downward API metadata.name); enables cleanup on uninstall' },
  podNamespace: { flag: '--pod-namespace', env: 'WEFT_POD_NAMESPACE', description: 'this agent\'s Pod namespace (downward API metadata.namespace)' },
  drainTimeoutSeconds: { flag: '--drain-timeout', env: 'WEFT_DRAIN_TIMEOUT', description: 'on SIGTERM, how long open connections may finish before the agent exits (e.g. 20s; 0 = cut at once)', default: '20s' },
  proxyWorkers: { flag: '--proxy-workers', env: 'WEFT_PROXY_WORKERS', description: 'proxy worker threads (a number, or "auto": one per CPU the agent may use)', default: 'auto' },
  certTtl: { flag: '--cert-ttl', env: 'WEFT_CERT_TTL', description: 'workload certificate lifetime to ask for (e.g. 24h, 60s)', default: '24h' },
} satisfies Record<
  Exclude<keyof AgentConfig, 'ca' | 'pod'> | 'caAddress' | 'caServerName' | 'caTokenFile' | 'caNamespace' | 'certTtl' | 'podName' | 'podNamespace',
  OptionSpec
>;

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
  const trustDomain = required('trustDomain');
  if (!/^[a-z0-9._-]+$/.test(trustDomain) || trustDomain.length > 255) {
    throw new ConfigError(`--trust-domain (or WEFT_TRUST_DOMAIN) must be a SPIFFE trust domain (lowercase letters, digits, '.', '-', '_'), got "${trustDomain}"`);
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
    ca: caConfig(get, required),
    trustDomain,
    hbonePort: port('hbonePort', required('hbonePort')),
    pod: podIdentity(get),
    drainTimeoutSeconds: drainTimeout(required('drainTimeoutSeconds')),
    proxyWorkers: proxyWorkers(required('proxyWorkers')),
  };
}

/** The most workers that make sense: a worker per core, on the largest nodes we plan for. */
const MAX_PROXY_WORKERS = 64;

function proxyWorkers(text: string): number {
  if (text === 'auto') return Math.min(cpusAvailable(), MAX_PROXY_WORKERS);
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > MAX_PROXY_WORKERS) {
    throw new ConfigError(`--proxy-workers (or WEFT_PROXY_WORKERS) must be "auto" or a whole number 1-${MAX_PROXY_WORKERS}, got "${text}"`);
  }
  return count;
}

function drainTimeout(text: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || seconds > 3600) {
    throw new ConfigError(`--drain-timeout (or WEFT_DRAIN_TIMEOUT) must be a duration of at most 1h like 20s or 0; got "${text}"`);
  }
  return seconds;
}

function podIdentity(get: (key: Key) => string | undefined): AgentConfig['pod'] {
  const name = get('podName');
  const namespace = get('podNamespace');
  if (name === undefined && namespace === undefined) return undefined;
  if (name === undefined || namespace === undefined) {
    throw new ConfigError('--pod-name (WEFT_POD_NAME) and --pod-namespace (WEFT_POD_NAMESPACE) go together: set both or neither');
  }
  return { namespace, name };
}

function caConfig(get: (key: Key) => string | undefined, required: (key: Key) => string): AgentCaConfig | undefined {
  const address = get('caAddress');
  if (address === undefined) return undefined;
  const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d+)$/.exec(address);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
    throw new ConfigError(`--ca-address (or WEFT_CA_ADDRESS) must be host:port, got "${address}"`);
  }
  const ttlText = required('certTtl');
  const certTtlSeconds = parseDurationSeconds(ttlText);
  if (certTtlSeconds === undefined || certTtlSeconds < MIN_CERT_TTL_SECONDS) {
    throw new ConfigError(`--cert-ttl (or WEFT_CERT_TTL) must be a duration of at least ${MIN_CERT_TTL_SECONDS}s like 24h or 60s; got "${ttlText}"`);
  }
  return {
    address,
    serverName: get('caServerName'),
    tokenFile: required('caTokenFile'),
    namespace: required('caNamespace'),
    certTtlSeconds,
  };
}
