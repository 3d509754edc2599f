// Entry point of the bed daemon (started detached by `bed up`; not meant to be run by hand).
// Arguments: --state DIR --nodes N [--kubeconfig FILE] [--no-controllers] [--no-agent] [--no-ca] [--cert-ttl DURATION]
// [--from-chart [--values FILE]]
import { BedDaemon } from './daemon.js';
import { makeBedLog } from './bed-log.js';
import { DEFAULT_CERT_TTL } from './cert-ttl.js';

function parseDaemonArgs(argv: string[]) {
  const options = {
    stateDir: '', nodeCount: 2, externalKubeconfig: null as string | null, controllers: true, agent: true, ca: true, certTtl: DEFAULT_CERT_TTL,
    fromChart: null as { valuesFile: string | null } | null,
  };
  let valuesFile: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--state') options.stateDir = argv[++i] ?? '';
    else if (arg === '--nodes') options.nodeCount = Number(argv[++i]);
    else if (arg === '--kubeconfig') options.externalKubeconfig = argv[++i] ?? null;
    else if (arg === '--no-controllers') options.controllers = false;
    else if (arg === '--no-agent') options.agent = false;
    else if (arg === '--no-ca') options.ca = false;
    else if (arg === '--cert-ttl') options.certTtl = argv[++i] ?? '';
    else if (arg === '--from-chart') options.fromChart = { valuesFile: null };
    else if (arg === '--values') valuesFile = argv[++i] ?? null;
    else throw new Error(`bed daemon: unknown argument ${arg}`);
  }
  if (!options.stateDir) throw new Error('bed daemon: --state is required');
  if (valuesFile !== null) {
    if (!options.fromChart) throw new Error('bed daemon: --values needs --from-chart');
    options.fromChart.valuesFile = valuesFile;
  }
  return options;
}

const log = makeBedLog('bed-daemon');

async function main(): Promise<void> {
  const daemon = new BedDaemon(parseDaemonArgs(process.argv.slice(2)), log);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log('stopping', { signal });
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log('stop failed', { err: err instanceof Error ? err.stack : String(err) });
        process.exit(1);
      },
    );
  };
  // A failed background task must not take the whole bed down: log it loudly and keep serving.
  process.on('unhandledRejection', (reason) => log('unhandled rejection', { err: reason instanceof Error ? reason.stack : String(reason) }));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await daemon.start();
}

main().catch((err: unknown) => {
  log('bed daemon failed to start', { err: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
});
