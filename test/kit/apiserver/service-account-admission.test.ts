// ServiceAccount admission and the root CA publisher, as a kube-apiserver with its default
// admission plugins and kube-controller-manager give them: every namespace gets kube-root-ca.crt,
// and a new pod gets the projected kube-api-access volume mounted in every container, unless
// the pod or its ServiceAccount opts out or a container mounts the path itself.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startApiServer, type ApiServerHandle } from './server.js';
import { makeTempDir, type TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { waitFor } from '../../support/wait-for.js';
import { apiRequest } from './test-client.js';
import { SERVICE_ACCOUNT_MOUNT_PATH } from './service-account-admission.js';

describe('ServiceAccount admission', () => {
  let dir: TempDir;
  let server: ApiServerHandle;
  const ns = uniqueName('sa-admission');
  const pods = () => `/api/v1/namespaces/${ns}/pods`;
  const pod = (name: string, spec: Record<string, unknown> = {}) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name },
    spec: { containers: [{ name: 'main', image: 'none' }], initContainers: [{ name: 'init', image: 'none' }], ...spec },
  });
  async function create(body: object): Promise<any> {
    const created = await apiRequest(server, 'POST', pods(), { body });
    assert.equal(created.status, 201, created.text);
    return created.json;
  }
  const apiAccessVolumes = (p: any) => (p.spec.volumes ?? []).filter((v: any) => /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/.test(v.name));

  before(async () => {
    dir = await makeTempDir('sa-admission');
    server = await startApiServer({ stateDir: join(dir.path, 'state') });
    assert.equal((await apiRequest(server, 'POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } })).status, 201);
  });
  after(async () => {
    await server?.close();
    await dir?.remove();
  });

  test('a new namespace gets kube-root-ca.crt holding the API server\'s CA', async () => {
    const configMap = await waitFor(async () => {
      const got = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`);
      return got.status === 200 && got.json;
    }, { what: 'the root CA ConfigMap in the new namespace' });
    assert.equal(configMap.data['ca.crt'], server.caCertPem);
  });

  test('a pod gets the default service account and the kube-api-access volume in every container', async () => {
    const created = await create(pod('plain'));
    assert.equal(created.spec.serviceAccountName, 'default');
    const [volume, ...more] = apiAccessVolumes(created);
    assert.equal(more.length, 0);
    assert.deepEqual(volume.projected.sources, [
      { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
    ]);
    assert.equal(volume.projected.defaultMode, 420);
    for (const container of [...created.spec.containers, ...created.spec.initContainers]) {
      assert.deepEqual(container.volumeMounts, [{ name: volume.name, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH }], `container ${container.name}`);
    }
    // An update is not admitted again: still one volume.
    const updated = await apiRequest(server, 'PUT', `${pods()}/plain`, { body: { ...created, metadata: { ...created.metadata, labels: { touched: 'yes' } } } });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(apiAccessVolumes(updated.json).length, 1);
  });

  test('automountServiceAccountToken: false on the pod, or on its ServiceAccount, means no volume; the pod\'s true wins', async () => {
    assert.deepEqual(apiAccessVolumes(await create(pod('pod-off', { automountServiceAccountToken: false }))), []);
    const account = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'quiet' }, automountServiceAccountToken: false };
    assert.equal((await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: account })).status, 201);
    assert.deepEqual(apiAccessVolumes(await create(pod('sa-off', { serviceAccountName: 'quiet' }))), []);
    assert.equal(apiAccessVolumes(await create(pod('pod-on', { serviceAccountName: 'quiet', automountServiceAccountToken: true }))).length, 1);
  });

  test('a container that mounts the service-account path itself gets nothing added', async () => {
    const own = pod('own-mount', {
      volumes: [{ name: 'mine', emptyDir: {} }],
      containers: [{ name: 'main', image: 'none', volumeMounts: [{ name: 'mine', mountPath: SERVICE_ACCOUNT_MOUNT_PATH }] }],
      initContainers: [],
    });
    const created = await create(own);
    assert.deepEqual(created.spec.volumes.map((v: any) => v.name), ['mine']);
  });
});
