// Connect-time authorization on the real kernel: a pod whose identity may not reach a mesh
// destination gets EPERM from connect() before a packet leaves it, counted under the deciding
// policy's index; a container's cgroup below the pod's is found through its ancestors; other
// destinations and other pods are redirected to the proxy as usual.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as libbpf from '../../native/src/libbpf.js';
import { authzDenyKeyCodec, svcKeyCodec } from '../../agent/src/bpf/abi.js';
import { RedirectPrograms } from '../../agent/src/bpf/redirect-programs.js';
import { repoRoot } from '../support/repo-root.js';
import { waitFor } from '../support/wait-for.js';
import { KernelFixture, ConnectFailed } from './kernel-fixture.js';

const world = new KernelFixture('wt-authz');
const serviceIp = '10.96.0.20';
let podCgroup: string;
let containerCgroup: string;
let otherCgroup: string;
let programs: RedirectPrograms | undefined;

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

function cgroupId(path: string): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, statSync(path, { bigint: true }).ino, true);
  return bytes;
}

before(() => {
  world.setup();
  podCgroup = world.cgroup('pod');
  containerCgroup = world.cgroup(join('pod', 'container'));
  otherCgroup = world.cgroup('other-pod');
  programs = RedirectPrograms.load({
    objectDir: join(repoRoot, 'bpf', 'build'),
    pinDir: world.pinDir,
    config: { agentCgroupId: 0n, proxyIp4: world.nodeIp, proxyPort: 15001 },
  });
  for (const port of [80, 81]) libbpf.mapUpdate(programs.mapFds.weft_svc, svcKeyCodec.encode({ ip4: serviceIp, port }), Uint8Array.of(1));
  programs.attach('pod', podCgroup);
  programs.attach('other-pod', otherCgroup);
  // The pod runs as source identity 5; identity 5 may not reach serviceIp:80 (policy index 2).
  libbpf.mapUpdate(programs.mapFds.weft_authz_src, cgroupId(podCgroup), u32(5));
  libbpf.mapUpdate(programs.mapFds.weft_authz_src, cgroupId(otherCgroup), u32(6));
  libbpf.mapUpdate(programs.mapFds.weft_authz_deny, authzDenyKeyCodec.encode({ source: 5, ip4: serviceIp, port: 80 }), u32(2));
});

after(async () => {
  programs?.close();
  if (existsSync(world.pinDir)) RedirectPrograms.removeAll(world.pinDir);
  await world.cleanup();
});

test('a denied pair gets EPERM at connect(), counted under its policy, also from a container cgroup below the pod', async () => {
  for (const cgroup of [podCgroup, containerCgroup]) {
    await assert.rejects(
      world.connectFrom(cgroup, serviceIp, 80),
      (err: unknown) => err instanceof ConnectFailed && /Operation not permitted/.test(err.message),
      `connect from ${cgroup}`,
    );
  }
  assert.equal(programs!.authzConnectDenials([2]).get(2), 2n);
});

test('another port, another identity: redirected to the proxy as usual', async () => {
  const proxy = await world.startListener(world.nodeIp, 15001);
  const otherPort = await world.connectFrom(podCgroup, serviceIp, 81);
  otherPort.release();
  const otherPod = await world.connectFrom(otherCgroup, serviceIp, 80);
  otherPod.release();
  await waitFor(() => proxy.lines.filter((l) => l !== 'ready').length >= 2, { what: 'both connects on the proxy' });
  assert.equal(programs!.authzConnectDenials([2]).get(2), 2n, 'nothing more counted');
});
