// The node's one /metrics page: the control thread's own registry (agent, identity, process
// metrics) followed by the proxy workers' metrics summed across workers (prom-client's
// AggregatorRegistry: counters and histogram buckets added per label set), so a scraper sees
// the same names and labels whatever the number of workers.
import { AggregatorRegistry, type Registry } from 'prom-client';

/** One registry in prom-client's JSON form (what a proxy worker sends for a scrape). */
export type RegistryJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export interface MetricsPage {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export class NodeMetricsPage implements MetricsPage {
  constructor(
    private readonly control: Registry,
    /** Each worker's registry as JSON; workers that do not answer are left out of this scrape. */
    private readonly workerMetrics: () => Promise<RegistryJson[]>,
  ) {}

  get contentType(): string {
    return this.control.contentType;
  }

  async metrics(): Promise<string> {
    const [own, perWorker] = await Promise.all([this.control.metrics(), this.workerMetrics()]);
    if (perWorker.length === 0) return own;
    const summed = AggregatorRegistry.aggregate(perWorker);
    return `${own}${await summed.metrics()}`;
  }
}
