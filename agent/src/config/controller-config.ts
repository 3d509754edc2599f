// `weft controller` configuration, from flags with environment fallbacks (the same rules as the
// agent's and the CA's: unknown flags, missing values and bad values are errors naming the flag).
import { hostname } from 'node:os';
import { ConfigError, optionValue, parseFlags, type OptionSpec } from './command-flags.js';

export interface ControllerConfig {
  kubeconfig?: string;
  /** Namespace of the leader Lease (the controller's own). */
  namespace: string;
  leaseName: string;
  /** This replica in the Lease: the pod name. */
  identity: string;
  /** /readyz and /healthz; 0 picks a free port (tests). */
  healthPort: number;
  healthHost: string;
  logLevel: string;
}

export const CONTROLLER_OPTIONS = {
  kubeconfig: { flag: '--kubeconfig', env: 'KUBECONFIG', description: 'kubeconfig file; in-cluster config when absent' },
  namespace: { flag: '--namespace', env: 'WEFT_CONTROLLER_NAMESPACE', description: 'namespace of the leader-election Lease', default: 'weft-system' },
  leaseName: { flag: '--lease-name', env: 'WEFT_CONTROLLER_LEASE', description: 'name of the leader-election Lease', default: 'weft-controller' },
  identity: { flag: '--identity', env: 'WEFT_POD_NAME', description: 'this replica\'s name in the Lease (the pod name; default: the host name)' },
  healthPort: { flag: '--health-port', env: 'WEFT_CONTROLLER_HEALTH_PORT', description: 'port of /readyz and /healthz; 0 picks a free one', default: '15024' },
  healthHost: { flag: '--health-host', env: 'WEFT_CONTROLLER_HEALTH_HOST', description: 'address /readyz and /healthz bind', default: '0.0.0.0' },
  logLevel: { flag: '--log-level', env: 'WEFT_LOG_LEVEL', description: 'pino log level', default: 'info' },
} satisfies Record<keyof ControllerConfig, OptionSpec>;

type Key = keyof typeof CONTROLLER_OPTIONS;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function loadControllerConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  const flags = parseFlags(argv, CONTROLLER_OPTIONS);
  const get = (key: Key): string => optionValue(key, CONTROLLER_OPTIONS, flags, env) ?? '';
  const named = (key: Key): string => `${CONTROLLER_OPTIONS[key].flag} (or ${CONTROLLER_OPTIONS[key].env})`;
  const namespace = get('namespace');
  if (!DNS_LABEL.test(namespace)) throw new ConfigError(`${named('namespace')} must be a namespace name, got "${namespace}"`);
  const leaseName = get('leaseName');
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(leaseName)) throw new ConfigError(`${named('leaseName')} must be an object name, got "${leaseName}"`);
  const healthPort = Number(get('healthPort'));
  if (!Number.isInteger(healthPort) || healthPort < 0 || healthPort > 65535) throw new ConfigError(`${named('healthPort')} must be a port number, got "${get('healthPort')}"`);
  return {
    kubeconfig: get('kubeconfig') || undefined,
    namespace,
    leaseName,
    identity: get('identity') || hostname(),
    healthPort,
    healthHost: get('healthHost'),
    logLevel: get('logLevel'),
  };
}
