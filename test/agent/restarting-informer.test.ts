// RestartingInformer around client-node's ListWatch: start() survives a server that fails before
// answering, and stop() leaves no watch connection behind even when it lands mid-connect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { startApiServer, type ApiServerHandle } from '../kit/index.js';
import { RestartingInformer } from '../../agent/src/k8s/restarting-informer.js';
import { startConnectionRelay, type ConnectionRelay } from '../support/informer-relay.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';

describe('RestartingInformer', () => {
  let stateDir: TempDir;
  let server: ApiServerHandle;
  let kubeConfig: KubeConfig;
  let namespace: string;
  const relays: ConnectionRelay[] = [];
  const informers: RestartingInformer<V1ConfigMap>[] = [];
  const logLines: string[] = [];

  async function relayedInformer(): Promise<{ relay: ConnectionRelay; informer: RestartingInformer<V1ConfigMap> }> {
    const relay = await startConnectionRelay({ host: '127.0.0.1', port: server.port });
    relays.push(relay);
    const relayed = relay.kubeConfigThrough(kubeConfig);
    const core = relayed.makeApiClient(CoreV1Api);
    const informer = new RestartingInformer<V1ConfigMap>({
      kubeConfig: relayed,
      name: 'configmaps',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      list: () => core.listNamespacedConfigMap({ namespace }),
      log: (msg) => logLines.push(msg),
      initialBackoffMs: 20,
      maxBackoffMs: 200,
    });
    informers.push(informer);
    return { relay, informer };
  }

  before(async () => {
    stateDir = await makeTempDir('restarting-informer');
    server = await startApiServer({ stateDir: stateDir.path });
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(server.kubeconfigPath);
    namespace = uniqueName('restart');
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'present' }, data: { a: '1' } } });
  });

  after(async () => {
    await Promise.all(informers.map((informer) => informer.stop()));
    await Promise.all(relays.map((relay) => relay.close()));
    await server?.close();
    await stateDir?.remove();
  });

  test('start() retries with backoff while the server fails, and resolves once it has synced', async () => {
    const { relay, informer } = await relayedInformer();
    relay.hold();
    let synced = false;
    const started = informer.start().then(() => (synced = true));
    await waitFor(() => relay.heldCount > 0, { what: 'first list attempt' });
    relay.dropHeld();
    await waitFor(() => informer.restarts >= 1 && relay.heldCount > 0, { what: 'a retry after the failure' });
    relay.dropHeld();
    await waitFor(() => informer.restarts >= 2 && relay.heldCount > 0, { what: 'a second retry' });
    assert.equal(synced, false, 'not synced while every attempt fails');
    assert.equal(informer.hasSynced(), false);
    relay.release();
    await started;
    assert.ok(informer.hasSynced());
    // kube-root-ca.crt: every namespace has it (the root CA publisher), as on a real cluster.
    assert.deepEqual(informer.list(namespace).map((cm) => cm.metadata?.name), ['kube-root-ca.crt', 'present']);
    assert.ok(logLines.includes('informer failed, restarting'));
  });

  test('stop() during a connect attempt leaves no connection open', async () => {
    const { relay, informer } = await relayedInformer();
    relay.hold();
    const started = informer.start();
    const rejected = assert.rejects(started, /stopped before it synced/);
    await waitFor(() => relay.heldCount > 0, { what: 'list attempt parked' });
    const stopped = informer.stop();
    relay.release(); // the parked list now completes, and ListWatch goes on to open its watch
    await stopped;
    await rejected;
    await waitFor(() => relay.openCount === 0 && relay.heldCount === 0, {
      what: 'every relayed connection closed after stop',
    });
    assert.ok(relay.connectionsRelayed >= 1);
  });
});
