// How `--ca-address` is dialled: Service names through the cache (no DNS), anything else as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveCaAddress } from '../../agent/src/identity/ca-address.js';

const lookup = (namespace: string, name: string) => (namespace === 'weft-system' && name === 'weft-ca' ? '10.96.0.42' : undefined);

test('a Service host is dialled at its ClusterIP and verified by the name as written', () => {
  assert.deepEqual(resolveCaAddress('weft-ca.weft-system.svc:15012', undefined, lookup), { address: '10.96.0.42:15012', serverName: 'weft-ca.weft-system.svc' });
  assert.deepEqual(resolveCaAddress('weft-ca.weft-system.svc.cluster.local:15012', undefined, lookup), {
    address: '10.96.0.42:15012',
    serverName: 'weft-ca.weft-system.svc.cluster.local',
  });
  assert.equal(resolveCaAddress('weft-ca.weft-system.svc:15012', 'ca.example', lookup).serverName, 'ca.example', 'an explicit --ca-server-name wins');
});

test('IPs and other names are dialled as written', () => {
  assert.deepEqual(resolveCaAddress('10.240.0.11:15012', undefined, lookup), { address: '10.240.0.11:15012', serverName: undefined });
  assert.deepEqual(resolveCaAddress('ca.example.org:443', undefined, lookup), { address: 'ca.example.org:443', serverName: undefined });
});

test('an unknown Service is an error naming it', () => {
  assert.throws(() => resolveCaAddress('other.weft-system.svc:15012', undefined, lookup), /the CA Service weft-system\/other .* is not known/);
});
