// The snapshot builder turns cluster objects into what the data path needs: services by
// ClusterIP:port with their ready endpoints, pods by IP with workload names, pod CIDRs, and the
// enrolled pods of this node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot } from '../../agent/src/state/snapshot-builder.js';
import type { ClusterCaches } from '../../agent/src/k8s/cluster-caches.js';
import type { EndpointSlice, Namespace, Node, Pod, Service } from '../../agent/src/k8s/kube-types.js';

function pod(name: string, ns: string, node: string, ip: string | undefined, extra: Partial<Pod['metadata']> = {}, phase = 'Running'): Pod {
  return {
    metadata: { name, namespace: ns, uid: `uid-${name}`, ...extra },
    spec: { nodeName: node, serviceAccountName: 'sa-' + name, containers: [] },
    status: { phase, podIP: ip, hostIP: node === 'node-1' ? '10.240.0.11' : '10.240.0.12' },
  };
}

function caches(objects: { namespaces: Namespace[]; pods: Pod[]; services: Service[]; slices: EndpointSlice[]; nodes: Node[] }, nodeName: string): ClusterCaches {
  return {
    namespaces: () => objects.namespaces,
    localPods: () => objects.pods.filter((p) => p.spec?.nodeName === nodeName),
    allPods: () => objects.pods,
    services: () => objects.services,
    endpointSlices: () => objects.slices,
    nodes: () => objects.nodes,
    authorizationPolicies: () => [],
    clusterAuthorizationPolicies: () => [],
  };
}

const objects = {
  namespaces: [
    { metadata: { name: 'shop', labels: { 'weft.io/mesh': 'enabled' } } },
    { metadata: { name: 'plain' } },
  ],
  pods: [
    pod('web-7d9f8-abcde', 'shop', 'node-2', '10.244.2.5', {
      labels: { 'pod-template-hash': '7d9f8' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f8', uid: 'rs', controller: true }],
    }),
    pod('client', 'shop', 'node-1', '10.244.1.7', { labels: { app: 'shopper' } }),
    pod('opted-out', 'shop', 'node-1', '10.244.1.8', { labels: { 'weft.io/mesh': 'disabled' } }),
    pod('starting', 'shop', 'node-1', undefined),
    pod('done', 'shop', 'node-1', '10.244.1.9', {}, 'Succeeded'),
    pod('outsider', 'plain', 'node-1', '10.244.1.10'),
  ],
  services: [
    { metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }, { name: 'dns', port: 53, protocol: 'UDP' }] } },
    { metadata: { name: 'headless', namespace: 'shop' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } },
  ],
  slices: [
    {
      metadata: { name: 'web-x', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.244.2.5'], conditions: { ready: true }, nodeName: 'node-2', targetRef: { kind: 'Pod', name: 'web-7d9f8-abcde', namespace: 'shop', uid: 'uid-web-7d9f8-abcde' } },
        { addresses: ['10.244.2.6'], conditions: { ready: false }, nodeName: 'node-2' },
      ],
    },
  ],
  nodes: [
    { metadata: { name: 'node-1', labels: { 'topology.kubernetes.io/zone': 'zone-a' } }, spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] } },
    { metadata: { name: 'node-2', labels: { 'topology.kubernetes.io/zone': 'zone-b' } }, spec: { podCIDR: '10.244.2.0/24' } },
  ],
} satisfies Parameters<typeof caches>[0];

test('services resolve by ClusterIP:port to their ready endpoints with pod identity and zone', () => {
  const snap = buildSnapshot({ version: 3, nodeName: 'node-1', nodeIp: '172.30.0.11', caches: caches(objects, 'node-1') });
  assert.equal(snap.version, 3);
  const web = snap.servicesByAddress.get('10.96.0.20:80');
  assert.ok(web);
  assert.equal(web.port.appProtocol, 'http');
  const endpoints = web.service.endpointsByPort.get(80)!;
  assert.equal(endpoints.length, 1, 'only the ready endpoint');
  assert.equal(endpoints[0]!.ip, '10.244.2.5');
  assert.equal(endpoints[0]!.port, 8080);
  assert.equal(endpoints[0]!.zone, 'zone-b');
  assert.equal(endpoints[0]!.pod?.workload, 'web', 'Deployment name from the ReplicaSet owner');
  assert.equal(endpoints[0]!.pod?.hostIp, '10.240.0.12', 'the node whose HBONE listener serves it');
  assert.equal(snap.servicesByAddress.has('10.96.0.20:53'), false, 'UDP ports are not proxied');
  assert.equal([...snap.servicesByAddress.keys()].some((k) => k.startsWith('None')), false, 'headless has no VIP');
  assert.deepEqual(snap.podCIDRs, ['10.244.1.0/24', '10.244.2.0/24']);
});

test('enrollment follows the namespace label, pod opt-out and pod phase; pods by IP carry workloads', () => {
  const snap = buildSnapshot({ version: 1, nodeName: 'node-1', nodeIp: '172.30.0.11', caches: caches(objects, 'node-1') });
  assert.deepEqual(snap.enrolledLocalPods.map((p) => p.name).sort(), ['client', 'starting']);
  assert.equal(snap.podsByIp.get('10.244.1.7')?.workload, 'shopper');
  assert.equal(snap.podsByIp.get('10.244.1.7')?.enrolled, true);
  assert.equal(snap.podsByIp.get('10.244.1.10')?.enrolled, false);
  assert.equal(snap.podsByIp.get('10.244.1.10')?.workload, 'outsider');
  assert.equal(snap.podsByIp.get('10.244.1.7')?.serviceAccount, 'sa-client');
});
