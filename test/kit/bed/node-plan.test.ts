import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planNodes } from './node-plan.js';
import { bedPrefix, podHostVethName, podNetnsName, CGROUP_V2_ROOT } from './bed-naming.js';
import { PodIpAllocator } from './kubelet/pod-ip-allocator.js';

test('nodes alternate zones and cgroup drivers and carry the bed prefix', () => {
  const nodes = planNodes('/tmp/some-bed', 3);
  const prefix = bedPrefix('/tmp/some-bed');
  assert.match(prefix, /^wb[0-9a-f]{6}$/);
  assert.deepEqual(nodes.map((n) => [n.name, n.ip, n.podCIDR, n.zone, n.cgroupDriver, n.netns]), [
    ['node-1', '10.240.0.11', '10.244.1.0/24', 'zone-a', 'systemd', `${prefix}-node-1`],
    ['node-2', '10.240.0.12', '10.244.2.0/24', 'zone-b', 'cgroupfs', `${prefix}-node-2`],
    ['node-3', '10.240.0.13', '10.244.3.0/24', 'zone-a', 'systemd', `${prefix}-node-3`],
  ]);
  assert.equal(nodes[0]!.cgroupRoot, `${CGROUP_V2_ROOT}/${prefix}/node-1`);
  assert.equal(nodes[1]!.bpffsDir, `/sys/fs/bpf/${prefix}/node-2`);
  assert.throws(() => planNodes('/tmp/x', 0), /from 1 to 200/);
});

test('two state dirs never share a prefix; names fit kernel limits', () => {
  assert.notEqual(bedPrefix('/run/weft-bed'), bedPrefix('/tmp/other-bed'));
  const uid = '1af46728-a9d1-45d8-bfb5-0dea34c974bc';
  assert.ok(podHostVethName(uid).length <= 15, 'interface names are at most 15 characters');
  assert.match(podNetnsName('wb123456', uid), /^wb123456-pod-1af46728a9d1$/);
});

test('pod IPs come from the node CIDR, are unique and not reused at once', () => {
  const allocator = new PodIpAllocator('10.244.2.0/24');
  const first = allocator.allocate('a');
  assert.equal(first, '10.244.2.2');
  assert.equal(allocator.allocate('a'), first, 'same pod, same IP');
  assert.equal(allocator.allocate('b'), '10.244.2.3');
  allocator.release('a');
  assert.equal(allocator.allocate('c'), '10.244.2.4', 'a released IP goes to the back of the line');
  assert.throws(() => new PodIpAllocator('10.244.0.0/16'), /must be a \/24/);
});
