// Object semantics clients rely on: server-set metadata, generation, optimistic concurrency,
// patches, subresources, graceful pod deletion, namespace and CRD deletion, ClusterIPs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startApiServer } from './server.js';
import type { ApiServerHandle } from './server.js';
import { makeTempDir } from '../../support/temp-dir.js';
import type { TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { waitFor } from '../../support/wait-for.js';
import { apiRequest } from './test-client.js';

describe('object semantics', () => {
  let dir: TempDir;
  let server: ApiServerHandle;
  const ns = uniqueName('sem');
  const post = (path: string, body: object) => apiRequest(server, 'POST', path, { body });

  before(async () => {
    dir = await makeTempDir('semantics');
    server = await startApiServer({ stateDir: join(dir.path, 'state'), serviceCIDR: '10.123.0.0/24' });
    assert.equal((await post('/api/v1/namespaces', { metadata: { name: ns } })).status, 201);
  });
  after(async () => {
    await server?.close();
    await dir?.remove();
  });

  test('create fills uid, creationTimestamp, resourceVersion; generateName makes a name', async () => {
    const r = await post(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { generateName: 'gen-' }, data: { a: 'b' } });
    assert.equal(r.status, 201);
    assert.match(r.json.metadata.name, /^gen-[a-z0-9]{5}$/);
    assert.match(r.json.metadata.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(r.json.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(r.json.metadata.resourceVersion, /^\d+$/);
    assert.equal(r.json.kind, 'ConfigMap');
    const again = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps/${r.json.metadata.name}`);
    assert.deepEqual(again.json, r.json);
  });

  test('one global resourceVersion counter across kinds; lists carry it', async () => {
    const a = await post(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: 'rv-a' } });
    const b = await post(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name: 'rv-b' }, stringData: { k: 'v' } });
    assert.equal(Number(b.json.metadata.resourceVersion), Number(a.json.metadata.resourceVersion) + 1);
    assert.equal(b.json.data.k, Buffer.from('v').toString('base64'));
    assert.equal(b.json.stringData, undefined);
    assert.equal(b.json.type, 'Opaque');
    const list = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/secrets`);
    assert.ok(Number(list.json.metadata.resourceVersion) >= Number(b.json.metadata.resourceVersion));
  });

  test('PUT with a stale resourceVersion is 409; without one it applies; no-op updates keep the RV', async () => {
    const created = await post(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: 'occ' }, data: { v: '1' } });
    const first = await apiRequest(server, 'PUT', `/api/v1/namespaces/${ns}/configmaps/occ`, { body: { ...created.json, data: { v: '2' } } });
    assert.equal(first.status, 200);
    const stale = await apiRequest(server, 'PUT', `/api/v1/namespaces/${ns}/configmaps/occ`, { body: { ...created.json, data: { v: '3' } } });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.reason, 'Conflict');
    const { resourceVersion: _rv, ...meta } = created.json.metadata;
    const unconditional = await apiRequest(server, 'PUT', `/api/v1/namespaces/${ns}/configmaps/occ`, { body: { ...created.json, metadata: meta, data: { v: '4' } } });
    assert.equal(unconditional.status, 200);
    assert.equal(unconditional.json.metadata.uid, created.json.metadata.uid);
    const noop = await apiRequest(server, 'PUT', `/api/v1/namespaces/${ns}/configmaps/occ`, { body: unconditional.json });
    assert.equal(noop.json.metadata.resourceVersion, unconditional.json.metadata.resourceVersion);
  });

  test('merge, strategic merge and JSON patches; other patch types are 415', async () => {
    await post(`/api/v1/namespaces/${ns}/pods`, { metadata: { name: 'patched' }, spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] } });
    const smp = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/patched`, {
      body: { metadata: { labels: { l: '1' } }, spec: { containers: [{ name: 'b', image: 'z' }] } }, contentType: 'application/strategic-merge-patch+json',
    });
    assert.equal(smp.status, 200);
    assert.equal(smp.json.metadata.labels.l, '1');
    const byName = Object.fromEntries(smp.json.spec.containers.map((c: any) => [c.name, c.image]));
    assert.deepEqual(byName, { a: 'x', b: 'z' }, 'strategic merge merges containers by name');
    const merge = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/patched`, { body: { metadata: { labels: { l: null, m: '2' } } }, contentType: 'application/merge-patch+json' });
    assert.deepEqual(merge.json.metadata.labels, { m: '2' });
    const json = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/patched`, { body: [{ op: 'add', path: '/metadata/annotations', value: { n: '3' } }], contentType: 'application/json-patch+json' });
    assert.equal(json.status, 200);
    assert.equal(json.json.metadata.annotations.n, '3');
    const other = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/patched`, { body: { a: 1 }, contentType: 'application/json' });
    assert.equal(other.status, 415);
    assert.equal(other.json.reason, 'UnsupportedMediaType');
    const missing = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/nope`, { body: {}, contentType: 'application/merge-patch+json' });
    assert.equal(missing.status, 404);
  });

  test('pod status subresource changes status only; the main resource ignores status', async () => {
    const pod = await post(`/api/v1/namespaces/${ns}/pods`, { metadata: { name: 'sub' }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    const viaStatus = await apiRequest(server, 'PUT', `/api/v1/namespaces/${ns}/pods/sub/status`, {
      body: { ...pod.json, metadata: { ...pod.json.metadata, labels: { sneaky: 'yes' } }, status: { phase: 'Running', podIP: '10.1.1.1' } },
    });
    assert.equal(viaStatus.json.status.phase, 'Running');
    assert.equal(viaStatus.json.metadata.labels, undefined);
    const viaMain = await apiRequest(server, 'PUT', `/api/v1/namespaces/${ns}/pods/sub`, { body: { ...viaStatus.json, status: { phase: 'Failed' } } });
    assert.equal(viaMain.json.status.phase, 'Running');
  });

  test('pod specs are immutable except images (as real): other changes are 422', async () => {
    await post(`/api/v1/namespaces/${ns}/pods`, { metadata: { name: 'fixed' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } });
    const image = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/fixed`, { body: { spec: { containers: [{ name: 'c', image: 'x:2' }] } }, contentType: 'application/strategic-merge-patch+json' });
    assert.equal(image.status, 200, image.text);
    assert.equal(image.json.spec.containers[0].image, 'x:2');
    const node = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/fixed`, { body: { spec: { nodeName: 'node-9' } }, contentType: 'application/merge-patch+json' });
    assert.equal(node.status, 422);
    assert.equal(node.json.details.causes[0].field, 'spec');
    assert.match(node.json.message, /pod updates may not change fields other than/);
    const labels = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/fixed`, { body: { metadata: { labels: { ok: 'yes' } } }, contentType: 'application/merge-patch+json' });
    assert.equal(labels.status, 200, 'metadata stays mutable');
  });

  test('a node-bound pod is deleted gracefully: marked first, gone after its kubelet deletes with grace 0', async () => {
    await post(`/api/v1/namespaces/${ns}/pods`, { metadata: { name: 'bound' }, spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'x' }] } });
    const marked = await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/pods/bound`);
    assert.equal(marked.status, 200);
    assert.ok(marked.json.metadata.deletionTimestamp);
    assert.equal(marked.json.metadata.deletionGracePeriodSeconds, 30);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods/bound`)).status, 200);
    // Its kubelet reports it not Ready while it shuts down: the pod stays until the grace-0 delete.
    const status = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/bound/status`, { body: { status: { conditions: [{ type: 'Ready', status: 'False' }] } }, contentType: 'application/merge-patch+json' });
    assert.equal(status.status, 200, status.text);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods/bound`)).status, 200, 'a status update during the grace period does not complete the deletion');
    const gone = await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/pods/bound`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 } });
    assert.equal(gone.status, 200);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods/bound`)).status, 404);
    await post(`/api/v1/namespaces/${ns}/pods`, { metadata: { name: 'unbound' }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    assert.equal((await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/pods/unbound`)).status, 200);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods/unbound`)).status, 404);
  });

  test('a deleted namespace is Terminating until its objects are gone, node-bound pods included', async () => {
    const doomed = uniqueName('doomed');
    await post('/api/v1/namespaces', { metadata: { name: doomed } });
    await post(`/api/v1/namespaces/${doomed}/configmaps`, { metadata: { name: 'c' } });
    await post(`/api/v1/namespaces/${doomed}/pods`, { metadata: { name: 'p' }, spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'x' }] } });
    const del = await apiRequest(server, 'DELETE', `/api/v1/namespaces/${doomed}`);
    assert.equal(del.json.status.phase, 'Terminating');
    await waitFor(async () => (await apiRequest(server, 'GET', `/api/v1/namespaces/${doomed}/configmaps/c`)).status === 404, { what: 'configmap removal' });
    const pod = await waitFor(async () => {
      const p = await apiRequest(server, 'GET', `/api/v1/namespaces/${doomed}/pods/p`);
      return p.json.metadata.deletionTimestamp ? p.json : false;
    }, { what: 'pod marked for deletion' });
    assert.ok(pod.metadata.deletionTimestamp);
    const creating = await post(`/api/v1/namespaces/${doomed}/configmaps`, { metadata: { name: 'late' } });
    assert.equal(creating.status, 403);
    assert.match(creating.json.message, /because it is being terminated/);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${doomed}`)).json.status.phase, 'Terminating');
    // The kubelet finishes the pod; then the namespace goes.
    await apiRequest(server, 'DELETE', `/api/v1/namespaces/${doomed}/pods/p?gracePeriodSeconds=0`);
    await waitFor(async () => (await apiRequest(server, 'GET', `/api/v1/namespaces/${doomed}`)).status === 404, { what: 'namespace removal' });
  });

  test('services get ClusterIPs from the configured CIDR; None is headless; IPs come back on delete', async () => {
    const s1 = await post(`/api/v1/namespaces/${ns}/services`, { metadata: { name: 'one' }, spec: { ports: [{ port: 80 }] } });
    assert.equal(s1.status, 201);
    assert.match(s1.json.spec.clusterIP, /^10\.123\.0\.\d+$/);
    assert.deepEqual(s1.json.spec.clusterIPs, [s1.json.spec.clusterIP]);
    assert.equal(s1.json.spec.ports[0].targetPort, 80);
    assert.equal(s1.json.spec.ports[0].protocol, 'TCP');
    const headless = await post(`/api/v1/namespaces/${ns}/services`, { metadata: { name: 'headless' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } });
    assert.equal(headless.json.spec.clusterIP, 'None');
    const taken = await post(`/api/v1/namespaces/${ns}/services`, { metadata: { name: 'taken' }, spec: { clusterIP: s1.json.spec.clusterIP, ports: [{ port: 80 }] } });
    assert.equal(taken.status, 422);
    assert.match(taken.json.message, /already allocated/);
    const outside = await post(`/api/v1/namespaces/${ns}/services`, { metadata: { name: 'outside' }, spec: { clusterIP: '10.99.0.5', ports: [{ port: 80 }] } });
    assert.equal(outside.status, 422);
    const change = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/services/one`, { body: { spec: { clusterIP: '10.123.0.200' } }, contentType: 'application/merge-patch+json' });
    assert.equal(change.status, 422);
    assert.equal((await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/services/one`)).status, 200);
    const reuse = await post(`/api/v1/namespaces/${ns}/services`, { metadata: { name: 'reuse' }, spec: { clusterIP: s1.json.spec.clusterIP, ports: [{ port: 80 }] } });
    assert.equal(reuse.status, 201, 'the released address can be claimed again');
  });

  test('custom resources: generation moves on spec changes only; status subresource; CRD deletion removes objects', async () => {
    const group = `${uniqueName('g')}.example.io`;
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `things.${group}` },
      spec: {
        group, scope: 'Cluster', names: { plural: 'things', kind: 'Thing' },
        versions: [{ name: 'v1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { n: { type: 'integer' } } }, status: { type: 'object', properties: { ok: { type: 'boolean' } } } } } } }],
      },
    };
    assert.equal((await post('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)).status, 201);
    const established = await waitFor(async () => {
      const r = await apiRequest(server, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.${group}`);
      return r.json.status?.conditions?.some((c: any) => c.type === 'Established' && c.status === 'True') ? r.json : false;
    }, { what: 'CRD established' });
    assert.equal(established.status.acceptedNames.kind, 'Thing');
    const base = `/apis/${group}/v1/things`;
    const t = await post(base, { apiVersion: `${group}/v1`, kind: 'Thing', metadata: { name: 't1' }, spec: { n: 1 } });
    assert.equal(t.status, 201);
    assert.equal(t.json.metadata.generation, 1);
    assert.equal(t.json.metadata.namespace, undefined);
    const labelled = await apiRequest(server, 'PATCH', `${base}/t1`, { body: { metadata: { labels: { a: 'b' } } }, contentType: 'application/merge-patch+json' });
    assert.equal(labelled.json.metadata.generation, 1, 'metadata changes keep the generation');
    const status = await apiRequest(server, 'PATCH', `${base}/t1/status`, { body: { status: { ok: true }, spec: { n: 99 } }, contentType: 'application/merge-patch+json' });
    assert.equal(status.json.status.ok, true);
    assert.equal(status.json.spec.n, 1, 'status writes ignore spec');
    assert.equal(status.json.metadata.generation, 1);
    const spec = await apiRequest(server, 'PATCH', `${base}/t1`, { body: { spec: { n: 2 }, status: { ok: false } }, contentType: 'application/merge-patch+json' });
    assert.equal(spec.json.metadata.generation, 2);
    assert.equal(spec.json.status.ok, true, 'main writes ignore status');
    const smp = await apiRequest(server, 'PATCH', `${base}/t1`, { body: { spec: { n: 3 } }, contentType: 'application/strategic-merge-patch+json' });
    assert.equal(smp.status, 415, 'custom resources do not take strategic merge patches');

    assert.equal((await apiRequest(server, 'DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.${group}`)).status, 200);
    await waitFor(async () => (await apiRequest(server, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.${group}`)).status === 404, { what: 'CRD removal' });
    assert.equal((await apiRequest(server, 'GET', base)).status, 404);
    const groups = (await apiRequest(server, 'GET', '/apis')).json.groups.map((g: any) => g.name);
    assert.ok(!groups.includes(group));
  });

  test('finalizers hold a deleted object until the last one is removed', async () => {
    await post(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: 'held', finalizers: ['example.io/hold'] } });
    const marked = await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/configmaps/held`);
    assert.equal(marked.status, 200);
    assert.ok(marked.json.metadata.deletionTimestamp);
    const still = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps/held`);
    assert.deepEqual(still.json.metadata.finalizers, ['example.io/hold']);
    const released = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/held`, { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
    assert.equal(released.status, 200);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps/held`)).status, 404);
  });

  test('EndpointSlices and Leases: generation follows content, generateName works, updates keep uid', async () => {
    const slice = await post(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { generateName: 'web-', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4', endpoints: [], ports: [{ name: 'http', port: 8080 }],
    });
    assert.equal(slice.status, 201, slice.text);
    assert.match(slice.json.metadata.name, /^web-[a-z0-9]{5}$/);
    assert.equal(slice.json.metadata.generation, 1);
    assert.equal(slice.json.ports[0].protocol, 'TCP');
    const updated = await apiRequest(server, 'PUT', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${slice.json.metadata.name}`, {
      body: { ...slice.json, endpoints: [{ addresses: ['10.244.1.5'], conditions: { ready: true }, nodeName: 'node-1', zone: 'zone-a' }] },
    });
    assert.equal(updated.json.metadata.generation, 2);
    assert.equal(updated.json.metadata.uid, slice.json.metadata.uid);
    const bySelector = await apiRequest(server, 'GET', `/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb`);
    assert.equal(bySelector.json.kind, 'EndpointSliceList');
    assert.ok(bySelector.json.items.some((i: any) => i.metadata.name === slice.json.metadata.name));
    const lease = await post(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } });
    assert.equal(lease.status, 201, lease.text);
    const renewed = await apiRequest(server, 'PUT', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/leader`, { body: { ...lease.json, spec: { ...lease.json.spec, holderIdentity: 'b' } } });
    assert.equal(renewed.json.spec.holderIdentity, 'b');
    const lost = await apiRequest(server, 'PUT', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/leader`, { body: { ...lease.json, spec: { ...lease.json.spec, holderIdentity: 'c' } } });
    assert.equal(lost.status, 409, 'a stale lease update loses, which is what leader election relies on');
  });

  test('nodes are cluster-scoped with a status subresource', async () => {
    const node = await post('/api/v1/nodes', { metadata: { name: 'node-x', labels: { 'topology.kubernetes.io/zone': 'zone-a' } }, spec: { podCIDR: '10.244.9.0/24' } });
    assert.equal(node.status, 201, node.text);
    assert.equal(node.json.metadata.namespace, undefined);
    const status = await apiRequest(server, 'PATCH', '/api/v1/nodes/node-x/status', {
      body: { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.9' }], conditions: [{ type: 'Ready', status: 'True' }] } }, contentType: 'application/strategic-merge-patch+json',
    });
    assert.equal(status.status, 200);
    assert.equal(status.json.status.addresses[0].address, '10.0.0.9');
    const inNamespace = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/nodes/node-x`);
    assert.equal(inNamespace.status, 404);
  });

  test('deletecollection with a selector, dryRun leaves no trace, Status answers for deleted configmaps', async () => {
    for (const [name, tier] of [['dc1', 'x'], ['dc2', 'x'], ['dc3', 'y']]) await post(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name, labels: { tier: tier! } } });
    const deleted = await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/configmaps?labelSelector=tier%3Dx`);
    assert.equal(deleted.status, 200);
    assert.equal(deleted.json.kind, 'ConfigMapList');
    assert.deepEqual(deleted.json.items.map((i: any) => i.metadata.name).sort(), ['dc1', 'dc2']);
    const left = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps?labelSelector=tier`);
    assert.deepEqual(left.json.items.map((i: any) => i.metadata.name), ['dc3']);
    const dry = await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/configmaps?dryRun=All`, { body: { metadata: { name: 'dry' } } });
    assert.equal(dry.status, 201);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps/dry`)).status, 404);
    const one = await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/configmaps/dc3?propagationPolicy=Background`);
    assert.equal(one.json.kind, 'Status');
    assert.equal(one.json.status, 'Success');
    assert.equal(one.json.details.name, 'dc3');
  });
});
