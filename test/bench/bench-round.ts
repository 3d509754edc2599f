// One benchmark round: wrk in a client pod for a fixed time against one path, with the CPU the
// node agent (the proxy) and the server pod used meanwhile, and how many requests the proxy
// counted - so every round proves which path it measured.
import { loadavg } from 'node:os';
import { processCpu, cgroupCpuSeconds } from './process-cpu.js';
import { parseWrkReport, requestsPerSecond, wrkCommand, type WrkLoad, type WrkReport } from './wrk-report.js';
import { proxyCounters, type BenchPath, type BenchTargets } from './bench-workloads.js';
import type { BenchBed } from './bench-bed.js';

export type RoundPhase = 'warmup' | 'load' | 'low-load';

export interface RoundRecord {
  phase: RoundPhase;
  path: BenchPath['name'];
  round: number;
  load: WrkLoad;
  wrk: WrkReport;
  requestsPerSecond: number;
  /** utime+stime of the agent process during the wrk run. */
  agentCpuSeconds: number;
  /** The part of agentCpuSeconds spent in the kernel (syscalls, and the network stack work they drive). */
  agentSystemCpuSeconds: number;
  /** CPU of the server pod's cgroup during the wrk run. */
  serverCpuSeconds: number;
  /** weft_requests_total delta over the round (0 on the direct path). */
  proxyRequestsCounted: number;
  loadAverage1mAtStart: number;
}

export async function runRound(bed: BenchBed, targets: BenchTargets, path: BenchPath, load: WrkLoad, phase: RoundPhase, round: number): Promise<RoundRecord> {
  const loadAverage1mAtStart = loadavg()[0]!;
  // Scrapes cost the agent CPU too, so they stay outside the CPU window around wrk.
  const countersBefore = await proxyCounters(bed, targets);
  const agentBefore = processCpu(targets.agentPid);
  const serverBefore = cgroupCpuSeconds(targets.serverCgroup);
  const result = await bed.exec(path.pod, path.namespace, wrkCommand(path.url, load), (load.durationSeconds + 60) * 1000);
  const agentAfter = processCpu(targets.agentPid);
  const serverAfter = cgroupCpuSeconds(targets.serverCgroup);
  const countersAfter = await proxyCounters(bed, targets);
  if (result.code !== 0) throw new Error(`wrk in ${path.namespace}/${path.pod} exited ${result.code}: ${result.stderr.trim()}\n${result.stdout}`);
  const wrk = parseWrkReport(result.stdout);

  const record: RoundRecord = {
    phase, path: path.name, round, load, wrk,
    requestsPerSecond: requestsPerSecond(wrk),
    agentCpuSeconds: agentAfter.userSeconds + agentAfter.systemSeconds - agentBefore.userSeconds - agentBefore.systemSeconds,
    agentSystemCpuSeconds: agentAfter.systemSeconds - agentBefore.systemSeconds,
    serverCpuSeconds: serverAfter - serverBefore,
    proxyRequestsCounted: countersAfter.requests - countersBefore.requests,
    loadAverage1mAtStart,
  };
  checkRound(record, path);
  const agentNow = (await bed.status()).nodes.find((n) => n.name === targets.node.name)?.agentPid;
  if (agentNow !== targets.agentPid) throw new Error(`the agent restarted during a ${path.name} round (pid ${targets.agentPid} -> ${agentNow}); its figures are void`);
  return record;
}

function checkRound(record: RoundRecord, path: BenchPath): void {
  const what = `${record.phase} round ${record.round} (${path.name}, -c${record.load.connections})`;
  if (record.wrk.requests === 0) throw new Error(`${what}: wrk completed no request against ${path.url}`);
  if (record.wrk.errors.status > 0) throw new Error(`${what}: ${record.wrk.errors.status} responses were not 2xx/3xx`);
  if (path.name === 'direct' && record.proxyRequestsCounted !== 0) {
    throw new Error(`${what}: the proxy counted ${record.proxyRequestsCounted} requests on the direct path`);
  }
  // wrk counts responses it read; the proxy may also have finished a few that were in flight when wrk stopped.
  if (path.name === 'meshed' && record.proxyRequestsCounted < record.wrk.requests) {
    throw new Error(`${what}: wrk completed ${record.wrk.requests} requests but the proxy counted only ${record.proxyRequestsCounted}: not all went through it`);
  }
}
