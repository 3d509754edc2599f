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
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { bedOk } from '../bed-cli-runner.js';
import { loadKubeConfig } from '../kube-client.js';
import { makeTempDir, type TempDir } from '../../../support/temp-dir.js';
import { uniqueName } from '../../../support/unique-name.js';
import { waitFor } from '../../../support/wait-for.js';
import { DAEMONSET_HASH_LABEL, WorkloadController, isPodReady } from './workload-controller.js';
import { RestartingInformer } from '../../../../agent/src/k8s/restarting-informer.js';
import { kubectl as runKubectl } from '../../kubectl.js';

const execFileAsync = promisify(execFile);
const ns = uniqueName('workloads');
let dir: TempDir;
let controller: WorkloadController | undefined;
/** What the controller logged, for the decisions it only logs. */
const controllerLog: { msg: string; fields?: object }[] = [];

function kubectl(args: string[], input?: string): Promise<string> {
  return runKubectl(join(dir.path, 'kubeconfig'), ['-n', ns, ...args], input);
}

async function pods(selector: string): Promise<V1Pod[]> {
  return (JSON.parse(await kubectl(['get', 'pods', '-l', selector, '-o', 'json'])) as { items: V1Pod[] }).items;
}

// Says so in its log when SIGTERM arrives, then exits: deletion must be graceful.
const container = {
  name: 'main', image: 'weft-bed/host',
  command: ['sh', '-c', 'trap "echo got SIGTERM; exit 0" TERM; echo started; while true; do sleep 0.2; done'],
};

function daemonSet(marker: string, name = 'agent', extra: { updateStrategy?: object; hostNetwork?: boolean; ports?: object[]; command?: string[] } = {}): object {
  return {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name, namespace: ns },
    spec: {
      selector: { matchLabels: { app: name } },
      ...(extra.updateStrategy ? { updateStrategy: extra.updateStrategy } : {}),
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { 'kubernetes.io/os': 'linux' }, terminationGracePeriodSeconds: 5, hostNetwork: extra.hostNetwork ?? false,
          containers: [{ ...container, env: [{ name: 'MARKER', value: marker }], ...(extra.ports ? { ports: extra.ports } : {}), ...(extra.command ? { command: extra.command } : {}) }],
        },
      },
    },
  };
}

before(async () => {
  dir = await makeTempDir('workload-controller');
  await bedOk(dir.path, ['up', '--nodes', '2', '--no-agent', '--no-ca'], { timeoutMs: 180_000 });
  await execFileAsync('kubectl', ['--kubeconfig', join(dir.path, 'kubeconfig'), 'create', 'namespace', ns]);
  controller = new WorkloadController(loadKubeConfig(join(dir.path, 'kubeconfig')), (msg, fields) => controllerLog.push({ msg, fields }));
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

test('maxSurge: each node gets its new pod beside the old one, which goes only once the new one is Ready; host ports block the surge', async () => {
  const surge = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
  // Every pod event in order: at no point may a node be without a Ready pod that is not being deleted.
  const informer = new RestartingInformer<V1Pod>({
    kubeConfig: loadKubeConfig(join(dir.path, 'kubeconfig')),
    name: 'surge-pods',
    path: `/api/v1/namespaces/${ns}/pods`,
    labelSelector: 'app=surge',
    list: () => loadKubeConfig(join(dir.path, 'kubeconfig')).makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: 'app=surge' }),
    log: () => {},
  });
  const gaps: string[] = [];
  const checkNodes = (): void => {
    const list = informer.list();
    for (const node of ['node-1', 'node-2']) {
      const serving = list.some((p) => p.spec?.nodeName === node && isPodReady(p) && !p.metadata?.deletionTimestamp);
      if (!serving && list.some((p) => p.spec?.nodeName === node)) gaps.push(`${node}: ${list.map((p) => `${p.metadata?.name}@${p.spec?.nodeName} ready=${isPodReady(p)} deleting=${Boolean(p.metadata?.deletionTimestamp)}`).join(', ')}`);
    }
  };
  try {
    await kubectl(['apply', '-f', '-'], stringifyYaml(daemonSet('one', 'surge', { updateStrategy: surge })));
    const first = await waitFor(async () => {
      const list = await pods('app=surge');
      return list.length === 2 && list.every(isPodReady) && list;
    }, { timeoutMs: 90_000, what: 'two Ready surge pods' });
    await informer.start();
    for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, checkNodes);

    await kubectl(['apply', '-f', '-'], stringifyYaml(daemonSet('two', 'surge', { updateStrategy: surge })));
    const firstNames = new Set(first.map((p) => p.metadata!.name));
    await waitFor(async () => {
      const list = await pods('app=surge');
      return list.length === 2 && list.every((p) => isPodReady(p) && !firstNames.has(p.metadata!.name)) && list;
    }, { timeoutMs: 120_000, what: 'both pods replaced by surging' });
    assert.deepEqual(gaps, [], 'no node was ever without a Ready pod');

    // With host ports (a hostNetwork pod's container ports), the new pod cannot start beside
    // the old one: the scheduler would keep it Pending, and so does the bed.
    // (Ready once the declared port answers, as the bed's kubelet probes declared ports.)
    const blocked = { hostNetwork: true, ports: [{ containerPort: 17001, name: 'admin' }], command: ['python3', '-m', 'http.server', '17001'] };
    await kubectl(['apply', '-f', '-'], stringifyYaml(daemonSet('three', 'surge', { updateStrategy: surge, ...blocked })));
    const third = await waitFor(async () => {
      const list = await pods('app=surge');
      return list.length === 2 && list.every((p) => isPodReady(p) && p.spec?.containers[0]?.env?.[0]?.value === 'three') && list;
    }, { timeoutMs: 120_000, what: 'pods with host ports (replaced: the old ones had none)' }).catch(async (err: Error) => {
      const state = (await pods('app=surge')).map((p) => `${p.metadata?.name}@${p.spec?.nodeName} ${p.spec?.containers[0]?.env?.[0]?.value} ready=${isPodReady(p)} phase=${p.status?.phase}`);
      throw new Error(`${err.message}; pods: ${state.join(', ')}; controller: ${JSON.stringify(controllerLog.slice(-5))}`);
    });
    const thirdNames = new Set(third.map((p) => p.metadata!.name));
    await kubectl(['apply', '-f', '-'], stringifyYaml(daemonSet('four', 'surge', { updateStrategy: surge, ...blocked })));
    await waitFor(() => controllerLog.some((line) => line.msg.startsWith('DaemonSet surge pod not placed')), { what: 'the controller refusing the surge pod' });
    const stuck = await pods('app=surge');
    assert.deepEqual(stuck.map((p) => p.metadata!.name).sort(), [...thirdNames].sort(), 'no surge pod beside a pod holding the same host ports');
  } finally {
    await informer.stop();
    await kubectl(['delete', 'daemonset', 'surge', '--wait=false']);
    await waitFor(async () => (await pods('app=surge')).length === 0, { timeoutMs: 60_000, what: 'the surge DaemonSet pods deleted' });
  }
});
