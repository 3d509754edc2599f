import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatWorkloadSpiffeId, parseWorkloadSpiffeId, SpiffeIdError } from '../../agent/src/identity/spiffe-id.js';

test('a workload SPIFFE ID round-trips through parse and format', () => {
  const identity = parseWorkloadSpiffeId('spiffe://cluster.local/ns/shop/sa/web.front');
  assert.deepEqual(identity, { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'web.front' });
  assert.equal(formatWorkloadSpiffeId(identity), 'spiffe://cluster.local/ns/shop/sa/web.front');
});

test('SPIFFE IDs that are not exactly ns/<ns>/sa/<sa> in a valid trust domain are refused with a reason', () => {
  const cases: [string, RegExp][] = [
    ['https://cluster.local/ns/a/sa/b', /must start with spiffe:\/\//],
    ['spiffe://Cluster.local/ns/a/sa/b', /invalid trust domain/],
    ['spiffe://cluster.local:443/ns/a/sa/b', /invalid trust domain/],
    ['spiffe://user@cluster.local/ns/a/sa/b', /invalid trust domain/],
    ['spiffe:///ns/a/sa/b', /invalid trust domain/],
    ['spiffe://cluster.local', /not a workload identity/],
    ['spiffe://cluster.local/ns/a/sa/b/extra', /not a workload identity/],
    ['spiffe://cluster.local/sa/b/ns/a', /not a workload identity/],
    ['spiffe://cluster.local/ns/a/sa/', /invalid service account/],
    ['spiffe://cluster.local/ns/A/sa/b', /invalid namespace/],
    ['spiffe://cluster.local/ns/a/sa/b%2Fc', /invalid service account/],
    ['spiffe://cluster.local/ns/a/sa/b?x=1', /invalid service account/],
    ['spiffe://cluster.local/ns/../sa/b', /invalid namespace/],
    [`spiffe://cluster.local/ns/${'a'.repeat(64)}/sa/b`, /invalid namespace/],
  ];
  for (const [uri, reason] of cases) {
    assert.throws(() => parseWorkloadSpiffeId(uri), (err: unknown) => err instanceof SpiffeIdError && reason.test(err.message), uri);
  }
});
