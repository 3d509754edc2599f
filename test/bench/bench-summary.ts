// Turns the rounds of a run into the figures the issue asks for: per path the median requests
// per second and p50/p99 latency, each as a ratio to the direct path, the proxy's CPU seconds per
// 1000 requests, and where that stands against the aims (at least 50% of the direct rate, at
// most +0.5 ms p50 - the latter taken at low load, where latency is the path's and not a queue's).
import { median } from './median.js';
import type { RoundPhase, RoundRecord } from './bench-round.js';

export const AIM_MIN_RATE_RATIO = 0.5;
export const AIM_MAX_ADDED_P50_MS = 0.5;

export interface PathFigures {
  rounds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Agent (proxy) CPU per 1000 requests; on the direct path this is the agent's background work only. */
  agentCpuSecondsPer1000: number;
  /** Share of the agent's CPU spent in the kernel. */
  agentKernelShare: number;
  serverCpuSecondsPer1000: number;
}

export interface Comparison {
  direct: PathFigures;
  meshed: PathFigures;
  /** meshed / direct */
  ratios: { requestsPerSecond: number; p50: number; p99: number };
  addedP50Ms: number;
  addedP99Ms: number;
}

export interface BenchSummary {
  load: Comparison;
  lowLoad: Comparison;
  proxyCpuSecondsPer1000Requests: number;
  /** Share of the proxy's CPU spent in the kernel (stime / (utime + stime)) under load. */
  proxyKernelShare: number;
  aims: {
    rateRatio: { aim: string; value: number; met: boolean };
    addedP50Ms: { aim: string; value: number; met: boolean; measuredAt: string };
  };
}

function per1000(cpuSeconds: number, requests: number): number {
  return (cpuSeconds / requests) * 1000;
}

function figures(rounds: readonly RoundRecord[]): PathFigures {
  if (rounds.length === 0) throw new Error('no rounds to summarise');
  return {
    rounds: rounds.length,
    requestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
    p50Ms: median(rounds.map((r) => r.wrk.latencyUs.p50 / 1000)),
    p99Ms: median(rounds.map((r) => r.wrk.latencyUs.p99 / 1000)),
    agentCpuSecondsPer1000: median(rounds.map((r) => per1000(r.agentCpuSeconds, r.wrk.requests))),
    agentKernelShare: median(rounds.map((r) => (r.agentCpuSeconds > 0 ? r.agentSystemCpuSeconds / r.agentCpuSeconds : 0))),
    serverCpuSecondsPer1000: median(rounds.map((r) => per1000(r.serverCpuSeconds, r.wrk.requests))),
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

export function summarise(rounds: readonly RoundRecord[]): BenchSummary {
  const load = compare(rounds, 'load');
  const lowLoad = compare(rounds, 'low-load');
  return {
    load,
    lowLoad,
    proxyCpuSecondsPer1000Requests: load.meshed.agentCpuSecondsPer1000,
    proxyKernelShare: load.meshed.agentKernelShare,
    aims: {
      rateRatio: { aim: `>= ${AIM_MIN_RATE_RATIO}`, value: load.ratios.requestsPerSecond, met: load.ratios.requestsPerSecond >= AIM_MIN_RATE_RATIO },
      addedP50Ms: { aim: `<= ${AIM_MAX_ADDED_P50_MS} ms`, value: lowLoad.addedP50Ms, met: lowLoad.addedP50Ms <= AIM_MAX_ADDED_P50_MS, measuredAt: 'low load (1 connection)' },
    },
  };
}
