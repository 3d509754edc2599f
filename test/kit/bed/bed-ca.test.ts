// The bed's Weft CA and the weft-system objects, as root: `up --cert-ttl 60s` runs `weft ca` on
// node-1 (reachable with TLS from node-2, trust bundle published), creates the weft-system pods
// the kubelet leaves alone, writes each agent a pod-bound CA token and hands the agents the CA
// settings; `--no-ca` runs none of it; `down` stops the agents before the CA and leaves nothing.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, type TempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';
import { bedOk, runBedCli } from './bed-cli-runner.js';
import { bedCgroupRoot, bedPrefix, CGROUP_V2_ROOT, nodeCgroupRoot } from './bed-naming.js';
import { listNetns, netnsInode } from './netns-ops.js';
import { isAlive } from './bed-processes.js';
import type { BedStatus } from './commands/status.js';
import { kubectl } from '../kubectl.js';

const NODE_IPS: Record<string, string> = { 'node-1': '10.240.0.11', 'node-2': '10.240.0.12' };
const CA_ADDRESS = '10.240.0.11:15012';

async function status(state: string): Promise<BedStatus> {
  return JSON.parse(await bedOk(state, ['status'])) as BedStatus;
}

async function environOf(pid: number): Promise<Map<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8');
  return new Map(raw.split('\0').filter(Boolean).map((entry) => {
    const at = entry.indexOf('=');
    return [entry.slice(0, at), entry.slice(at + 1)] as [string, string];
  }));
}

async function cgroupOfPid(pid: number): Promise<string> {
  const line = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').find((l) => l.startsWith('0::'));
  assert.ok(line, `pid ${pid} has a cgroup v2 entry`);
  return join(CGROUP_V2_ROOT, line.slice(3));
}

async function netnsInodeOfPid(pid: number): Promise<number> {
  return Number(/net:\[(\d+)\]/.exec(await readlink(`/proc/${pid}/ns/net`))?.[1]);
}

/** The `time` of the first log line with this msg, in a pino JSON log. */
async function logTimeOf(file: string, msg: string): Promise<number> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { time: number; msg: string });
  const line = lines.find((l) => l.msg === msg);
  assert.ok(line, `${file} has a "${msg}" line`);
  return line.time;
}

describe('test bed with the Weft CA', { timeout: 600_000 }, () => {
  let temp: TempDir;
  let state: string;
  let noCaState: string;
  let kubeconfig: string;
  let prefix: string;
  let caPidAtStart = 0;

  before(async () => {
    temp = await makeTempDir('bed-ca');
    state = join(temp.path, 'state');
    noCaState = join(temp.path, 'state-no-ca');
    kubeconfig = join(state, 'kubeconfig');
    prefix = bedPrefix(state);
  });

  after(async () => {
    for (const dir of [state, noCaState]) if (dir) await runBedCli(dir, ['down']);
    await temp?.remove();
  });

  test('a bad --cert-ttl stops up with exit 2 before anything starts', async () => {
    for (const [value, message] of [['5x', /--cert-ttl must be a duration like 24h, 90m or 60s, got "5x"/], ['30s', /--cert-ttl must be at least 60s, got "30s"/]] as const) {
      const result = await runBedCli(state, ['up', '--cert-ttl', value]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
    }
    const both = await runBedCli(state, ['up', '--no-ca', '--cert-ttl', '1h']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--cert-ttl has no effect with --no-ca/);
    assert.equal(existsSync(join(state, 'bed.json')), false);
  });

  test('up --cert-ttl 60s runs the CA on node-1, in its own cgroup, and status shows its pid', async () => {
    const out = await bedOk(state, ['up', '--nodes', '2', '--no-controllers', '--cert-ttl', '60s']);
    assert.match(out, /ca: 10\.240\.0\.11:15012 \(pid \d+\), certificate lifetime 60s/);
    const { ca } = await status(state);
    assert.ok(ca && ca.pid, 'status has a CA pid');
    assert.equal(ca.address, CA_ADDRESS);
    assert.equal(ca.node, 'node-1');
    caPidAtStart = ca.pid;
    assert.ok(isAlive(ca.pid));
    const commandLine = (await readFile(`/proc/${ca.pid}/cmdline`, 'utf8')).split('\0').join(' ');
    assert.match(commandLine, /cli\/main\.js ca .*--listen-host 10\.240\.0\.11 --port 15012 --ip-san 10\.240\.0\.11 --trust-domain cluster\.local --default-ttl 60s --max-ttl 60s/);
    assert.equal(await cgroupOfPid(ca.pid), join(nodeCgroupRoot(prefix, 'node-1'), 'weft-ca'));
    assert.equal(await netnsInodeOfPid(ca.pid), await netnsInode(`${prefix}-node-1`));
    assert.match(await readFile(join(state, 'logs', 'ca.log'), 'utf8'), /"msg":"ca ready"/);
  });

  test('the CA answers TLS on node-1-ip:15012 from inside node-2, with a certificate of the published trust bundle', async () => {
    const bundle = JSON.parse(await kubectl(kubeconfig, ['get', 'configmap', 'weft-trust-bundle', '-n', 'weft-system', '-o', 'json'])) as { data: Record<string, string> };
    assert.match(bundle.data['ca.crt'] ?? '', /-----BEGIN CERTIFICATE-----/);
    const bundleFile = join(temp.path, 'trust-bundle.pem');
    await writeFile(bundleFile, bundle.data['ca.crt']!);
    const out = await bedOk(state, ['exec', '--node', 'node-2', '--', 'openssl', 's_client', '-connect', CA_ADDRESS, '-CAfile', bundleFile,
      '-verify_ip', '10.240.0.11', '-verify_return_error', '-alpn', 'h2']);
    assert.match(out, /Verify return code: 0 \(ok\)/);
    assert.match(out, /ALPN protocol: h2/);
  });

  test('weft-system has the service accounts and one Running hostNetwork pod per agent plus the CA pod', async () => {
    const accounts = JSON.parse(await kubectl(kubeconfig, ['get', 'serviceaccounts', '-n', 'weft-system', '-o', 'json'])) as { items: any[] };
    const accountNames = accounts.items.map((a) => a.metadata.name);
    assert.ok(accountNames.includes('weft-agent') && accountNames.includes('weft-ca'), `accounts: ${accountNames.join(', ')}`);
    const pods = JSON.parse(await kubectl(kubeconfig, ['get', 'pods', '-n', 'weft-system', '-o', 'json'])) as { items: any[] };
    const byName = new Map(pods.items.map((p) => [p.metadata.name as string, p]));
    assert.deepEqual([...byName.keys()].sort(), ['weft-agent-node-1', 'weft-agent-node-2', 'weft-ca-0']);
    for (const [name, node, account] of [['weft-agent-node-1', 'node-1', 'weft-agent'], ['weft-agent-node-2', 'node-2', 'weft-agent'], ['weft-ca-0', 'node-1', 'weft-ca']] as const) {
      const pod = byName.get(name);
      assert.equal(pod.spec.nodeName, node);
      assert.equal(pod.spec.hostNetwork, true);
      assert.equal(pod.spec.serviceAccountName, account);
      assert.ok(pod.metadata.annotations['bed.weft.io/run-by'], `${name} is marked as run by a bed supervisor`);
      assert.equal(pod.status.phase, 'Running', name);
      assert.equal(pod.status.podIP, NODE_IPS[node]);
      assert.equal(pod.status.hostIP, NODE_IPS[node]);
      assert.equal(pod.status.conditions.find((c: any) => c.type === 'Ready').status, 'True');
    }
  });

  test('the kubelet did not run the weft-system pods', async () => {
    const { pods } = await status(state);
    assert.deepEqual(pods.filter((p) => p.namespace === 'weft-system'), []);
    const podLogs = existsSync(join(state, 'logs', 'pods')) ? await readdir(join(state, 'logs', 'pods')) : [];
    assert.deepEqual(podLogs.filter((f) => f.startsWith('weft-system_')), []);
    // No pod sandbox (namespace) exists at all: the only pods on this bed are the weft-system ones.
    assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${prefix}-pod-`)), []);
  });

  test('each node has a 0600 CA token bound to its agent pod, and its agent gets the CA settings', async () => {
    const { nodes } = await status(state);
    for (const node of nodes) {
      const tokenFile = join(state, 'run', `agent-${node.name}`, 'ca-token');
      assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
      const review = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: await readFile(tokenFile, 'utf8'), audiences: ['weft-ca'] } });
      const answer = JSON.parse(await kubectl(kubeconfig, ['create', '--validate=false', '-f', '-', '-o', 'json'], review)) as { status: any };
      const pod = JSON.parse(await kubectl(kubeconfig, ['get', 'pod', `weft-agent-${node.name}`, '-n', 'weft-system', '-o', 'json']));
      assert.equal(answer.status.authenticated, true);
      assert.deepEqual(answer.status.audiences, ['weft-ca']);
      assert.equal(answer.status.user.username, 'system:serviceaccount:weft-system:weft-agent');
      assert.deepEqual(answer.status.user.extra['authentication.kubernetes.io/pod-name'], [`weft-agent-${node.name}`]);
      assert.deepEqual(answer.status.user.extra['authentication.kubernetes.io/pod-uid'], [pod.metadata.uid]);

      assert.ok(node.agentPid, `${node.name} runs an agent`);
      const env = await environOf(node.agentPid);
      assert.equal(env.get('WEFT_CA_ADDRESS'), CA_ADDRESS);
      assert.equal(env.get('WEFT_CA_TOKEN_FILE'), tokenFile);
      assert.equal(env.get('WEFT_TRUST_DOMAIN'), 'cluster.local');
      assert.equal(env.get('WEFT_CA_NAMESPACE'), 'weft-system');
      assert.equal(env.get('WEFT_CERT_TTL'), '60s');
      assert.equal(env.get('WEFT_NODE_NAME'), node.name);
    }
  });

  test('a CA that exits is restarted and bed.json follows its new pid', async () => {
    process.kill(caPidAtStart, 'SIGKILL');
    const restarted = await waitFor(async () => {
      const { ca } = await status(state);
      return ca?.pid && ca.pid !== caPidAtStart && isAlive(ca.pid) ? ca.pid : undefined;
    }, { timeoutMs: 30_000, what: 'the CA to be restarted with a new pid' });
    await waitFor(async () => {
      const result = await runBedCli(state, ['exec', '--node', 'node-2', '--', 'openssl', 's_client', '-connect', CA_ADDRESS, '-alpn', 'h2']);
      return result.stdout.includes('ALPN protocol: h2') || undefined;
    }, { timeoutMs: 30_000, what: `the restarted CA (pid ${restarted}) to answer TLS` });
  });

  test('--no-ca starts no CA and gives the agents no CA settings', async () => {
    await bedOk(noCaState, ['up', '--nodes', '1', '--no-controllers', '--no-ca']);
    const noCa = await status(noCaState);
    assert.equal(noCa.ca, null);
    const noCaPrefix = bedPrefix(noCaState);
    assert.equal(existsSync(join(nodeCgroupRoot(noCaPrefix, 'node-1'), 'weft-ca')), false);
    const pods = JSON.parse(await kubectl(join(noCaState, 'kubeconfig'), ['get', 'pods', '-n', 'weft-system', '-o', 'json'])) as { items: any[] };
    assert.deepEqual(pods.items.map((p) => p.metadata.name), ['weft-agent-node-1']);
    const env = await environOf(noCa.nodes[0]!.agentPid!);
    assert.equal(env.get('WEFT_NODE_NAME'), 'node-1');
    assert.deepEqual([...env.keys()].filter((k) => k.startsWith('WEFT_CA_') || k === 'WEFT_CERT_TTL'), []);
    await bedOk(noCaState, ['down']);
  });

  test('down stops the agents before the CA and leaves nothing behind', async () => {
    const { ca, nodes } = await status(state);
    await bedOk(state, ['down']);
    assert.equal(isAlive(ca!.pid!), false);
    const caStopping = await logTimeOf(join(state, 'logs', 'ca.log'), 'stopping');
    for (const node of nodes) {
      assert.ok(await logTimeOf(join(state, 'logs', `agent-${node.name}.log`), 'stopping') <= caStopping, `${node.name}'s agent stopped before the CA`);
    }
    assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${prefix}-`)), []);
    assert.equal(existsSync(bedCgroupRoot(prefix)), false);
    assert.equal(existsSync(join(state, 'run')), false);
  });
});
