// Pod lookups the CA authorizes with: the pods of one namespace scheduled on one node, and one
// pod by name (the agent pod a token is bound to). Reduced to the fields the decision needs.
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { isApiStatus } from './api-status.js';

export interface PodPlacement {
  name: string;
  namespace: string;
  uid?: string;
  serviceAccountName: string;
  nodeName?: string;
  phase?: string;
}

function placementOf(pod: V1Pod): PodPlacement {
  return {
    name: pod.metadata?.name ?? '',
    namespace: pod.metadata?.namespace ?? '',
    uid: pod.metadata?.uid,
    // An empty serviceAccountName means the namespace's "default" account, as admission sets it.
    serviceAccountName: pod.spec?.serviceAccountName || 'default',
    nodeName: pod.spec?.nodeName,
    phase: pod.status?.phase,
  };
}

export class WorkloadPods {
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async onNode(namespace: string, nodeName: string): Promise<PodPlacement[]> {
    const list = await this.core.listNamespacedPod({ namespace, fieldSelector: `spec.nodeName=${nodeName}` });
    // Filtered again here: the decision must not depend on the server honouring the selector.
    return list.items.map(placementOf).filter((pod) => pod.nodeName === nodeName);
  }

  async byName(namespace: string, name: string): Promise<PodPlacement | undefined> {
    try {
      return placementOf(await this.core.readNamespacedPod({ namespace, name }));
    } catch (err) {
      if (isApiStatus(err, 404)) return undefined;
      throw err;
    }
  }
}
