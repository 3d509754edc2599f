// The authorization table inside the snapshot: built from the policies, namespaces, this node's
// pods and Services in the caches; pods an ALLOW selects get the kernel's plaintext drop (strict
// flag); endpoint changes (the most frequent) reuse the table instead of rebuilding it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot } from '../../agent/src/state/snapshot-builder.js';
import type { ClusterCaches } from '../../agent/src/k8s/cluster-caches.js';
import type { EndpointSlice, Namespace, Pod, Service } from '../../agent/src/k8s/kube-types.js';
import type { KubernetesObject } from '@kubernetes/client-node';

const namespace: Namespace = { metadata: { name: 'shop', labels: { 'weft.io/mesh': 'enabled' } } };
const orders: Pod = {
  metadata: { name: 'orders-1', namespace: 'shop', uid: 'uid-orders-1', labels: { app: 'orders' } },
  spec: { nodeName: 'node-1', containers: [] },
  status: { phase: 'Running', podIP: '10.244.1.5', hostIP: '10.240.0.11' },
};
const cart: Pod = { ...orders, metadata: { ...orders.metadata, name: 'cart-1', uid: 'uid-cart-1', labels: { app: 'cart' } }, status: { ...orders.status, podIP: '10.244.1.6' } };
const service: Service = { metadata: { name: 'orders', namespace: 'shop' }, spec: { clusterIP: '10.96.0.9', selector: { app: 'orders' }, ports: [{ port: 80, protocol: 'TCP' }] } };
const policy = (action: string): KubernetesObject => ({
  apiVersion: 'weft.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'shop', uid: `p-${action}` },
  spec: { action, targetRefs: [{ group: '', kind: 'Service', name: 'orders' }], rules: [{ sources: [{ serviceAccount: { namespace: 'shop', name: 'frontend' } }] }] },
} as KubernetesObject);

function caches(policies: KubernetesObject[], slices: EndpointSlice[]): ClusterCaches {
  const pods = [orders, cart];
  return {
    namespaces: () => [namespace], localPods: () => pods, allPods: () => pods, services: () => [service],
    endpointSlices: () => slices, nodes: () => [], authorizationPolicies: () => policies, clusterAuthorizationPolicies: () => [],
  };
}

test('the snapshot carries the policies of this node\'s pods; an ALLOW target gets the plaintext drop', () => {
  const allow = [policy('ALLOW')];
  const snapshot = buildSnapshot({ version: 1, nodeName: 'node-1', nodeIp: '10.240.0.11', caches: caches(allow, []) });
  assert.deepEqual([...snapshot.authz.byPodIp.keys()], ['10.244.1.5'], 'the Service target selects orders only');
  assert.deepEqual(snapshot.enrolledLocalPods.map((p) => [p.name, p.strict]), [['orders-1', true], ['cart-1', false]]);
});

test('endpoint changes reuse the table; a policy change rebuilds it', () => {
  const allow = [policy('ALLOW')];
  const first = buildSnapshot({ version: 1, nodeName: 'node-1', nodeIp: '10.240.0.11', caches: caches(allow, []) });
  const slices: EndpointSlice[] = [{ metadata: { name: 'orders-a', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'orders' } }, addressType: 'IPv4', ports: [{ port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['10.244.1.5'] }] }];
  const second = buildSnapshot({ version: 2, nodeName: 'node-1', nodeIp: '10.240.0.11', caches: caches(allow, slices) });
  assert.equal(second.authz, first.authz, 'same table object');
  const third = buildSnapshot({ version: 3, nodeName: 'node-1', nodeIp: '10.240.0.11', caches: caches([policy('DENY')], slices) });
  assert.notEqual(third.authz.fingerprint, first.authz.fingerprint);
  assert.equal(third.authz.byPodIp.get('10.244.1.5')?.deny.length, 1);
  assert.equal(third.enrolledLocalPods[0]!.strict, false, 'a DENY whose sources all need an identity never drops plaintext');
});
