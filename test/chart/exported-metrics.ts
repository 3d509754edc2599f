// The metrics the agent really exports, read from a live registry holding every metric class of
// agent/src/metrics (the control thread's and a proxy worker's), so renaming a metric or a
// label there fails the chart's tests until its alerts and dashboard follow.
import type { Registry } from 'prom-client';
import { AuthzMetrics } from '../../agent/src/metrics/authz-metrics.js';
import { AgentMetrics } from '../../agent/src/metrics/agent-metrics.js';
import { HandshakeMetrics } from '../../agent/src/metrics/handshake-metrics.js';
import { IdentityMetrics } from '../../agent/src/metrics/identity-metrics.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';
import { ProxyMetrics } from '../../agent/src/metrics/proxy-metrics.js';
import { SnapshotMetrics } from '../../agent/src/metrics/snapshot-metrics.js';

export interface ExportedMetric {
  name: string;
  type: 'Counter' | 'Gauge' | 'Histogram' | 'Summary';
  labels: string[];
}

/** A registry as a node's /metrics page has it (process metrics aside). */
export function liveAgentRegistry(): Registry {
  const registry = createMetricsRegistry({ processMetrics: false });
  new AgentMetrics(registry);
  new IdentityMetrics(registry);
  const proxy = new ProxyMetrics(registry, { reporter: 'source' });
  new ProxyMetrics(proxy, { reporter: 'destination', connectionSecurityPolicy: 'mutual_tls' });
  new HandshakeMetrics(registry);
  new SnapshotMetrics(registry);
  new AuthzMetrics(registry);
  return registry;
}

const TYPES: Record<string, ExportedMetric['type']> = { counter: 'Counter', gauge: 'Gauge', histogram: 'Histogram', summary: 'Summary' };

export function exportedMetrics(registry: Registry = liveAgentRegistry()): ExportedMetric[] {
  return registry.getMetricsAsArray().map((metric) => {
    const { name, type, labelNames } = metric as unknown as { name: string; type: string; labelNames?: readonly string[] };
    const known = TYPES[type];
    if (known === undefined) throw new Error(`metric ${name} has an unknown type ${type}`);
    return { name, type: known, labels: [...(labelNames ?? [])] };
  });
}

/** Every series name Prometheus stores for these metrics (histograms add _bucket, _sum, _count), with its labels. */
export function exportedSeries(metrics: readonly ExportedMetric[] = exportedMetrics()): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const { name, type, labels } of metrics) {
    series.set(name, new Set(labels));
    if (type === 'Histogram') {
      series.set(`${name}_bucket`, new Set([...labels, 'le']));
      for (const suffix of ['_sum', '_count']) series.set(name + suffix, new Set(labels));
    }
    if (type === 'Summary') {
      series.set(name, new Set([...labels, 'quantile']));
      for (const suffix of ['_sum', '_count']) series.set(name + suffix, new Set(labels));
    }
  }
  return series;
}

export function exportedSeriesNames(metrics: readonly ExportedMetric[] = exportedMetrics()): Set<string> {
  return new Set(exportedSeries(metrics).keys());
}
