// The workload controller against a real two-node bed (root): its kubelet runs the pods the
// controller creates. A DaemonSet gets one pod per node (name, owner, node, labels, status), a
// template change replaces every pod, and deleting it deletes its pods gracefully (SIGTERM); a
// Deployment gets its replicas spread over the nodes, and its status counts them Ready.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify as stringifyYaml } from 'yaml';
import type { V1Pod } from '@kubernetes/client-node';
import { bedOk } from '../bed-cli-runner.js';
import { loadKubeConfig } from '../kube-client.js';
import { makeTempDir, type TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { waitFor } from '../../support/wait-for.js';
import { DAEMONSET_HASH_LABEL, WorkloadController, isPodReady } from './workload-controller.js';

const execFileAsync = promisify(execFile);
const ns = uniqueName('workloads');
let dir: TempDir;
let controller: WorkloadController | undefined;

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = execFileAsync('kubectl', ['--kubeconfig', join(dir.path, 'kubeconfig'), '-n', ns, ...args], { timeout: 60_000 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

async function pods(selector: string): Promise<V1Pod[]> {
  return (JSON.parse(await kubectl(['get', 'pods', '-l', selector, '-o', 'json'])) as { items: V1Pod[] }).items;
}

// Says so in its log when SIGTERM arrives, then exits: deletion must be graceful.
const container = {
  name: 'main', image: 'weft-bed/host',
  command: ['sh', '-c', 'trap "echo got SIGTERM; exit 0" TERM; echo started; while true; do sleep 0.2; done'],
};

function daemonSet(marker: string): object {
  return {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: ns },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: {
        metadata: { labels: { app: 'agent' } },
        spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, terminationGracePeriodSeconds: 5, containers: [{ ...container, env: [{ name: 'MARKER', value: marker }] }] },
      },
    },
  };
}

before(async () => {
  dir = await makeTempDir('workload-controller');
  await bedOk(dir.path, ['up', '--nodes', '2', '--no-agent', '--no-ca'], { timeoutMs: 180_000 });
  await execFileAsync('kubectl', ['--kubeconfig', join(dir.path, 'kubeconfig'), 'create', 'namespace', ns]);
  controller = new WorkloadController(loadKubeConfig(join(dir.path, 'kubeconfig')), () => {});
  await controller.start();
});

after(async () => {
  try {
    await controller?.stop();
    if (dir) await bedOk(dir.path, ['down'], { timeoutMs: 120_000 });
  } finally {
    await dir?.remove();
  }
});

test('a DaemonSet runs one pod per node, replaces them on a template change and takes them along when deleted', async () => {
  await kubectl(['apply', '-f', '-'], stringifyYaml(daemonSet('one')));
  const uid = (await kubectl(['get', 'daemonset', 'agent', '-o', 'jsonpath={.metadata.uid}'])).trim();
  const first = await waitFor(async () => {
    const list = await pods('app=agent');
    return list.length === 2 && list.every(isPodReady) && list;
  }, { timeoutMs: 90_000, what: 'two Ready DaemonSet pods' });
  assert.deepEqual(first.map((p) => p.spec?.nodeName).sort(), ['node-1', 'node-2'], 'one per node');
  for (const pod of first) {
    assert.match(pod.metadata!.name!, /^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.deepEqual(pod.metadata?.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [['DaemonSet', 'agent', uid, true]]);
    assert.equal(pod.metadata?.labels?.app, 'agent');
  }
  await waitFor(async () => (await kubectl(['get', 'daemonset', 'agent', '-o', 'jsonpath={.status.desiredNumberScheduled}/{.status.numberReady}'])).trim() === '2/2',
    { timeoutMs: 30_000, what: 'DaemonSet status 2 desired, 2 ready' });

  await kubectl(['apply', '-f', '-'], stringifyYaml(daemonSet('two')));
  const firstNames = new Set(first.map((p) => p.metadata!.name));
  const second = await waitFor(async () => {
    const list = await pods('app=agent');
    return list.length === 2 && list.every((p) => isPodReady(p) && !firstNames.has(p.metadata!.name)) && list;
  }, { timeoutMs: 120_000, what: 'both pods replaced after the template change' });
  assert.deepEqual(second.map((p) => p.spec?.nodeName).sort(), ['node-1', 'node-2']);
  assert.notEqual(second[0]!.metadata?.labels?.[DAEMONSET_HASH_LABEL], first[0]!.metadata?.labels?.[DAEMONSET_HASH_LABEL]);
  assert.deepEqual(second.map((p) => p.spec?.containers[0]?.env?.[0]?.value), ['two', 'two']);

  await kubectl(['delete', 'daemonset', 'agent', '--wait=false']);
  await waitFor(async () => (await pods('app=agent')).length === 0, { timeoutMs: 60_000, what: 'the DaemonSet pods deleted with it' });
  for (const pod of [...first, ...second]) {
    const log = await readFile(join(dir.path, 'logs', 'pods', `${ns}_${pod.metadata!.name}.log`), 'utf8');
    assert.match(log, /got SIGTERM/, `${pod.metadata!.name} was stopped gracefully`);
  }
});

test('a Deployment runs its replicas spread over the nodes and reports them ready', async () => {
  const deployment = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 2, containers: [container] } } },
  };
  await kubectl(['apply', '-f', '-'], stringifyYaml(deployment));
  const list = await waitFor(async () => {
    const current = await pods('app=web');
    return current.length === 2 && current.every(isPodReady) && current;
  }, { timeoutMs: 90_000, what: 'two Ready Deployment pods' });
  assert.deepEqual(list.map((p) => p.spec?.nodeName).sort(), ['node-1', 'node-2'], 'round robin over the nodes');
  for (const pod of list) assert.match(pod.metadata!.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  await waitFor(async () => (await kubectl(['get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}'])).trim() === '2',
    { timeoutMs: 30_000, what: 'Deployment status readyReplicas 2' });
  await kubectl(['delete', 'deployment', 'web', '--wait=false']);
  await waitFor(async () => (await pods('app=web')).length === 0, { timeoutMs: 60_000, what: 'the Deployment pods deleted with it' });
});
