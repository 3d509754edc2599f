// Loads the Kubernetes client configuration: a kubeconfig file when given, else the pod's
// in-cluster service account (as a DaemonSet pod has).
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromCluster();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      kubeconfigPath
        ? `kubeconfig ${kubeconfigPath} has no current cluster`
        : 'no kubeconfig given and not running in a cluster (KUBERNETES_SERVICE_HOST unset)',
    );
  }
  return kc;
}
