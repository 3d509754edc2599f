// `bed up --from-chart --values FILE` (root, about a minute): the Weft chart rendered by helm and
// applied to the bed's API server runs through the workload controller and the kubelet - an agent
// pod Ready on every node (hostNetwork, node IP), the CA pod Ready in its own namespace - with
// the values file honoured; `status` reports the agent and CA container pids; and a meshed
// request across nodes arrives with the caller's verified identity (RBAC, tokens, flags and the
// CA Service address all as the chart renders them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import type { V1Pod } from '@kubernetes/client-node';
import { bedOk, runBedCli } from './bed-cli-runner.js';
import type { BedStatus } from './commands/status.js';
import { makeTempDir, type TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { waitFor } from '../../support/wait-for.js';
import { repoRoot } from '../../support/repo-root.js';
import { kubectl as runKubectl } from '../kubectl.js';

const echoServer = join(repoRoot, 'dist', 'test', 'e2e', 'fixtures', 'echo-server.js');
const ns = uniqueName('chart');
const clientSa = 'caller';
let dir: TempDir;
let status: BedStatus;

function kubectl(args: string[], input?: string): Promise<string> {
  return runKubectl(join(dir.path, 'kubeconfig'), [...args], input);
}

/** The effective capabilities of a process, as the hex mask /proc shows. */
function effectiveCapabilities(pid: number): bigint {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('CapEff:'))!;
  return BigInt(`0x${line.split(/\s+/)[1]}`);
}

const CAP_NET_ADMIN = 12n;
const CAP_BPF = 39n;

function commandLine(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
}

before(async () => {
  dir = await makeTempDir('bed-chart');
  const values = join(dir.path, 'values.yaml');
  await writeFile(values, 'certTtl: "2h"\n');
  await bedOk(dir.path, ['up', '--nodes', '2', '--from-chart', '--values', values], { timeoutMs: 300_000 });
  status = JSON.parse(await bedOk(dir.path, ['status'])) as BedStatus;
});

after(async () => {
  try {
    if (dir) await bedOk(dir.path, ['down'], { timeoutMs: 120_000 });
  } finally {
    await dir?.remove();
  }
});

test('--from-chart refuses the supervised flags and --values needs it', async () => {
  const state = join(dir.path, 'never-started');
  for (const args of [['up', '--from-chart', '--no-ca'], ['up', '--from-chart', '--cert-ttl', '1h'], ['up', '--values', '/dev/null']]) {
    const result = await runBedCli(state, args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
  }
});

test('every agent pod and the CA pod are Ready, and status reports their container processes', async () => {
  const pods = (JSON.parse(await kubectl(['-n', 'weft-system', 'get', 'pods', '-o', 'json'])) as { items: V1Pod[] }).items;
  const ready = (pod: V1Pod) => (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  const agents = pods.filter((p) => p.metadata?.ownerReferences?.[0]?.name === 'weft-agent');
  const cas = pods.filter((p) => p.metadata?.ownerReferences?.[0]?.name === 'weft-ca');
  assert.deepEqual(agents.map((p) => p.spec?.nodeName).sort(), ['node-1', 'node-2']);
  assert.equal(cas.length, 1);
  for (const pod of [...agents, ...cas]) assert.ok(ready(pod), `${pod.metadata?.name} is Ready`);
  for (const pod of agents) {
    const node = status.nodes.find((n) => n.name === pod.spec?.nodeName)!;
    assert.equal(pod.status?.podIP, node.ip, 'hostNetwork: the node IP');
    assert.ok(node.agentPid, `agent pid of ${node.name}`);
    assert.match(commandLine(node.agentPid), /dist\/agent\/src\/cli\/main\.js agent$/, 'the chart\'s `weft agent`, through bin/weft');
    const record = status.pods.find((p) => p.name === pod.metadata?.name)!;
    assert.ok(record.pids.includes(node.agentPid), 'the agent runs in its pod\'s cgroup');
    // The chart's securityContext (drop ALL, add BPF and NET_ADMIN) is all the agent has, and it
    // is enough: it became Ready and serves the mesh (next test).
    assert.equal(effectiveCapabilities(node.agentPid), (1n << CAP_NET_ADMIN) | (1n << CAP_BPF), 'the agent runs with BPF and NET_ADMIN only');
  }
  assert.match(cas[0]!.status!.podIP!, /^10\.244\.\d+\.\d+$/, 'the CA is not on the host network');
  assert.ok(status.ca?.pid, 'ca.pid');
  assert.match(commandLine(status.ca.pid), /main\.js ca --service-name weft-ca /);
  assert.equal(effectiveCapabilities(status.ca.pid), 0n, 'the CA runs without any capability');
  assert.equal(status.ca.node, cas[0]!.spec?.nodeName);
  for (const name of ['agent-node-1.log', 'agent-node-2.log', 'ca.log']) {
    assert.match(readFileSync(join(dir.path, 'logs', name), 'utf8'), /"msg"/, `logs/${name} shows the pod's log`);
  }
  const env = await kubectl(['-n', 'weft-system', 'get', 'daemonset', 'weft-agent', '-o', 'jsonpath={.spec.template.spec.containers[0].env[?(@.name=="WEFT_CERT_TTL")].value}']);
  assert.equal(env.trim(), '2h', 'the values file was used');
});

test('a meshed request across nodes carries the caller\'s identity, with a certificate of the values\' lifetime', async () => {
  await kubectl(['create', 'namespace', ns]);
  await kubectl(['label', 'namespace', ns, 'weft.io/mesh=enabled']);
  await kubectl(['-n', ns, 'create', 'serviceaccount', clientSa]);
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: ns },
    spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } };
  await kubectl(['apply', '-f', '-'], stringifyYaml(service));
  await bedOk(dir.path, ['run', 'echo', '-n', ns, '--node', 'node-2', '--labels', 'app=echo', '--port', '8080', '--', process.execPath, echoServer, 'http', '8080', 'echo']);
  await bedOk(dir.path, ['run', 'client', '-n', ns, '--node', 'node-1', '--service-account', clientSa, '--', 'sleep', 'infinity']);
  const serviceIp = (await kubectl(['-n', ns, 'get', 'service', 'echo', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  const answer = await waitFor(async () => {
    const result = await runBedCli(dir.path, ['exec', 'client', '-n', ns, '--', 'curl', '-s', '-f', '-m', '10', `http://${serviceIp}/through-the-chart`], { timeoutMs: 60_000 });
    return result.code === 0 && (JSON.parse(result.stdout) as { pod: string; headers: Record<string, string> });
  }, { timeoutMs: 120_000, what: 'the client served through the mesh' });
  assert.equal(answer.pod, 'echo');
  assert.equal(answer.headers['x-weft-peer-identity'], `spiffe://cluster.local/ns/${ns}/sa/${clientSa}`, 'verified by the destination agent');

  const node1Ip = status.nodes.find((n) => n.name === 'node-1')!.ip;
  const metrics = await bedOk(dir.path, ['exec', '--node', 'node-1', '--', 'curl', '-sf', `http://${node1Ip}:15020/metrics`]);
  const expiry = new RegExp(`weft_identity_cert_expiry_timestamp_seconds\\{[^}]*identity="spiffe://cluster.local/ns/${ns}/sa/${clientSa}"[^}]*\\} (\\d+)`).exec(metrics);
  assert.ok(expiry, 'node-1 holds a certificate for the caller');
  const hoursLeft = (Number(expiry[1]) - Date.now() / 1000) / 3600;
  assert.ok(hoursLeft > 1.9 && hoursLeft <= 2.01, `certTtl 2h from the values file (${hoursLeft.toFixed(2)} h left)`);
});
