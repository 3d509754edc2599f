// How fresh a proxy worker's picture of the cluster is: the time from a cluster change (the
// first cache event after the previous snapshot) to the worker holding the snapshot that
// includes it, i.e. coalescing, building, cloning to the worker and the worker's event loop.
// Observed in each worker, summed across workers on the node's /metrics page.
import { Histogram, type Registry } from 'prom-client';

const PROPAGATION_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Milliseconds since the epoch with sub-millisecond precision, comparable across threads. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export class SnapshotMetrics {
  private readonly propagation: Histogram;

  constructor(registry: Registry) {
    this.propagation = new Histogram({
      name: 'weft_snapshot_propagation_seconds',
      help: 'From a cluster change seen by the agent to a proxy worker holding the snapshot with it',
      buckets: PROPAGATION_BUCKETS_SECONDS,
      registers: [registry],
    });
  }

  /** A snapshot whose oldest change was seen at `changedAtMs` (epochMs) arrived now. */
  arrived(changedAtMs: number): void {
    this.propagation.observe(Math.max(0, epochMs() - changedAtMs) / 1000);
  }
}
