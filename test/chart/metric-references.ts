// Checks that a PromQL query reads only series the agent exports (or a few known external ones)
// and only labels those series carry, so a renamed metric or label in agent/src/metrics breaks
// the chart's tests instead of silently emptying an alert or a dashboard panel.
import { exportedSeries } from './exported-metrics.js';
import { promqlGroupingLabels, promqlMetricNames, promqlSelectorLabels } from './promql-metric-names.js';

/** Labels Prometheus adds when it scrapes an agent through the chart's PodMonitor. */
export const SCRAPE_LABELS: ReadonlySet<string> = new Set(['job', 'instance', 'namespace', 'pod', 'container', 'endpoint', 'node']);

/** Series the alerts may read that do not come from the agent, with their own labels. */
export const EXTERNAL_SERIES: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['up', new Set<string>()],
  ['kube_daemonset_status_number_unavailable', new Set(['daemonset'])],
]);

export class MetricReferenceChecker {
  private readonly series: Map<string, Set<string>>;

  constructor(series: Map<string, Set<string>> = exportedSeries()) {
    this.series = series;
  }

  labelsOf(metric: string): ReadonlySet<string> | undefined {
    const own = this.series.get(metric) ?? EXTERNAL_SERIES.get(metric);
    return own && new Set([...own, ...SCRAPE_LABELS]);
  }

  /** Problems with one expression; [] when it reads only known series and labels. */
  problems(expression: string): string[] {
    const problems: string[] = [];
    const metrics = promqlMetricNames(expression);
    const available = new Set<string>();
    for (const metric of metrics) {
      const labels = this.labelsOf(metric);
      if (!labels) problems.push(`reads ${metric}, which the agent does not export`);
      else for (const label of labels) available.add(label);
    }
    for (const { metric, label } of promqlSelectorLabels(expression)) {
      const labels = this.labelsOf(metric);
      if (labels && !labels.has(label)) problems.push(`matches label ${label} on ${metric}, which has no such label`);
    }
    for (const label of promqlGroupingLabels(expression)) {
      if (!available.has(label)) problems.push(`groups by ${label}, which none of ${metrics.join(', ')} carries`);
    }
    return problems;
  }
}
