// The benchmark's pure parts: reading TCP opens and the agents' counters, the checks that make a
// round count (right path, HBONE, one connection per request), handshakes per request, the summary
// against each placement's aims, and the options.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheusText } from '../../agent/src/cli/prometheus-text.js';
import { parseBenchOptions, BenchUsageError } from './bench-options.js';
import type { RoundRecord } from './bench-round.js';
import { summarise } from './bench-summary.js';
import { formatSummary } from './bench-table.js';
import { meshCountersFrom } from './mesh-counters.js';
import { handshakesPer1000, hboneBytesProblem, roundProblem } from './round-checks.js';
import { parseTcpOpens } from './tcp-opens.js';

const CLIENT_ID = 'spiffe://cluster.local/ns/bench-mesh/sa/bench-client';

describe('parseTcpOpens', () => {
  test('reads ActiveOpens and PassiveOpens by name from the Tcp: lines', () => {
    const text = 'Ip: Forwarding DefaultTTL\nIp: 1 64\n'
      + 'Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails\nTcp: 1 200 120000 -1 12991 37 0\n'
      + 'Udp: InDatagrams\nUdp: 5\n';
    assert.deepEqual(parseTcpOpens(text), { activeOpens: 12991, passiveOpens: 37 });
  });

  test('a text without Tcp: lines or without the counter is a clear error', () => {
    assert.throws(() => parseTcpOpens('Ip: Forwarding\nIp: 1\n'), /no "Tcp:" header and value lines/);
    assert.throws(() => parseTcpOpens('Tcp: RtoAlgorithm ActiveOpens\nTcp: 1 5\n'), /no counter PassiveOpens/);
  });
});

describe('meshCountersFrom', () => {
  const client = parsePrometheusText([
    'weft_requests_total{reporter="source",source_principal="x",response_code="200"} 40',
    'weft_requests_total{reporter="source",source_principal="y",response_code="503"} 2',
    'weft_tcp_connections_opened_total{reporter="source",source_principal="x"} 7',
    // A same-node HBONE server reports on the client node too: not the proxy's connections.
    'weft_tcp_connections_opened_total{reporter="destination",source_principal="x"} 100',
  ].join('\n'));
  const tunnelled = `reporter="destination",source_principal="${CLIENT_ID}",destination_workload="bench-server",connection_security_policy="mutual_tls"`;
  const server = parsePrometheusText([
    `weft_tcp_connections_opened_total{${tunnelled}} 5`,
    `weft_tcp_connections_closed_total{${tunnelled}} 3`,
    `weft_tcp_sent_bytes_total{${tunnelled}} 9000`,
    // Another caller's tunnels are not the benchmark client's.
    'weft_tcp_connections_opened_total{reporter="destination",source_principal="spiffe://cluster.local/ns/other/sa/x",destination_workload="bench-server",connection_security_policy="mutual_tls"} 50',
  ].join('\n'));

  test('picks the proxy counts by reporter and the tunnelled ones by client identity', () => {
    assert.deepEqual(meshCountersFrom({
      clientNodeSamples: client, serverNodeSamples: server, outboundTunnels: { sessions: 1, sessionsOpened: 3 },
      clientIdentity: CLIENT_ID, serverWorkload: 'bench-server',
    }), { proxyRequests: 42, proxyConnections: 7, tunnelledOpened: 5, tunnelledClosed: 3, tunnelledSentBytes: 9000, tunnelSessionsOpened: 3 });
  });

  test('an agent without HBONE connector gives null handshakes; a malformed one is an error', () => {
    const base = { clientNodeSamples: client, serverNodeSamples: server, clientIdentity: CLIENT_ID, serverWorkload: 'bench-server' };
    assert.equal(meshCountersFrom({ ...base, outboundTunnels: null }).tunnelSessionsOpened, null);
    assert.throws(() => meshCountersFrom({ ...base, outboundTunnels: { sessions: 1 } as never }), /no sessionsOpened count/);
  });
});

function record(overrides: Partial<RoundRecord> & Pick<RoundRecord, 'path' | 'phase'>): RoundRecord {
  return {
    round: 1,
    load: { connections: 50, threads: 1, durationSeconds: 10, newConnections: overrides.phase === 'new-connections' },
    wrk: {
      requests: 1000, durationUs: 1_000_000, bytes: 200_000,
      errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 },
      latencyUs: { mean: 500, p50: 400, p90: 800, p99: 2000, max: 5000 },
    },
    requestsPerSecond: 1000,
    clientAgent: { node: 'node-1', cpuSeconds: 0.1, systemCpuSeconds: 0.03 },
    serverAgent: { node: 'node-2', cpuSeconds: 0.05, systemCpuSeconds: 0.02 },
    serverCpuSeconds: 0.04,
    clientConnectsOpened: overrides.phase === 'new-connections' ? 1000 : 0,
    serverConnectionsAccepted: 0,
    proxyRequestsCounted: overrides.path === 'meshed' ? 1000 : 0,
    proxyConnectionsCounted: overrides.path === 'meshed' && overrides.phase === 'new-connections' ? 1000 : 0,
    tunnelledConnectionsOpened: overrides.path === 'meshed' ? 3 : 0,
    tunnelHandshakes: 0,
    hbone: null,
    loadAverage1mAtStart: 1,
    ...overrides,
  };
}

describe('roundProblem', () => {
  test('well-formed direct and meshed rounds pass', () => {
    for (const path of ['direct', 'meshed'] as const) {
      for (const phase of ['load', 'new-connections'] as const) assert.equal(roundProblem(record({ path, phase })), null, `${path} ${phase}`);
    }
  });

  test('a direct round the proxy or the HBONE server saw is not direct', () => {
    assert.match(roundProblem(record({ path: 'direct', phase: 'load', proxyRequestsCounted: 3 }))!, /not direct/);
    assert.match(roundProblem(record({ path: 'direct', phase: 'load', tunnelledConnectionsOpened: 1 }))!, /not direct/);
  });

  test('a meshed round must go through the proxy and through HBONE', () => {
    assert.match(roundProblem(record({ path: 'meshed', phase: 'load', proxyRequestsCounted: 999 }))!, /not all went through it/);
    assert.match(roundProblem(record({ path: 'meshed', phase: 'load', tunnelledConnectionsOpened: 0 }))!, /did not go through HBONE/);
    assert.match(roundProblem(record({ path: 'meshed', phase: 'load', tunnelHandshakes: null }))!, /no HBONE connector/);
  });

  test('a new-connection round must open one connection per request', () => {
    assert.match(roundProblem(record({ path: 'direct', phase: 'new-connections', clientConnectsOpened: 10 }))!, /not one per request/);
    assert.match(roundProblem(record({ path: 'meshed', phase: 'new-connections', proxyConnectionsCounted: 10 }))!, /proxy accepted 10/);
  });

  test('failed rounds are named', () => {
    const empty = record({ path: 'direct', phase: 'load' });
    empty.wrk = { ...empty.wrk, requests: 0 };
    assert.match(roundProblem(empty)!, /^load round 1 \(direct, -c50\): wrk completed no request/);
    const non2xx = record({ path: 'meshed', phase: 'new-connections' });
    non2xx.wrk = { ...non2xx.wrk, errors: { ...non2xx.wrk.errors, status: 4 } };
    assert.match(roundProblem(non2xx)!, /Connection: close\): 4 responses were not 2xx/);
  });
});

describe('HBONE bytes and handshakes', () => {
  test('the HBONE server must carry a body back per request', () => {
    const r = record({ path: 'meshed', phase: 'load' });
    assert.equal(hboneBytesProblem(r, 100_000, 100), null);
    assert.match(hboneBytesProblem(r, 99_999, 100)!, /did not all come through the tunnel/);
  });

  test('handshakes per 1000 requests', () => {
    assert.equal(handshakesPer1000(0, 5000), 0);
    assert.equal(handshakesPer1000(2, 4000), 0.5);
    assert.equal(handshakesPer1000(300, 300), 1000, 'one per request');
    assert.throws(() => handshakesPer1000(1, 0), RangeError);
  });
});

describe('summarise', () => {
  const rounds = (meshed: Partial<RoundRecord>): RoundRecord[] => {
    const list: RoundRecord[] = [];
    for (const phase of ['warmup', 'load', 'low-load', 'new-connections'] as const) {
      list.push(record({ path: 'direct', phase, requestsPerSecond: 10_000 }));
      list.push(record({ path: 'meshed', phase, requestsPerSecond: 4_000, ...meshed }));
    }
    return list;
  };

  test('cross-node uses issue 4 aims: 35% of the rate, +1 ms p50, no handshake per request', () => {
    const slower = (p50: number) => ({ ...record({ path: 'meshed', phase: 'load' }).wrk, latencyUs: { mean: 1, p50, p90: p50, p99: p50, max: p50 } });
    const summary = summarise(rounds({ wrk: slower(1300) }), 'cross-node');
    assert.equal(summary.aims.issue, 'issue 4');
    assert.equal(summary.load.ratios.requestsPerSecond, 0.4);
    assert.ok(summary.aims.rateRatio.met, '40% >= 35%');
    assert.ok(Math.abs(summary.lowLoad.addedP50Ms - 0.9) < 1e-9);
    assert.ok(summary.aims.addedP50Ms.met);
    assert.equal(summary.handshakes.requests, 3000, 'warm-up excluded');
    assert.ok(summary.aims.handshakesPer1000.met);
    assert.equal(summary.newConnections.meshed.clientConnectsPer1000, 1000);

    const same = summarise(rounds({ wrk: slower(1300) }), 'same-node');
    assert.equal(same.aims.issue, 'issue 3');
    assert.equal(same.aims.rateRatio.met, false, '40% < 50%');
    assert.equal(same.aims.addedP50Ms.met, false, '+0.9 ms > +0.5 ms');
  });

  test('a handshake per request misses the aim; the table says so', () => {
    const summary = summarise(rounds({ tunnelHandshakes: 1000 }), 'cross-node');
    assert.equal(summary.handshakes.per1000, 1000);
    assert.equal(summary.aims.handshakesPer1000.met, false);
    const text = formatSummary(summary, 50, { client: 'node-1', server: 'node-2' });
    assert.match(text, /TLS handshakes <= 1 per 1000 requests .*: NOT MET \(3000 handshakes for 3000 requests\)/);
    assert.match(text, /node-2 agent CPU\/request/);
    assert.match(text, /meshed rate >= 0.35 of direct .*: MET \(40%\)/);
  });
});

describe('parseBenchOptions', () => {
  test('cross-node by default; same-node and new-connection seconds by flag', () => {
    const defaults = parseBenchOptions([]);
    assert.equal(defaults.placement, 'cross-node');
    assert.equal(defaults.newConnectionsSeconds, 5);
    const given = parseBenchOptions(['--placement', 'same-node', '--new-connections', '7']);
    assert.equal(given.placement, 'same-node');
    assert.equal(given.newConnectionsSeconds, 7);
  });

  test('bad values are clear errors', () => {
    assert.throws(() => parseBenchOptions(['--placement', 'far']), (err: Error) => err instanceof BenchUsageError && /--placement must be one of cross-node, same-node/.test(err.message));
    assert.throws(() => parseBenchOptions(['--new-connections', '0']), /--new-connections must be an integer/);
  });
});
