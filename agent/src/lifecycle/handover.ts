// How an agent leaves without losing traffic (SIGTERM, not an uninstall). Its listeners share
// their ports with a successor (SO_REUSEPORT, net/shared-listener.ts):
//  - a successor already listening takes the new connections at once: this agent closes its
//    listeners (the kernel moves what is queued on them to the successor) and its admin server
//    (the successor answers probes and scrapes);
//  - without one (a plain restart), the pods' new connects are held in the kernel
//    (bpf/include/weft_hold.h) until the next agent listens and lifts the hold; this agent
//    keeps its proxy listener (nothing new reaches it, so closing it at the end resets
//    nothing), serves its own node's same-node tunnels (its drain waits for them) and resets
//    other nodes' (they retry). A successor that starts meanwhile is handed over to then.
// Either way the open connections drain for up to the drain timeout.
import type { Logger } from 'pino';
import type { RedirectPrograms } from '../bpf/redirect-programs.js';
import type { AdminServer } from '../metrics/admin-server.js';
import { otherListenerCount } from '../net/listening-sockets.js';

/** The node's data path (every proxy worker's proxy and HBONE server; workers/proxy-worker-pool.ts). */
export interface DrainableDataPath {
  /** Closes the proxy and HBONE listeners (a successor listening beside them takes over). */
  stopAccepting(): Promise<void>;
  /** Only the given address may still open HBONE sessions (this node's own same-node tunnels). */
  acceptOnlyFrom(address: string): Promise<void>;
  /** Lets open connections finish for up to timeoutMs, then cuts what is left. */
  drain(timeoutMs: number): Promise<{ clientsCut: number; sessionsCut: number }>;
}

/** While draining without a successor, how often to look whether one started listening. */
const SUCCESSOR_POLL_MS = 100;

export interface HandoverParts {
  nodeIp: string;
  outboundPort: number;
  drainTimeoutSeconds: number;
  programs: RedirectPrograms;
  dataPath: DrainableDataPath;
  admin: AdminServer | undefined;
  log: Logger;
}

export async function handOverAndDrain(parts: HandoverParts): Promise<void> {
  const { programs, dataPath, admin, log } = parts;
  // Hold first: a connect between closing and holding would otherwise be refused. A successor
  // that starts meanwhile lifts the hold after it listens, and one already listening is seen below.
  programs.holdProxySyns(true);
  const handOver = (): boolean => {
    if (otherListenerCount(parts.nodeIp, parts.outboundPort) === 0) return false;
    dataPath.stopAccepting().catch((err: unknown) => log.warn({ subsys: 'lifecycle', err }, 'closing the listeners at the handover failed'));
    programs.holdProxySyns(false);
    // (The kubelet may have judged the successor Ready by a probe this agent answered on the
    // shared admin port; then this agent is stopped before its successor listens, holds new
    // connects meanwhile and hands over here, later.)
    admin?.close().catch((err: unknown) => log.warn({ subsys: 'lifecycle', err }, 'closing the admin server at the handover failed'));
    return true;
  };
  const successor = handOver();
  const watch = successor
    ? undefined
    : setInterval(() => {
        if (!handOver()) return;
        clearInterval(watch);
        log.info({ subsys: 'lifecycle' }, 'a successor agent listens now; it takes new connections');
      }, SUCCESSOR_POLL_MS);
  if (!successor) await dataPath.acceptOnlyFrom(parts.nodeIp);
  log.info({ subsys: 'lifecycle', successor, drainTimeoutSeconds: parts.drainTimeoutSeconds },
    successor ? 'draining; a successor agent takes new connections' : 'draining; new connections wait for the next agent');
  const timeoutMs = parts.drainTimeoutSeconds * 1000;
  try {
    const { clientsCut, sessionsCut } = await dataPath.drain(timeoutMs);
    log.info({ subsys: 'lifecycle', clientsCut, sessionsCut }, 'drained');
  } finally {
    clearInterval(watch);
  }
}
