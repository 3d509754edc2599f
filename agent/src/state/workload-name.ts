// The workload a pod belongs to, as metrics name it: a Deployment's pods report the
// Deployment (the ReplicaSet name minus its pod-template-hash), other controllers their own
// name, bare pods their `app` label or, last, their own name. Bounded by the number of
// workloads, never by request input.
import type { Pod } from '../k8s/kube-types.js';

export function workloadName(pod: Pod): string {
  const owner = pod.metadata?.ownerReferences?.find((ref) => ref.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (owner) {
    const hash = pod.metadata?.labels?.['pod-template-hash'];
    if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
      return owner.name.slice(0, -hash.length - 1);
    }
    return owner.name;
  }
  const labels = pod.metadata?.labels ?? {};
  return labels['app.kubernetes.io/name'] ?? labels['app'] ?? pod.metadata?.name ?? 'unknown';
}
