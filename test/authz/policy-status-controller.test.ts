// `weft controller`'s status writer and its leader election, against the in-repo API server with
// the chart's CRDs installed (real HTTP, real watches, the status subresource): every policy gets
// Accepted and ResolvedRefs conditions naming what is wrong; of two replicas only the leader
// writes; when the leader stops, the other takes over.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { LeaderElector } from '../../agent/src/controller/leader-election.js';
import { PolicyStatusController } from '../../agent/src/controller/policy-status-controller.js';
import { kubectl, startApiServer, type ApiServerHandle } from '../kit/index.js';
import { repoRoot } from '../support/repo-root.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';

const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });
const crds = join(repoRoot, 'charts', 'weft', 'crds');
let stateDir: TempDir;
let server: ApiServerHandle;
let kubeConfig: KubeConfig;
const replicas: { controller: PolicyStatusController; elector: LeaderElector }[] = [];
const ns = uniqueName('policies');

type Conditions = { type: string; status: string; reason: string; message: string; observedGeneration: number }[];

before(async () => {
  stateDir = await makeTempDir('policy-status');
  server = await startApiServer({ stateDir: stateDir.path });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(server.kubeconfigPath);
  await kubectl(server.kubeconfigPath, ['apply', '-f', crds]);
  await kubectl(server.kubeconfigPath, ['wait', '--for', 'condition=Established', '-f', crds]);
  await kubectl(server.kubeconfigPath, ['create', 'namespace', ns]);
  for (const identity of ['replica-a', 'replica-b']) {
    const controller = new PolicyStatusController(kubeConfig, log.child({ identity }));
    const elector = new LeaderElector({
      kubeConfig, namespace: ns, name: 'weft-controller', identity, leaseDurationSeconds: 3, retryPeriodMs: 200, log,
      onStartedLeading: () => controller.setLeading(true),
      onStoppedLeading: () => controller.setLeading(false),
    });
    await controller.start();
    elector.start();
    replicas.push({ controller, elector });
  }
});

after(async () => {
  for (const { controller, elector } of replicas) {
    await elector.stop();
    await controller.stop();
  }
  await server?.close();
  await stateDir?.remove();
});

async function conditionsOf(name: string): Promise<Conditions> {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const object = (await custom.getNamespacedCustomObject({ group: 'weft.io', version: 'v1alpha1', namespace: ns, plural: 'authorizationpolicies', name })) as { status?: { conditions?: Conditions } };
  return object.status?.conditions ?? [];
}

function condition(conditions: Conditions, type: string) {
  return conditions.find((c) => c.type === type);
}

async function applyPolicy(name: string, spec: object, annotations: Record<string, string> = {}): Promise<void> {
  await kubectl(server.kubeconfigPath, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'weft.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name, namespace: ns, annotations }, spec }));
}

test('a valid policy is Accepted; a missing target Service is TargetNotFound until it exists', async () => {
  await applyPolicy('readers', { action: 'ALLOW', targetRefs: [{ group: '', kind: 'Service', name: 'orders' }], rules: [{ sources: [{ serviceAccount: { namespace: ns, name: 'frontend' } }] }] });
  const conditions = await waitFor(async () => {
    const c = await conditionsOf('readers');
    return c.length === 2 && c;
  }, { timeoutMs: 10_000, what: 'status conditions written' });
  assert.deepEqual(condition(conditions, 'Accepted')?.status, 'True');
  assert.equal(condition(conditions, 'Accepted')?.observedGeneration, 1);
  assert.equal(condition(conditions, 'ResolvedRefs')?.reason, 'TargetNotFound');
  assert.match(condition(conditions, 'ResolvedRefs')!.message, new RegExp(`Service ${ns}/orders not found`));
  await kubeConfig.makeApiClient(CoreV1Api).createNamespacedService({ namespace: ns, body: { metadata: { name: 'orders' }, spec: { selector: { app: 'orders' }, ports: [{ port: 80 }] } } });
  await waitFor(async () => condition(await conditionsOf('readers'), 'ResolvedRefs')?.status === 'True', { timeoutMs: 10_000, what: 'ResolvedRefs True once the Service exists' });
});

test('a rule the agent cannot apply: Accepted False naming the field and saying how it is enforced instead', async () => {
  await applyPolicy('bad-regex', { action: 'ALLOW', rules: [{ http: { paths: [{ type: 'RegularExpression', value: '/api/(unclosed' }] } }] });
  const accepted = await waitFor(async () => condition(await conditionsOf('bad-regex'), 'Accepted'), { timeoutMs: 10_000, what: 'Accepted written' });
  assert.equal(accepted.status, 'False');
  assert.equal(accepted.reason, 'Invalid');
  assert.match(accepted.message, /spec\.rules\[0\]\.http\.paths\[0\]\.value: invalid regular expression/);
  assert.match(accepted.message, /fail-closed: the rules named here allow nothing/);
  await applyPolicy('http-deny', { action: 'DENY', rules: [{ ports: [8080], http: { methods: ['DELETE'] } }] });
  const note = await waitFor(async () => condition(await conditionsOf('http-deny'), 'Accepted'), { timeoutMs: 10_000, what: 'Accepted written' });
  assert.equal(note.status, 'True');
  assert.match(note.message, /connections that are not HTTP on ports 8080 are denied by it/, 'never silently');
});

test('one writer: only the leader writes; when it stops, the other replica takes over', async () => {
  await waitFor(() => replicas.filter((r) => r.elector.isLeader).length === 1, { timeoutMs: 10_000, what: 'one leader' });
  const leader = replicas.find((r) => r.elector.isLeader)!;
  const follower = replicas.find((r) => r !== leader)!;
  assert.ok(leader.controller.writes > 0);
  assert.equal(follower.controller.writes, 0, 'the follower never wrote');
  await leader.elector.stop();
  await waitFor(() => follower.elector.isLeader, { timeoutMs: 10_000, what: 'the follower taking over' });
  await applyPolicy('later', { action: 'DENY' }, { 'weft.io/dry-run': 'true' });
  const accepted = await waitFor(async () => condition(await conditionsOf('later'), 'Accepted'), { timeoutMs: 10_000, what: 'status from the new leader' });
  assert.match(accepted.message, /dry-run/);
  assert.ok(follower.controller.writes > 0);
});
