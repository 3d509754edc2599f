// The EndpointSlice controller against the in-repo API server, with the test playing kubelet
// (Pod status via pods/status, final deletion with gracePeriodSeconds=0).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type V1ContainerPort,
  type V1EndpointSlice,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { startApiServer, type ApiServerHandle } from '../../apiserver/server.js';
import { EndpointSliceController } from './endpointslice-controller.js';
import { repoRoot } from '../../../support/repo-root.js';
import { startConnectionRelay, type ConnectionRelay } from '../../../support/informer-relay.js';
import { makeTempDir, type TempDir } from '../../../support/temp-dir.js';
import { uniqueName } from '../../../support/unique-name.js';
import { waitFor } from '../../../support/wait-for.js';

const goldenPath = join(repoRoot, 'test', 'kit', 'bed', 'controllers', 'testdata', 'endpointslice-list.json');
const managedBy = 'endpointslice-controller.k8s.io';

interface LogLine {
  msg: string;
  fields?: object;
}

describe('EndpointSliceController', () => {
  let stateDir: TempDir;
  let server: ApiServerHandle;
  let relay: ConnectionRelay | undefined;
  let kubeConfig: KubeConfig;
  let core: CoreV1Api;
  let discovery: DiscoveryV1Api;
  let controller: EndpointSliceController | undefined;
  let namespace: string;
  const logLines: LogLine[] = [];
  const nodeA = uniqueName('node-a');
  const nodeB = uniqueName('node-b');
  let nextIp = 2;

  const log = (msg: string, fields?: object): void => {
    logLines.push({ msg, fields });
  };
  const writesFor = (service: string, msg: string): number =>
    logLines.filter((l) => l.msg === msg && (l.fields as { service?: string })?.service === `${namespace}/${service}`)
      .length;

  async function slicesOf(service: string): Promise<V1EndpointSlice[]> {
    const list = await discovery.listNamespacedEndpointSlice({
      namespace,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
    // Plain JSON: client-node deserializes into class instances, which deepEqual tells apart.
    return JSON.parse(JSON.stringify(list.items)) as V1EndpointSlice[];
  }

  /** Waits until the service's managed slices satisfy `check`, returning them. */
  function waitForSlices(
    service: string,
    check: (slices: V1EndpointSlice[]) => boolean,
    what: string,
  ): Promise<V1EndpointSlice[]> {
    return waitFor(
      async () => {
        const slices = (await slicesOf(service)).filter(
          (s) => s.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'] === managedBy,
        );
        return check(slices) ? slices : undefined;
      },
      { what: `${service}: ${what}` },
    );
  }

  function endpointOf(slices: V1EndpointSlice[], pod: string) {
    return slices.flatMap((s) => s.endpoints ?? []).find((e) => e.targetRef?.name === pod);
  }

  async function createService(name: string, spec: V1Service['spec']): Promise<V1Service> {
    return core.createNamespacedService({ namespace, body: { metadata: { name }, spec } });
  }

  /** Creates a pod bound to `node` and, unless `ready` is undefined, reports it running like kubelet. */
  async function createPod(
    name: string,
    options: { node: string; labels: Record<string, string>; ready?: boolean; ports?: V1ContainerPort[] },
  ): Promise<V1Pod> {
    const created = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, labels: options.labels },
        spec: {
          nodeName: options.node,
          containers: [{ name: 'main', image: 'registry.invalid/main:1', ports: options.ports }],
        },
      },
    });
    if (options.ready === undefined) return created;
    const ip = `10.244.${options.node === nodeA ? 1 : 2}.${nextIp++}`;
    return setPodStatus(name, { ready: options.ready, ip });
  }

  async function setPodStatus(name: string, options: { ready: boolean; ip?: string }): Promise<V1Pod> {
    const current = await core.readNamespacedPod({ name, namespace });
    const ip = options.ip ?? current.status?.podIP;
    current.status = {
      ...current.status,
      phase: 'Running',
      podIP: ip,
      podIPs: ip ? [{ ip }] : undefined,
      conditions: [{ type: 'Ready', status: options.ready ? 'True' : 'False', lastTransitionTime: new Date() }],
    };
    return core.replaceNamespacedPodStatus({ name, namespace, body: current });
  }

  before(async () => {
    stateDir = await makeTempDir('endpointslice-controller');
    server = await startApiServer({ stateDir: stateDir.path });
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(server.kubeconfigPath);
    core = kubeConfig.makeApiClient(CoreV1Api);
    discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    namespace = uniqueName('eps');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNode({ body: { metadata: { name: nodeA, labels: { 'topology.kubernetes.io/zone': 'zone-a' } } } });
    await core.createNode({ body: { metadata: { name: nodeB, labels: { 'topology.kubernetes.io/zone': 'zone-b' } } } });
    controller = new EndpointSliceController(kubeConfig, log);
    await controller.start();
  });

  after(async () => {
    await controller?.stop();
    await relay?.close();
    await server?.close();
    await stateDir?.remove();
  });

  test('writes one slice per selector Service, shaped like the real controller’s, listing its pods', async () => {
    const golden = JSON.parse(await readFile(goldenPath, 'utf8')).items[0] as V1EndpointSlice;
    const svc = uniqueName('web');
    const service = await createService(svc, {
      selector: { app: svc },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', appProtocol: 'http' }],
    });
    const onA = await createPod(`${svc}-a`, { node: nodeA, labels: { app: svc }, ready: true });
    const onB = await createPod(`${svc}-b`, { node: nodeB, labels: { app: svc }, ready: true });
    await createPod(`${svc}-no-ip`, { node: nodeA, labels: { app: svc } });
    await createPod(`${svc}-other`, { node: nodeA, labels: { app: 'other' }, ready: true });

    const [slice, ...extra] = await waitForSlices(svc, (s) => s[0]?.endpoints?.length === 2, 'two endpoints');
    assert.equal(extra.length, 0, 'one slice for one port set');
    assert.equal(slice.metadata?.generateName, `${svc}-`);
    assert.ok(slice.metadata?.name?.startsWith(`${svc}-`));
    assert.deepEqual(slice.metadata?.labels, {
      'endpointslice.kubernetes.io/managed-by': managedBy,
      'kubernetes.io/service-name': svc,
    });
    assert.deepEqual(slice.metadata?.ownerReferences, [
      { apiVersion: 'v1', kind: 'Service', name: svc, uid: service.metadata!.uid, controller: true, blockOwnerDeletion: true },
    ]);
    assert.equal(slice.addressType, 'IPv4');
    assert.deepEqual(slice.ports, [{ name: 'http', protocol: 'TCP', port: 8080, appProtocol: 'http' }]);
    const endpoints = [...(slice.endpoints ?? [])].sort((a, b) => a.targetRef!.name!.localeCompare(b.targetRef!.name!));
    assert.deepEqual(endpoints, [
      {
        addresses: [onA.status!.podIP!],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', namespace, name: onA.metadata!.name, uid: onA.metadata!.uid },
        nodeName: nodeA,
        zone: 'zone-a',
      },
      {
        addresses: [onB.status!.podIP!],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', namespace, name: onB.metadata!.name, uid: onB.metadata!.uid },
        nodeName: nodeB,
        zone: 'zone-b',
      },
    ]);
    // Same fields as the slice kube-controller-manager wrote (server-owned metadata aside).
    assert.deepEqual(Object.keys(endpoints[0]).sort(), Object.keys(golden.endpoints[0]).sort());
    assert.deepEqual(Object.keys(slice.ports![0]).sort(), Object.keys(golden.ports![0]).sort());
  });

  test('flips ready when a pod stops being Ready, and writes nothing when nothing changed', async () => {
    const svc = uniqueName('flip');
    await createService(svc, { selector: { app: svc }, ports: [{ port: 80 }] });
    const pod = `${svc}-1`;
    await createPod(pod, { node: nodeA, labels: { app: svc }, ready: true });
    await waitForSlices(svc, (s) => endpointOf(s, pod)?.conditions?.ready === true, 'pod ready');

    await setPodStatus(pod, { ready: false });
    const [slice] = await waitForSlices(svc, (s) => s.length === 1 && endpointOf(s, pod)?.conditions?.ready === false, 'pod not ready');
    assert.deepEqual(endpointOf([slice], pod)?.conditions, { ready: false, serving: false, terminating: false });

    // An irrelevant pod change, then a relevant one: exactly one more write, and the slice's
    // resourceVersion stays put once the controller is idle (it does not react to its own writes).
    const updatesBefore = writesFor(svc, 'endpointslice updated');
    const current = await core.readNamespacedPod({ name: pod, namespace });
    current.metadata!.annotations = { unrelated: 'change' };
    await core.replaceNamespacedPod({ name: pod, namespace, body: current });
    await setPodStatus(pod, { ready: true });
    const [readyAgain] = await waitForSlices(svc, (s) => s.length === 1 && endpointOf(s, pod)?.conditions?.ready === true, 'ready again');
    assert.equal(writesFor(svc, 'endpointslice updated'), updatesBefore + 1);
    // A later change elsewhere is a point in time by which a write loop would have shown.
    const marker = uniqueName('marker');
    await createService(marker, { selector: { app: marker }, ports: [{ port: 80 }] });
    await waitForSlices(marker, (s) => s.length === 1, 'placeholder slice');
    const [still] = await slicesOf(svc);
    assert.equal(still.metadata?.resourceVersion, readyAgain.metadata?.resourceVersion, 'no write churn');
  });

  test('marks a pod being deleted as terminating, then drops it once kubelet finishes it', async () => {
    const svc = uniqueName('del');
    await createService(svc, { selector: { app: svc }, ports: [{ port: 80 }] });
    const leaving = `${svc}-leaving`;
    const staying = `${svc}-staying`;
    await createPod(leaving, { node: nodeA, labels: { app: svc }, ready: true });
    await createPod(staying, { node: nodeB, labels: { app: svc }, ready: true });
    await waitForSlices(svc, (s) => s[0]?.endpoints?.length === 2, 'two endpoints');

    await core.deleteNamespacedPod({ name: leaving, namespace }); // node-bound: only marked
    const [marked] = await waitForSlices(svc, (s) => s.length === 1 && endpointOf(s, leaving)?.conditions?.terminating === true, 'terminating');
    assert.deepEqual(endpointOf([marked], leaving)?.conditions, { ready: false, serving: true, terminating: true });

    await core.deleteNamespacedPod({ name: leaving, namespace, gracePeriodSeconds: 0 }); // kubelet's final delete
    const [after] = await waitForSlices(svc, (s) => s.length === 1 && endpointOf(s, leaving) === undefined, 'pod gone');
    assert.deepEqual(after.endpoints?.map((e) => e.targetRef?.name), [staying]);
  });

  test('resolves a named targetPort per pod, one slice per resolved port set', async () => {
    const svc = uniqueName('named');
    await createService(svc, { selector: { app: svc }, ports: [{ name: 'http', port: 80, targetPort: 'web' }] });
    await createPod(`${svc}-8080`, {
      node: nodeA,
      labels: { app: svc },
      ready: true,
      ports: [{ name: 'web', containerPort: 8080, protocol: 'TCP' }],
    });
    await createPod(`${svc}-9090`, {
      node: nodeB,
      labels: { app: svc },
      ready: true,
      ports: [{ name: 'metrics', containerPort: 9100, protocol: 'TCP' }, { name: 'web', containerPort: 9090, protocol: 'TCP' }],
    });
    const slices = await waitForSlices(svc, (s) => s.length === 2 && s.every((x) => x.endpoints?.length === 1), 'two port sets');
    const byPod = Object.fromEntries(slices.map((s) => [s.endpoints![0].targetRef!.name, s.ports]));
    assert.deepEqual(byPod[`${svc}-8080`], [{ name: 'http', protocol: 'TCP', port: 8080 }]);
    assert.deepEqual(byPod[`${svc}-9090`], [{ name: 'http', protocol: 'TCP', port: 9090 }]);
  });

  test('follows the zone label of the pod’s node, also when the node registers after the pod', async () => {
    const svc = uniqueName('zone');
    const lateNode = uniqueName('node-late');
    await createService(svc, { selector: { app: svc }, ports: [{ port: 80 }] });
    const pod = `${svc}-1`;
    await createPod(pod, { node: lateNode, labels: { app: svc }, ready: true });
    const [before] = await waitForSlices(svc, (s) => s.length === 1 && endpointOf(s, pod) !== undefined, 'endpoint');
    assert.equal(endpointOf([before], pod)?.zone, undefined, 'no zone while the node is unknown');

    await core.createNode({ body: { metadata: { name: lateNode, labels: { 'topology.kubernetes.io/zone': 'zone-c' } } } });
    await waitForSlices(svc, (s) => endpointOf(s, pod)?.zone === 'zone-c', 'zone from the new node');
    const node = await core.readNode({ name: lateNode });
    node.metadata!.labels = { ...node.metadata!.labels, 'topology.kubernetes.io/zone': 'zone-d' };
    await core.replaceNode({ name: lateNode, body: node });
    await waitForSlices(svc, (s) => endpointOf(s, pod)?.zone === 'zone-d', 'zone after relabelling');
  });

  test('gives headless Services slices and removes slices when the Service goes or loses its selector', async () => {
    const headless = uniqueName('headless');
    await createService(headless, { clusterIP: 'None', selector: { app: headless }, ports: [{ port: 80 }] });
    await createPod(`${headless}-1`, { node: nodeA, labels: { app: headless }, ready: true });
    const [slice] = await waitForSlices(headless, (s) => s.length === 1 && s[0]?.endpoints?.length === 1, 'headless endpoint');
    assert.equal(slice.metadata?.labels?.['service.kubernetes.io/headless'], '');

    await core.deleteNamespacedService({ name: headless, namespace });
    await waitForSlices(headless, (s) => s.length === 0, 'slices of a deleted Service removed');

    const unselect = uniqueName('unselect');
    await createService(unselect, { selector: { app: unselect }, ports: [{ port: 80 }] });
    await waitForSlices(unselect, (s) => s.length === 1, 'placeholder slice');
    const current = await core.readNamespacedService({ name: unselect, namespace });
    delete current.spec!.selector;
    await core.replaceNamespacedService({ name: unselect, namespace, body: current });
    await waitForSlices(unselect, (s) => s.length === 0, 'slices removed with the selector');
  });

  test('leaves Services without a selector, and the slices users write for them, alone', async () => {
    const manual = uniqueName('manual');
    await createService(manual, { ports: [{ port: 80 }] });
    const userSlice = await discovery.createNamespacedEndpointSlice({
      namespace,
      body: {
        metadata: { name: `${manual}-by-hand`, labels: { 'kubernetes.io/service-name': manual } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['192.0.2.10'] }],
        ports: [{ port: 80, protocol: 'TCP', name: '' }],
      },
    });
    // A Service created afterwards is processed after the first by the in-order informers.
    const marker = uniqueName('marker');
    await createService(marker, { selector: { app: marker }, ports: [{ port: 80 }] });
    await waitForSlices(marker, (s) => s.length === 1, 'placeholder slice');
    const slices = await slicesOf(manual);
    assert.deepEqual(slices.map((s) => s.metadata?.name), [userSlice.metadata?.name]);
    assert.equal(slices[0].metadata?.resourceVersion, userSlice.metadata?.resourceVersion, 'user slice untouched');
  });

  test('a restarted controller cleans up after Services deleted while it was down', async () => {
    const svc = uniqueName('orphan');
    await createService(svc, { selector: { app: svc }, ports: [{ port: 80 }] });
    await waitForSlices(svc, (s) => s.length === 1, 'placeholder slice');
    await controller!.stop();
    controller = undefined;
    await core.deleteNamespacedService({ name: svc, namespace });
    // From here on the controller reaches the server through a relay the next test cuts.
    relay = await startConnectionRelay({ host: '127.0.0.1', port: server.port });
    controller = new EndpointSliceController(relay.kubeConfigThrough(kubeConfig), log, {
      informerInitialBackoffMs: 50,
      informerMaxBackoffMs: 500,
    });
    await controller.start(); // resolves after the first reconcile of everything
    assert.deepEqual(await slicesOf(svc), []);
  });

  test('keeps its slices current after its watch connections are cut', async () => {
    const svc = uniqueName('cut');
    await createService(svc, { selector: { app: svc }, ports: [{ port: 80 }] });
    await waitForSlices(svc, (s) => s.length === 1, 'placeholder slice');
    const restartsBefore = logLines.filter((l) => l.msg === 'informer failed, restarting').length;
    assert.ok(relay!.killConnections() >= 4, 'the four informer watches were cut');
    const pod = `${svc}-1`;
    await createPod(pod, { node: nodeB, labels: { app: svc }, ready: true });
    const slices = await waitForSlices(svc, (s) => endpointOf(s, pod)?.conditions?.ready === true, 'pod after the cut');
    assert.equal(endpointOf(slices, pod)?.zone, 'zone-b');
    assert.ok(logLines.filter((l) => l.msg === 'informer failed, restarting').length >= restartsBefore + 4);
  });
});
