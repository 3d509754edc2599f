// The human-readable side of a run: one line per round as it finishes, one line per meshed round
// once its tunnelled connections ended, and the final table of medians with the meshed/direct
// ratios, both agents' CPU per request, connections and TLS handshakes per request, and the aims.
import type { RoundRecord } from './bench-round.js';
import type { BenchSummary, Comparison, PathFigures } from './bench-summary.js';

const ms = (value: number) => `${value.toFixed(2)} ms`;
const ratio = (value: number) => `${value.toFixed(2)}x`;
const signedMs = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)} ms`;
const rate = (value: number) => `${Math.round(value)}`;
const us = (secondsPer1000: number) => `${(secondsPer1000 * 1000).toFixed(0)} µs`;
const share = (value: number) => `${(value * 100).toFixed(0)}%`;

export function formatRound(r: RoundRecord): string {
  const errors = r.wrk.errors;
  const errorText = errors.connect + errors.read + errors.write + errors.timeout === 0 ? ''
    : `  socket errors c/r/w/t ${errors.connect}/${errors.read}/${errors.write}/${errors.timeout}`;
  const agentText = (a: RoundRecord['clientAgent']) => `${a.node} agent ${((a.cpuSeconds / r.wrk.requests) * 1e6).toFixed(0)} µs/req`;
  const perRequest = r.path === 'meshed'
    ? `  ${agentText(r.clientAgent)}${r.serverAgent ? `, ${agentText(r.serverAgent)}` : ''}, ${r.tunnelHandshakes ?? '?'} TLS handshakes`
    : '';
  const connections = r.load.newConnections ? `  ${r.clientConnectsOpened} connects, server accepted ${r.serverConnectionsAccepted}` : '';
  return `  ${r.phase.padEnd(15)} #${r.round} ${r.path.padEnd(6)} -c${String(r.load.connections).padEnd(3)} `
    + `${rate(r.requestsPerSecond).padStart(6)} req/s  p50 ${ms(r.wrk.latencyUs.p50 / 1000).padStart(9)}  p99 ${ms(r.wrk.latencyUs.p99 / 1000).padStart(9)}`
    + `${perRequest}${connections}  (load ${r.loadAverage1mAtStart.toFixed(2)})${errorText}`;
}

export function formatHboneCheck(r: RoundRecord): string {
  if (r.hbone === null) return `  ${r.phase} #${r.round} meshed: HBONE not yet checked`;
  return `  ${r.phase.padEnd(15)} #${r.round} meshed: HBONE checked: ${r.hbone.tunnelledConnections} tunnelled connections carried `
    + `${r.hbone.bytesBack} bytes back for ${r.wrk.requests} responses`;
}

function latencyRows(title: string, c: Comparison): string[][] {
  return [
    [`${title}: requests/s`, rate(c.direct.requestsPerSecond), rate(c.meshed.requestsPerSecond), ratio(c.ratios.requestsPerSecond)],
    [`${title}: p50 latency`, ms(c.direct.p50Ms), ms(c.meshed.p50Ms), `${ratio(c.ratios.p50)} (${signedMs(c.addedP50Ms)})`],
    [`${title}: p99 latency`, ms(c.direct.p99Ms), ms(c.meshed.p99Ms), `${ratio(c.ratios.p99)} (${signedMs(c.addedP99Ms)})`],
  ];
}

function cpuRows(title: string, c: Comparison, clientNode: string, serverNode: string | null): string[][] {
  const agent = (f: PathFigures, which: 'client' | 'server') => {
    const seconds = which === 'client' ? f.clientAgentCpuSecondsPer1000 : f.serverAgentCpuSecondsPer1000;
    const kernel = which === 'client' ? f.clientAgentKernelShare : f.serverAgentKernelShare;
    return seconds === null || kernel === null ? '-' : `${us(seconds)} (${share(kernel)} kernel)`;
  };
  const rows = [[`${title}: ${clientNode} agent CPU/request`, agent(c.direct, 'client'), agent(c.meshed, 'client'), 'direct: background only']];
  if (serverNode !== null) rows.push([`${title}: ${serverNode} agent CPU/request`, agent(c.direct, 'server'), agent(c.meshed, 'server'), 'direct: background only']);
  rows.push([`${title}: server CPU/request`, us(c.direct.serverCpuSecondsPer1000), us(c.meshed.serverCpuSecondsPer1000),
    ratio(c.meshed.serverCpuSecondsPer1000 / c.direct.serverCpuSecondsPer1000)]);
  return rows;
}

export function formatSummary(summary: BenchSummary, connections: number, nodes: { client: string; server: string }): string {
  const { load, lowLoad, newConnections } = summary;
  const serverNode = nodes.server === nodes.client ? null : nodes.server;
  const table = [
    ['', 'direct', 'meshed', 'meshed/direct'],
    ...latencyRows(`-c${connections}`, load),
    ...latencyRows('-c1', lowLoad),
    [`-c${connections} close: new connections/s`, rate(newConnections.direct.requestsPerSecond), rate(newConnections.meshed.requestsPerSecond),
      ratio(newConnections.ratios.requestsPerSecond)],
    [`-c${connections} close: p50 latency`, ms(newConnections.direct.p50Ms), ms(newConnections.meshed.p50Ms),
      `${ratio(newConnections.ratios.p50)} (${signedMs(newConnections.addedP50Ms)})`],
    [`-c${connections} close: client connects / 1000 req`, rate(newConnections.direct.clientConnectsPer1000), rate(newConnections.meshed.clientConnectsPer1000), ''],
    [`-c${connections} close: server accepts / 1000 req`, rate(newConnections.direct.serverAcceptsPer1000), rate(newConnections.meshed.serverAcceptsPer1000),
      'meshed: pooled upstreams'],
    ...cpuRows(`-c${connections}`, load, nodes.client, serverNode),
    ...cpuRows(`-c${connections} close`, newConnections, nodes.client, serverNode),
    [`TLS handshakes / 1000 req (-c${connections}, -c1, close)`, '-',
      [load, lowLoad, newConnections].map((c) => c.meshed.handshakesPer1000.toFixed(2)).join(', '), 'medians of rounds'],
  ];
  const widths = table[0]!.map((_, col) => Math.max(...table.map((row) => row[col]!.length)));
  const lines = table.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('   '));
  const { issue, rateRatio, addedP50Ms, handshakesPer1000 } = summary.aims;
  const verdict = (met: boolean) => (met ? 'MET' : 'NOT MET');
  lines.push('');
  lines.push(`aims of ${issue} (${summary.placement}):`);
  lines.push(`  meshed rate ${rateRatio.aim} of direct (${rateRatio.measuredAt}): ${verdict(rateRatio.met)} (${share(rateRatio.value)})`);
  lines.push(`  added p50 ${addedP50Ms.aim} at ${addedP50Ms.measuredAt}: ${verdict(addedP50Ms.met)} (${signedMs(addedP50Ms.value)})`);
  lines.push(`  TLS handshakes ${handshakesPer1000.aim} (${handshakesPer1000.measuredAt}): ${verdict(handshakesPer1000.met)} `
    + `(${summary.handshakes.handshakes} handshakes for ${summary.handshakes.requests} requests)`);
  return lines.join('\n');
}
