// Successive snapshots keep unchanged pods and Services as the same objects (the data path's
// caches are keyed by them), and the delta sent to proxy workers carries only what changed;
// applied on the worker's side it gives the same snapshot, with one object per pod.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot } from '../../agent/src/state/snapshot-builder.js';
import { reuseUnchanged } from '../../agent/src/state/snapshot-reuse.js';
import { EMPTY_SNAPSHOT, type MeshSnapshot } from '../../agent/src/state/mesh-snapshot.js';
import { applySnapshotDelta, snapshotDelta } from '../../agent/src/workers/snapshot-delta.js';
import type { ClusterCaches } from '../../agent/src/k8s/cluster-caches.js';
import type { EndpointSlice, Pod, Service } from '../../agent/src/k8s/kube-types.js';

interface World {
  pods: Pod[];
  services: Service[];
  slices: EndpointSlice[];
}

function pod(name: string, ip: string, serviceAccount = 'default'): Pod {
  return {
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, labels: { app: name.split('-')[0]! } },
    spec: { nodeName: 'node-2', serviceAccountName: serviceAccount, containers: [] },
    status: { phase: 'Running', podIP: ip, hostIP: '10.240.0.12' },
  };
}

function service(name: string, clusterIP: string): Service {
  return { metadata: { name, namespace: 'shop' }, spec: { clusterIP, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } };
}

function slice(serviceName: string, endpoints: { pod: string; ip: string; ready?: boolean }[]): EndpointSlice {
  return {
    metadata: { name: `${serviceName}-a`, namespace: 'shop', labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      nodeName: 'node-2',
      targetRef: { kind: 'Pod', name: e.pod, namespace: 'shop', uid: `uid-${e.pod}` },
    })),
  };
}

function world(): World {
  return {
    pods: [pod('web-1', '10.244.2.5'), pod('web-2', '10.244.2.6'), pod('api-1', '10.244.2.7')],
    services: [service('web', '10.96.0.20'), service('api', '10.96.0.21')],
    slices: [
      slice('web', [{ pod: 'web-1', ip: '10.244.2.5' }, { pod: 'web-2', ip: '10.244.2.6' }]),
      slice('api', [{ pod: 'api-1', ip: '10.244.2.7' }]),
    ],
  };
}

function build(w: World, previous: MeshSnapshot): MeshSnapshot {
  const caches: ClusterCaches = {
    namespaces: () => [{ metadata: { name: 'shop', labels: { 'weft.io/mesh': 'enabled' } } }],
    localPods: () => [],
    allPods: () => w.pods,
    services: () => w.services,
    endpointSlices: () => w.slices,
    nodes: () => [{ metadata: { name: 'node-2' }, spec: { podCIDR: '10.244.2.0/24' } }],
    authorizationPolicies: () => [],
    clusterAuthorizationPolicies: () => [],
  };
  return reuseUnchanged(buildSnapshot({ version: previous.version + 1, nodeName: 'node-1', nodeIp: '10.240.0.11', caches }), previous);
}

test('a rebuild with nothing changed keeps every object; a change replaces only what it touches', () => {
  const w = world();
  const first = build(w, EMPTY_SNAPSHOT);
  const same = build(w, first);
  assert.notEqual(same, first, 'a new snapshot object (new version)');
  assert.equal(same.version, first.version + 1);
  for (const [key, target] of first.servicesByAddress) assert.equal(same.servicesByAddress.get(key), target, `${key} kept`);
  for (const [ip, info] of first.podsByIp) assert.equal(same.podsByIp.get(ip), info, `${ip} kept`);
  assert.equal(same.podCIDRs, first.podCIDRs);
  assert.equal(same.enrolledLocalPods, first.enrolledLocalPods);

  // web-2 becomes not ready: the web Service changes, api and every pod stay.
  w.slices[0] = slice('web', [{ pod: 'web-1', ip: '10.244.2.5' }, { pod: 'web-2', ip: '10.244.2.6', ready: false }]);
  const changed = build(w, same);
  const web = changed.servicesByAddress.get('10.96.0.20:80')!;
  assert.notEqual(web, same.servicesByAddress.get('10.96.0.20:80'), 'the changed Service is a new object');
  assert.deepEqual(web.service.endpointsByPort.get(80)!.map((e) => e.ip), ['10.244.2.5']);
  assert.equal(web.service.endpointsByPort.get(80)![0]!.pod, same.podsByIp.get('10.244.2.5'), 'its endpoint points at the kept pod object');
  assert.equal(changed.servicesByAddress.get('10.96.0.21:80'), same.servicesByAddress.get('10.96.0.21:80'), 'the other Service is kept');
  assert.equal(changed.podsByIp.get('10.244.2.6'), same.podsByIp.get('10.244.2.6'), 'pods are kept');

  // A pod's service account changes: the pod object and the Service pointing at it are new.
  w.pods[2] = pod('api-1', '10.244.2.7', 'api-admin');
  const relabelled = build(w, changed);
  assert.notEqual(relabelled.podsByIp.get('10.244.2.7'), changed.podsByIp.get('10.244.2.7'));
  assert.equal(relabelled.podsByIp.get('10.244.2.7')!.serviceAccount, 'api-admin');
  assert.notEqual(relabelled.servicesByAddress.get('10.96.0.21:80'), changed.servicesByAddress.get('10.96.0.21:80'), 'a Service whose endpoint pod changed is new');
  assert.equal(relabelled.servicesByAddress.get('10.96.0.20:80'), changed.servicesByAddress.get('10.96.0.20:80'));
});

test('the delta to a worker carries only what changed and rebuilds the same snapshot there', () => {
  const w = world();
  const base = build(w, EMPTY_SNAPSHOT);
  // The worker holds its own copy (what postMessage delivers).
  const workerBase = structuredClone(base);

  w.slices[1] = slice('api', [{ pod: 'api-1', ip: '10.244.2.7' }, { pod: 'web-2', ip: '10.244.2.6' }]);
  w.services = w.services.filter((s) => s.metadata?.name !== 'web');
  w.pods.push(pod('api-2', '10.244.2.8'));
  const next = build(w, base);

  const delta = snapshotDelta(base, next);
  assert.deepEqual(delta.servicesSet.map(([key]) => key), ['10.96.0.21:80'], 'only the changed Service is sent');
  assert.deepEqual(delta.servicesDeleted, ['10.96.0.20:80']);
  assert.deepEqual(delta.podsSet.map(([ip]) => ip), ['10.244.2.8'], 'only the new pod is sent');
  assert.deepEqual(delta.podsDeleted, []);
  assert.equal(delta.podCIDRs, null, 'unchanged lists are not sent');

  const onWorker = applySnapshotDelta(workerBase, structuredClone(delta));
  assert.deepEqual(onWorker, next, 'the worker ends with the same snapshot');
  const api = onWorker.servicesByAddress.get('10.96.0.21:80')!;
  for (const endpoint of api.service.endpointsByPort.get(80)!) {
    assert.equal(endpoint.pod, onWorker.podsByIp.get(endpoint.ip), `endpoint ${endpoint.ip} points at the worker's own pod object`);
  }
  assert.equal(onWorker.podsByIp.get('10.244.2.5'), workerBase.podsByIp.get('10.244.2.5'), 'unchanged pods stay the worker\'s objects');

  assert.throws(() => applySnapshotDelta(onWorker, delta), /cannot apply to version/, 'a delta applies only to its base');
});
