// An enrolled pod whose cgroup does not exist yet (the Pod is seen before kubelet creates its
// sandbox) is attached when the directory appears, through the cgroup watch alone: no snapshot
// is rebuilt, and the backstop timer is set far beyond the test, so only the event can do it.
import { EMPTY_AUTHZ_TABLE } from '../../agent/src/authz/authz-table.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { CgroupAppearanceWatch } from '../../agent/src/bpf/cgroup-appearance-watch.js';
import { EnrollmentReconciler } from '../../agent/src/bpf/enrollment-reconciler.js';
import { cgroup2MountPoint, ownCgroupId } from '../../agent/src/bpf/own-cgroup.js';
import { PodCgroupFinder } from '../../agent/src/bpf/pod-cgroup-finder.js';
import { RedirectPrograms } from '../../agent/src/bpf/redirect-programs.js';
import type { MeshSnapshot } from '../../agent/src/state/mesh-snapshot.js';
import { removeCgroupTree } from '../kit/index.js';
import { repoRoot } from '../support/repo-root.js';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';

const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });
const name = uniqueName('cgroup-wait');
const cgroupRoot = join(cgroup2MountPoint(), name);
const pinDir = join('/sys/fs/bpf', name);
const UID = '0b9f2c1e-5a4d-4e8b-9c3f-7d6e5a4b3c2d';

function loadPrograms(): RedirectPrograms {
  return RedirectPrograms.load({
    objectDir: join(repoRoot, 'bpf', 'build'),
    pinDir,
    config: { agentCgroupId: ownCgroupId(), proxyIp4: '10.202.0.1', proxyPort: 15001 },
  });
}

/** A snapshot in which this node has one enrolled pod. */
function snapshotEnrolling(uid: string, podName: string): MeshSnapshot {
  return Object.freeze({
    version: 1,
    nodeName: 'node-w',
    nodeIp: '10.202.0.1',
    servicesByAddress: new Map(),
    podsByIp: new Map(),
    podCIDRs: [],
    enrolledLocalPods: [{ uid, namespace: 'shop', name: podName, serviceAccount: 'default', strict: false, mtlsStrict: false }],
    authz: EMPTY_AUTHZ_TABLE,
  });
}

after(async () => {
  try {
    RedirectPrograms.removeAll(pinDir);
  } finally {
    await removeCgroupTree(cgroupRoot);
  }
});

test('a pod enrolled before its cgroup exists is attached when the directory appears, without a rebuild', async () => {
  mkdirSync(join(cgroupRoot, 'kubepods.slice', 'kubepods-burstable.slice'), { recursive: true });
  const programs = loadPrograms();
  const snapshot = snapshotEnrolling(UID, 'late');
  const enrollment = new EnrollmentReconciler(programs, new PodCgroupFinder(cgroupRoot), log, () => assert.fail('attach failed'));
  let reconciles = 0;
  const watch = new CgroupAppearanceWatch({
    root: cgroupRoot,
    onPodCgroupAppeared: () => {
      reconciles++;
      watch.update(enrollment.reconcile(snapshot).pending);
    },
    log,
    fallbackMs: 600_000,
  });
  try {
    const first = enrollment.reconcile(snapshot);
    assert.deepEqual(first, { attached: 0, pending: 1, errors: 0 });
    watch.update(first.pending);
    // kubelet's systemd driver creates the pod slice, then a container scope inside it.
    const podDir = join(cgroupRoot, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice`);
    mkdirSync(join(podDir, 'cri-containerd-abc.scope'), { recursive: true });
    await waitFor(() => programs.attachedOwners().includes(UID), { timeoutMs: 10_000, what: 'the pod attached once its cgroup appeared' });
    assert.ok(reconciles >= 1);
    assert.deepEqual(enrollment.reconcile(snapshot), { attached: 1, pending: 0, errors: 0 });
  } finally {
    watch.stop();
    programs.close();
  }
});

test('a QoS directory that appears after the watch started is watched too (cgroupfs layout)', async () => {
  const uid = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
  const root = join(cgroupRoot, 'cgroupfs');
  mkdirSync(join(root, 'kubepods'), { recursive: true });
  const programs = loadPrograms();
  const snapshot = snapshotEnrolling(uid, 'later');
  const enrollment = new EnrollmentReconciler(programs, new PodCgroupFinder(root), log, () => assert.fail('attach failed'));
  const watch = new CgroupAppearanceWatch({
    root,
    onPodCgroupAppeared: () => watch.update(enrollment.reconcile(snapshot).pending),
    log,
    fallbackMs: 600_000,
  });
  try {
    watch.update(enrollment.reconcile(snapshot).pending);
    // The QoS directory, then the pod directory in it: two levels the watch did not see start.
    mkdirSync(join(root, 'kubepods', 'besteffort'));
    mkdirSync(join(root, 'kubepods', 'besteffort', `pod${uid}`));
    await waitFor(() => programs.attachedOwners().includes(uid), { timeoutMs: 10_000, what: 'the pod attached once its cgroup appeared under a new QoS directory' });
  } finally {
    watch.stop();
    programs.close();
  }
});
