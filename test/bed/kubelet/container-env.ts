// The environment a container sees: the daemon's PATH, HOSTNAME, the container's `env` values and
// the downward-API fieldRefs kubelet resolves (pod name, namespace, IP, node, service account).
import type { V1Container, V1Pod } from '@kubernetes/client-node';

function fieldRefValue(pod: V1Pod, podIp: string, hostIp: string, fieldPath: string): string {
  switch (fieldPath) {
    case 'metadata.name': return pod.metadata?.name ?? '';
    case 'metadata.namespace': return pod.metadata?.namespace ?? '';
    case 'metadata.uid': return pod.metadata?.uid ?? '';
    case 'spec.nodeName': return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP': return podIp;
    case 'status.hostIP': return hostIp;
    default:
      throw new Error(`env fieldRef ${fieldPath} is not supported by the test bed`);
  }
}

export function containerEnv(pod: V1Pod, container: V1Container, podIp: string, hostIp: string): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    HOSTNAME: pod.metadata?.name ?? '',
  };
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef) env[variable.name] = fieldRefValue(pod, podIp, hostIp, variable.valueFrom.fieldRef.fieldPath);
    else env[variable.name] = '';
  }
  return env;
}
