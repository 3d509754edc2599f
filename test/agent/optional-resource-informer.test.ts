// An informer over a CRD that may not be installed, against the in-repo API server: without the
// CRD it is synced and empty at once (an agent must not wait for Weft's policy CRDs forever);
// once the CRD is installed, its objects arrive as 'add' events.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { OptionalResourceInformer } from '../../agent/src/k8s/optional-resource-informer.js';
import { kubectl, startApiServer, type ApiServerHandle } from '../kit/index.js';
import { repoRoot } from '../support/repo-root.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';

let stateDir: TempDir;
let server: ApiServerHandle;
let kubeConfig: KubeConfig;

before(async () => {
  stateDir = await makeTempDir('optional-informer');
  server = await startApiServer({ stateDir: stateDir.path });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(server.kubeconfigPath);
});

after(async () => {
  await server?.close();
  await stateDir?.remove();
});

test('no CRD: synced and empty at once; the CRD installed later: its objects arrive', async () => {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const logged: string[] = [];
  const informer = new OptionalResourceInformer<KubernetesObject>({
    kubeConfig, name: 'clusterauthorizationpolicies', log: (msg) => logged.push(msg),
    path: '/apis/weft.io/v1alpha1/clusterauthorizationpolicies',
    list: async () => (await custom.listClusterCustomObject({ group: 'weft.io', version: 'v1alpha1', plural: 'clusterauthorizationpolicies' })) as { items: KubernetesObject[] },
    probeIntervalMs: 100,
  });
  const added: string[] = [];
  informer.on('add', (o) => added.push(o.metadata!.name!));
  try {
    await informer.start();
    assert.equal(informer.hasSynced(), true);
    assert.deepEqual(informer.list(), []);
    assert.match(logged.join('\n'), /does not exist \(CRD not installed\)/);

    const crd = join(repoRoot, 'charts', 'weft', 'crds', 'weft.io_clusterauthorizationpolicies.yaml');
    await kubectl(server.kubeconfigPath, ['apply', '-f', crd]);
    await kubectl(server.kubeconfigPath, ['wait', '--for', 'condition=Established', '-f', crd]);
    await custom.createClusterCustomObject({ group: 'weft.io', version: 'v1alpha1', plural: 'clusterauthorizationpolicies', body: {
      apiVersion: 'weft.io/v1alpha1', kind: 'ClusterAuthorizationPolicy', metadata: { name: 'late' },
      spec: { tier: 'Admin', action: 'DENY', subject: { namespaceSelector: {} } },
    } });
    await waitFor(() => added.includes('late'), { timeoutMs: 10_000, what: 'the policy created after the CRD' });
    assert.equal(informer.hasSynced(), true);
    assert.deepEqual(informer.list().map((o) => o.metadata!.name), ['late']);
  } finally {
    await informer.stop();
  }
});
