// Metrics about the agent itself rather than the traffic: the agent sets them from its
// enrollment reconciler. Declared here so every metric name lives under metrics/.
import { Counter, Gauge, type Registry } from 'prom-client';

export class AgentMetrics {
  /** Pods on this node that currently have the redirect programs attached. */
  readonly enrolledPods: Gauge;
  /** Failed attempts to attach or detach the eBPF programs on a pod cgroup. */
  readonly bpfAttachErrors: Counter;
  /** Inbound connections dropped in eBPF by strict mTLS; read from the kernel at scrape time. */
  readonly strictDenied: Counter;
  /** Proxy worker threads that died and were replaced. */
  readonly proxyWorkerRestarts: Counter;
  /** Connects refused at connect() by authorization, per deciding policy; read at scrape time. */
  readonly authzConnectDenied: Counter<'policy'>;
  private readStrictDrops: () => bigint = () => 0n;
  private strictDropsSeen = 0n;
  private readConnectDenials: () => ReadonlyMap<string, bigint> = () => new Map();
  private readonly connectDenialsSeen = new Map<string, bigint>();

  constructor(registry: Registry) {
    const metrics = this;
    this.strictDenied = new Counter({
      name: 'weft_strict_denied_total',
      help: 'Inbound connections to strict-mTLS pods refused because they did not come through the mesh',
      registers: [registry],
      collect() {
        // The kernel counter only grows; add what it gained since the last scrape.
        const now = metrics.readStrictDrops();
        if (now > metrics.strictDropsSeen) this.inc(Number(now - metrics.strictDropsSeen));
        metrics.strictDropsSeen = now;
      },
    });
    this.authzConnectDenied = new Counter({
      name: 'weft_authz_connect_denied_total',
      help: 'Connects from this node\'s pods refused with EPERM by the connect-time authorization program, by deciding policy',
      labelNames: ['policy'],
      registers: [registry],
      collect() {
        for (const [policy, now] of metrics.readConnectDenials()) {
          const seen = metrics.connectDenialsSeen.get(policy) ?? 0n;
          if (now > seen) this.labels(policy).inc(Number(now - seen));
          metrics.connectDenialsSeen.set(policy, now);
        }
      },
    });
    this.enrolledPods = new Gauge({
      name: 'weft_enrolled_pods',
      help: 'Pods on this node whose TCP connections are steered into the node proxy',
      registers: [registry],
    });
    this.proxyWorkerRestarts = new Counter({
      name: 'weft_proxy_worker_restarts_total',
      help: 'Proxy worker threads that exited unexpectedly and were replaced',
      registers: [registry],
    });
    this.bpfAttachErrors = new Counter({
      name: 'weft_bpf_attach_errors_total',
      help: 'Failed attempts to attach or detach the redirect programs on a pod cgroup',
      registers: [registry],
    });
  }

  /** Where strict-mode drops are counted (the pinned per-CPU map). */
  countStrictDropsFrom(read: () => bigint): void {
    this.readStrictDrops = read;
  }

  /** Where connect-time denials are counted: totals per policy id (the pinned per-CPU map). */
  countConnectDenialsFrom(read: () => ReadonlyMap<string, bigint>): void {
    this.readConnectDenials = read;
  }
}
