// The Kubernetes clients `weft ca` needs, made from one KubeConfig here so that the CA code
// itself never touches the client library.
import type { KubeConfig } from '@kubernetes/client-node';
import { CaSecrets } from './ca-secrets.js';
import { KubeTokenReviewer } from './token-reviewer.js';
import { WorkloadPods } from './workload-pods.js';

export interface CaKubeClients {
  tokenReviewer: KubeTokenReviewer;
  pods: WorkloadPods;
  secretsIn(namespace: string): CaSecrets;
}

export function createCaKubeClients(kubeConfig: KubeConfig): CaKubeClients {
  return {
    tokenReviewer: new KubeTokenReviewer(kubeConfig),
    pods: new WorkloadPods(kubeConfig),
    secretsIn: (namespace) => new CaSecrets(kubeConfig, namespace),
  };
}
