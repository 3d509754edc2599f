// Small pieces of the proxy on their own: first-bytes classification, hop-by-hop header
// stripping, pod CIDR matching, routing and round robin over a snapshot, error classification,
// and the metric children cache.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyFirstBytes } from '../../agent/src/proxy/protocol-sniffer.js';
import { forwardableRequestHeaders, forwardableResponseHeaders } from '../../agent/src/proxy/hop-by-hop-headers.js';
import { Ipv4CidrSet } from '../../agent/src/proxy/ipv4-cidr-set.js';
import { RouteTable } from '../../agent/src/proxy/route-table.js';
import { classifyProxyError } from '../../agent/src/proxy/error-responses.js';
import { ProxyError } from '../../agent/src/proxy/proxy-error.js';
import { ProxyErrorCode } from '../../agent/src/proxy/error-codes.js';
import { ProxyMetrics, UNKNOWN_SOURCE } from '../../agent/src/metrics/proxy-metrics.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';
import { buildSnapshot, pod } from './proxy-harness.js';

describe('classifyFirstBytes', () => {
  test('HTTP/1.x request lines are http1, partial methods need more, the rest is tcp', () => {
    assert.equal(classifyFirstBytes(Buffer.from('GET / HTTP/1.1\r\n')), 'http1');
    assert.equal(classifyFirstBytes(Buffer.from('DELETE /x HTTP/1.1\r\n')), 'http1');
    assert.equal(classifyFirstBytes(Buffer.from('OPTIONS')), 'need-more');
    assert.equal(classifyFirstBytes(Buffer.from('P')), 'need-more');
    assert.equal(classifyFirstBytes(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), 'tcp');
    assert.equal(classifyFirstBytes(Buffer.from('CONNECT host:443 HTTP/1.1\r\n')), 'tcp');
    assert.equal(classifyFirstBytes(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])), 'tcp', 'a TLS ClientHello');
    assert.equal(classifyFirstBytes(Buffer.from('get / HTTP/1.1\r\n')), 'tcp');
    assert.equal(classifyFirstBytes(Buffer.from('GETX')), 'tcp');
  });
});

describe('hop-by-hop headers', () => {
  test('request: hop-by-hop and Connection-named headers are dropped in order, body detected', () => {
    const out: string[] = [];
    const hasBody = forwardableRequestHeaders(
      [
        'Host', 'web', 'Connection', 'keep-alive, X-Secret-Hop', 'X-Secret-Hop', '1', 'Keep-Alive', 'timeout=5',
        'Transfer-Encoding', 'chunked', 'TE', 'trailers', 'Expect', '100-continue', 'X-Kept', 'a', 'x-kept', 'b',
        'Proxy-Authorization', 'Basic x',
      ],
      out,
    );
    assert.deepEqual(out, ['Host', 'web', 'X-Kept', 'a', 'x-kept', 'b']);
    assert.equal(hasBody, true);
    const none: string[] = [];
    assert.equal(forwardableRequestHeaders(['Host', 'web', 'Content-Length', '0'], none), false);
    assert.deepEqual(none, ['Host', 'web', 'Content-Length', '0']);
    assert.equal(forwardableRequestHeaders(['Content-Length', '12'], []), true);
  });

  test('response: hop-by-hop and Connection-named headers are dropped, duplicates kept', () => {
    const raw = ['Content-Type', 'text/plain', 'Connection', 'close, X-Hop', 'X-Hop', 'v', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2',
      'Transfer-Encoding', 'chunked', 'Keep-Alive', 'timeout=5'].map((s) => Buffer.from(s, 'latin1'));
    assert.deepEqual(forwardableResponseHeaders(raw), ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  });
});

describe('Ipv4CidrSet', () => {
  test('matches addresses inside the CIDRs only', () => {
    const set = new Ipv4CidrSet(['10.244.1.0/24', '10.245.0.0/16', 'fd00::/64']);
    assert.ok(set.has('10.244.1.7'));
    assert.ok(set.has('10.245.200.1'));
    assert.ok(!set.has('10.244.2.7'));
    assert.ok(!set.has('not-an-ip'));
    assert.ok(new Ipv4CidrSet(['0.0.0.0/0']).has('192.0.2.1'));
    assert.throws(() => new Ipv4CidrSet(['10.0.0.0/33']), /invalid IPv4 CIDR '10\.0\.0\.0\/33'/);
  });
});

describe('RouteTable', () => {
  const client = pod('10.244.1.2', 'demo', 'client');
  const a = pod('10.244.1.10', 'demo', 'web', 'web-a');
  const b = pod('10.244.2.11', 'demo', 'web', 'web-b');
  const snapshot = buildSnapshot({
    pods: [client, a, b],
    podCIDRs: ['10.244.0.0/16'],
    services: [
      {
        namespace: 'demo',
        name: 'web',
        clusterIP: '10.96.0.10',
        port: 80,
        endpoints: [
          { ip: a.ip, port: 8080, pod: a },
          { ip: '10.244.3.3', port: 8080, ready: false },
          { ip: b.ip, port: 8080 },
        ],
      },
      { namespace: 'demo', name: 'db', clusterIP: '10.96.0.20', port: 5432, appProtocol: 'TCP', endpoints: [] },
      { namespace: 'demo', name: 'api', clusterIP: '10.96.0.30', port: 80, appProtocol: 'http', endpoints: [] },
    ],
  });
  const routes = new RouteTable(() => snapshot);

  test('services round-robin over ready endpoints only, with per-endpoint labels', () => {
    const route = routes.resolve(snapshot, '10.96.0.10', 80);
    assert.equal(route.kind, 'service');
    if (route.kind !== 'service') return;
    assert.equal(route.protocol, 'sniff');
    assert.deepEqual(route.labels, { service: 'web.demo.svc.cluster.local', workload: 'unknown', namespace: 'demo' });
    const picked = Array.from({ length: 4 }, () => routes.pickServiceTarget(route)!);
    assert.deepEqual(picked.map((t) => t.key), ['10.244.1.10:8080', '10.244.2.11:8080', '10.244.1.10:8080', '10.244.2.11:8080']);
    // The endpoint without a pod reference is labelled from podsByIp.
    assert.deepEqual(picked[1]!.labels, { service: 'web.demo.svc.cluster.local', workload: 'web', namespace: 'demo' });
    assert.equal(picked[0], picked[2], 'targets are cached, not rebuilt per pick');
  });

  test('appProtocol decides the protocol; no endpoints picks nothing', () => {
    const db = routes.resolve(snapshot, '10.96.0.20', 5432);
    assert.equal(db.protocol, 'tcp');
    assert.equal(db.kind === 'service' && routes.pickServiceTarget(db), null);
    assert.equal(routes.resolve(snapshot, '10.96.0.30', 80).protocol, 'http1');
  });

  test('pod IPs go direct (labelled by workload), other addresses pass through as unknown TCP', () => {
    const known = routes.resolve(snapshot, a.ip, 8080);
    assert.equal(known.kind, 'direct');
    if (known.kind !== 'direct') return;
    assert.equal(known.reason, 'pod');
    assert.deepEqual(known.target.labels, { service: 'web', workload: 'web', namespace: 'demo' });
    const unknownPod = routes.resolve(snapshot, '10.244.9.9', 80);
    assert.ok(unknownPod.kind === 'direct' && unknownPod.reason === 'pod' && unknownPod.target.labels.workload === 'unknown');
    const outside = routes.resolve(snapshot, '192.0.2.1', 443);
    assert.ok(outside.kind === 'direct' && outside.reason === 'passthrough' && outside.protocol === 'tcp');
  });

  test('source labels come from the snapshot, unknown otherwise', () => {
    assert.deepEqual(routes.sourceLabels(snapshot, client.ip), { workload: 'client', namespace: 'demo', principal: 'unknown' });
    assert.equal(routes.sourceLabels(snapshot, client.ip), routes.sourceLabels(snapshot, client.ip));
    assert.equal(routes.sourceLabels(snapshot, '10.9.9.9'), UNKNOWN_SOURCE);
  });
});

describe('classifyProxyError', () => {
  test('maps socket, undici and proxy errors to stable codes', () => {
    const withCode = (code: string): Error => Object.assign(new Error(code), { code });
    assert.equal(classifyProxyError(withCode('ECONNREFUSED')), ProxyErrorCode.UPSTREAM_REFUSED);
    assert.equal(classifyProxyError(withCode('ECONNRESET')), ProxyErrorCode.UPSTREAM_RESET);
    assert.equal(classifyProxyError(withCode('UND_ERR_SOCKET')), ProxyErrorCode.UPSTREAM_RESET);
    assert.equal(classifyProxyError(withCode('EHOSTUNREACH')), ProxyErrorCode.UPSTREAM_UNREACHABLE);
    assert.equal(classifyProxyError(withCode('UND_ERR_HEADERS_TIMEOUT')), ProxyErrorCode.UPSTREAM_TIMEOUT);
    assert.equal(classifyProxyError(withCode('HPE_INVALID_CONSTANT')), ProxyErrorCode.UPSTREAM_PROTOCOL);
    assert.equal(classifyProxyError(withCode('UND_ERR_INVALID_ARG')), ProxyErrorCode.MALFORMED_REQUEST);
    assert.equal(
      classifyProxyError(new ProxyError(ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT, 'slow')),
      ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT,
    );
    assert.equal(classifyProxyError(new Error('no code')), ProxyErrorCode.INTERNAL);
    assert.equal(classifyProxyError(undefined), ProxyErrorCode.INTERNAL);
  });
});

describe('ProxyMetrics', () => {
  test('one TrafficMetrics per (source, destination) object pair; series carry the given labels', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const metrics = new ProxyMetrics(registry, { reporter: 'source' });
    const source = { workload: 'client', namespace: 'demo', principal: 'unknown' };
    const destination = { service: 'web.demo.svc.cluster.local', workload: 'web', namespace: 'demo' };
    const traffic = metrics.traffic(source, destination);
    assert.equal(metrics.traffic(source, destination), traffic);
    traffic.recordRequest(200, 0.002);
    traffic.recordRequest(200, 0.004);
    traffic.recordRequest(503, 0.001);
    const text = await registry.metrics();
    assert.match(text, /weft_requests_total\{[^}]*response_code="200"[^}]*\} 2/);
    assert.match(text, /weft_requests_total\{[^}]*response_code="503"[^}]*\} 1/);
    assert.match(text, /weft_request_duration_seconds_bucket\{le="0.0025",[^}]*response_code="200"[^}]*\} 1/);
    assert.match(text, /weft_request_duration_seconds_count\{[^}]*response_code="200"[^}]*\} 2/);
  });

  test('collect hooks run at scrape time so open connections report bytes', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const metrics = new ProxyMetrics(registry, { reporter: 'source' });
    const traffic = metrics.traffic(UNKNOWN_SOURCE, { service: 's', workload: 'w', namespace: 'n' });
    let flushes = 0;
    const hook = (): void => {
      flushes++;
      traffic.addBytes(10, 20);
    };
    metrics.addCollectHook(hook);
    const text = await registry.metrics();
    assert.ok(flushes >= 1);
    assert.match(text, /weft_tcp_sent_bytes_total\{[^}]*destination_service="s"[^}]*\} [1-9]/);
    metrics.removeCollectHook(hook);
    const before = flushes;
    await registry.metrics();
    assert.equal(flushes, before);
  });
});
