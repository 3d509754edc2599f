// Unmodified @kubernetes/client-node informers (ListWatch) against the in-repo API server: they
// must see every add/update/delete, honour a field selector, relist and converge after 410 Gone,
// and resume a broken watch from its resourceVersion without losing or repeating events.
// The informers run inside RestartingInformer, which only adds what client-node's README asks of
// callers (restart on 'error'); broken connections are played by a TCP relay the test cuts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1EndpointSlice,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { startApiServer, type ApiServerHandle } from '../kit/index.js';
import { RestartingInformer } from '../../agent/src/k8s/restarting-informer.js';
import { InformerEventLog } from '../support/informer-event-log.js';
import { startConnectionRelay, type ConnectionRelay } from '../support/informer-relay.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';

const quietLog = (): void => {};

describe('client-node informers against the in-repo API server', () => {
  let stateDir: TempDir;
  let server: ApiServerHandle;
  let relay: ConnectionRelay;
  let kubeConfig: KubeConfig;
  let core: CoreV1Api;
  let namespace: string;
  const informers: RestartingInformer<KubernetesObject>[] = [];

  /** Starts an informer, registered for cleanup; resolves once it has listed and is watching. */
  async function startInformer<T extends KubernetesObject>(
    options: Omit<ConstructorParameters<typeof RestartingInformer<T>>[0], 'log' | 'name' | 'kubeConfig'> & {
      kubeConfig?: KubeConfig;
    },
  ): Promise<{ informer: RestartingInformer<T>; log: InformerEventLog<T> }> {
    const informer = new RestartingInformer<T>({
      kubeConfig,
      name: options.path,
      log: quietLog,
      initialBackoffMs: 50,
      maxBackoffMs: 500,
      ...options,
    });
    const log = new InformerEventLog(informer);
    informers.push(informer as unknown as RestartingInformer<KubernetesObject>);
    await informer.start();
    return { informer, log };
  }

  function pod(name: string, nodeName: string): V1Pod {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: { app: 'informer-test' } },
      spec: { nodeName, containers: [{ name: 'main', image: 'registry.invalid/main:1' }] },
    };
  }

  before(async () => {
    stateDir = await makeTempDir('informers');
    server = await startApiServer({ stateDir: stateDir.path });
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(server.kubeconfigPath);
    relay = await startConnectionRelay({ host: '127.0.0.1', port: server.port });
    core = kubeConfig.makeApiClient(CoreV1Api);
    namespace = uniqueName('informers');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  after(async () => {
    await Promise.all(informers.map((informer) => informer.stop()));
    await relay?.close();
    await server?.close();
    await stateDir?.remove();
  });

  test('a Pod informer with fieldSelector spec.nodeName sees only its node, with add/update/delete', async () => {
    const node = uniqueName('node');
    const fieldSelector = `spec.nodeName=${node}`;
    const { informer, log } = await startInformer<V1Pod>({
      path: '/api/v1/pods',
      fieldSelector,
      list: () => core.listPodForAllNamespaces({ fieldSelector }),
    });
    const elsewhere = uniqueName('elsewhere');
    const mine = uniqueName('mine');
    // The other node's pod is written first: watch events arrive in resourceVersion order, so
    // once ours has arrived, the other one would have too had the filter not held.
    await core.createNamespacedPod({ namespace, body: pod(elsewhere, uniqueName('other-node')) });
    await core.createNamespacedPod({ namespace, body: pod(mine, node) });
    const added = await log.waitFor('add', mine);
    assert.equal(added.object.spec?.nodeName, node);

    const current = await core.readNamespacedPod({ name: mine, namespace });
    current.metadata!.labels = { ...current.metadata!.labels, stage: 'updated' };
    await core.replaceNamespacedPod({ name: mine, namespace, body: current });
    await log.waitFor('update', mine, (p) => p.metadata?.labels?.stage === 'updated');

    await core.deleteNamespacedPod({ name: elsewhere, namespace, gracePeriodSeconds: 0 });
    await core.deleteNamespacedPod({ name: mine, namespace, gracePeriodSeconds: 0 });
    await log.waitFor('delete', mine);
    assert.equal(informer.get(mine, namespace), undefined, 'deleted pod left the cache');
    assert.deepEqual(log.of(elsewhere), [], 'a pod on another node never reached the informer');
  });

  test('a Service informer receives add, update and delete', async () => {
    const { informer, log } = await startInformer<V1Service>({
      path: `/api/v1/namespaces/${namespace}/services`,
      list: () => core.listNamespacedService({ namespace }),
    });
    const name = uniqueName('svc');
    await core.createNamespacedService({
      namespace,
      body: { metadata: { name }, spec: { selector: { app: 'x' }, ports: [{ port: 80 }] } },
    });
    const added = await log.waitFor('add', name);
    assert.match(added.object.spec?.clusterIP ?? '', /^10\.96\./, 'ClusterIP allocated before the event');

    const current = await core.readNamespacedService({ name, namespace });
    current.spec!.selector = { app: 'y' };
    await core.replaceNamespacedService({ name, namespace, body: current });
    await log.waitFor('update', name, (s) => s.spec?.selector?.app === 'y');
    assert.equal(informer.get(name, namespace)?.spec?.selector?.app, 'y');

    await core.deleteNamespacedService({ name, namespace });
    await log.waitFor('delete', name);
    assert.equal(informer.get(name, namespace), undefined);
  });

  test('an EndpointSlice informer receives add, update and delete', async () => {
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const { informer, log } = await startInformer<V1EndpointSlice>({
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      list: () => discovery.listEndpointSliceForAllNamespaces(),
    });
    const name = uniqueName('slice');
    await discovery.createNamespacedEndpointSlice({
      namespace,
      body: {
        metadata: { name, labels: { 'kubernetes.io/service-name': 'by-hand' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.244.1.2'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    });
    await log.waitFor('add', name);

    const current = await discovery.readNamespacedEndpointSlice({ name, namespace });
    current.endpoints[0].conditions = { ready: false };
    await discovery.replaceNamespacedEndpointSlice({ name, namespace, body: current });
    await log.waitFor('update', name, (s) => s.endpoints?.[0]?.conditions?.ready === false);

    await discovery.deleteNamespacedEndpointSlice({ name, namespace });
    await log.waitFor('delete', name);
    assert.equal(informer.get(name, namespace), undefined);
  });

  test('a custom resource informer receives add, update and delete once its CRD is served', async () => {
    const group = `${uniqueName('informers')}.example.io`;
    const plural = 'widgets';
    await kubeConfig.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({
      body: {
        metadata: { name: `${plural}.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural, singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', properties: { size: { type: 'integer' } } },
                  },
                },
              },
            },
          ],
        },
      },
    });
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const coordinates = { group, version: 'v1', namespace, plural };
    const listWidgets = (): Promise<KubernetesListObject<KubernetesObject>> =>
      custom.listNamespacedCustomObject(coordinates);
    await waitFor(() => listWidgets().then(() => true), { what: `CRD ${plural}.${group} served` });

    const { informer, log } = await startInformer<KubernetesObject & { spec?: { size?: number } }>({
      path: `/apis/${group}/v1/namespaces/${namespace}/${plural}`,
      list: listWidgets,
    });
    const name = uniqueName('widget');
    await custom.createNamespacedCustomObject({
      ...coordinates,
      body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name }, spec: { size: 1 } },
    });
    await log.waitFor('add', name, (w) => w.spec?.size === 1);

    const current = await custom.getNamespacedCustomObject({ ...coordinates, name });
    current.spec.size = 2;
    await custom.replaceNamespacedCustomObject({ ...coordinates, name, body: current });
    await log.waitFor('update', name, (w) => w.spec?.size === 2);

    await custom.deleteNamespacedCustomObject({ ...coordinates, name });
    await log.waitFor('delete', name);
    assert.equal(informer.get(name, namespace), undefined);
  });

  test('a killed watch resumes from its resourceVersion without losing or repeating events', async () => {
    const relayed = relay.kubeConfigThrough(kubeConfig);
    const relayedCore = relayed.makeApiClient(CoreV1Api);
    let lists = 0;
    const { informer, log } = await startInformer<V1Service>({
      kubeConfig: relayed,
      path: `/api/v1/namespaces/${namespace}/services`,
      list: () => {
        lists += 1;
        return relayedCore.listNamespacedService({ namespace });
      },
    });
    const service = (name: string): V1Service => ({
      metadata: { name },
      spec: { selector: { app: name }, ports: [{ port: 80 }] },
    });
    const before = uniqueName('before');
    const changed = uniqueName('changed');
    await core.createNamespacedService({ namespace, body: service(before) });
    await core.createNamespacedService({ namespace, body: service(changed) });
    await log.waitFor('add', changed);
    assert.equal(lists, 1);

    relay.hold();
    assert.ok(relay.killConnections() >= 1, 'the watch connection was open and got cut');
    const during = uniqueName('during');
    await core.createNamespacedService({ namespace, body: service(during) });
    const current = await core.readNamespacedService({ name: changed, namespace });
    current.metadata!.labels = { resumed: 'yes' };
    await core.replaceNamespacedService({ name: changed, namespace, body: current });
    await core.deleteNamespacedService({ name: before, namespace });
    // The informer noticed and is trying to reconnect while we changed things.
    await waitFor(() => relay.heldCount > 0, { what: 'informer reconnecting through the relay' });
    relay.release();

    await log.waitFor('add', during);
    await log.waitFor('update', changed, (s) => s.metadata?.labels?.resumed === 'yes');
    await log.waitFor('delete', before);
    assert.ok(informer.restarts >= 1, 'ListWatch stops on a reset connection; the wrapper restarted it');
    assert.equal(lists, 1, 'resumed by watching from its resourceVersion, not by relisting');
    assert.equal(log.of(during, 'add').length, 1, 'no event delivered twice');
    assert.equal(log.of(before, 'delete').length, 1);
    assert.deepEqual(
      informer.list(namespace).map((s) => s.metadata?.name).sort(),
      [changed, during].sort(),
    );
  });

  test('a forced 410 Gone makes a field-selected Pod informer relist and converge', async () => {
    const relayed = relay.kubeConfigThrough(kubeConfig);
    const relayedCore = relayed.makeApiClient(CoreV1Api);
    const node = uniqueName('node');
    const fieldSelector = `spec.nodeName=${node}`;
    let lists = 0;
    const { informer, log } = await startInformer<V1Pod>({
      kubeConfig: relayed,
      path: '/api/v1/pods',
      fieldSelector,
      list: () => {
        lists += 1;
        return relayedCore.listPodForAllNamespaces({ fieldSelector });
      },
    });
    const stays = uniqueName('stays');
    const goes = uniqueName('goes');
    await core.createNamespacedPod({ namespace, body: pod(stays, node) });
    await core.createNamespacedPod({ namespace, body: pod(goes, node) });
    await log.waitFor('add', goes);
    assert.equal(lists, 1);

    relay.hold();
    assert.ok(relay.killConnections() >= 1, 'the watch connection was open and got cut');
    const arrives = uniqueName('arrives');
    const otherNode = uniqueName('other');
    await core.createNamespacedPod({ namespace, body: pod(arrives, node) });
    await core.createNamespacedPod({ namespace, body: pod(otherNode, uniqueName('other-node')) });
    await core.deleteNamespacedPod({ name: goes, namespace, gracePeriodSeconds: 0 });
    // The events above are now beyond reach: resuming from the informer's RV must fail with 410.
    server.compactWatchHistory();
    await waitFor(() => relay.heldCount > 0, { what: 'informer reconnecting through the relay' });
    relay.release();

    await log.waitFor('add', arrives);
    await log.waitFor('delete', goes);
    await waitFor(() => lists === 2, { what: 'the informer relisting after 410' });
    assert.deepEqual(
      informer.list().map((p) => p.metadata?.name).sort(),
      [arrives, stays].sort(),
      'the cache converged to the server state under the field selector',
    );
    assert.deepEqual(log.of(otherNode), [], 'the relist honoured the field selector');

    // And it keeps watching after the relist.
    const later = uniqueName('later');
    await core.createNamespacedPod({ namespace, body: pod(later, node) });
    await log.waitFor('add', later);
    assert.equal(lists, 2);
  });
});
