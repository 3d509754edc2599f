// Holding connects while no agent listens: with weft_proxy_ctl.hold_syns set, an enrolled pod's
// SYN to the node proxy is dropped on the way out, so the client's TCP retransmits it instead
// of being refused, and the connect completes once a listener exists and the hold is lifted.
// Without the hold the same connect is refused at once; other destinations are never held.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';
import { waitFor } from '../support/wait-for.js';
import { RedirectPrograms } from '../../agent/src/bpf/redirect-programs.js';
import { KernelFixture, ConnectFailed } from './kernel-fixture.js';

const PROXY_PORT = 15001;
const world = new KernelFixture('wt-hold');
let podCgroup: string;
let programs: RedirectPrograms | undefined;

/** Sockets in the namespace still sending SYNs to the proxy (the held connects). */
function synSentToProxy(): number {
  const out = execFileSync('nsenter', [`--net=/run/netns/${world.name}`, 'ss', '-Htn', 'state', 'syn-sent', 'dst', `${world.nodeIp}:${PROXY_PORT}`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.trim() !== '').length;
}

before(() => {
  world.setup();
  podCgroup = world.cgroup('hold-pod');
  programs = RedirectPrograms.load({
    objectDir: join(repoRoot, 'bpf', 'build'),
    pinDir: world.pinDir,
    config: { agentCgroupId: 0n, proxyIp4: world.nodeIp, proxyPort: PROXY_PORT },
  });
  programs.attach('hold-pod', podCgroup);
});

after(async () => {
  programs?.close();
  if (existsSync(world.pinDir)) RedirectPrograms.removeAll(world.pinDir);
  await world.cleanup();
});

test('without the hold, a connect to a proxy port nobody listens on is refused at once', async () => {
  assert.equal(programs!.proxySynsHeld(), false, 'a fresh map does not hold');
  await assert.rejects(
    world.connectFrom(podCgroup, world.nodeIp, PROXY_PORT, { timeoutSeconds: 20 }),
    (err: unknown) => err instanceof ConnectFailed && /refused/i.test(err.message),
  );
});

test('with the hold, the connect waits in SYN-SENT and completes once a listener exists and the hold is lifted', async () => {
  programs!.holdProxySyns(true);
  assert.equal(programs!.proxySynsHeld(), true);
  const connecting = world.connectFrom(podCgroup, world.nodeIp, PROXY_PORT, { timeoutSeconds: 30 });
  let settled = false;
  void connecting.then(() => (settled = true), () => (settled = true));
  await waitFor(() => synSentToProxy() > 0, { what: 'the client retransmitting its SYN' });
  await world.startListener(world.nodeIp, PROXY_PORT);
  assert.equal(settled, false, 'a held SYN is not delivered while the hold lasts, even to a listener');
  programs!.holdProxySyns(false);
  const connection = await connecting;
  connection.release();
  assert.deepEqual(connection.peer, [world.nodeIp, PROXY_PORT]);
});

test('the hold applies to the proxy port only', async () => {
  programs!.holdProxySyns(true);
  try {
    await world.startListener(world.nodeIp, 9090);
    const other = await world.connectFrom(podCgroup, world.nodeIp, 9090, { timeoutSeconds: 5 });
    other.release();
    assert.deepEqual(other.peer, [world.nodeIp, 9090]);
  } finally {
    programs!.holdProxySyns(false);
  }
});

