// The agent's exit decision against the in-repo API server: redirection is removed only when the
// agent's DaemonSet is being deleted (uninstall), never on a restart or an upgrade, and never
// when the agent cannot tell.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { startApiServer, type ApiServerHandle } from '../kit/index.js';
import { UninstallDetector } from '../../agent/src/k8s/uninstall-detector.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';

const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });
const labels = { app: 'weft-agent' };

describe('UninstallDetector', () => {
  let stateDir: TempDir;
  let server: ApiServerHandle;
  let admin: KubeConfig;
  const detectors: UninstallDetector[] = [];

  before(async () => {
    stateDir = await makeTempDir('uninstall-detector');
    server = await startApiServer({ stateDir: stateDir.path });
    admin = new KubeConfig();
    admin.loadFromFile(server.kubeconfigPath);
  });

  after(async () => {
    await Promise.all(detectors.map((d) => d.stop()));
    await server?.close();
    await stateDir?.remove();
  });

  /** A namespace with a DaemonSet and one agent pod it owns (as the DaemonSet controller makes it). */
  async function install(options: { owned?: boolean; serviceAccount?: string } = {}): Promise<{ namespace: string; pod: string; daemonSet: string }> {
    const namespace = uniqueName('weft-system');
    const core = admin.makeApiClient(CoreV1Api);
    const apps = admin.makeApiClient(AppsV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    if (options.serviceAccount) await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: options.serviceAccount } } });
    const daemonSet = await apps.createNamespacedDaemonSet({
      namespace,
      body: {
        metadata: { name: 'weft-agent' },
        spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'agent', image: 'weft' }] } } },
      },
    });
    const pod = `weft-agent-${uniqueName('p').slice(-5)}`;
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: {
          name: pod,
          labels,
          ownerReferences: options.owned === false ? [] : [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'weft-agent', uid: daemonSet.metadata!.uid!, controller: true }],
        },
        spec: { nodeName: 'node-1', serviceAccountName: options.serviceAccount, containers: [{ name: 'agent', image: 'weft' }] },
      },
    });
    return { namespace, pod, daemonSet: 'weft-agent' };
  }

  async function detectorFor(kubeConfig: KubeConfig, namespace: string, pod: string): Promise<UninstallDetector> {
    const detector = new UninstallDetector(kubeConfig, { namespace, name: pod }, log);
    detectors.push(detector);
    await detector.start();
    return detector;
  }

  test('a restart or upgrade (the DaemonSet stays) keeps redirection; deleting the DaemonSet is an uninstall', async () => {
    const { namespace, pod, daemonSet } = await install();
    const detector = await detectorFor(admin, namespace, pod);
    assert.equal(await detector.uninstalling(), false, 'the DaemonSet exists: a restart');
    const apps = admin.makeApiClient(AppsV1Api);
    await apps.patchNamespacedDaemonSet({ namespace, name: daemonSet, body: [{ op: 'add', path: '/spec/template/metadata/annotations', value: { 'weft.io/restartedAt': 'now' } }] });
    assert.equal(await detector.uninstalling(), false, 'a changed template (an upgrade) is no uninstall');
    await apps.deleteNamespacedDaemonSet({ namespace, name: daemonSet });
    await waitFor(() => detector.uninstalling(), { timeoutMs: 10_000, what: 'the deletion seen' });
  });

  test('a DaemonSet deleted before the watch saw it is found gone by the exit check (404)', async () => {
    const { namespace, pod, daemonSet } = await install();
    const detector = new UninstallDetector(admin, { namespace, name: pod }, log);
    detectors.push(detector);
    await detector.start();
    await detector.stop(); // no watch any more: only the GET at exit can tell
    await admin.makeApiClient(AppsV1Api).deleteNamespacedDaemonSet({ namespace, name: daemonSet });
    assert.equal(await detector.uninstalling(), true);
  });

  test('a DaemonSet of the same name with another uid (uninstall, then install again) is not ours: uninstall', async () => {
    const { namespace, pod, daemonSet } = await install();
    const detector = await detectorFor(admin, namespace, pod);
    const apps = admin.makeApiClient(AppsV1Api);
    const old = await apps.readNamespacedDaemonSet({ namespace, name: daemonSet });
    await apps.deleteNamespacedDaemonSet({ namespace, name: daemonSet });
    const { metadata, spec } = old;
    await apps.createNamespacedDaemonSet({ namespace, body: { metadata: { name: metadata!.name }, spec } });
    assert.equal(await detector.uninstalling(), true);
  });

  test('a pod without a DaemonSet owner never removes redirection', async () => {
    const { namespace, pod, daemonSet } = await install({ owned: false });
    const detector = await detectorFor(admin, namespace, pod);
    await admin.makeApiClient(AppsV1Api).deleteNamespacedDaemonSet({ namespace, name: daemonSet });
    assert.equal(await detector.uninstalling(), false);
  });

  /** A namespace with the agent's service account, a Role to read its pod and DaemonSet, and a token. */
  async function agentAccess(namespace: string, boundPod?: { name: string; uid: string }) {
    const core = admin.makeApiClient(CoreV1Api);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    if (boundPod === undefined) await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'weft-agent' } } });
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'weft-agent' },
        rules: [
          { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
          { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: ['weft-agent'], verbs: ['get', 'list', 'watch'] },
        ],
      },
    });
    const binding = {
      metadata: { name: 'weft-agent' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'weft-agent' },
      subjects: [{ kind: 'ServiceAccount', name: 'weft-agent', namespace }],
    };
    const boundObjectRef = boundPod ? { apiVersion: 'v1', kind: 'Pod', ...boundPod } : undefined;
    const token = (await core.createNamespacedServiceAccountToken({ namespace, name: 'weft-agent', body: { spec: { audiences: [], boundObjectRef } } })).status!.token;
    const agentConfig = new KubeConfig();
    agentConfig.loadFromOptions({
      clusters: [{ name: 'c', server: server.url, caData: Buffer.from(server.caCertPem).toString('base64') }],
      users: [{ name: 'agent', token }],
      contexts: [{ name: 'c', cluster: 'c', user: 'agent' }],
      currentContext: 'c',
    });
    return { agentConfig, grant: () => rbac.createNamespacedRoleBinding({ namespace, body: binding }), revoke: () => rbac.deleteNamespacedRoleBinding({ namespace, name: 'weft-agent' }) };
  }

  test('with the agent\'s own token: a refused GET alone keeps redirection; after the watch saw the DaemonSet go (helm\'s order), it is an uninstall', async () => {
    const { namespace, pod, daemonSet } = await install();
    const access = await agentAccess(namespace);

    // Never allowed to read its DaemonSet: a 403 then says nothing about an uninstall.
    const blind = await detectorFor(access.agentConfig, namespace, pod);
    assert.equal(await blind.uninstalling(), false, 'no RBAC at all: keep');

    await access.grant();
    const detector = await detectorFor(access.agentConfig, namespace, pod);
    assert.equal(await detector.uninstalling(), false, 'installed: keep');
    await access.revoke();
    assert.equal(await detector.uninstalling(), false, 'RBAC gone but the DaemonSet was never seen deleted: keep');

    await access.grant();
    const watching = await detectorFor(access.agentConfig, namespace, pod);
    // helm uninstall: the DaemonSet first, then the RBAC objects and the service account.
    await admin.makeApiClient(AppsV1Api).deleteNamespacedDaemonSet({ namespace, name: daemonSet });
    await access.revoke();
    assert.equal(await watching.uninstalling(), true, 'the watch saw the DaemonSet go, then the GET was refused: uninstall');
  });

  test('a force-deleted agent pod (its bound token refused, 401) keeps redirection while the DaemonSet stays', async () => {
    const { namespace, pod } = await install({ serviceAccount: 'weft-agent' });
    const core = admin.makeApiClient(CoreV1Api);
    const uid = (await core.readNamespacedPod({ namespace, name: pod })).metadata!.uid!;
    const access = await agentAccess(namespace, { name: pod, uid });
    await access.grant();
    const detector = await detectorFor(access.agentConfig, namespace, pod);
    await core.deleteNamespacedPod({ namespace, name: pod, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0 } });
    assert.equal(await detector.uninstalling(), false);
  });
});
