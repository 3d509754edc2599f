// The metrics the agent really exports, read out of its source (agent/src/metrics/*.ts: every
// `new Counter|Gauge|Histogram({ name: 'weft_...', labelNames: ... })`), so renaming a metric or
// a label there fails the chart's tests until its alerts and dashboard follow.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';

export interface ExportedMetric {
  name: string;
  type: 'Counter' | 'Gauge' | 'Histogram' | 'Summary';
  /** Label names from `labelNames` (an inline array or a `const X = [...]` of the same file). */
  labels: string[];
}

function stringsIn(arrayText: string): string[] {
  return [...arrayText.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]!);
}

function labelNames(declaration: string, source: string, where: string): string[] {
  const labels = /labelNames:\s*(\[[^\]]*\]|[A-Za-z_]\w*)/.exec(declaration)?.[1];
  if (labels === undefined) return [];
  if (labels.startsWith('[')) return stringsIn(labels);
  const constant = new RegExp(`const ${labels}\\b[^=]*=\\s*(\\[[^\\]]*\\])`).exec(source);
  if (!constant) throw new Error(`${where}: labelNames refers to ${labels}, which is not a const array in the same file`);
  return stringsIn(constant[1]!);
}

export function exportedMetrics(): ExportedMetric[] {
  const dir = join(repoRoot, 'agent', 'src', 'metrics');
  const metrics: ExportedMetric[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    for (const match of source.matchAll(/new (Counter|Gauge|Histogram|Summary|CounterCells|HistogramCells)\b[^{]*\{\s*name:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g)) {
      // The declaration runs to the constructor's closing `});`.
      const end = source.indexOf('});', match.index);
      const declaration = source.slice(match.index, end === -1 ? undefined : end);
      metrics.push({ type: match[1]!.replace(/Cells$/, '') as ExportedMetric['type'], name: match[2]!, labels: labelNames(declaration, source, `${file} ${match[2]}`) });
    }
  }
  return metrics;
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
