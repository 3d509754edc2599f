// Which connects a node refuses at connect(): computed from a snapshot built like the agent
// builds it, for the identities of its enrolled pods and every mesh destination with policies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { connectDenyEntries } from '../../agent/src/authz/connect-deny-entries.js';
import type { ClusterCaches } from '../../agent/src/k8s/cluster-caches.js';
import type { EndpointSlice, Namespace, Pod, Service } from '../../agent/src/k8s/kube-types.js';
import { buildSnapshot } from '../../agent/src/state/snapshot-builder.js';

const ns = (name: string, env: string): Namespace => ({ metadata: { name, labels: { 'weft.io/mesh': 'enabled', env, 'kubernetes.io/metadata.name': name } } });
const pod = (name: string, namespace: string, node: string, ip: string, sa = 'default'): Pod => ({
  metadata: { name, namespace, uid: `uid-${name}`, labels: { app: name } },
  spec: { nodeName: node, serviceAccountName: sa, containers: [] },
  status: { phase: 'Running', podIP: ip, hostIP: node === 'node-1' ? '10.240.0.11' : '10.240.0.12' },
});
const service = (name: string, namespace: string, clusterIP: string, appProtocol: string): Service => ({
  metadata: { name, namespace }, spec: { clusterIP, selector: { app: name }, ports: [{ name: 'p', port: 80, protocol: 'TCP', appProtocol }] },
});
const slice = (name: string, namespace: string, ip: string): EndpointSlice => ({
  metadata: { name: `${name}-a`, namespace, labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4',
  ports: [{ name: 'p', port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: [ip], targetRef: { kind: 'Pod', name, namespace, uid: `uid-${name}` } }],
});

const noProdToDev = {
  apiVersion: 'weft.io/v1alpha1', kind: 'ClusterAuthorizationPolicy', metadata: { name: 'no-prod-to-dev' },
  spec: { tier: 'Admin', action: 'DENY', subject: { namespaceSelector: { matchLabels: { env: 'development' } } }, rules: [{ sources: [{ namespaceSelector: { matchLabels: { env: 'production' } } }] }] },
} as KubernetesObject;
const ordersReaders = {
  apiVersion: 'weft.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'orders-readers', namespace: 'shop' },
  spec: { action: 'ALLOW', targetRefs: [{ group: '', kind: 'Service', name: 'orders' }], rules: [{ sources: [{ serviceAccount: { namespace: 'shop', name: 'frontend' } }], http: { methods: ['GET'] } }] },
} as KubernetesObject;

function snapshot() {
  const pods = [
    pod('client', 'prod', 'node-1', '10.244.1.2'), pod('frontend', 'shop', 'node-1', '10.244.1.3', 'frontend'), pod('batch', 'shop', 'node-1', '10.244.1.4', 'batch'),
    pod('web', 'dev', 'node-2', '10.244.2.2'), pod('db', 'dev', 'node-2', '10.244.2.3'), pod('orders', 'shop', 'node-2', '10.244.2.4'),
  ];
  const caches: ClusterCaches = {
    namespaces: () => [ns('prod', 'production'), ns('dev', 'development'), ns('shop', 'shop')],
    localPods: () => pods.filter((p) => p.spec!.nodeName === 'node-1'),
    allPods: () => pods,
    services: () => [service('web', 'dev', '10.96.0.2', 'http'), service('db', 'dev', '10.96.0.3', 'tcp'), service('orders', 'shop', '10.96.0.4', 'tcp')],
    endpointSlices: () => [slice('web', 'dev', '10.244.2.2'), slice('db', 'dev', '10.244.2.3'), slice('orders', 'shop', '10.244.2.4')],
    nodes: () => [],
    authorizationPolicies: () => [ordersReaders],
    clusterAuthorizationPolicies: () => [noProdToDev],
  };
  return buildSnapshot({ version: 1, nodeName: 'node-1', nodeIp: '10.240.0.11', caches });
}

test('connection-only denials of this node\'s identities, for TCP Services and their pods; HTTP Services and request-level rules are left to the destination', () => {
  const s = snapshot();
  const entries = connectDenyEntries(s, s.authz, 'cluster.local').map((e) => `${e.source} -> ${e.ip4}:${e.port} by ${e.policy}`).sort();
  assert.deepEqual(entries, [
    'prod/default -> 10.244.2.3:8080 by ClusterAuthorizationPolicy//no-prod-to-dev',
    'prod/default -> 10.96.0.3:80 by ClusterAuthorizationPolicy//no-prod-to-dev',
    'prod/default -> 10.244.2.4:8080 by default',
    'prod/default -> 10.96.0.4:80 by default',
    'shop/batch -> 10.244.2.4:8080 by default',
    'shop/batch -> 10.96.0.4:80 by default',
  ].sort());
});
