// Unit tests of what kube-proxy programs: which endpoints back which ClusterIP port, and the nft
// script rendered from it. The real rules are exercised end to end in kube-proxy.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Service, V1ServicePort, V1ServiceSpec } from '@kubernetes/client-node';
import { planServiceProxy } from './service-proxy-plan.js';
import { KUBE_PROXY_TABLE, renderNodeRuleset } from './nft-ruleset.js';

function service(name: string, clusterIP: string, ports: V1ServicePort[], extra: Partial<V1ServiceSpec> = {}): V1Service {
  return { metadata: { namespace: 'shop', name }, spec: { clusterIP, ports, ...extra } };
}

function slice(serviceName: string, ports: { name?: string; port: number; protocol?: string }[], endpoints: { ip: string; ready?: boolean; serving?: boolean; terminating?: boolean }[]): V1EndpointSlice {
  return {
    metadata: { namespace: 'shop', name: `${serviceName}-${Math.random().toString(16).slice(2, 7)}`, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports,
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating } })),
  };
}

describe('planServiceProxy', () => {
  test('backs each ClusterIP port with the ready endpoints at the slice port of the same name and protocol', () => {
    const plan = planServiceProxy(
      [service('web', '10.96.0.10', [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }])],
      [
        slice('web', [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }], [
          { ip: '10.244.2.2', ready: true },
          { ip: '10.244.1.2' }, // ready unset means ready
          { ip: '10.244.1.3', ready: false, serving: false },
        ]),
        slice('web', [{ name: 'http', port: 8080, protocol: 'TCP' }], [{ ip: '10.244.2.2', ready: true }]), // duplicate across slices
        slice('other', [{ name: 'http', port: 9999, protocol: 'TCP' }], [{ ip: '10.244.9.9', ready: true }]),
      ],
    );
    assert.deepEqual(plan.ports, [
      { key: 'shop/web/tcp/80', clusterIP: '10.96.0.10', protocol: 'TCP', port: 80, backends: [{ ip: '10.244.1.2', port: 8080 }, { ip: '10.244.2.2', port: 8080 }] },
      { key: 'shop/web/udp/53', clusterIP: '10.96.0.10', protocol: 'UDP', port: 53, backends: [{ ip: '10.244.1.2', port: 5353 }, { ip: '10.244.2.2', port: 5353 }] },
    ]);
    assert.deepEqual(plan.clusterIPs, ['10.96.0.10']);
  });

  test('falls back to serving terminating endpoints only when none is ready', () => {
    const draining = slice('web', [{ port: 8080 }], [
      { ip: '10.244.1.2', ready: false, serving: true, terminating: true },
      { ip: '10.244.1.3', ready: false, serving: false, terminating: true },
    ]);
    const [onlyDraining] = planServiceProxy([service('web', '10.96.0.10', [{ port: 80 }])], [draining]).ports;
    assert.deepEqual(onlyDraining?.backends, [{ ip: '10.244.1.2', port: 8080 }]);
    const withReady = slice('web', [{ port: 8080 }], [{ ip: '10.244.2.2', ready: true }]);
    const [preferReady] = planServiceProxy([service('web', '10.96.0.10', [{ port: 80 }])], [draining, withReady]).ports;
    assert.deepEqual(preferReady?.backends, [{ ip: '10.244.2.2', port: 8080 }]);
  });

  test('skips headless and ExternalName services, reports what it cannot proxy', () => {
    const plan = planServiceProxy(
      [
        service('headless', 'None', [{ port: 80 }]),
        service('external', '', [{ port: 80 }], { type: 'ExternalName', externalName: 'example.org' }),
        service('v6', 'fd00::10', [{ port: 80 }]),
        service('sctp', '10.96.0.12', [{ port: 80, protocol: 'SCTP' }]),
        service('empty', '10.96.0.11', [{ port: 80 }]),
      ],
      [],
    );
    assert.deepEqual(plan.ports.map((p) => [p.key, p.backends.length]), [['shop/empty/tcp/80', 0]]);
    assert.deepEqual(plan.clusterIPs, ['10.96.0.11']);
    assert.deepEqual(plan.skipped.map((s) => s.service), ['shop/v6', 'shop/sctp']);
  });
});

describe('renderNodeRuleset', () => {
  const plan = planServiceProxy(
    [service('web', '10.96.0.10', [{ name: 'http', port: 80 }]), service('empty', '10.96.0.11', [{ port: 80 }, { port: 53, protocol: 'UDP' }])],
    [slice('web', [{ name: 'http', port: 8080 }], [{ ip: '10.244.1.2' }, { ip: '10.244.2.2' }])],
  );
  const script = renderNodeRuleset({ nodeIP: '10.240.0.11', plan });

  test('replaces the table in one transaction', () => {
    const lines = script.split('\n');
    assert.deepEqual(lines.slice(0, 3), [`table ip ${KUBE_PROXY_TABLE}`, `delete table ip ${KUBE_PROXY_TABLE}`, `table ip ${KUBE_PROXY_TABLE} {`]);
  });

  test('DNATs a ClusterIP port to a random endpoint and SNATs hairpin traffic to the node IP', () => {
    assert.match(script, /ip daddr 10\.96\.0\.10 tcp dport 80 goto svc-shop\/web\/tcp\/80\n/);
    assert.match(script, /numgen random mod 2 vmap \{ 0 : goto ep-shop\/web\/tcp\/80__10\.244\.1\.2\/8080, 1 : goto ep-shop\/web\/tcp\/80__10\.244\.2\.2\/8080 \}/);
    assert.match(script, /ip saddr 10\.244\.2\.2 meta mark set meta mark \| 0x4000\n\s+meta l4proto tcp dnat to 10\.244\.2\.2:8080/);
    assert.match(script, /meta mark & 0x4000 == 0x4000 snat to 10\.240\.0\.11/);
    assert.match(script, /type nat hook prerouting priority dstnat/);
    assert.match(script, /type nat hook output priority -100/);
  });

  test('rejects ports without endpoints (TCP with a reset) and unknown ports of a ClusterIP', () => {
    assert.match(script, /ip daddr 10\.96\.0\.11 tcp dport 80 reject with tcp reset\n/);
    assert.match(script, /ip daddr 10\.96\.0\.11 udp dport 53 reject\n/);
    assert.match(script, /ip daddr \{ 10\.96\.0\.10, 10\.96\.0\.11 \} meta l4proto tcp reject with tcp reset/);
    assert.doesNotMatch(script, /svc-shop\/empty/);
  });
});
