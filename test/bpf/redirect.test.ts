// The redirection programs on the real kernel: a process in an attached cgroup, inside its own
// network namespace, connects to a mesh address and lands on the node proxy's listener; the
// proxy can look up the original destination by the client's address; the client's
// getpeername() reports what it dialled. Other destinations, other cgroups, and a detached
// cgroup are left alone. Needs root (CI is root).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmdirSync, existsSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../support/repo-root.js';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';
import { RedirectPrograms } from '../../agent/src/bpf/redirect-programs.js';
import { cidrKeyCodec, origDstCodec, peerKeyCodec, svcKeyCodec } from '../../agent/src/bpf/abi.js';
import * as libbpf from '../../native/src/libbpf.js';

const name = uniqueName('wt-redir');
const netns = name;
const cgroupRoot = join('/sys/fs/cgroup/unified', name);
const podCgroup = join(cgroupRoot, 'pod');
const otherCgroup = join(cgroupRoot, 'other');
const pinDir = join('/sys/fs/bpf', name);
const nodeIp = '10.200.0.1';
const serviceIp = '10.96.0.10';
const children: ChildProcess[] = [];
let programs: RedirectPrograms | undefined;

function waitForRmdir(dir: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      // EBUSY while a killed process is still leaving the cgroup
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || attempt > 200) throw err;
      execFileSync('sleep', ['0.05']);
    }
  }
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

/** Starts a node-side listener in the netns that reports each accepted peer as a JSON line. */
function startListener(port: number): Promise<{ lines: string[] }> {
  const script = `
    const net = require('node:net');
    net.createServer((s) => { console.log(JSON.stringify({ address: s.remoteAddress, port: s.remotePort }));
      s.on('error', () => {}); })
      .listen(${port}, '${nodeIp}', () => console.log('ready'));`;
  const child = spawn('nsenter', [`--net=/run/netns/${netns}`, process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  return waitFor(() => lines.includes('ready') && { lines }, { what: `listener on ${port}` });
}

class ConnectFailed extends Error {}

/**
 * Connects from inside the netns, optionally from inside a cgroup, and keeps the connection
 * open until `release()`; reports what getsockname/getpeername said.
 */
async function connectFrom(cgroup: string | null, ip: string, port: number) {
  const py = `
import socket, json, sys
s = socket.create_connection(("${ip}", ${port}), timeout=10)
print(json.dumps({"local": s.getsockname(), "peer": s.getpeername()}), flush=True)
sys.stdin.read()
s.close()`;
  const join = cgroup ? `echo $$ > ${cgroup}/cgroup.procs && ` : '';
  const child = spawn('sh', ['-c', `${join}exec nsenter --net=/run/netns/${netns} python3 -c '${py}'`], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  const first = await waitFor(
    () => {
      if (lines[0]) return lines[0];
      if (child.exitCode !== null) return { failed: stderr.trim().split('\n').pop() ?? '' };
      return undefined;
    },
    { what: `connect to ${ip}:${port}` },
  );
  if (typeof first !== 'string') throw new ConnectFailed(first.failed);
  const result = JSON.parse(first) as { local: [string, number]; peer: [string, number] };
  return { ...result, release: () => child.stdin!.end() };
}

before(() => {
  sh('ip', ['netns', 'add', netns]);
  sh('nsenter', [`--net=/run/netns/${netns}`, 'ip', 'link', 'set', 'lo', 'up']);
  // A veth pair with both ends in the namespace stands in for the node's interface (no dummy
  // module on every kernel).
  sh('nsenter', [`--net=/run/netns/${netns}`, 'ip', 'link', 'add', 'node0', 'type', 'veth', 'peer', 'name', 'node0p']);
  sh('nsenter', [`--net=/run/netns/${netns}`, 'ip', 'link', 'set', 'node0p', 'up']);
  sh('nsenter', [`--net=/run/netns/${netns}`, 'ip', 'addr', 'add', `${nodeIp}/24`, 'dev', 'node0']);
  sh('nsenter', [`--net=/run/netns/${netns}`, 'ip', 'link', 'set', 'node0', 'up']);
  mkdirSync(podCgroup, { recursive: true });
  mkdirSync(otherCgroup, { recursive: true });
  programs = RedirectPrograms.load({
    objectDir: join(repoRoot, 'bpf', 'build'),
    pinDir,
    config: { agentCgroupId: 0n, proxyIp4: nodeIp, proxyPort: 15001 },
  });
  libbpf.mapUpdate(programs.mapFds.weft_svc, svcKeyCodec.encode({ ip4: serviceIp, port: 80 }), Uint8Array.of(1));
  libbpf.mapUpdate(
    programs.mapFds.weft_pod_cidr,
    cidrKeyCodec.encode({ prefixLength: 16, ip4: '10.201.0.0' }),
    Uint8Array.of(1),
  );
  programs.attach('pod-a', podCgroup);
});

after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  programs?.close();
  if (existsSync(pinDir)) RedirectPrograms.removeAll(pinDir);
  // cgroup directories go with rmdir once their processes are gone (killed above).
  for (const dir of [podCgroup, otherCgroup, cgroupRoot]) {
    if (existsSync(dir)) waitForRmdir(dir);
  }
  try {
    sh('ip', ['netns', 'del', netns]);
  } catch {
    // already gone: nothing to clean
  }
});

test('a mesh service connect from an attached cgroup lands on the proxy, original destination recorded', async () => {
  const proxy = await startListener(15001);
  const conn = await connectFrom(podCgroup, serviceIp, 80);
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
  const direct = await startListener(9999);
  const plain = await connectFrom(podCgroup, nodeIp, 9999);
  plain.release();
  assert.deepEqual(plain.peer, [nodeIp, 9999]);
  await waitFor(() => direct.lines.length >= 2, { what: 'direct listener accept' });

  // A pod-CIDR destination from a cgroup without programs: the connect goes where it was
  // dialled, so it fails (nothing routes 10.201/16 here) instead of reaching the proxy.
  await assert.rejects(connectFrom(otherCgroup, '10.201.3.4', 8080), /Network is unreachable/);
  // The same destination from the attached cgroup reaches the proxy.
  const meshPod = await connectFrom(podCgroup, '10.201.3.4', 8080);
  meshPod.release();
  assert.deepEqual(meshPod.peer, ['10.201.3.4', 8080]);
});

test('detaching removes the redirection and the link pins', async () => {
  programs!.attach('pod-b', otherCgroup);
  assert.deepEqual(programs!.attachedOwners().sort(), ['pod-a', 'pod-b']);
  const attached = sh('bpftool', ['cgroup', 'show', otherCgroup]);
  assert.match(attached, /weft_connect4_re/);
  programs!.detach('pod-b');
  assert.deepEqual(programs!.attachedOwners(), ['pod-a']);
  assert.doesNotMatch(sh('bpftool', ['cgroup', 'show', otherCgroup]), /weft_/);
  closeSync(libbpf.openPinned(join(pinDir, 'maps', 'weft_svc')));
});

test('a pod whose cgroup is already gone (deleted while the agent was down) detaches cleanly', () => {
  const goneCgroup = join(cgroupRoot, 'gone');
  mkdirSync(goneCgroup);
  programs!.attach('pod-gone', goneCgroup);
  rmdirSync(goneCgroup);
  programs!.detach('pod-gone');
  assert.equal(programs!.attachedOwners().includes('pod-gone'), false);
});
