// Where one bed keeps its files. Everything a bed owns is derived from its state directory,
// so two beds with different --state never share a file, a namespace or a cgroup.
import { resolve, join } from 'node:path';

export const DEFAULT_STATE_DIR = '/run/weft-bed';

/** The state dir from --state, else $WEFT_BED_STATE, else /run/weft-bed; always absolute. */
export function resolveStateDir(flagValue: string | undefined): string {
  return resolve(flagValue ?? process.env.WEFT_BED_STATE ?? DEFAULT_STATE_DIR);
}

export interface BedPaths {
  stateDir: string;
  kubeconfig: string;      // for clients in the root namespace (and, through the relay, in nodes)
  bedJson: string;         // daemon-written description of the running bed
  logsDir: string;
  podLogsDir: string;      // <ns>_<name>.log per pod
  daemonLog: string;
  podsDir: string;         // one record per pod the kubelet runs (<uid>.json)
  runDir: string;          // unix sockets
  relaySocket: string;     // root-side end of the API relay
  apiserverDir: string;    // the in-repo API server's own state dir
}

export function bedPaths(stateDir: string): BedPaths {
  const logsDir = join(stateDir, 'logs');
  const runDir = join(stateDir, 'run');
  return {
    stateDir,
    kubeconfig: join(stateDir, 'kubeconfig'),
    bedJson: join(stateDir, 'bed.json'),
    logsDir,
    podLogsDir: join(logsDir, 'pods'),
    daemonLog: join(logsDir, 'daemon.log'),
    podsDir: join(stateDir, 'pods'),
    runDir,
    relaySocket: join(runDir, 'apiserver-relay.sock'),
    apiserverDir: join(stateDir, 'apiserver'),
  };
}
