// The kubeconfig clients use to reach the server: CA embedded, bearer token, one context.
import { writeFile, chmod } from 'node:fs/promises';
import { stringify } from 'yaml';

export const kubeconfigNames = { cluster: 'weft-bed', user: 'admin', context: 'weft-bed' } as const;

export function renderKubeconfig(serverUrl: string, caCertPem: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{
      name: kubeconfigNames.cluster,
      cluster: { server: serverUrl, 'certificate-authority-data': Buffer.from(caCertPem).toString('base64') },
    }],
    users: [{ name: kubeconfigNames.user, user: { token } }],
    contexts: [{
      name: kubeconfigNames.context,
      context: { cluster: kubeconfigNames.cluster, user: kubeconfigNames.user, namespace: 'default' },
    }],
    'current-context': kubeconfigNames.context,
    preferences: {},
  });
}

export async function writeKubeconfig(path: string, serverUrl: string, caCertPem: string, token: string): Promise<void> {
  await writeFile(path, renderKubeconfig(serverUrl, caCertPem, token), { mode: 0o600 });
  await chmod(path, 0o600);
}
