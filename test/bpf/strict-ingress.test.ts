// Strict mTLS in the kernel: a pod whose cgroup carries the ingress program accepts new TCP
// connections only from its node (the proxy delivering mesh traffic, kubelet probes); a
// connection from any other address is dropped and counted; the pod's own outbound connections
// and existing ones keep working; leaving strict mode detaches only that program.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';
import { RedirectPrograms } from '../../agent/src/bpf/redirect-programs.js';
import { plainKeyCodec } from '../../agent/src/bpf/abi.js';
import * as libbpf from '../../native/src/libbpf.js';
import { KernelFixture, ConnectFailed } from './kernel-fixture.js';

const world = new KernelFixture('wt-strict');
let podCgroup: string;
let programs: RedirectPrograms | undefined;

function attachedNames(cgroup: string): string[] {
  const out = execFileSync('bpftool', ['-j', 'cgroup', 'show', cgroup], { encoding: 'utf8' });
  return (JSON.parse(out.trim() || '[]') as { name: string }[]).map((p) => p.name).sort();
}

before(() => {
  world.setup();
  podCgroup = world.cgroup('strict-pod');
  programs = RedirectPrograms.load({
    objectDir: join(repoRoot, 'bpf', 'build'),
    pinDir: world.pinDir,
    config: { agentCgroupId: 0n, proxyIp4: world.nodeIp, proxyPort: 15001 },
  });
  programs.attach('strict-pod', podCgroup, { strict: true });
});

after(async () => {
  programs?.close();
  if (existsSync(world.pinDir)) RedirectPrograms.removeAll(world.pinDir);
  await world.cleanup();
});

test('only the node may open connections to a strict pod; others are dropped and counted', async () => {
  assert.ok(attachedNames(podCgroup).includes('weft_ingress_strict'));
  await world.startListener('0.0.0.0', 8080, podCgroup);
  const dropsBefore = programs!.strictDrops();

  const fromNode = await world.connectFrom(null, world.peerIp, 8080, { sourceIp: world.nodeIp });
  fromNode.release();
  assert.equal(fromNode.local[0], world.nodeIp);

  await assert.rejects(
    world.connectFrom(null, world.peerIp, 8080, { sourceIp: world.peerIp, timeoutSeconds: 2 }),
    (err: unknown) => err instanceof ConnectFailed && /timed out/.test(err.message),
    'a SYN from outside the node is dropped (the client times out)',
  );
  assert.ok(programs!.strictDrops() > dropsBefore, 'the drop is counted');

  // The strict pod's own outbound connections are not inbound ones: their replies pass.
  await world.startListener(world.peerIp, 9090);
  const outbound = await world.connectFrom(podCgroup, world.peerIp, 9090, { sourceIp: world.peerIp });
  outbound.release();
});

test('IPv6 fails closed: the mesh is IPv4 only, so an IPv6 SYN to a strict pod is dropped (except from ::1)', async () => {
  await world.startListener('::', 8081, podCgroup);
  const dropsBefore = programs!.strictDrops();
  await assert.rejects(
    world.connectFrom(null, world.nodeIp6, 8081, { sourceIp: world.peerIp6, timeoutSeconds: 2 }),
    (err: unknown) => err instanceof ConnectFailed && /timed out/.test(err.message),
    'an IPv6 SYN from another address is dropped',
  );
  assert.ok(programs!.strictDrops() > dropsBefore, 'the drop is counted');
  const loopback = await world.connectFrom(null, '::1', 8081);
  loopback.release();
});

test('a pod guarded for its authorization policies takes the plaintext sources its allow-list names (longest prefix wins)', async () => {
  const cgroupId = new Uint8Array(8);
  new DataView(cgroupId.buffer).setBigUint64(0, statSync(podCgroup, { bigint: true }).ino, true);
  libbpf.mapUpdate(programs!.mapFds.weft_plain_pod, cgroupId, Uint8Array.of(9, 0, 0, 0));
  const entry = (ip4: string, prefixLength: number, allow: boolean) =>
    libbpf.mapUpdate(programs!.mapFds.weft_plain_allow, plainKeyCodec.encode({ prefixLength, pod: 9, ip4 }), Uint8Array.of(allow ? 1 : 0));
  entry('0.0.0.0', 0, false);
  entry('10.200.0.0', 24, true);
  const allowed = await world.connectFrom(null, world.peerIp, 8080, { sourceIp: world.peerIp, timeoutSeconds: 5 });
  allowed.release();
  entry(world.peerIp, 32, false); // an except inside the allowed /24
  await assert.rejects(
    world.connectFrom(null, world.peerIp, 8080, { sourceIp: world.peerIp, timeoutSeconds: 2 }),
    (err: unknown) => err instanceof ConnectFailed && /timed out/.test(err.message),
    'the more specific deny wins',
  );
  libbpf.mapDelete(programs!.mapFds.weft_plain_pod, cgroupId);
});

test('leaving strict mode detaches only the ingress program', async () => {
  programs!.attach('strict-pod', podCgroup, { strict: false });
  const names = attachedNames(podCgroup);
  assert.equal(names.includes('weft_ingress_strict'), false);
  assert.ok(names.some((n) => n.startsWith('weft_connect4')), 'redirection stays');
  const fromElsewhere = await world.connectFrom(null, world.peerIp, 8080, { sourceIp: world.peerIp, timeoutSeconds: 5 });
  fromElsewhere.release();
});
