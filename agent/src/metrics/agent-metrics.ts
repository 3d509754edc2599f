// Metrics about the agent itself rather than the traffic: the agent sets them from its
// enrollment reconciler. Declared here so every metric name lives under metrics/.
import { Counter, Gauge, type Registry } from 'prom-client';

export class AgentMetrics {
  /** Pods on this node that currently have the redirect programs attached. */
  readonly enrolledPods: Gauge;
  /** Failed attempts to attach or detach the eBPF programs on a pod cgroup. */
  readonly bpfAttachErrors: Counter;

  constructor(registry: Registry) {
    this.enrolledPods = new Gauge({
      name: 'weft_enrolled_pods',
      help: 'Pods on this node whose TCP connections are steered into the node proxy',
      registers: [registry],
    });
    this.bpfAttachErrors = new Counter({
      name: 'weft_bpf_attach_errors_total',
      help: 'Failed attempts to attach or detach the redirect programs on a pod cgroup',
      registers: [registry],
    });
  }
}
