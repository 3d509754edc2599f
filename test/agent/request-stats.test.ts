import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheusText, MetricsParseError } from '../../agent/src/cli/prometheus-text.js';
import { computeRequestStats, histogramQuantile } from '../../agent/src/cli/request-stats.js';

const labels = 'reporter="source",source_workload="client",source_namespace="demo",destination_service="web.demo.svc.cluster.local"';

function scrape(ok: number, failed: number, buckets: [string, number][]): string {
  return [
    '# HELP weft_requests_total Requests',
    '# TYPE weft_requests_total counter',
    `weft_requests_total{${labels},response_code="200"} ${ok}`,
    `weft_requests_total{${labels},response_code="503"} ${failed}`,
    ...buckets.map(([le, n]) => `weft_request_duration_seconds_bucket{${labels},response_code="200",le="${le}"} ${n}`),
    'process_cpu_seconds_total 1.5',
  ].join('\n');
}

test('parses labels with escapes, special values and skips comments', () => {
  const samples = parsePrometheusText('# c\nm{a="x\\"y",b="1\\\\2"} +Inf\nn 3 1700000000\n');
  assert.deepEqual(samples, [
    { name: 'm', labels: { a: 'x"y', b: '1\\2' }, value: Infinity },
    { name: 'n', labels: {}, value: 3 },
  ]);
  assert.throws(() => parsePrometheusText('m{a="x} 1'), MetricsParseError);
  assert.throws(() => parsePrometheusText('<html>'), MetricsParseError);
});

test('histogram quantiles interpolate inside the bucket like PromQL', () => {
  const buckets = new Map([[0.001, 0], [0.002, 50], [0.004, 100], [Infinity, 100]]);
  assert.equal(histogramQuantile(0.5, buckets), 0.002);
  assert.ok(Math.abs(histogramQuantile(0.99, buckets)! - 0.00396) < 1e-9);
  assert.equal(histogramQuantile(0.5, new Map()), null);
});

test('stats per service: rate over the interval, success rate and latency', () => {
  const before = parsePrometheusText(scrape(10, 0, [['0.005', 10], ['+Inf', 10]]));
  const after = parsePrometheusText(scrape(28, 2, [['0.005', 27], ['+Inf', 28]]));
  const [web] = computeRequestStats(before, after, 2, 'service');
  assert.equal(web!.name, 'web.demo.svc.cluster.local');
  assert.equal(web!.totalRequests, 30);
  assert.equal(web!.requestsPerSecond, 10);
  assert.ok(Math.abs(web!.successRate! - 28 / 30) < 1e-12);
  assert.ok(web!.p50Ms! > 0 && web!.p50Ms! <= 5);
  const [byWorkload] = computeRequestStats(before, after, 2, 'workload');
  assert.equal(byWorkload!.name, 'demo/client');
});
