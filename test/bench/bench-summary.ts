// Turns the rounds of a run into the figures the issues ask for: per path and kind of round the
// median requests per second and p50/p99 latency, each as a ratio to the direct path; both agents'
// CPU per 1000 requests; TCP connections opened per 1000 requests on both ends; TLS handshakes
// per 1000 meshed requests; and where that stands against the aims of the placement measured:
// cross-node (issue 4): at least 35% of the direct rate, at most +1 ms p50, no handshake per request;
// same-node (issue 3, the first path): at least 50% of the direct rate, at most +0.5 ms p50.
// p50 is taken at low load (one connection), where latency is the path's and not a queue's.
import { median } from './median.js';
import type { BenchPlacement } from './bench-options.js';
import type { RoundPhase, RoundRecord } from './bench-round.js';
import { handshakesPer1000 } from './round-checks.js';

export interface PlacementAims {
  issue: string;
  minRateRatio: number;
  maxAddedP50Ms: number;
  /** "No TLS handshake per request": at most this many per 1000 meshed requests (1000 would be one each). */
  maxHandshakesPer1000: number;
}

export const AIMS: Record<BenchPlacement, PlacementAims> = {
  'cross-node': { issue: 'issue 4', minRateRatio: 0.35, maxAddedP50Ms: 1, maxHandshakesPer1000: 1 },
  'same-node': { issue: 'issue 3', minRateRatio: 0.5, maxAddedP50Ms: 0.5, maxHandshakesPer1000: 1 },
};

export interface PathFigures {
  rounds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Client node agent CPU per 1000 requests (on the direct path: its background work only). */
  clientAgentCpuSecondsPer1000: number;
  /** Share of it spent in the kernel. */
  clientAgentKernelShare: number;
  /** Server node agent CPU per 1000 requests; null when server and client share a node (one agent). */
  serverAgentCpuSecondsPer1000: number | null;
  serverAgentKernelShare: number | null;
  serverCpuSecondsPer1000: number;
  /** TCP connect()s by the client pod per 1000 requests (~1000 with Connection: close). */
  clientConnectsPer1000: number;
  /** TCP connections the server pod accepted per 1000 requests (~0 when upstreams are pooled). */
  serverAcceptsPer1000: number;
  /** TLS handshakes of the client node's HBONE connector per 1000 requests. */
  handshakesPer1000: number;
}

export interface Comparison {
  direct: PathFigures;
  meshed: PathFigures;
  /** meshed / direct */
  ratios: { requestsPerSecond: number; p50: number; p99: number };
  addedP50Ms: number;
  addedP99Ms: number;
}

export interface Aim {
  aim: string;
  value: number;
  met: boolean;
}

export interface BenchSummary {
  placement: BenchPlacement;
  load: Comparison;
  lowLoad: Comparison;
  newConnections: Comparison;
  /** Over every recorded meshed round (warm-up excluded). */
  handshakes: { handshakes: number; requests: number; per1000: number };
  aims: {
    issue: string;
    rateRatio: Aim & { measuredAt: string };
    addedP50Ms: Aim & { measuredAt: string };
    handshakesPer1000: Aim & { measuredAt: string };
  };
}

function per1000(value: number, requests: number): number {
  return (value / requests) * 1000;
}

function figures(rounds: readonly RoundRecord[]): PathFigures {
  if (rounds.length === 0) throw new Error('no rounds to summarise');
  const serverAgentRounds = rounds.filter((r) => r.serverAgent !== null);
  const kernelShare = (cpu: number, system: number) => (cpu > 0 ? system / cpu : 0);
  return {
    rounds: rounds.length,
    requestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
    p50Ms: median(rounds.map((r) => r.wrk.latencyUs.p50 / 1000)),
    p99Ms: median(rounds.map((r) => r.wrk.latencyUs.p99 / 1000)),
    clientAgentCpuSecondsPer1000: median(rounds.map((r) => per1000(r.clientAgent.cpuSeconds, r.wrk.requests))),
    clientAgentKernelShare: median(rounds.map((r) => kernelShare(r.clientAgent.cpuSeconds, r.clientAgent.systemCpuSeconds))),
    serverAgentCpuSecondsPer1000: serverAgentRounds.length === 0 ? null
      : median(serverAgentRounds.map((r) => per1000(r.serverAgent!.cpuSeconds, r.wrk.requests))),
    serverAgentKernelShare: serverAgentRounds.length === 0 ? null
      : median(serverAgentRounds.map((r) => kernelShare(r.serverAgent!.cpuSeconds, r.serverAgent!.systemCpuSeconds))),
    serverCpuSecondsPer1000: median(rounds.map((r) => per1000(r.serverCpuSeconds, r.wrk.requests))),
    clientConnectsPer1000: median(rounds.map((r) => per1000(r.clientConnectsOpened, r.wrk.requests))),
    serverAcceptsPer1000: median(rounds.map((r) => per1000(r.serverConnectionsAccepted, r.wrk.requests))),
    handshakesPer1000: median(rounds.map((r) => handshakesPer1000(r.tunnelHandshakes ?? 0, r.wrk.requests))),
  };
}

function compare(rounds: readonly RoundRecord[], phase: RoundPhase): Comparison {
  const direct = figures(rounds.filter((r) => r.phase === phase && r.path === 'direct'));
  const meshed = figures(rounds.filter((r) => r.phase === phase && r.path === 'meshed'));
  return {
    direct,
    meshed,
    ratios: {
      requestsPerSecond: meshed.requestsPerSecond / direct.requestsPerSecond,
      p50: meshed.p50Ms / direct.p50Ms,
      p99: meshed.p99Ms / direct.p99Ms,
    },
    addedP50Ms: meshed.p50Ms - direct.p50Ms,
    addedP99Ms: meshed.p99Ms - direct.p99Ms,
  };
}

export function summarise(rounds: readonly RoundRecord[], placement: BenchPlacement): BenchSummary {
  const aims = AIMS[placement];
  const load = compare(rounds, 'load');
  const lowLoad = compare(rounds, 'low-load');
  const newConnections = compare(rounds, 'new-connections');
  const meshedRecorded = rounds.filter((r) => r.path === 'meshed' && r.phase !== 'warmup');
  const handshakes = meshedRecorded.reduce((sum, r) => sum + (r.tunnelHandshakes ?? 0), 0);
  const requests = meshedRecorded.reduce((sum, r) => sum + r.wrk.requests, 0);
  const handshakeRate = handshakesPer1000(handshakes, requests);
  return {
    placement,
    load,
    lowLoad,
    newConnections,
    handshakes: { handshakes, requests, per1000: handshakeRate },
    aims: {
      issue: aims.issue,
      rateRatio: {
        aim: `>= ${aims.minRateRatio}`, value: load.ratios.requestsPerSecond, met: load.ratios.requestsPerSecond >= aims.minRateRatio,
        measuredAt: `${load.direct.rounds} rounds per path, keep-alive connections`,
      },
      addedP50Ms: {
        aim: `<= ${aims.maxAddedP50Ms} ms`, value: lowLoad.addedP50Ms, met: lowLoad.addedP50Ms <= aims.maxAddedP50Ms,
        measuredAt: 'low load (1 connection)',
      },
      handshakesPer1000: {
        aim: `<= ${aims.maxHandshakesPer1000} per 1000 requests`, value: handshakeRate, met: handshakeRate <= aims.maxHandshakesPer1000,
        measuredAt: `all ${meshedRecorded.length} recorded meshed rounds, new-connection rounds included`,
      },
    },
  };
}
