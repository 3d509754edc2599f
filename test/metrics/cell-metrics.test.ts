// The request path's counters and histograms (cells: labels set once, recording is arithmetic)
// render exactly as prom-client's own Counter and Histogram do for the same observations, in
// text and in the JSON that sums proxy workers' registries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { CounterCells, HistogramCells } from '../../agent/src/metrics/cell-metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVATIONS = [0.0005, 0.001, 0.001, 0.002, 0.01, 0.5, 1, 3, 0];

function reference(): Registry {
  const registry = new Registry();
  const counter = new Counter({ name: 'x_total', help: 'h', labelNames: ['a', 'b'], registers: [registry] });
  const histogram = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['a', 'b'], buckets: BUCKETS, registers: [registry] });
  for (const [a, b] of [['1', 'p'], ['2', 'q']]) {
    counter.labels(a!, b!).inc(3);
    for (const v of OBSERVATIONS) histogram.labels(a!, b!).observe(v);
  }
  return registry;
}

function cells(): Registry {
  const registry = new Registry();
  const counter = new CounterCells({ name: 'x_total', help: 'h', labelNames: ['a', 'b'], registers: [registry] });
  const histogram = new HistogramCells({ name: 'x_seconds', help: 'h', labelNames: ['a', 'b'], buckets: BUCKETS, registers: [registry] });
  for (const [a, b] of [['1', 'p'], ['2', 'q']]) {
    const count = counter.cell({ a: a!, b: b! });
    count.inc();
    count.inc(2);
    const duration = histogram.cell({ a: a!, b: b! });
    for (const v of OBSERVATIONS) duration.observe(v);
  }
  return registry;
}

test('cells render the same text as prom-client for the same observations (bounds inclusive, +Inf, sum, count)', async () => {
  assert.equal(await cells().metrics(), await reference().metrics());
});

test('cells of several registries sum like prom-client\'s metrics do (AggregatorRegistry)', async () => {
  const summed = AggregatorRegistry.aggregate([await cells().getMetricsAsJSON(), await cells().getMetricsAsJSON()]);
  const expected = AggregatorRegistry.aggregate([await reference().getMetricsAsJSON(), await reference().getMetricsAsJSON()]);
  assert.equal(await summed.metrics(), await expected.metrics());
  assert.match(await summed.metrics(), /x_total\{a="1",b="p"\} 6/);
});
