// The slice content the controller computes, checked against what the real controller wrote
// (testdata/endpointslice-list.json, copied from the kube-apiserver 1.26 golden answers).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1EndpointSlice, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { repoRoot } from '../../../support/repo-root.js';
import {
  canonicalJson,
  desiredEndpointSlices,
  headlessLabel,
  serviceWantsSlices,
  sliceMatches,
} from './endpointslice-desired.js';

const goldenPath = join(repoRoot, 'test', 'kit', 'bed', 'controllers', 'testdata', 'endpointslice-list.json');

function goldenService(): V1Service {
  return {
    metadata: { name: 'web', namespace: 'golden', uid: 'a88a51bc-c84e-48e0-8a17-945b41552662' },
    spec: {
      clusterIP: '10.96.0.10',
      selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', appProtocol: 'http' }],
    },
  };
}

function pod(name: string, options: { ip?: string; ready?: boolean; node?: string; labels?: Record<string, string> } = {}): V1Pod {
  return {
    metadata: { name, namespace: 'golden', uid: `uid-${name}`, labels: options.labels ?? { app: 'web' } },
    spec: {
      nodeName: options.node ?? 'node-1',
      containers: [{ name: 'main', ports: [{ name: 'web', containerPort: 8080, protocol: 'TCP' }] }],
    },
    status: {
      phase: 'Running',
      podIP: options.ip,
      podIPs: options.ip ? [{ ip: options.ip }] : undefined,
      conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }],
    },
  };
}

const nodes: Record<string, V1Node> = {
  'node-1': { metadata: { name: 'node-1', labels: { 'topology.kubernetes.io/zone': 'zone-a' } } },
  'node-2': { metadata: { name: 'node-2', labels: { 'topology.kubernetes.io/zone': 'zone-b' } } },
};
const nodeByName = (name: string) => nodes[name];

describe('desiredEndpointSlices', () => {
  test('matches the slice the real controller wrote, field for field and in field order', async () => {
    const golden = JSON.parse(await readFile(goldenPath, 'utf8')).items[0] as V1EndpointSlice;
    const web1 = pod('web-1', { ip: '10.244.1.5' });
    web1.metadata!.uid = '271319a5-097c-4aca-ba34-8cada7cd7542';
    const [slice, ...rest] = desiredEndpointSlices(goldenService(), [web1], nodeByName);
    assert.equal(rest.length, 0);
    assert.deepEqual(slice.labels, golden.metadata!.labels);
    assert.deepEqual(slice.ownerReferences, golden.metadata!.ownerReferences);
    assert.equal(slice.addressType, golden.addressType);
    // Same JSON text, key order included: consumers diff slices as text too.
    assert.equal(JSON.stringify(slice.endpoints), JSON.stringify(golden.endpoints));
    assert.equal(JSON.stringify(slice.ports), JSON.stringify(golden.ports));
    assert.ok(sliceMatches(golden, slice), 'the golden slice needs no update');
  });

  test('sets ready only for Ready, non-terminating pods; serving follows Ready; terminating follows deletion', () => {
    const notReady = pod('a', { ip: '10.244.1.2', ready: false });
    const terminating = pod('b', { ip: '10.244.1.3' });
    terminating.metadata!.deletionTimestamp = new Date();
    const ready = pod('c', { ip: '10.244.2.4', node: 'node-2' });
    const [slice] = desiredEndpointSlices(goldenService(), [ready, terminating, notReady], nodeByName);
    const byName = Object.fromEntries(slice.endpoints.map((e) => [e.targetRef!.name, e]));
    assert.deepEqual(byName.a.conditions, { ready: false, serving: false, terminating: false });
    assert.deepEqual(byName.b.conditions, { ready: false, serving: true, terminating: true });
    assert.deepEqual(byName.c.conditions, { ready: true, serving: true, terminating: false });
    assert.equal(byName.c.zone, 'zone-b');
    assert.deepEqual(slice.endpoints.map((e) => e.targetRef!.name), ['a', 'b', 'c'], 'stable order');
  });

  test('leaves out pods without an IP, finished pods, other namespaces and non-matching labels', () => {
    const noIp = pod('no-ip');
    const done = pod('done', { ip: '10.244.1.7' });
    done.status!.phase = 'Succeeded';
    const elsewhere = pod('elsewhere', { ip: '10.244.1.8' });
    elsewhere.metadata!.namespace = 'other';
    const otherApp = pod('other-app', { ip: '10.244.1.9', labels: { app: 'db' } });
    const [slice, ...rest] = desiredEndpointSlices(goldenService(), [noIp, done, elsewhere, otherApp], nodeByName);
    assert.equal(rest.length, 0);
    assert.deepEqual(slice.endpoints, [], 'an empty placeholder slice remains');
    assert.deepEqual(slice.ports, []);
  });

  test('resolves a named targetPort per pod and groups pods by their resolved port set', () => {
    const service = goldenService();
    service.spec!.ports = [{ name: 'http', port: 80, targetPort: 'web', protocol: 'TCP' }];
    const onWeb8080 = pod('p1', { ip: '10.244.1.2' });
    const onWeb9090 = pod('p2', { ip: '10.244.1.3' });
    onWeb9090.spec!.containers[0].ports = [{ name: 'web', containerPort: 9090, protocol: 'TCP' }];
    const withoutName = pod('p3', { ip: '10.244.1.4' });
    withoutName.spec!.containers[0].ports = [];
    const slices = desiredEndpointSlices(service, [onWeb8080, onWeb9090, withoutName], nodeByName);
    const summary = slices
      .map((s) => ({ ports: s.ports.map((p) => p.port), pods: s.endpoints.map((e) => e.targetRef!.name) }))
      .sort((a, b) => canonicalJson(a).localeCompare(canonicalJson(b)));
    assert.deepEqual(summary, [
      { ports: [8080], pods: ['p1'] },
      { ports: [9090], pods: ['p2'] },
      { ports: [], pods: ['p3'] },
    ].sort((a, b) => canonicalJson(a).localeCompare(canonicalJson(b))));
    assert.deepEqual(slices.find((s) => s.ports.length === 1)!.ports[0], { name: 'http', protocol: 'TCP', port: 8080 });
  });

  test('marks headless services and copies the Service labels', () => {
    const service = goldenService();
    service.spec!.clusterIP = 'None';
    service.metadata!.labels = { team: 'a', 'kubernetes.io/service-name': 'spoofed' };
    const [slice] = desiredEndpointSlices(service, [pod('p', { ip: '10.244.1.2' })], nodeByName);
    assert.deepEqual(slice.labels, {
      team: 'a',
      [headlessLabel]: '',
      'kubernetes.io/service-name': 'web',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    });
  });

  test('only Services with a selector (and not ExternalName) get slices', () => {
    const service = goldenService();
    assert.equal(serviceWantsSlices(service), true);
    assert.equal(serviceWantsSlices({ ...service, spec: { ...service.spec, selector: undefined } }), false);
    assert.equal(serviceWantsSlices({ ...service, spec: { ...service.spec, selector: {} } }), false);
    assert.equal(serviceWantsSlices({ ...service, spec: { ...service.spec, type: 'ExternalName' } }), false);
  });

  test('sliceMatches ignores endpoint order and undefined fields, and sees a changed condition', () => {
    const pods = [pod('a', { ip: '10.244.1.2' }), pod('b', { ip: '10.244.1.3' })];
    const [want] = desiredEndpointSlices(goldenService(), pods, nodeByName);
    const existing: V1EndpointSlice = JSON.parse(
      JSON.stringify({
        metadata: { labels: want.labels, ownerReferences: want.ownerReferences, annotations: undefined },
        addressType: 'IPv4',
        endpoints: [...want.endpoints].reverse(),
        ports: want.ports,
      }),
    );
    assert.ok(sliceMatches(existing, want));
    existing.endpoints[0].conditions!.ready = false;
    assert.ok(!sliceMatches(existing, want));
  });
});
