// The redirection programs on the real kernel: a process in an attached cgroup, inside its own
// network namespace, connects to a mesh address and lands on the node proxy's listener; the
// proxy can look up the original destination by the client's address; the client's
// getpeername() reports what it dialled. Other destinations, other cgroups, and a detached
// cgroup are left alone. Needs root (CI is root).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmdirSync, existsSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';
import { waitFor } from '../support/wait-for.js';
import { RedirectPrograms } from '../../agent/src/bpf/redirect-programs.js';
import { cidrKeyCodec, origDstCodec, peerKeyCodec, svcKeyCodec } from '../../agent/src/bpf/abi.js';
import * as libbpf from '../../native/src/libbpf.js';
import { KernelFixture } from './kernel-fixture.js';

const world = new KernelFixture('wt-redir');
const serviceIp = '10.96.0.10';
let podCgroup: string;
let otherCgroup: string;
let programs: RedirectPrograms | undefined;

before(() => {
  world.setup();
  podCgroup = world.cgroup('pod');
  otherCgroup = world.cgroup('other');
  programs = RedirectPrograms.load({
    objectDir: join(repoRoot, 'bpf', 'build'),
    pinDir: world.pinDir,
    config: { agentCgroupId: 0n, proxyIp4: world.nodeIp, proxyPort: 15001 },
  });
  libbpf.mapUpdate(programs.mapFds.weft_svc, svcKeyCodec.encode({ ip4: serviceIp, port: 80 }), Uint8Array.of(1));
  libbpf.mapUpdate(
    programs.mapFds.weft_pod_cidr,
    cidrKeyCodec.encode({ prefixLength: 16, ip4: '10.201.0.0' }),
    Uint8Array.of(1),
  );
  programs.attach('pod-a', podCgroup);
});

after(async () => {
  programs?.close();
  if (existsSync(world.pinDir)) RedirectPrograms.removeAll(world.pinDir);
  await world.cleanup();
});

test('a mesh service connect from an attached cgroup lands on the proxy, original destination recorded', async () => {
  const proxy = await world.startListener(world.nodeIp, 15001);
  const conn = await world.connectFrom(podCgroup, serviceIp, 80);
  try {
    assert.deepEqual(conn.peer, [serviceIp, 80], 'getpeername reports the dialled service');
    const accepted = await waitFor(() => proxy.lines.find((l) => l !== 'ready'), { what: 'proxy accept' });
    const peer = JSON.parse(accepted) as { address: string; port: number };
    assert.deepEqual([peer.address, peer.port], conn.local, 'the proxy accepted this client');
    const value = new Uint8Array(origDstCodec.size);
    const found = libbpf.mapLookup(
      programs!.mapFds.weft_peer_dst,
      peerKeyCodec.encode({ ip4: peer.address, port: peer.port }),
      value,
    );
    assert.equal(found, true, 'original destination keyed by the client address');
    assert.deepEqual(origDstCodec.decode(value), { ip4: serviceIp, port: 80 });
  } finally {
    conn.release();
  }
});

test('destinations outside the mesh and sockets outside attached cgroups are not redirected', async () => {
  const direct = await world.startListener(world.nodeIp, 9999);
  const plain = await world.connectFrom(podCgroup, world.nodeIp, 9999);
  plain.release();
  assert.deepEqual(plain.peer, [world.nodeIp, 9999]);
  await waitFor(() => direct.lines.length >= 2, { what: 'direct listener accept' });

  // A pod-CIDR destination from a cgroup without programs: the connect goes where it was
  // dialled, so it fails (nothing routes 10.201/16 here) instead of reaching the proxy.
  await assert.rejects(world.connectFrom(otherCgroup, '10.201.3.4', 8080), /Network is unreachable/);
  // The same destination from the attached cgroup reaches the proxy.
  const meshPod = await world.connectFrom(podCgroup, '10.201.3.4', 8080);
  meshPod.release();
  assert.deepEqual(meshPod.peer, ['10.201.3.4', 8080]);
});

test('detaching removes the redirection and the link pins', () => {
  programs!.attach('pod-b', otherCgroup);
  assert.deepEqual(programs!.attachedOwners().sort(), ['pod-a', 'pod-b']);
  const attached = execFileSync('bpftool', ['cgroup', 'show', otherCgroup], { encoding: 'utf8' });
  assert.match(attached, /weft_connect4_re/);
  programs!.detach('pod-b');
  assert.deepEqual(programs!.attachedOwners(), ['pod-a']);
  assert.doesNotMatch(execFileSync('bpftool', ['cgroup', 'show', otherCgroup], { encoding: 'utf8' }), /weft_/);
  closeSync(libbpf.openPinned(join(world.pinDir, 'maps', programs!.mapLayout, 'weft_svc')));
});

test('a pod whose cgroup is already gone (deleted while the agent was down) detaches cleanly', () => {
  const goneCgroup = join(world.cgroupRoot, 'gone');
  mkdirSync(goneCgroup);
  programs!.attach('pod-gone', goneCgroup);
  rmdirSync(goneCgroup);
  programs!.detach('pod-gone');
  assert.equal(programs!.attachedOwners().includes('pod-gone'), false);
});
