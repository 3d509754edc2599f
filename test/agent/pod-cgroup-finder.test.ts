// The finder must locate pod cgroups in both kubelet layouts (systemd and cgroupfs drivers,
// QoS classes and Guaranteed pods) and never mistake a container directory for a pod.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../support/temp-dir.js';
import { PodCgroupFinder } from '../../agent/src/bpf/pod-cgroup-finder.js';

const uids = {
  systemdBurstable: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
  systemdGuaranteed: '6fa459ea-ee8a-3ca4-894e-db77e160355e',
  cgroupfsBestEffort: '16fd2706-8baf-433b-82eb-8c7fada847da',
  cgroupfsGuaranteed: '886313e1-3b8a-5372-9b90-0c9aee199e5d',
};

test('finds pods in both kubelet cgroup layouts', async () => {
  const tmp = await makeTempDir('cgfind');
  after(() => tmp.remove());
  const u = (uid: string) => uid.replaceAll('-', '_');
  const dirs = {
    systemdBurstable: join(tmp.path, 'kubepods.slice/kubepods-burstable.slice', `kubepods-burstable-pod${u(uids.systemdBurstable)}.slice`),
    systemdGuaranteed: join(tmp.path, 'kubepods.slice', `kubepods-pod${u(uids.systemdGuaranteed)}.slice`),
    cgroupfsBestEffort: join(tmp.path, 'kubepods/besteffort', `pod${uids.cgroupfsBestEffort}`),
    cgroupfsGuaranteed: join(tmp.path, 'kubepods', `pod${uids.cgroupfsGuaranteed}`),
  };
  for (const dir of Object.values(dirs)) mkdirSync(join(dir, 'cri-containerd-abc.scope'), { recursive: true });
  const finder = new PodCgroupFinder(tmp.path);
  for (const key of Object.keys(uids) as (keyof typeof uids)[]) {
    assert.equal(finder.find(uids[key]), dirs[key], key);
  }
  assert.equal(finder.find('00000000-0000-0000-0000-000000000000'), undefined);
  // a pod created after the first scan is found by the rescan on miss
  const late = '9a8b7c6d-1111-2222-3333-444455556666';
  mkdirSync(join(tmp.path, 'kubepods/burstable', `pod${late}`), { recursive: true });
  assert.equal(finder.find(late), join(tmp.path, 'kubepods/burstable', `pod${late}`));
});

test('a missing root is no error, just no pods', () => {
  assert.equal(new PodCgroupFinder('/nonexistent/weft-cgroups').find(uids.systemdBurstable), undefined);
});
