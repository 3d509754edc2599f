// apps/v1 DaemonSets and Deployments in the in-repo API server: real kubectl applies and lists
// them, the server defaults them as a real one does, tracks generation on spec changes (and on
// annotation changes for Deployments), keeps status to the status subresource, and refuses a
// missing or non-matching selector with the real 422 naming the field.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startApiServer } from './server.js';
import type { ApiServerHandle } from './server.js';
import { makeTempDir } from '../../support/temp-dir.js';
import type { TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { apiRequest, kubectl, kubectlOk } from './test-client.js';

const apps = '/apis/apps/v1';

describe('apps/v1 DaemonSets and Deployments', () => {
  let dir: TempDir;
  let server: ApiServerHandle;
  let cache: string;
  let ns: string;
  const ok = (args: string[], input?: string) => kubectlOk(server, cache, args, input);

  before(async () => {
    dir = await makeTempDir('workloads');
    server = await startApiServer({ stateDir: join(dir.path, 'state') });
    cache = join(dir.path, 'kube-cache');
    ns = uniqueName('apps');
    await ok(['create', 'namespace', ns]);
  });
  after(async () => {
    await server?.close();
    await dir?.remove();
  });

  const daemonSet = (name: string, image: string, extraLabel = '') => `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ${name}
  namespace: ${ns}
  labels: {app: ${name}${extraLabel}}
spec:
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      hostNetwork: true
      tolerations: [{operator: Exists}]
      containers:
      - name: agent
        image: ${image}
        ports: [{containerPort: 15020, name: admin}]
`;

  test('kubectl apply creates a DaemonSet with defaults; kubectl get daemonsets lists it', async () => {
    const name = uniqueName('agent');
    assert.match(await ok(['apply', '-f', '-'], daemonSet(name, 'registry.invalid/weft:1')), new RegExp(`daemonset.apps/${name} created`));
    const ds = JSON.parse(await ok(['-n', ns, 'get', 'daemonset', name, '-o', 'json']));
    assert.equal(ds.apiVersion, 'apps/v1');
    assert.equal(ds.kind, 'DaemonSet');
    assert.equal(ds.metadata.generation, 1);
    assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    assert.equal(ds.spec.revisionHistoryLimit, 10);
    const podSpec = ds.spec.template.spec;
    assert.equal(podSpec.restartPolicy, 'Always');
    assert.equal(podSpec.dnsPolicy, 'ClusterFirst');
    assert.equal(podSpec.schedulerName, 'default-scheduler');
    assert.equal(podSpec.terminationGracePeriodSeconds, 30);
    assert.equal(podSpec.containers[0].imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(podSpec.containers[0].ports, [{ containerPort: 15020, hostPort: 15020, name: 'admin', protocol: 'TCP' }], 'host network: container ports are host ports');
    assert.deepEqual(ds.status, { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 });

    const table = await ok(['-n', ns, 'get', 'daemonsets']);
    assert.match(table, /^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE$/m);
    assert.match(table, new RegExp(`^${name}\\s+0\\s+0\\s+0\\s+0\\s+0\\s+<none>\\s+\\S+$`, 'm'));
    const wide = await ok(['-n', ns, 'get', 'ds', name, '-o', 'wide']);
    assert.match(wide, new RegExp(`\\sagent\\s+registry.invalid/weft:1\\s+app=${name}$`, 'm'));
  });

  test('generation moves on spec changes only; status goes through the status subresource', async () => {
    const name = uniqueName('gen');
    await ok(['apply', '-f', '-'], daemonSet(name, 'registry.invalid/weft:1'));
    const path = `${apps}/namespaces/${ns}/daemonsets/${name}`;
    // A label change is not a spec change.
    await ok(['apply', '-f', '-'], daemonSet(name, 'registry.invalid/weft:1', ', tier: node'));
    let ds = (await apiRequest(server, 'GET', path)).json;
    assert.equal(ds.metadata.labels.tier, 'node');
    assert.equal(ds.metadata.generation, 1);
    // A new image is (kubectl apply: strategic merge patch keyed by container name).
    await ok(['apply', '-f', '-'], daemonSet(name, 'registry.invalid/weft:2', ', tier: node'));
    ds = (await apiRequest(server, 'GET', path)).json;
    assert.equal(ds.metadata.generation, 2);
    assert.equal(ds.spec.template.spec.containers.length, 1);
    assert.equal(ds.spec.template.spec.containers[0].image, 'registry.invalid/weft:2');

    // A controller's status write: status changes, generation and spec do not.
    const status = { status: { ...ds.status, desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, observedGeneration: 2 } };
    const patched = await apiRequest(server, 'PATCH', `${path}/status`, { body: status, contentType: 'application/merge-patch+json' });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.status.numberReady, 2);
    assert.equal(patched.json.metadata.generation, 2);
    // A status sent to the object itself is ignored (status subresource), spec sent to status too.
    const put = await apiRequest(server, 'PUT', path, { body: { ...patched.json, status: { numberReady: 99 } } });
    assert.equal(put.status, 200);
    assert.equal(put.json.status.numberReady, 2);
    const statusPut = await apiRequest(server, 'PUT', `${path}/status`, { body: { ...put.json, spec: { ...put.json.spec, minReadySeconds: 5 } } });
    assert.equal(statusPut.status, 200);
    assert.equal(statusPut.json.spec.minReadySeconds, undefined);
    assert.equal(statusPut.json.metadata.generation, 2);
    assert.match(await ok(['-n', ns, 'get', 'daemonset', name]), new RegExp(`^${name}\\s+3\\s+3\\s+2\\s+0\\s+0\\s+<none>`, 'm'));
  });

  test('Deployments: defaults, generation on spec or annotation changes, kubectl get deployments, delete', async () => {
    const name = uniqueName('ca');
    const manifest = (replicas: number, note: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
  annotations: {note: "${note}"}
spec:
  replicas: ${replicas}
  selector:
    matchExpressions: [{key: app, operator: In, values: [${name}]}]
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers: [{name: ca, image: registry.invalid/weft:1}]
`;
    assert.match(await ok(['apply', '-f', '-'], manifest(1, 'a')), new RegExp(`deployment.apps/${name} created`));
    const path = `${apps}/namespaces/${ns}/deployments/${name}`;
    let deploy = (await apiRequest(server, 'GET', path)).json;
    assert.equal(deploy.metadata.generation, 1);
    assert.deepEqual(deploy.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
    assert.equal(deploy.spec.progressDeadlineSeconds, 600);
    assert.equal(deploy.spec.revisionHistoryLimit, 10);
    assert.deepEqual(deploy.status, {});
    await ok(['apply', '-f', '-'], manifest(2, 'a'));
    deploy = (await apiRequest(server, 'GET', path)).json;
    assert.equal(deploy.metadata.generation, 2);
    await ok(['apply', '-f', '-'], manifest(2, 'b'));
    deploy = (await apiRequest(server, 'GET', path)).json;
    assert.equal(deploy.metadata.generation, 3, 'annotations are copied to ReplicaSets, so they count');
    const patched = await apiRequest(server, 'PATCH', `${path}/status`, { body: { status: { replicas: 2, readyReplicas: 1, updatedReplicas: 2, availableReplicas: 1 } }, contentType: 'application/merge-patch+json' });
    assert.equal(patched.status, 200);
    const table = await ok(['-n', ns, 'get', 'deployments']);
    assert.match(table, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/m);
    assert.match(table, new RegExp(`^${name}\\s+1/2\\s+2\\s+1\\s+\\S+$`, 'm'));
    assert.match(await ok(['-n', ns, 'get', 'deploy', name, '-o', 'wide']), new RegExp(`\\sca\\s+registry.invalid/weft:1\\s+app in \\(${name}\\)$`, 'm'));
    assert.match(await ok(['-n', ns, 'delete', 'deployment', name]), new RegExp(`deployment.apps "${name}" deleted`));
    assert.equal((await apiRequest(server, 'GET', path)).status, 404);
  });

  test('a missing or non-matching selector is refused with the real 422; the selector is immutable', async () => {
    const template = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    const noSelector = await apiRequest(server, 'POST', `${apps}/namespaces/${ns}/deployments`, {
      body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'nosel' }, spec: { template } },
    });
    assert.equal(noSelector.status, 422);
    assert.equal(noSelector.json.message, 'Deployment.apps "nosel" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`]');
    assert.deepEqual(noSelector.json.details.causes.map((c: any) => c.field), ['spec.selector', 'spec.template.metadata.labels']);
    assert.equal(noSelector.json.details.group, 'apps');
    assert.equal(noSelector.json.details.kind, 'Deployment');

    const mismatch = await kubectl(server, cache, ['apply', '-f', '-'], `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: mismatch, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: y}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: c, image: i}]}
`);
    assert.notEqual(mismatch.code, 0);
    assert.match(mismatch.stderr, /The DaemonSet "mismatch" is invalid: spec\.template\.metadata\.labels: Invalid value: map\[string\]string\{"app":"x"\}: `selector` does not match template `labels`/);
    const noContainers = await apiRequest(server, 'POST', `${apps}/namespaces/${ns}/daemonsets`, {
      body: { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'empty' }, spec: { selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: {} } } },
    });
    assert.equal(noContainers.status, 422);
    assert.deepEqual(noContainers.json.details.causes.map((c: any) => `${c.field}: ${c.message}`), ['spec.template.spec.containers: Required value']);

    const name = uniqueName('fixed');
    await ok(['apply', '-f', '-'], daemonSet(name, 'registry.invalid/weft:1'));
    const path = `${apps}/namespaces/${ns}/daemonsets/${name}`;
    const current = (await apiRequest(server, 'GET', path)).json;
    const moved = await apiRequest(server, 'PUT', path, {
      body: { ...current, spec: { ...current.spec, selector: { matchLabels: { app: name, tier: 'x' } }, template: { ...current.spec.template, metadata: { labels: { app: name, tier: 'x' } } } } },
    });
    assert.equal(moved.status, 422);
    assert.equal(moved.json.message, `DaemonSet.apps "${name}" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"${name}", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`);
  });

  test('a DaemonSet rolls by maxUnavailable or by maxSurge, never both or neither (the real 422s)', async () => {
    const body = (name: string, rollingUpdate: object) => ({
      apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name },
      spec: { selector: { matchLabels: { app: name } }, updateStrategy: { type: 'RollingUpdate', rollingUpdate },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
    });
    const url = `${apps}/namespaces/${ns}/daemonsets`;
    const both = await apiRequest(server, 'POST', url, { body: body('both', { maxUnavailable: 1, maxSurge: 1 }) });
    assert.equal(both.status, 422);
    assert.deepEqual(both.json.details.causes.map((c: any) => `${c.field}: ${c.message}`), ['spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero']);
    const neither = await apiRequest(server, 'POST', url, { body: body('neither', { maxUnavailable: 0, maxSurge: 0 }) });
    assert.equal(neither.status, 422);
    assert.deepEqual(neither.json.details.causes.map((c: any) => `${c.field}: ${c.message}`), ['spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0']);
    const surge = await apiRequest(server, 'POST', url, { body: body(uniqueName('surge'), { maxUnavailable: 0, maxSurge: 1 }) });
    assert.equal(surge.status, 201, JSON.stringify(surge.json));
    assert.deepEqual(surge.json.spec.updateStrategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
  });

  test('watch and deletecollection work for DaemonSets', async () => {
    const name = uniqueName('watched');
    const from = (await apiRequest(server, 'GET', `${apps}/namespaces/${ns}/daemonsets`)).json.metadata.resourceVersion;
    await ok(['apply', '-f', '-'], daemonSet(name, 'registry.invalid/weft:1'));
    const stream = await apiRequest(server, 'GET', `${apps}/namespaces/${ns}/daemonsets?watch=1&resourceVersion=${from}&timeoutSeconds=1&fieldSelector=metadata.name%3D${name}`);
    const events = stream.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => [e.type, e.object.kind, e.object.apiVersion, e.object.metadata.name]), [['ADDED', 'DaemonSet', 'apps/v1', name]]);
    assert.equal((await apiRequest(server, 'DELETE', `${apps}/namespaces/${ns}/daemonsets`)).status, 200);
    assert.deepEqual((await apiRequest(server, 'GET', `${apps}/namespaces/${ns}/daemonsets`)).json.items, []);
  });
});
