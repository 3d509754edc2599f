// `weft ca`: runs the certificate authority until SIGTERM/SIGINT.
import { loadCaConfig, CA_OPTIONS } from '../config/ca-config.js';
import { ConfigError } from '../config/command-flags.js';
import { loadKubeConfig } from '../k8s/kube-config.js';
import { createCaKubeClients } from '../k8s/ca-kube-clients.js';
import { createLogger } from '../log/logger.js';
import { startCaServer, type RunningCa } from '../ca/ca-server.js';
import { UsageError } from './usage-error.js';
import { stopOnSignal } from './stop-on-signal.js';

export const CA_USAGE = `usage: weft ca [flags]\n${Object.values(CA_OPTIONS)
  .map((o) => `  ${o.flag.padEnd(24)} ${o.description} (env ${o.env}${'default' in o ? `, default ${o.default === '' ? '""' : o.default}` : ''})`)
  .join('\n')}`;

export async function runCa(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${CA_USAGE}\n`);
    return 0;
  }
  let config;
  try {
    config = loadCaConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`ca: ${err.message}`);
    throw err;
  }
  const log = createLogger(config.logLevel, { component: 'weft-ca' });
  let ca: RunningCa;
  try {
    ca = await startCaServer(config, createCaKubeClients(loadKubeConfig(config.kubeconfig)), log);
  } catch (err) {
    log.fatal({ err }, 'ca failed to start');
    return 1;
  }
  log.info({ port: ca.port, namespace: config.namespace, trustDomain: config.trustDomain }, 'ca ready');
  return stopOnSignal(log, () => ca.close());
}
