// Upgrade versus uninstall of the chart on a bed (`up --from-chart`): restarting the agents the
// way an upgrade does (`kubectl rollout restart`, a new pod template) keeps redirection in place
// and meshed traffic flowing; deleting the chart's objects the way `helm uninstall` does makes
// each agent remove its programs and pins before it exits, so the enrolled pods talk directly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { parseManifests } from '../kit/index.js';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';
import { repoRoot } from '../support/repo-root.js';
import { BedFixture, e2eBedMode } from './bed-fixture.js';
import { attachedWeftPrograms } from '../support/attached-programs.js';

const ns = uniqueName('lifecycle');
let bed: BedFixture;
let serviceIp: string;
let clientCgroup: string;
let pinDir: string;

interface EchoAnswer {
  peer: string;
  headers: Record<string, string>;
}

async function call(path: string): Promise<EchoAnswer> {
  const result = await bed.exec('client', ns, ['curl', '-sf', '-m', '10', `http://${serviceIp}${path}`]);
  assert.equal(result.code, 0, `curl ${path}: ${result.stderr}`);
  return JSON.parse(result.stdout) as EchoAnswer;
}

async function agentPid(): Promise<number | null> {
  return (await bed.status()).nodes.find((n) => n.name === 'node-1')!.agentPid;
}

before(async () => {
  // Always the chart: that is what this file is about.
  bed = await BedFixture.up('e2e-chart-lifecycle', 1, e2eBedMode() === 'chart' ? [] : ['--from-chart']);
  const prefix = (JSON.parse(readFileSync(join(bed.state, 'bed.json'), 'utf8')) as { prefix: string }).prefix;
  // The chart's WEFT_BPFFS_DIR (/sys/fs/bpf/weft) as the bed maps node-1's /sys/fs/bpf.
  pinDir = join('/sys/fs/bpf', prefix, 'node-1', 'weft');
  await bed.kubectl(['create', 'namespace', ns]);
  await bed.kubectl(['label', 'namespace', ns, 'weft.io/mesh=enabled']);
  await bed.runEcho('server', ns, 'node-1', 'http', 8080, 'app=server');
  await bed.kubectl(['-n', ns, 'expose', 'pod', 'server', '--port', '80', '--target-port', '8080']);
  await bed.bedOk(['run', 'client', '-n', ns, '--node', 'node-1', '--', 'sleep', 'infinity']);
  serviceIp = (await bed.kubectl(['-n', ns, 'get', 'service', 'server', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  clientCgroup = (await bed.status()).pods.find((p) => p.namespace === ns && p.name === 'client')!.cgroup;
  await waitFor(async () => {
    const r = await bed.exec('client', ns, ['curl', '-sf', '-m', '10', `http://${serviceIp}/ready`]);
    return r.code === 0 && (JSON.parse(r.stdout) as EchoAnswer).headers['x-weft-peer-identity'] !== undefined;
  }, { timeoutMs: 120_000, what: 'the client meshed through the chart\'s agent' });
});

after(async () => {
  await bed?.down();
});

test('an upgrade (rollout restart of the DaemonSet) keeps redirection: same programs, traffic meshed after', async () => {
  const attached = attachedWeftPrograms(clientCgroup);
  assert.equal(attached.length, 4, `connect4, sockops, getpeername4 and the egress hold on the client: ${attached.join(', ')}`);
  const oldPid = await agentPid();
  assert.ok(oldPid);
  await bed.kubectl(['-n', 'weft-system', 'rollout', 'restart', 'daemonset/weft-agent']);
  await waitFor(async () => {
    const pid = await agentPid();
    if (pid === null || pid === oldPid) return false;
    const ready = await bed.bed(['exec', '--node', 'node-1', '--', 'curl', '-sf', 'http://127.0.0.1:15020/readyz']);
    return ready.code === 0;
  }, { timeoutMs: 120_000, what: 'the new agent pod ready' });
  assert.deepEqual(attachedWeftPrograms(clientCgroup), attached, 'redirection stayed in place across the upgrade');
  assert.ok(existsSync(pinDir) && readdirSync(pinDir).length > 0, `pins stay in ${pinDir}`);
  const answer = await call('/after-upgrade');
  assert.equal(answer.headers['x-weft-peer-identity'], `spiffe://cluster.local/ns/${ns}/sa/default`, 'still meshed');
});

test('an uninstall (the chart\'s objects deleted) removes redirection: the client talks directly again', async () => {
  const rendered = execFileSync(join(repoRoot, 'scripts', 'helm.sh'), ['template', 'weft', join(repoRoot, 'charts', 'weft'), '-n', 'weft-system'], { encoding: 'utf8' });
  // helm uninstall deletes in the reverse of its install order (the order `helm template`
  // prints): the DaemonSet before the RBAC objects and the service accounts.
  const reversed = parseManifests(rendered).reverse().map((object) => stringifyYaml(object)).join('---\n');
  await bed.kubectl(['delete', '-f', '-', '--wait=false'], reversed);
  await waitFor(() => attachedWeftPrograms(clientCgroup).length === 0, { timeoutMs: 120_000, what: 'the agent detached its programs on the way out' });
  await waitFor(() => !existsSync(pinDir) || readdirSync(pinDir).length === 0, { timeoutMs: 30_000, what: `the pins in ${pinDir} removed` });
  const clientIp = (await bed.status()).pods.find((p) => p.namespace === ns && p.name === 'client')!.ip;
  const direct = await call('/after-uninstall');
  assert.equal(direct.peer.split(':')[0], clientIp, 'the server sees the client itself: no proxy in between');
  assert.equal(direct.headers['x-weft-peer-identity'], undefined);
});
