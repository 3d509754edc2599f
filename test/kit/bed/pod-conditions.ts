// A pod's Ready condition, as the kubelet reports it (status.conditions), for the bed's
// controllers: the EndpointSlice controller (serving) and the workload controller (rollouts).
import type { V1Pod } from '@kubernetes/client-node';

export function hasReadyCondition(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}
