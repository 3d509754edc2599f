// `weft controller`: the cluster-wide writer of Weft's policy status, until SIGTERM/SIGINT.
// Replicas elect a leader with a Lease; only the leader writes. /readyz answers 200 once the
// caches are synced (leader or not: a follower is ready to take over).
import http from 'node:http';
import { ConfigError } from '../config/command-flags.js';
import { CONTROLLER_OPTIONS, loadControllerConfig } from '../config/controller-config.js';
import { LeaderElector } from '../controller/leader-election.js';
import { PolicyStatusController } from '../controller/policy-status-controller.js';
import { loadKubeConfig } from '../k8s/kube-config.js';
import { createLogger } from '../log/logger.js';
import { stopOnSignal } from './stop-on-signal.js';
import { UsageError } from './usage-error.js';

export const CONTROLLER_USAGE = `usage: weft controller [flags]\n${Object.values(CONTROLLER_OPTIONS)
  .map((o) => `  ${o.flag.padEnd(24)} ${o.description} (env ${o.env}${'default' in o ? `, default ${o.default}` : ''})`)
  .join('\n')}`;

export async function runController(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${CONTROLLER_USAGE}\n`);
    return 0;
  }
  let config;
  try {
    config = loadControllerConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`controller: ${err.message}`);
    throw err;
  }
  const log = createLogger(config.logLevel, { component: 'weft-controller' });
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const controller = new PolicyStatusController(kubeConfig, log);
  const elector = new LeaderElector({
    kubeConfig,
    namespace: config.namespace,
    name: config.leaseName,
    identity: config.identity,
    log,
    onStartedLeading: () => controller.setLeading(true),
    onStoppedLeading: () => controller.setLeading(false),
  });
  const health = http.createServer((req, res) => {
    const ok = req.url === '/healthz' || (req.url === '/readyz' && controller.synced());
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ready\n');
  });
  try {
    await new Promise<void>((resolve, reject) => {
      health.once('error', reject);
      health.listen(config.healthPort, config.healthHost, () => resolve());
    });
    await controller.start();
  } catch (err) {
    log.fatal({ err }, 'controller failed to start');
    health.close();
    return 1;
  }
  elector.start();
  log.info({ lease: `${config.namespace}/${config.leaseName}`, identity: config.identity }, 'controller ready');
  return stopOnSignal(log, async () => {
    await elector.stop();
    await controller.stop();
    await new Promise<void>((resolve) => health.close(() => resolve()));
  });
}
