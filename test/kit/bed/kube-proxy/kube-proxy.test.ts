// End-to-end test of the bed's kube-proxy, as root: a two-node bed without the Weft agent, two
// HTTP backends on different nodes behind a Service, and a client pod in a plain namespace. The
// client reaches the ClusterIP directly (nft DNAT in its node namespace), both backends serve,
// a Service without endpoints refuses at once, a deleted backend leaves the rules, node
// processes reach ClusterIPs too, and `down` leaves nothing in the root namespace.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify as stringifyYaml } from 'yaml';
import { makeTempDir, type TempDir } from '../../../support/temp-dir.js';
import { uniqueName } from '../../../support/unique-name.js';
import { waitFor } from '../../../support/wait-for.js';
import { bedOk, runBedCli } from '../bed-cli-runner.js';
import { bedPrefix } from '../bed-naming.js';
import { listNetns } from '../netns-ops.js';
import { KUBE_PROXY_TABLE } from './nft-ruleset.js';
import { kubectl } from '../../kubectl.js';

const execFileAsync = promisify(execFile);

/** Table names of the root namespace's nftables (iptables-nft tables show up here too). */
async function rootNftTables(): Promise<string> {
  return (await execFileAsync('nft', ['list', 'tables'])).stdout;
}

describe('bed kube-proxy (two nodes, no agent)', { timeout: 600_000 }, () => {
  let temp: TempDir;
  let state: string;
  let kubeconfig: string;
  let namespace: string;
  let rootTablesBefore: string;
  const targetPort = 18000 + Math.floor(Math.random() * 1000);
  const podIPs: Record<string, string> = {};
  let clusterIP = '';
  let emptyClusterIP = '';

  /** Runs `count` curls to the Service from inside `pod` (one exec) and returns who answered each. */
  async function whoAnswers(pod: string, count: number): Promise<string[]> {
    const script = `for i in $(seq ${count}); do curl -sS -m 5 http://${clusterIP}/whoami.txt || echo CURL-FAILED; done`;
    const out = await bedOk(state, ['exec', pod, '-n', namespace, '--', 'sh', '-c', script]);
    return out.trim().split('\n');
  }

  before(async () => {
    temp = await makeTempDir('kube-proxy');
    state = join(temp.path, 'state');
    rootTablesBefore = await rootNftTables();
  });

  after(async () => {
    if (state) await runBedCli(state, ['down']);
    await temp?.remove();
  });

  test('up runs kube-proxy in every node: a table in each node namespace, none in the root namespace', async () => {
    await bedOk(state, ['up', '--nodes', '2', '--no-agent']);
    kubeconfig = join(state, 'kubeconfig');
    for (const node of ['node-1', 'node-2']) {
      const tables = await bedOk(state, ['exec', '--node', node, '--', 'nft', 'list', 'tables']);
      assert.match(tables, new RegExp(`table ip ${KUBE_PROXY_TABLE}`));
    }
    assert.doesNotMatch(await rootNftTables(), new RegExp(KUBE_PROXY_TABLE));
  });

  test('a client pod outside the mesh reaches a ClusterIP, and both backends on both nodes answer', async () => {
    namespace = uniqueName('kproxy');
    await kubectl(kubeconfig, ['create', 'namespace', namespace]);
    for (const [name, node] of [['web-1', 'node-1'], ['web-2', 'node-2']] as const) {
      // Each backend serves its own directory, so an answer names the pod that gave it.
      const root = join(temp.path, name);
      await mkdir(root);
      await writeFile(join(root, 'whoami.txt'), `${name}\n`);
      const out = await bedOk(state, ['run', name, '-n', namespace, '--node', node, '--labels', 'app=web', '--port', String(targetPort), '--',
        'python3', '-m', 'http.server', '--bind', '0.0.0.0', '--directory', root, String(targetPort)]);
      podIPs[name] = out.trim();
    }
    podIPs.client = (await bedOk(state, ['run', 'client', '-n', namespace, '--node', 'node-1', '--', 'sleep', '3600'])).trim();
    const service = {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'web', namespace },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort, protocol: 'TCP' }] },
    };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(service));
    clusterIP = (await kubectl(kubeconfig, ['get', 'service', 'web', '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    assert.match(clusterIP, /^\d+\.\d+\.\d+\.\d+$/);

    // Until the EndpointSlice lists both pods and the rules follow, some curls may fail or miss one.
    await waitFor(async () => {
      const answers = await whoAnswers('client', 10);
      return answers.includes('web-1') && answers.includes('web-2');
    }, { timeoutMs: 60_000, what: 'both backends to answer on the ClusterIP' });
    const answers = await whoAnswers('client', 40);
    assert.deepEqual(answers.filter((a) => a !== 'web-1' && a !== 'web-2'), [], 'every request succeeds');
    assert.ok(answers.includes('web-1') && answers.includes('web-2'), `both backends answer: ${answers.join(',')}`);

    // The path is direct: the backend across the node boundary sees the client pod's own IP.
    const web2Log = await readFile(join(state, 'logs', 'pods', `${namespace}_web-2.log`), 'utf8');
    assert.match(web2Log, new RegExp(`^${podIPs.client!.replace(/\./g, '\\.')} - - .*"GET /whoami.txt HTTP/1.1" 200`, 'm'));
  });

  test('processes in a node namespace reach the ClusterIP, as on a real node', async () => {
    for (const node of ['node-1', 'node-2']) {
      const out = await bedOk(state, ['exec', '--node', node, '--', 'curl', '-sS', '-m', '5', `http://${clusterIP}/whoami.txt`]);
      assert.match(out.trim(), /^web-[12]$/);
    }
  });

  test('a Service without ready endpoints refuses connections at once instead of hanging', async () => {
    const service = {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'empty', namespace },
      spec: { selector: { app: 'nothing-matches' }, ports: [{ port: 80, targetPort, protocol: 'TCP' }] },
    };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(service));
    emptyClusterIP = (await kubectl(kubeconfig, ['get', 'service', 'empty', '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    // Before the rules exist the node has no route and answers "unreachable"; the rule answers
    // with a TCP reset, which the client sees as ECONNREFUSED.
    const connectErrno = `import socket, errno
try:
    socket.create_connection(("${emptyClusterIP}", 80), 5)
    print("CONNECTED")
except OSError as e:
    print(errno.errorcode.get(e.errno, e))`;
    await waitFor(async () => (await bedOk(state, ['exec', 'client', '-n', namespace, '--', 'python3', '-c', connectErrno])).trim() === 'ECONNREFUSED',
      { timeoutMs: 30_000, what: 'connections to a Service without endpoints to be refused' });
    for (const where of [['client', '-n', namespace], ['--node', 'node-2']]) {
      const started = Date.now();
      const result = await runBedCli(state, ['exec', ...where, '--', 'curl', '-sS', '-m', '20', `http://${emptyClusterIP}/`]);
      assert.equal(result.code, 7, `curl from ${where.join(' ')} fails to connect (exit 7), got ${result.code}: ${result.stderr}`);
      assert.ok(Date.now() - started < 10_000, 'refused at once, not after a timeout');
    }
    // A port the Service does not have is refused too (kube-proxy's cluster-ips-check).
    const wrongPort = await runBedCli(state, ['exec', 'client', '-n', namespace, '--', 'curl', '-sS', '-m', '20', `http://${clusterIP}:81/`]);
    assert.equal(wrongPort.code, 7);
  });

  test('UDP Service ports are proxied too, with replies un-DNATed to the ClusterIP', async () => {
    const udpPort = targetPort + 1000;
    const echoServer = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", ${udpPort}))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"echo:" + data, peer)`;
    await bedOk(state, ['run', 'udp-echo', '-n', namespace, '--node', 'node-2', '--labels', 'app=udp-echo', '--', 'python3', '-c', echoServer]);
    const service = {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'udp-echo', namespace },
      spec: { selector: { app: 'udp-echo' }, ports: [{ name: 'dns', port: 53, targetPort: udpPort, protocol: 'UDP' }] },
    };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(service));
    const udpClusterIP = (await kubectl(kubeconfig, ['get', 'service', 'udp-echo', '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    // recvfrom on a connected socket only accepts the reply if it comes from the ClusterIP itself.
    const client = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("${udpClusterIP}", 53))
s.send(b"ping")
print(s.recv(2048).decode())`;
    const reply = await waitFor(async () => (await bedOk(state, ['exec', 'client', '-n', namespace, '--', 'python3', '-c', client])).trim(),
      { timeoutMs: 30_000, what: 'a UDP reply through the ClusterIP' });
    assert.equal(reply, 'echo:ping');
  });

  test('headless Services get no rules', async () => {
    const service = {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'headless', namespace },
      spec: { clusterIP: 'None', selector: { app: 'web' }, ports: [{ port: 80, targetPort, protocol: 'TCP' }] },
    };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(service));
    // Wait for a later change to be rendered, which proves the headless one was seen before it.
    const marker = { ...service, metadata: { name: 'marker', namespace }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort, protocol: 'TCP' }] } };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(marker));
    const rules = await waitFor(async () => {
      const listing = await bedOk(state, ['exec', '--node', 'node-1', '--', 'nft', 'list', 'table', 'ip', KUBE_PROXY_TABLE]);
      return listing.includes(`svc-${namespace}/marker/`) ? listing : undefined;
    }, { timeoutMs: 30_000, what: 'the marker Service in the rules' });
    assert.doesNotMatch(rules, new RegExp(`${namespace}/headless/`));
  });

  test('deleting a backend pod removes it from the rules: every later request goes to the other', async () => {
    await bedOk(state, ['delete', 'web-2', '-n', namespace]);
    await waitFor(async () => (await whoAnswers('client', 10)).every((a) => a === 'web-1'), { timeoutMs: 30_000, what: 'only web-1 to answer' });
    const answers = await whoAnswers('client', 30);
    assert.deepEqual([...new Set(answers)], ['web-1']);
    const rules = await bedOk(state, ['exec', '--node', 'node-1', '--', 'nft', 'list', 'table', 'ip', KUBE_PROXY_TABLE]);
    assert.doesNotMatch(rules, new RegExp(`dnat to ${podIPs['web-2']!.replace(/\./g, '\\.')}:`));
  });

  test('a backend reaches its own Service when the rules pick itself (hairpin)', async () => {
    const answers = await whoAnswers('web-1', 5);
    assert.deepEqual([...new Set(answers)], ['web-1']);
  });

  test('down removes the node namespaces with their rules and leaves the root namespace as it was', async () => {
    await bedOk(state, ['down']);
    const prefix = bedPrefix(state);
    assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${prefix}-`)), []);
    assert.equal(await rootNftTables(), rootTablesBefore);
  });
});

// With a real control plane (`up --kubeconfig`), its controller manager writes the
// EndpointSlices, so `--no-controllers` drops the bed's controller; kube-proxy is a node
// component and keeps running: pods outside the mesh still reach ClusterIPs.
describe('bed kube-proxy with --no-controllers (slices written by someone else)', { timeout: 300_000 }, () => {
  let temp: TempDir;
  let state: string;
  const targetPort = 19000 + Math.floor(Math.random() * 1000);

  before(async () => {
    temp = await makeTempDir('kube-proxy-noctl');
    state = join(temp.path, 'state');
  });

  after(async () => {
    if (state) await runBedCli(state, ['down']);
    await temp?.remove();
  });

  test('a hand-written EndpointSlice is served on the ClusterIP; the bed wrote none itself', async () => {
    await bedOk(state, ['up', '--nodes', '1', '--no-agent', '--no-controllers']);
    const kubeconfig = join(state, 'kubeconfig');
    const namespace = uniqueName('noctl');
    await kubectl(kubeconfig, ['create', 'namespace', namespace]);
    const root = join(temp.path, 'web');
    await mkdir(root);
    await writeFile(join(root, 'whoami.txt'), 'web\n');
    const webIp = (await bedOk(state, ['run', 'web', '-n', namespace, '--node', 'node-1', '--labels', 'app=web', '--port', String(targetPort), '--',
      'python3', '-m', 'http.server', '--bind', '0.0.0.0', '--directory', root, String(targetPort)])).trim();
    await bedOk(state, ['run', 'client', '-n', namespace, '--node', 'node-1', '--', 'sleep', '3600']);
    // A selector Service the bed's controller would fill, and a selector-less one filled by hand.
    const objects = [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'selected', namespace }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'manual', namespace }, spec: { ports: [{ name: 'http', port: 80, targetPort }] } },
      {
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { name: 'manual-1', namespace, labels: { 'kubernetes.io/service-name': 'manual', 'endpointslice.kubernetes.io/managed-by': 'test.weft.io' } },
        addressType: 'IPv4', ports: [{ name: 'http', port: targetPort, protocol: 'TCP' }],
        endpoints: [{ addresses: [webIp], conditions: { ready: true } }],
      },
    ];
    await kubectl(kubeconfig, ['apply', '-f', '-'], objects.map((o) => stringifyYaml(o)).join('---\n'));
    const manualIp = (await kubectl(kubeconfig, ['get', 'service', 'manual', '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const answer = await waitFor(async () => {
      const out = await runBedCli(state, ['exec', 'client', '-n', namespace, '--', 'curl', '-sS', '-m', '5', `http://${manualIp}/whoami.txt`]);
      return out.code === 0 && out.stdout.trim();
    }, { timeoutMs: 60_000, what: 'the hand-filled Service to answer on its ClusterIP' });
    assert.equal(answer, 'web');
    const slices = JSON.parse(await kubectl(kubeconfig, ['get', 'endpointslices', '-n', namespace, '-o', 'json'])) as { items: { metadata: { name: string } }[] };
    assert.deepEqual(slices.items.map((s) => s.metadata.name), ['manual-1'], 'no controller wrote a slice for the selector Service');
  });
});
