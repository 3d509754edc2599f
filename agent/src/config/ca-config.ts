// `weft ca` configuration, from flags with environment fallbacks, validated once at start (the
// same rules as the agent's: unknown flags, missing values and bad values are errors that name the
// flag). This file and agent-config.ts are the only readers of process.env.
import { isIP } from 'node:net';
import { ConfigError, optionValue, parseFlags, type OptionSpec } from './command-flags.js';
import { parseDurationSeconds } from './duration.js';

export interface CaConfig {
  /** Namespace of the `weft-ca` Secret and `weft-trust-bundle` ConfigMap (the CA's own). */
  namespace: string;
  kubeconfig?: string;
  listenHost: string;
  /** gRPC port; 0 picks a free one (tests). */
  port: number;
  /** The CA's Service name: DNS SANs of its serving certificate. */
  serviceName: string;
  /** Extra IP SANs of its serving certificate. */
  ipSans: string[];
  trustDomain: string;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  /** Audience the agents' tokens must carry. */
  audience: string;
  /** The only caller accepted: `system:serviceaccount:<ns>:<name>`. */
  agentServiceAccount: string;
  logLevel: string;
}


export const CA_OPTIONS = {
  namespace: { flag: '--namespace', env: 'WEFT_CA_NAMESPACE', description: 'namespace of the weft-ca Secret and weft-trust-bundle ConfigMap', default: 'weft-system' },
  kubeconfig: { flag: '--kubeconfig', env: 'KUBECONFIG', description: 'kubeconfig file; in-cluster config when absent' },
  listenHost: { flag: '--listen-host', env: 'WEFT_CA_LISTEN_HOST', description: 'address the gRPC server binds', default: '0.0.0.0' },
  port: { flag: '--port', env: 'WEFT_CA_PORT', description: 'gRPC (TLS) port; 0 picks a free one', default: '15012' },
  serviceName: { flag: '--service-name', env: 'WEFT_CA_SERVICE_NAME', description: 'the CA Service name, DNS SAN of its serving certificate', default: 'weft-ca' },
  ipSans: { flag: '--ip-san', env: 'WEFT_CA_IP_SANS', description: 'comma-separated IP SANs of its serving certificate', default: '' },
  trustDomain: { flag: '--trust-domain', env: 'WEFT_TRUST_DOMAIN', description: 'SPIFFE trust domain', default: 'cluster.local' },
  defaultTtlSeconds: { flag: '--default-ttl', env: 'WEFT_CA_DEFAULT_TTL', description: 'certificate lifetime when the caller asks for none (e.g. 24h, 90m, 60s)', default: '24h' },
  maxTtlSeconds: { flag: '--max-ttl', env: 'WEFT_CA_MAX_TTL', description: 'longest certificate lifetime granted', default: '24h' },
  audience: { flag: '--audience', env: 'WEFT_CA_AUDIENCE', description: 'audience agent tokens must be issued for', default: 'weft-ca' },
  agentServiceAccount: {
    flag: '--agent-service-account',
    env: 'WEFT_CA_AGENT_SERVICE_ACCOUNT',
    description: 'the only service account allowed to ask (system:serviceaccount:<ns>:<name>)',
    default: 'system:serviceaccount:weft-system:weft-agent',
  },
  logLevel: { flag: '--log-level', env: 'WEFT_LOG_LEVEL', description: 'pino log level', default: 'info' },
} satisfies Record<keyof CaConfig, OptionSpec>;

type Key = keyof typeof CA_OPTIONS;

/** The shortest lifetime the flags accept: tests rotate at a minute. */
const MIN_TTL_SECONDS = 60;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function loadCaConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CaConfig {
  const flags = parseFlags(argv, CA_OPTIONS, { allowEmpty: new Set<Key>(['ipSans']) });
  const named = (key: Key): string => `${CA_OPTIONS[key].flag} (or ${CA_OPTIONS[key].env})`;
  const get = (key: Key): string => optionValue(key, CA_OPTIONS, flags, env) ?? '';
  const required = (key: Key): string => {
    const value = get(key);
    if (!value) throw new ConfigError(`${named(key)} is required: ${CA_OPTIONS[key].description}`);
    return value;
  };
  const duration = (key: Key): number => {
    const text = required(key);
    const seconds = parseDurationSeconds(text);
    if (seconds === undefined) throw new ConfigError(`${named(key)} must be a duration like 24h, 90m or 60s; got "${text}"`);
    if (seconds < MIN_TTL_SECONDS) throw new ConfigError(`${named(key)} must be at least ${MIN_TTL_SECONDS}s; got "${text}"`);
    return seconds;
  };

  const namespace = required('namespace');
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) throw new ConfigError(`${named('namespace')} is not a valid namespace name: "${namespace}"`);
  const serviceName = required('serviceName');
  if (serviceName.length > 63 || !DNS_LABEL.test(serviceName)) throw new ConfigError(`${named('serviceName')} is not a valid Service name: "${serviceName}"`);
  const portText = required('port');
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new ConfigError(`${named('port')} must be a port 0-65535, got "${portText}"`);
  const listenHost = required('listenHost');
  if (isIP(listenHost) === 0) throw new ConfigError(`${named('listenHost')} must be an IP address, got "${listenHost}"`);
  const ipSans = get('ipSans').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const ip of ipSans) if (isIP(ip) === 0) throw new ConfigError(`${named('ipSans')} must list IP addresses, got "${ip}"`);
  const trustDomain = required('trustDomain');
  if (!/^[a-z0-9._-]+$/.test(trustDomain) || trustDomain.length > 255) {
    throw new ConfigError(`${named('trustDomain')} must be a SPIFFE trust domain (lowercase letters, digits, '.', '-', '_'), got "${trustDomain}"`);
  }
  const defaultTtlSeconds = duration('defaultTtlSeconds');
  const maxTtlSeconds = duration('maxTtlSeconds');
  if (defaultTtlSeconds > maxTtlSeconds) {
    throw new ConfigError(`${named('defaultTtlSeconds')} (${defaultTtlSeconds}s) must not exceed ${named('maxTtlSeconds')} (${maxTtlSeconds}s)`);
  }
  const agentServiceAccount = required('agentServiceAccount');
  if (!/^system:serviceaccount:[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(agentServiceAccount)) {
    throw new ConfigError(`${named('agentServiceAccount')} must be system:serviceaccount:<namespace>:<name>, got "${agentServiceAccount}"`);
  }
  const logLevel = required('logLevel');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(logLevel)) {
    throw new ConfigError(`${named('logLevel')} must be one of fatal, error, warn, info, debug, trace; got "${logLevel}"`);
  }
  const kubeconfig = get('kubeconfig') || undefined;
  if (!kubeconfig && !env.KUBERNETES_SERVICE_HOST) {
    throw new ConfigError(`${named('kubeconfig')} is required outside a cluster (KUBERNETES_SERVICE_HOST is unset)`);
  }
  return {
    namespace,
    kubeconfig,
    listenHost,
    port,
    serviceName,
    ipSans,
    trustDomain,
    defaultTtlSeconds,
    maxTtlSeconds,
    audience: required('audience'),
    agentServiceAccount,
    logLevel,
  };
}
