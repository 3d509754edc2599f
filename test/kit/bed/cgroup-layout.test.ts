import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerCgroupDir, containerId, podCgroupDir, qosClassOf, qosParentDirs } from './cgroup-layout.js';

const uid = '1af46728-a9d1-45d8-bfb5-0dea34c974bc';

test('systemd driver paths look like a real kubelet\'s', () => {
  assert.equal(podCgroupDir('/n', 'systemd', uid, 'BestEffort'), `/n/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1af46728_a9d1_45d8_bfb5_0dea34c974bc.slice`);
  assert.equal(podCgroupDir('/n', 'systemd', uid, 'Burstable'), `/n/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1af46728_a9d1_45d8_bfb5_0dea34c974bc.slice`);
  assert.equal(podCgroupDir('/n', 'systemd', uid, 'Guaranteed'), `/n/kubepods.slice/kubepods-pod1af46728_a9d1_45d8_bfb5_0dea34c974bc.slice`);
  const id = containerId(uid, 'web', 0);
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(containerCgroupDir('/p', 'systemd', id), `/p/cri-containerd-${id}.scope`);
  assert.deepEqual(qosParentDirs('/n', 'systemd'), ['/n/kubepods.slice', '/n/kubepods.slice/kubepods-burstable.slice', '/n/kubepods.slice/kubepods-besteffort.slice']);
});

test('cgroupfs driver paths look like a real kubelet\'s', () => {
  assert.equal(podCgroupDir('/n', 'cgroupfs', uid, 'BestEffort'), `/n/kubepods/besteffort/pod${uid}`);
  assert.equal(podCgroupDir('/n', 'cgroupfs', uid, 'Guaranteed'), `/n/kubepods/pod${uid}`);
  const id = containerId(uid, 'web', 1);
  assert.equal(containerCgroupDir('/p', 'cgroupfs', id), `/p/${id}`);
  assert.notEqual(id, containerId(uid, 'web', 0), 'a restarted container gets a new id');
});

test('QoS class follows the Kubernetes rules', () => {
  assert.equal(qosClassOf([{}]), 'BestEffort');
  assert.equal(qosClassOf([{ resources: { requests: { cpu: '100m' } } }]), 'Burstable');
  assert.equal(qosClassOf([{ resources: { limits: { cpu: '1', memory: '1Gi' } } }]), 'Guaranteed');
  assert.equal(qosClassOf([{ resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } } }, {}]), 'Burstable');
});
