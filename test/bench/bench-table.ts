// The human-readable side of a run: one line per round as it finishes, and the final table of
// medians with the meshed/direct ratios and the aims.
import type { RoundRecord } from './bench-round.js';
import type { BenchSummary, Comparison } from './bench-summary.js';

const ms = (value: number) => `${value.toFixed(2)} ms`;
const ratio = (value: number) => `${value.toFixed(2)}x`;
const signedMs = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)} ms`;
const rate = (value: number) => `${Math.round(value)}`;

export function formatRound(r: RoundRecord): string {
  const errors = r.wrk.errors;
  const errorText = errors.connect + errors.read + errors.write + errors.timeout === 0 ? ''
    : `  socket errors c/r/w/t ${errors.connect}/${errors.read}/${errors.write}/${errors.timeout}`;
  const perRequest = r.path === 'meshed'
    ? `  proxy ${((r.agentCpuSeconds / r.wrk.requests) * 1e6).toFixed(0)} µs CPU/req (${((r.agentSystemCpuSeconds / r.agentCpuSeconds) * 100).toFixed(0)}% kernel)`
    : '';
  return `  ${r.phase.padEnd(8)} #${r.round} ${r.path.padEnd(6)} -c${String(r.load.connections).padEnd(3)} `
    + `${rate(r.requestsPerSecond).padStart(6)} req/s  p50 ${ms(r.wrk.latencyUs.p50 / 1000).padStart(9)}  p99 ${ms(r.wrk.latencyUs.p99 / 1000).padStart(9)}`
    + `${perRequest}  (load ${r.loadAverage1mAtStart.toFixed(2)})${errorText}`;
}

function rows(title: string, c: Comparison): string[][] {
  return [
    [`${title}: requests/s`, rate(c.direct.requestsPerSecond), rate(c.meshed.requestsPerSecond), ratio(c.ratios.requestsPerSecond)],
    [`${title}: p50 latency`, ms(c.direct.p50Ms), ms(c.meshed.p50Ms), `${ratio(c.ratios.p50)} (${signedMs(c.addedP50Ms)})`],
    [`${title}: p99 latency`, ms(c.direct.p99Ms), ms(c.meshed.p99Ms), `${ratio(c.ratios.p99)} (${signedMs(c.addedP99Ms)})`],
  ];
}

export function formatSummary(summary: BenchSummary, connections: number): string {
  const { load, lowLoad } = summary;
  const table = [
    ['', 'direct', 'meshed', 'meshed/direct'],
    ...rows(`-c${connections}`, load),
    ...rows('-c1', lowLoad),
    ['proxy CPU s / 1000 req', '-', `${summary.proxyCpuSecondsPer1000Requests.toFixed(4)} s`,
      `${(summary.proxyCpuSecondsPer1000Requests * 1000).toFixed(0)} µs/request, ${(summary.proxyKernelShare * 100).toFixed(0)}% in the kernel`],
    ['agent CPU s / 1000 req (background)', `${load.direct.agentCpuSecondsPer1000.toFixed(4)} s`, '', 'agent work unrelated to the path'],
    ['server CPU s / 1000 req', `${load.direct.serverCpuSecondsPer1000.toFixed(4)} s`, `${load.meshed.serverCpuSecondsPer1000.toFixed(4)} s`,
      ratio(load.meshed.serverCpuSecondsPer1000 / load.direct.serverCpuSecondsPer1000)],
  ];
  const widths = table[0]!.map((_, col) => Math.max(...table.map((row) => row[col]!.length)));
  const lines = table.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('   '));
  const { rateRatio, addedP50Ms } = summary.aims;
  lines.push('');
  lines.push(`aim: meshed rate ${rateRatio.aim} of direct: ${rateRatio.met ? 'MET' : 'NOT MET'} (${(rateRatio.value * 100).toFixed(0)}%)`);
  lines.push(`aim: added p50 ${addedP50Ms.aim} at ${addedP50Ms.measuredAt}: ${addedP50Ms.met ? 'MET' : 'NOT MET'} (${signedMs(addedP50Ms.value)})`);
  return lines.join('\n');
}
