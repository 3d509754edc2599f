// The environment a container sees: the daemon's PATH (with the repo's bin/ first for the weft
// image, whose entrypoint `weft` is that script), HOSTNAME, KUBERNETES_SERVICE_HOST/PORT (where the
// pod reaches the API server), the container's `env` values and the downward-API fieldRefs kubelet
// resolves (pod name, namespace, IP, node, service account).
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { repoRoot } from '../../../support/repo-root.js';

/** The repo's bin/ (bin/weft), which the weft image has at /usr/local/bin. */
export const WEFT_BIN_DIR = join(repoRoot, 'bin');

/** The image repository without tag or digest: ghcr.io/weft-mesh/weft:0.1.0 -> ghcr.io/weft-mesh/weft. */
export function imageRepository(image: string): string {
  const withoutDigest = image.split('@')[0]!;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  return lastColon > lastSlash ? withoutDigest.slice(0, lastColon) : withoutDigest;
}

/** Images of the Weft chart (repository ending in /weft) run the repo's build. */
export function isWeftImage(image: string | undefined): boolean {
  return image !== undefined && imageRepository(image).endsWith('/weft');
}

export interface ApiEndpoint {
  host: string;
  port: number;
}

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

export function containerEnv(pod: V1Pod, container: V1Container, podIp: string, hostIp: string, apiEndpoint: ApiEndpoint | null = null): Record<string, string> {
  const path = process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const env: Record<string, string> = {
    PATH: isWeftImage(container.image) ? `${WEFT_BIN_DIR}:${path}` : path,
    HOME: '/root',
    HOSTNAME: pod.metadata?.name ?? '',
  };
  if (apiEndpoint) {
    // What kubelet sets from the `kubernetes` Service; here the node's API relay.
    env.KUBERNETES_SERVICE_HOST = apiEndpoint.host;
    env.KUBERNETES_SERVICE_PORT = String(apiEndpoint.port);
    env.KUBERNETES_SERVICE_PORT_HTTPS = String(apiEndpoint.port);
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef) env[variable.name] = fieldRefValue(pod, podIp, hostIp, variable.valueFrom.fieldRef.fieldPath);
    else env[variable.name] = '';
  }
  return env;
}
