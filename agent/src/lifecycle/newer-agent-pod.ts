// Which agent pod of this node is the newest. During a surge upgrade two agent pods of one
// DaemonSet run on a node, both on the host network, so the kubelet's probes of either reach
// either agent through the shared admin port. The older agent must then stop answering
// "ready", or the new pod would be judged Ready before its own agent runs.
import type { Pod } from '../k8s/kube-types.js';

export interface OwnPod {
  namespace: string;
  name: string;
}

/**
 * A pod of this node with the same controller (the DaemonSet) as the agent's own pod, not
 * being deleted, created after it; undefined when there is none, or when the own pod is not
 * in the cache (nothing can be compared: no claim either way).
 */
export function newerAgentPod(localPods: readonly Pod[], own: OwnPod): Pod | undefined {
  const mine = localPods.find((pod) => pod.metadata?.namespace === own.namespace && pod.metadata?.name === own.name);
  const controller = mine?.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  const createdAt = createdMs(mine);
  if (mine === undefined || controller === undefined || createdAt === undefined) return undefined;
  return localPods.find((pod) => {
    if (pod === mine || pod.metadata?.deletionTimestamp) return false;
    if (!pod.metadata?.ownerReferences?.some((ref) => ref.controller === true && ref.uid === controller.uid)) return false;
    const created = createdMs(pod);
    return created !== undefined && created > createdAt;
  });
}

function createdMs(pod: Pod | undefined): number | undefined {
  const stamp = pod?.metadata?.creationTimestamp;
  if (stamp === undefined) return undefined;
  const ms = new Date(stamp).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}
