// One Registry per agent process, never prom-client's global one, so tests can build as many
// proxies as they like side by side and each agent renders only its own metrics.
import { Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsRegistryOptions {
  /** Include prom-client's default process metrics (CPU, memory, event loop lag, ...). */
  processMetrics?: boolean;
}

export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
