// One benchmark round: wrk in a client pod for a fixed time against one path, with the CPU both
// node agents (the client node's proxy, the server node's HBONE server) and the server pod used
// meanwhile, the TCP connections opened on both ends, and the agents' counters - so every round
// proves which path it measured (round-checks.ts).
import { loadavg } from 'node:os';
import { processCpu, cgroupCpuSeconds, type ProcessCpu } from './process-cpu.js';
import { tcpOpens } from './tcp-opens.js';
import { parseWrkReport, requestsPerSecond, wrkCommand, type WrkLoad, type WrkReport } from './wrk-report.js';
import { readMeshCounters, type BenchNode, type BenchPath, type BenchTargets } from './bench-workloads.js';
import type { MeshCounters } from './mesh-counters.js';
import { roundProblem } from './round-checks.js';
import type { BenchBed } from './bench-bed.js';

export type RoundPhase = 'warmup' | 'load' | 'low-load' | 'new-connections';

export interface AgentCpu {
  node: string;
  /** utime+stime of the agent process during the wrk run. */
  cpuSeconds: number;
  /** The part of cpuSeconds spent in the kernel (syscalls and the network stack work they drive). */
  systemCpuSeconds: number;
}

export interface RoundRecord {
  phase: RoundPhase;
  path: BenchPath['name'];
  round: number;
  load: WrkLoad;
  wrk: WrkReport;
  requestsPerSecond: number;
  /** The agent of the node running the wrk clients (the meshed path's proxy and HBONE client). */
  clientAgent: AgentCpu;
  /** The agent of the server's node (its HBONE server); null when that is the client node's. */
  serverAgent: AgentCpu | null;
  /** CPU of the server pod's cgroup during the wrk run. */
  serverCpuSeconds: number;
  /** TCP connect()s in the client pod during the round (one per request with Connection: close). */
  clientConnectsOpened: number;
  /** TCP connections the server pod accepted during the round (few on the meshed path: pooled upstreams). */
  serverConnectionsAccepted: number;
  /** weft_requests_total{reporter="source"} delta over the round (0 on the direct path). */
  proxyRequestsCounted: number;
  /** Client connections the proxy accepted over the round (0 on the direct path). */
  proxyConnectionsCounted: number;
  /** Tunnelled connections the server node's HBONE server opened during the round (0 on the direct path). */
  tunnelledConnectionsOpened: number;
  /** TLS sessions (handshakes) the client node's HBONE connector opened during the round; null without one. */
  tunnelHandshakes: number | null;
  /** Meshed rounds, once their tunnelled connections ended: what the HBONE server carried. */
  hbone: { tunnelledConnections: number; bytesBack: number } | null;
  loadAverage1mAtStart: number;
}

function cpuDelta(node: BenchNode, before: ProcessCpu, after: ProcessCpu): AgentCpu {
  return {
    node: node.name,
    cpuSeconds: after.userSeconds + after.systemSeconds - before.userSeconds - before.systemSeconds,
    systemCpuSeconds: after.systemSeconds - before.systemSeconds,
  };
}

/** Runs one round; `countersBefore` is a reading of the agents' counters taken just before. */
export async function runRound(
  bed: BenchBed, targets: BenchTargets, path: BenchPath, load: WrkLoad, phase: RoundPhase, round: number, countersBefore: MeshCounters,
): Promise<RoundRecord> {
  const loadAverage1mAtStart = loadavg()[0]!;
  const separateServerNode = targets.serverNode.agentPid !== targets.clientNode.agentPid;
  // Scrapes cost the agents CPU too, so they stay outside the CPU window around wrk.
  const clientAgentBefore = processCpu(targets.clientNode.agentPid);
  const serverAgentBefore = separateServerNode ? processCpu(targets.serverNode.agentPid) : null;
  const serverBefore = cgroupCpuSeconds(targets.serverCgroup);
  const clientOpensBefore = tcpOpens(path.pid);
  const serverOpensBefore = tcpOpens(targets.serverPid);
  const result = await bed.exec(path.pod, path.namespace, wrkCommand(path.url, load), (load.durationSeconds + 60) * 1000);
  const clientAgentAfter = processCpu(targets.clientNode.agentPid);
  const serverAgentAfter = separateServerNode ? processCpu(targets.serverNode.agentPid) : null;
  const serverAfter = cgroupCpuSeconds(targets.serverCgroup);
  const clientOpensAfter = tcpOpens(path.pid);
  const serverOpensAfter = tcpOpens(targets.serverPid);
  const countersAfter = await readMeshCounters(bed, targets);
  if (result.code !== 0) throw new Error(`wrk in ${path.namespace}/${path.pod} exited ${result.code}: ${result.stderr.trim()}\n${result.stdout}`);
  const wrk = parseWrkReport(result.stdout);

  const before = countersBefore;
  const after = countersAfter;
  const record: RoundRecord = {
    phase, path: path.name, round, load, wrk,
    requestsPerSecond: requestsPerSecond(wrk),
    clientAgent: cpuDelta(targets.clientNode, clientAgentBefore, clientAgentAfter),
    serverAgent: serverAgentBefore && serverAgentAfter ? cpuDelta(targets.serverNode, serverAgentBefore, serverAgentAfter) : null,
    serverCpuSeconds: serverAfter - serverBefore,
    clientConnectsOpened: clientOpensAfter.activeOpens - clientOpensBefore.activeOpens,
    serverConnectionsAccepted: serverOpensAfter.passiveOpens - serverOpensBefore.passiveOpens,
    proxyRequestsCounted: after.proxyRequests - before.proxyRequests,
    proxyConnectionsCounted: after.proxyConnections - before.proxyConnections,
    tunnelledConnectionsOpened: after.tunnelledOpened - before.tunnelledOpened,
    tunnelHandshakes: after.tunnelSessionsOpened === null || before.tunnelSessionsOpened === null
      ? null : after.tunnelSessionsOpened - before.tunnelSessionsOpened,
    hbone: null,
    loadAverage1mAtStart,
  };
  const problem = roundProblem(record);
  if (problem !== null) throw new Error(problem);
  const nodesNow = (await bed.status()).nodes;
  for (const node of [targets.clientNode, targets.serverNode]) {
    const pidNow = nodesNow.find((n) => n.name === node.name)?.agentPid;
    if (pidNow !== node.agentPid) throw new Error(`${node.name}'s agent restarted during a ${path.name} round (pid ${node.agentPid} -> ${pidNow}); its figures are void`);
  }
  return record;
}
