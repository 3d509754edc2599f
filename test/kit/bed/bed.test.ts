// End-to-end test of the bed CLI, as root: two nodes, HTTP server pods on each, a client pod
// reaching both across nodes, isolation from the host, status/cgroup layout, pod deletion,
// EndpointSlices, a second bed side by side, and `down` leaving nothing behind.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, type TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { waitFor } from '../../support/wait-for.js';
import { bedOk, runBedCli } from './bed-cli-runner.js';
import { bedPrefix, bedCgroupRoot, bedBpffsRoot, CGROUP_V2_ROOT } from './bed-naming.js';
import { listNetns } from './netns-ops.js';
import { isAlive } from './bed-processes.js';
import type { BedStatus } from './commands/status.js';
import { startApiServer } from '../apiserver/server.js';
import type { BedRecord } from './bed-state.js';
import { kubectl } from '../kubectl.js';

const execFileAsync = promisify(execFile);

async function status(state: string): Promise<BedStatus> {
  return JSON.parse(await bedOk(state, ['status'])) as BedStatus;
}

async function prefixedNetns(prefix: string): Promise<string[]> {
  return (await listNetns()).filter((n) => n.startsWith(`${prefix}-`));
}

/** The cgroup v2 path of a process, as an absolute path under the unified mount. */
async function cgroupOfPid(pid: number): Promise<string> {
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  assert.ok(line, `pid ${pid} has a cgroup v2 entry`);
  return join(CGROUP_V2_ROOT, line.slice(3));
}

describe('test bed (two nodes)', { timeout: 600_000 }, () => {
  let temp: TempDir;
  let state: string;
  let prefix: string;
  let kubeconfig: string;
  let namespace: string;
  const port = 18000 + Math.floor(Math.random() * 1000);
  const pods: Record<string, { ip: string; uid: string }> = {};
  let rootServer: Server;
  let rootServerConnections = 0;
  let recordAtStart: BedRecord;

  before(async () => {
    temp = await makeTempDir('bed');
    state = join(temp.path, 'state');
    prefix = bedPrefix(state);
    rootServer = createServer((socket) => {
      rootServerConnections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => rootServer.listen(0, '0.0.0.0', resolve));
  });

  after(async () => {
    rootServer?.close();
    if (state) await runBedCli(state, ['down']);
    await temp?.remove();
  });

  test('up starts two nodes and prints the kubeconfig', async () => {
    const out = await bedOk(state, ['up', '--nodes', '2']);
    kubeconfig = join(state, 'kubeconfig');
    assert.match(out, new RegExp(`kubeconfig: ${kubeconfig}`));
    recordAtStart = JSON.parse(await readFile(join(state, 'bed.json'), 'utf8')) as BedRecord;
    const nodes = JSON.parse(await kubectl(kubeconfig, ['get', 'nodes', '-o', 'json'])) as { items: any[] };
    const byName = new Map(nodes.items.map((n) => [n.metadata.name, n]));
    assert.deepEqual([...byName.keys()].sort(), ['node-1', 'node-2']);
    assert.equal(byName.get('node-1').metadata.labels['topology.kubernetes.io/zone'], 'zone-a');
    assert.equal(byName.get('node-2').metadata.labels['topology.kubernetes.io/zone'], 'zone-b');
    assert.deepEqual(byName.get('node-2').status.addresses.find((a: any) => a.type === 'InternalIP'), { type: 'InternalIP', address: '10.240.0.12' });
    assert.equal(byName.get('node-1').spec.podCIDR, '10.244.1.0/24');
    namespace = uniqueName('bedtest');
    await kubectl(kubeconfig, ['create', 'namespace', namespace]);
  });

  test('up on a running bed refuses and says so', async () => {
    const result = await runBedCli(state, ['up']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /already running/);
  });

  test('bad command lines exit 2 with a message', async () => {
    const badNodes = await runBedCli(state, ['up', '--nodes', 'many']);
    assert.equal(badNodes.code, 2);
    assert.match(badNodes.stderr, /--nodes must be an integer/);
    const unknown = await runBedCli(state, ['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const noCommand = await runBedCli(state, ['run', 'x', '--node', 'node-1']);
    assert.equal(noCommand.code, 2);
    assert.match(noCommand.stderr, /needs a command after --/);
  });

  test('run refuses a namespace that does not exist', async () => {
    const result = await runBedCli(state, ['run', 'nope', '-n', uniqueName('missing'), '--node', 'node-1', '--', 'sleep', '1']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /namespace "missing-[0-9a-f]+" does not exist/);
  });

  test('run starts HTTP server pods on both nodes and a client pod', async () => {
    for (const [name, node] of [['web-1', 'node-1'], ['web-2', 'node-2']] as const) {
      const out = await bedOk(state, ['run', name, '-n', namespace, '--node', node, '--labels', 'app=web,tier=test', '--port', String(port), '--',
        'python3', '-m', 'http.server', '--bind', '0.0.0.0', String(port)]);
      const ip = out.trim();
      assert.match(ip, node === 'node-1' ? /^10\.244\.1\.\d+$/ : /^10\.244\.2\.\d+$/);
      const pod = JSON.parse(await kubectl(kubeconfig, ['get', 'pod', name, '-n', namespace, '-o', 'json']));
      assert.equal(pod.status.phase, 'Running');
      assert.equal(pod.status.podIP, ip);
      assert.equal(pod.status.hostIP, node === 'node-1' ? '10.240.0.11' : '10.240.0.12');
      assert.equal(pod.status.conditions.find((c: any) => c.type === 'Ready').status, 'True');
      assert.equal(pod.status.containerStatuses[0].ready, true);
      pods[name] = { ip, uid: pod.metadata.uid };
    }
    const clientIp = (await bedOk(state, ['run', 'client', '-n', namespace, '--node', 'node-1', '--', 'sleep', '3600'])).trim();
    const client = JSON.parse(await kubectl(kubeconfig, ['get', 'pod', 'client', '-n', namespace, '-o', 'json']));
    pods.client = { ip: clientIp, uid: client.metadata.uid };
  });

  test('the client pod reaches both server pods by pod IP, across nodes', async () => {
    for (const name of ['web-1', 'web-2']) {
      const out = await bedOk(state, ['exec', 'client', '-n', namespace, '--', 'curl', '-sS', '-m', '10', `http://${pods[name]!.ip}:${port}/`]);
      assert.match(out, /Directory listing/);
    }
    // And a server pod on node-2 reaches the one on node-1.
    const back = await bedOk(state, ['exec', 'web-2', '-n', namespace, '--', 'curl', '-sS', '-m', '10', `http://${pods['web-1']!.ip}:${port}/`]);
    assert.match(back, /Directory listing/);
  });

  test('pods reach nothing outside the bed: not the root loopback, not the host address', async () => {
    const { port: rootPort } = rootServer.address() as AddressInfo;
    const hostAddress = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    const targets = [`127.0.0.1:${rootPort}`, ...(hostAddress ? [`${hostAddress}:${rootPort}`] : [])];
    for (const target of targets) {
      const result = await runBedCli(state, ['exec', 'client', '-n', namespace, '--', 'curl', '-sS', '-m', '3', `http://${target}/`]);
      assert.notEqual(result.code, 0, `a pod must not reach ${target}`);
    }
    assert.equal(rootServerConnections, 0, 'the root-namespace server saw no connection from a pod');
    const routes = await bedOk(state, ['exec', '--node', 'node-1', '--', 'ip', 'route', 'show', 'default']);
    assert.equal(routes.trim(), '', 'a node has no default route');
  });

  test('exec passes stdin, stdout and the exit code through', async () => {
    assert.equal(await bedOk(state, ['exec', 'client', '-n', namespace, '--', 'cat'], { input: 'hello through stdin\n' }), 'hello through stdin\n');
    const failing = await runBedCli(state, ['exec', 'client', '-n', namespace, '--', 'sh', '-c', 'exit 7']);
    assert.equal(failing.code, 7);
    const nodeAddr = await bedOk(state, ['exec', '--node', 'node-2', '--', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
    assert.match(nodeAddr, /10\.240\.0\.12\/24/);
  });

  test('the API server is reachable from inside a node namespace with the same kubeconfig', async () => {
    const out = await bedOk(state, ['exec', '--node', 'node-1', '--', 'kubectl', '--kubeconfig', kubeconfig, 'get', 'node', 'node-2', '-o', 'name']);
    assert.equal(out.trim(), 'node/node-2');
  });

  test('status reports nodes and pods, with kubelet-shaped cgroups holding the pod processes', async () => {
    const current = await status(state);
    // One Weft agent per node, running (the supervisor restarts it like a DaemonSet pod).
    for (const node of current.nodes) {
      assert.equal(typeof node.agentPid, 'number', `${node.name} has an agent`);
      assert.ok(isAlive(node.agentPid!), `${node.name}'s agent ${node.agentPid} is alive`);
    }
    assert.deepEqual(current.nodes.map((n) => ({ ...n, agentPid: 'running' })), [
      { name: 'node-1', netns: `${prefix}-node-1`, ip: '10.240.0.11', podCIDR: '10.244.1.0/24', zone: 'zone-a', agentPid: 'running' },
      { name: 'node-2', netns: `${prefix}-node-2`, ip: '10.240.0.12', podCIDR: '10.244.2.0/24', zone: 'zone-b', agentPid: 'running' },
    ]);
    const netns = await listNetns();
    for (const node of current.nodes) assert.ok(netns.includes(node.netns), `${node.netns} exists`);
    const nodeRoot = (node: string) => join(bedCgroupRoot(prefix), node);
    const web1 = current.pods.find((p) => p.name === 'web-1')!;
    const web2 = current.pods.find((p) => p.name === 'web-2')!;
    assert.equal(web1.namespace, namespace);
    assert.equal(web1.node, 'node-1');
    assert.equal(web1.ip, pods['web-1']!.ip);
    // node-1 uses the systemd driver, node-2 cgroupfs.
    assert.equal(web1.cgroup, join(nodeRoot('node-1'), 'kubepods.slice', 'kubepods-besteffort.slice', `kubepods-besteffort-pod${pods['web-1']!.uid.replace(/-/g, '_')}.slice`));
    assert.equal(web2.cgroup, join(nodeRoot('node-2'), 'kubepods', 'besteffort', `pod${pods['web-2']!.uid}`));
    for (const pod of [web1, web2]) {
      assert.ok(pod.pids.length >= 1, `${pod.name} has live processes`);
      for (const pid of pod.pids) {
        const cgroup = await cgroupOfPid(pid);
        assert.ok(cgroup.startsWith(`${pod.cgroup}/`), `pid ${pid} is in a container cgroup under ${pod.cgroup} (got ${cgroup})`);
        const commandLine = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
        assert.match(commandLine, /http\.server/);
      }
    }
    const containerDir = (await cgroupOfPid(web1.pids[0]!)).slice(web1.cgroup.length + 1);
    assert.match(containerDir, /^cri-containerd-[0-9a-f]{64}\.scope$/);
    assert.match((await cgroupOfPid(web2.pids[0]!)).slice(web2.cgroup.length + 1), /^[0-9a-f]{64}$/);
    assert.ok(existsSync(join(bedBpffsRoot(prefix), 'node-1')), 'node-1 has its bpffs directory');
  });

  test('a pod whose command exits goes Failed with the exit code, like kubelet with restartPolicy Never', async () => {
    // `run` may see the pod Running before the exit, or already Failed (then it exits 1).
    const result = await runBedCli(state, ['run', 'short', '-n', namespace, '--node', 'node-2', '--', 'sh', '-c', 'echo bye; exit 3']);
    assert.ok(result.code === 0 || /failed/.test(result.stderr), `run short: ${result.code} ${result.stderr}`);
    const pod = await waitFor(async () => {
      const p = JSON.parse(await kubectl(kubeconfig, ['get', 'pod', 'short', '-n', namespace, '-o', 'json']));
      return p.status.phase === 'Failed' ? p : undefined;
    }, { what: 'pod short to be Failed' });
    assert.equal(pod.status.containerStatuses[0].state.terminated.exitCode, 3);
    assert.match(await readFile(join(state, 'logs', 'pods', `${namespace}_short.log`), 'utf8'), /bye/);
  });

  test('kubectl apply of a pod with restartPolicy Always: the kubelet restarts it and counts restarts', async () => {
    const pod = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'flaky', namespace },
      spec: { nodeName: 'node-1', restartPolicy: 'Always', containers: [{ name: 'main', image: 'weft-bed/host', command: ['sh', '-c', 'sleep 0.2; exit 4'] }] },
    };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(pod));
    const restarted = await waitFor(async () => {
      const p = JSON.parse(await kubectl(kubeconfig, ['get', 'pod', 'flaky', '-n', namespace, '-o', 'json']));
      const container = p.status?.containerStatuses?.[0];
      return container && container.restartCount >= 1 && container.lastState?.terminated ? p : undefined;
    }, { timeoutMs: 30_000, what: 'pod flaky to be restarted' });
    assert.equal(restarted.status.containerStatuses[0].lastState.terminated.exitCode, 4);
    assert.equal(restarted.status.phase, 'Running');
    await kubectl(kubeconfig, ['delete', 'pod', 'flaky', '-n', namespace, '--wait=true', '--timeout=60s']);
    assert.equal((await status(state)).pods.some((p) => p.name === 'flaky'), false);
  });

  test('readinessProbe httpGet decides Ready, probed from the node', async () => {
    const webRoot = join(temp.path, 'www');
    await mkdir(webRoot);
    const pod = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'probed', namespace },
      spec: {
        nodeName: 'node-2', restartPolicy: 'Never',
        containers: [{
          name: 'main', image: 'weft-bed/host', workingDir: webRoot,
          command: ['python3', '-m', 'http.server', '--bind', '0.0.0.0', String(port)],
          ports: [{ containerPort: port }],
          readinessProbe: { httpGet: { path: '/ready.txt', port } },
        }],
      },
    };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(pod));
    const readyOf = async (): Promise<string | undefined> => {
      const p = JSON.parse(await kubectl(kubeconfig, ['get', 'pod', 'probed', '-n', namespace, '-o', 'json']));
      return p.status?.conditions?.find((c: any) => c.type === 'Ready')?.status;
    };
    // The server answers (404) but the probe path is missing: Running, not Ready.
    const ip = await waitFor(async () => {
      const p = JSON.parse(await kubectl(kubeconfig, ['get', 'pod', 'probed', '-n', namespace, '-o', 'json']));
      return p.status?.phase === 'Running' ? p.status.podIP as string : undefined;
    }, { what: 'pod probed to run' });
    await waitFor(async () => (await bedOk(state, ['exec', '--node', 'node-2', '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${ip}:${port}/ready.txt`])) === '404', { what: 'probed to answer 404' });
    assert.equal(await readyOf(), 'False');
    await writeFile(join(webRoot, 'ready.txt'), 'ok\n');
    await waitFor(async () => (await readyOf()) === 'True', { timeoutMs: 30_000, what: 'pod probed to become Ready' });
    await bedOk(state, ['delete', 'probed', '-n', namespace]);
  });

  test('a two-container pod gets one cgroup per container; deleting its namespace stops it', async () => {
    const otherNamespace = uniqueName('bedns');
    await kubectl(kubeconfig, ['create', 'namespace', otherNamespace]);
    const pod = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'pair', namespace: otherNamespace },
      spec: {
        nodeName: 'node-2',
        containers: [
          { name: 'one', image: 'weft-bed/host', command: ['sleep', '3600'] },
          { name: 'two', image: 'weft-bed/host', command: ['sleep', '3601'] },
        ],
      },
    };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(pod));
    const running = await waitFor(async () => (await status(state)).pods.find((p) => p.name === 'pair' && p.pids.length === 2), { what: 'both containers of pair to run' });
    const cgroups = new Set(await Promise.all(running.pids.map(cgroupOfPid)));
    assert.equal(cgroups.size, 2, 'each container has its own cgroup');
    for (const cgroup of cgroups) assert.match(cgroup.slice(running.cgroup.length), /^\/[0-9a-f]{64}$/);
    const object = JSON.parse(await kubectl(kubeconfig, ['get', 'pod', 'pair', '-n', otherNamespace, '-o', 'json']));
    assert.deepEqual(object.status.containerStatuses.map((c: any) => [c.name, c.ready]), [['one', true], ['two', true]]);

    await kubectl(kubeconfig, ['delete', 'namespace', otherNamespace, '--wait=false']);
    await waitFor(async () => !(await status(state)).pods.some((p) => p.name === 'pair'), { timeoutMs: 30_000, what: 'pair to be stopped' });
    for (const pid of running.pids) assert.equal(isAlive(pid), false, `pair process ${pid} is gone`);
    assert.equal(existsSync(running.cgroup), false);
    await waitFor(async () => (await kubectl(kubeconfig, ['get', 'namespace', otherNamespace, '--ignore-not-found', '-o', 'name'])).trim() === '', { timeoutMs: 30_000, what: 'the namespace to be gone' });
  });

  test('EndpointSlices list the ready pods, and deleting a pod updates them and removes its sandbox', async () => {
    const service = {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'web', namespace },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: port, protocol: 'TCP' }] },
    };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(service));
    const endpointsOf = async (): Promise<any[]> => {
      const slices = JSON.parse(await kubectl(kubeconfig, ['get', 'endpointslices', '-n', namespace, '-l', 'kubernetes.io/service-name=web', '-o', 'json']));
      return slices.items.flatMap((s: any) => s.endpoints ?? []);
    };
    const both = await waitFor(async () => {
      const endpoints = await endpointsOf();
      return endpoints.length === 2 ? endpoints : undefined;
    }, { timeoutMs: 30_000, what: 'an EndpointSlice with both web pods' });
    const byIp = new Map(both.map((e) => [e.addresses[0], e]));
    assert.equal(byIp.get(pods['web-1']!.ip)?.nodeName, 'node-1');
    assert.equal(byIp.get(pods['web-2']!.ip)?.nodeName, 'node-2');
    assert.equal(byIp.get(pods['web-2']!.ip)?.zone, 'zone-b');
    assert.equal(byIp.get(pods['web-1']!.ip)?.conditions?.ready, true);
    assert.equal(byIp.get(pods['web-1']!.ip)?.targetRef?.name, 'web-1');

    const before = (await status(state)).pods.find((p) => p.name === 'web-2')!;
    const netnsBefore = await prefixedNetns(prefix);
    await bedOk(state, ['delete', 'web-2', '-n', namespace]);
    const after = await status(state);
    assert.equal(after.pods.find((p) => p.name === 'web-2'), undefined, 'web-2 is gone from status');
    assert.equal(existsSync(before.cgroup), false, 'web-2 cgroup removed');
    for (const pid of before.pids) assert.equal(isAlive(pid), false, `web-2 process ${pid} is gone`);
    assert.equal((await prefixedNetns(prefix)).length, netnsBefore.length - 1, 'web-2 netns removed');
    const getGone = await execFileAsync('kubectl', ['--kubeconfig', kubeconfig, 'get', 'pod', 'web-2', '-n', namespace, '--ignore-not-found', '-o', 'name']);
    assert.equal(getGone.stdout.trim(), '');
    await waitFor(async () => {
      const endpoints = await endpointsOf();
      return endpoints.length === 1 && endpoints[0].addresses[0] === pods['web-1']!.ip;
    }, { timeoutMs: 30_000, what: 'the EndpointSlice to drop web-2' });
  });

  test('kubectl delete pod stops a pod as kubelet would', async () => {
    const before = (await status(state)).pods.find((p) => p.name === 'client')!;
    await kubectl(kubeconfig, ['delete', 'pod', 'client', '-n', namespace, '--wait=true', '--timeout=60s']);
    await waitFor(async () => !(await status(state)).pods.some((p) => p.name === 'client'), { what: 'client to leave status' });
    for (const pid of before.pids) assert.equal(isAlive(pid), false, `client process ${pid} is gone`);
  });

  test('a second bed, on an external API server via --kubeconfig, runs beside the first without seeing it', async () => {
    const otherTemp = await makeTempDir('bed2');
    const otherState = join(otherTemp.path, 'state');
    const external = await startApiServer({ stateDir: join(otherTemp.path, 'apiserver') });
    try {
      const up = await runBedCli(otherState, ['up', '--nodes', '1', '--no-controllers', '--kubeconfig', external.kubeconfigPath]);
      assert.equal(up.code, 0, `second bed up failed: ${up.stderr}`);
      const other = await status(otherState);
      assert.deepEqual(other.nodes.map((n) => n.netns), [`${bedPrefix(otherState)}-node-1`]);
      assert.notEqual(bedPrefix(otherState), prefix);
      assert.deepEqual(other.pods, []);
      assert.equal((await kubectl(external.kubeconfigPath, ['get', 'nodes', '-o', 'name'])).trim(), 'node/node-1');
      // The external server on the root loopback is reachable from the node with its own kubeconfig.
      const fromNode = await bedOk(otherState, ['exec', '--node', 'node-1', '--', 'kubectl', '--kubeconfig', external.kubeconfigPath, 'get', 'nodes', '-o', 'name']);
      assert.equal(fromNode.trim(), 'node/node-1');
      // The first bed is untouched and does not see the second.
      assert.equal((await status(state)).nodes.length, 2);
      await bedOk(otherState, ['down']);
      // down stops the bed but not a server it does not own; it removes its Node objects there.
      assert.equal((await kubectl(external.kubeconfigPath, ['get', 'nodes', '-o', 'name'])).trim(), '');
    } finally {
      await runBedCli(otherState, ['down']);
      await external.close();
      await otherTemp.remove();
    }
    assert.deepEqual(await prefixedNetns(bedPrefix(otherState)), []);
    assert.ok((await prefixedNetns(prefix)).length >= 3, 'the first bed keeps its namespaces');
  });

  test('down leaves nothing behind and can run twice', async () => {
    const lastStatus = await status(state);
    const podPids = lastStatus.pods.flatMap((p) => p.pids);
    assert.ok(podPids.length > 0);
    const record = JSON.parse(await readFile(join(state, 'bed.json'), 'utf8')) as BedRecord;
    await bedOk(state, ['down']);
    assert.deepEqual(await prefixedNetns(prefix), [], 'no network namespace with the bed prefix');
    assert.equal(existsSync(bedCgroupRoot(prefix)), false, 'no cgroup directory');
    assert.equal(existsSync(bedBpffsRoot(prefix)), false, 'no bpffs directory');
    for (const pid of [record.daemonPid, recordAtStart.apiserverPid!, ...record.nodes.map((n) => n.helperPid!), ...podPids]) {
      assert.equal(isAlive(pid), false, `process ${pid} is gone`);
    }
    assert.equal(existsSync(join(state, 'bed.json')), false);
    await bedOk(state, ['down']);
    const afterDown = await runBedCli(state, ['status']);
    assert.equal(afterDown.code, 1);
    assert.match(afterDown.stderr, /no bed is running/);
  });
});

describe('test bed after a crash', { timeout: 300_000 }, () => {
  let temp: TempDir;
  let state: string;

  before(async () => {
    temp = await makeTempDir('bedcrash');
    state = join(temp.path, 'state');
  });

  after(async () => {
    if (state) await runBedCli(state, ['down']);
    await temp?.remove();
  });

  test('down cleans up everything when the daemon was killed with SIGKILL', async () => {
    await bedOk(state, ['up', '--nodes', '1', '--no-controllers']);
    await bedOk(state, ['run', 'survivor', '--node', 'node-1', '--', 'sleep', '3600']);
    const before = await status(state);
    const record = JSON.parse(await readFile(join(state, 'bed.json'), 'utf8')) as BedRecord;
    const podPids = before.pods.flatMap((p) => p.pids);
    assert.equal(podPids.length, 1);
    process.kill(record.daemonPid, 'SIGKILL');
    await waitFor(() => !isAlive(record.daemonPid), { what: 'the daemon to die' });
    const stale = await runBedCli(state, ['status']);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /is not running; run "down"/);

    await bedOk(state, ['down']);
    const prefix = bedPrefix(state);
    assert.deepEqual(await prefixedNetns(prefix), []);
    assert.equal(existsSync(bedCgroupRoot(prefix)), false);
    assert.equal(existsSync(bedBpffsRoot(prefix)), false);
    for (const pid of [record.apiserverPid!, ...record.nodes.map((n) => n.helperPid!), ...podPids]) {
      assert.equal(isAlive(pid), false, `process ${pid} is gone`);
    }
  });
});
