// Turns two scrapes of a node's /metrics into per-service (or per-workload) request stats, the
// way `linkerd viz stat` summarises: requests per second over the interval, success rate,
// and latency percentiles from the duration histogram.
import type { Sample } from './prometheus-text.js';

export type GroupBy = 'service' | 'workload';

export interface RequestStats {
  /** `destination_service` or `source_namespace/source_workload`. */
  name: string;
  /** Requests since the agent started. */
  totalRequests: number;
  /** Share of those that did not answer 5xx (0..1); null when there were none. */
  successRate: number | null;
  /** Requests per second between the two scrapes. */
  requestsPerSecond: number;
  /** Latency percentiles in milliseconds over all requests since start; null when unknown. */
  p50Ms: number | null;
  p99Ms: number | null;
}

const REQUESTS = 'weft_requests_total';
const BUCKETS = 'weft_request_duration_seconds_bucket';

function groupKey(labels: Readonly<Record<string, string>>, by: GroupBy): string {
  return by === 'service'
    ? labels['destination_service'] ?? 'unknown'
    : `${labels['source_namespace'] ?? 'unknown'}/${labels['source_workload'] ?? 'unknown'}`;
}

/**
 * The q-quantile of a cumulative histogram (le -> count), interpolating linearly inside the
 * bucket as PromQL's histogram_quantile does.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | null {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.length ? sorted[sorted.length - 1]![1] : 0;
  if (total === 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound; // beyond the last finite bucket
      const inBucket = count - lowerCount;
      return inBucket === 0 ? le : lowerBound + (le - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}

function totals(samples: readonly Sample[], by: GroupBy, reporter: string) {
  const requests = new Map<string, { all: number; failed: number }>();
  const buckets = new Map<string, Map<number, number>>();
  for (const s of samples) {
    if (s.labels['reporter'] !== reporter) continue;
    if (s.name === REQUESTS) {
      const key = groupKey(s.labels, by);
      const entry = requests.get(key) ?? { all: 0, failed: 0 };
      entry.all += s.value;
      if ((s.labels['response_code'] ?? '').startsWith('5')) entry.failed += s.value;
      requests.set(key, entry);
    } else if (s.name === BUCKETS) {
      const key = groupKey(s.labels, by);
      const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']);
      const byLe = buckets.get(key) ?? new Map<number, number>();
      byLe.set(le, (byLe.get(le) ?? 0) + s.value);
      buckets.set(key, byLe);
    }
  }
  return { requests, buckets };
}

export function computeRequestStats(
  before: readonly Sample[],
  after: readonly Sample[],
  intervalSeconds: number,
  by: GroupBy,
  reporter = 'source',
): RequestStats[] {
  const first = totals(before, by, reporter);
  const second = totals(after, by, reporter);
  const stats: RequestStats[] = [];
  for (const [name, { all, failed }] of second.requests) {
    const earlier = first.requests.get(name)?.all ?? 0;
    const histogram = second.buckets.get(name) ?? new Map<number, number>();
    const p50 = histogramQuantile(0.5, histogram);
    const p99 = histogramQuantile(0.99, histogram);
    stats.push({
      name,
      totalRequests: all,
      successRate: all > 0 ? (all - failed) / all : null,
      requestsPerSecond: Math.max(0, all - earlier) / intervalSeconds,
      p50Ms: p50 === null ? null : p50 * 1000,
      p99Ms: p99 === null ? null : p99 * 1000,
    });
  }
  return stats.sort((a, b) => a.name.localeCompare(b.name));
}
