// Node-scoped authorization: a node may obtain an identity only while a pod of that service
// account is scheduled on it and has not finished. A compromised node can therefore mint only
// the identities of workloads it already runs.
import type { WorkloadIdentity } from '../identity/spiffe-id.js';
import type { PodPlacement } from '../k8s/workload-pods.js';

export type NodeAuthorization = { allowed: true; pod: string } | { allowed: false; reason: string };

const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);

/** `pods`: the pods of identity.namespace (any node; those elsewhere are ignored). */
export function authorizeIdentityForNode(
  identity: WorkloadIdentity,
  nodeName: string,
  pods: readonly PodPlacement[],
): NodeAuthorization {
  const ofAccount = pods.filter(
    (pod) => pod.namespace === identity.namespace && pod.serviceAccountName === identity.serviceAccount && pod.nodeName === nodeName,
  );
  const running = ofAccount.find((pod) => !FINISHED_PHASES.has(pod.phase ?? ''));
  if (running) return { allowed: true, pod: `${running.namespace}/${running.name}` };
  const account = `${identity.namespace}/${identity.serviceAccount}`;
  if (ofAccount.length > 0) {
    return { allowed: false, reason: `pods of service account ${account} on node ${nodeName} have all finished (${ofAccount.map((p) => p.name).join(', ')})` };
  }
  return { allowed: false, reason: `no pod of service account ${account} is scheduled on node ${nodeName}` };
}
