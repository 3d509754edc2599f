// Real kubectl against the in-repo API server: the everyday commands work unmodified.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startApiServer } from './server.js';
import type { ApiServerHandle } from './server.js';
import { makeTempDir } from '../../support/temp-dir.js';
import type { TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { waitFor } from '../../support/wait-for.js';
import { apiRequest, kubectl, kubectlOk, spawnKubectl } from './test-client.js';

describe('kubectl against the in-repo API server', () => {
  let dir: TempDir;
  let server: ApiServerHandle;
  let cache: string;
  const run = (args: string[], input?: string) => kubectl(server, cache, args, input);
  const ok = (args: string[], input?: string) => kubectlOk(server, cache, args, input);

  before(async () => {
    dir = await makeTempDir('kubectl');
    server = await startApiServer({ stateDir: join(dir.path, 'state') });
    cache = join(dir.path, 'kube-cache');
  });
  after(async () => {
    await server?.close();
    await dir?.remove();
  });

  test('create namespace (protobuf body) and get it as yaml and json', async () => {
    const ns = uniqueName('ns');
    assert.match(await ok(['create', 'namespace', ns]), new RegExp(`namespace/${ns} created`));
    const yaml = await ok(['get', 'namespace', ns, '-o', 'yaml']);
    assert.match(yaml, new RegExp(`name: ${ns}`));
    assert.match(yaml, /phase: Active/);
    const json = JSON.parse(await ok(['get', 'ns', ns, '-o', 'json']));
    assert.equal(json.metadata.name, ns);
    assert.deepEqual(json.spec.finalizers, ['kubernetes']);
    assert.match(json.metadata.uid, /^[0-9a-f-]{36}$/);
  });

  test('apply a Namespace+Service+ConfigMap, re-apply an edited label (strategic merge patch)', async () => {
    const ns = uniqueName('apply');
    const file = join(dir.path, `${ns}.yaml`);
    const manifest = (tier: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: ${ns}
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ${ns}
  labels: {tier: ${tier}}
data:
  key: value
`;
    await writeFile(file, manifest('front'));
    const first = await ok(['apply', '-f', file]);
    assert.match(first, new RegExp(`namespace/${ns} created`));
    assert.match(first, /service\/web created/);
    assert.match(first, /configmap\/settings created/);
    const svc = JSON.parse(await ok(['get', 'svc', 'web', '-n', ns, '-o', 'json']));
    assert.match(svc.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
    assert.equal(svc.spec.ports[0].protocol, 'TCP');

    await writeFile(file, manifest('back'));
    const second = await ok(['apply', '-f', file]);
    assert.match(second, new RegExp(`namespace/${ns} unchanged`));
    assert.match(second, /service\/web unchanged/);
    assert.match(second, /configmap\/settings configured/);
    const labels = await ok(['get', 'cm', 'settings', '-n', ns, '-o', 'jsonpath={.metadata.labels.tier}']);
    assert.equal(labels, 'back');
  });

  test('kubectl create/run generators (protobuf bodies) keep every field they send', async () => {
    const ns = uniqueName('proto');
    await ok(['create', 'namespace', ns]);
    await ok(['create', 'secret', 'generic', 'creds', '-n', ns, '--from-literal=user=admin', '--type=example.io/creds']);
    await ok(['create', 'service', 'nodeport', 'np', '-n', ns, '--tcp=81:http']);
    await ok(['create', 'serviceaccount', 'robot', '-n', ns]);
    await ok(['run', 'job', '-n', ns, '--image=busybox:1.36', '--port=8080', '--env=MODE=fast', '--labels=app=job,tier=x', '--restart=Never', '--', 'sleep', '30']);
    const secret = JSON.parse(await ok(['get', 'secret', 'creds', '-n', ns, '-o', 'json']));
    assert.equal(secret.type, 'example.io/creds');
    assert.equal(Buffer.from(secret.data.user, 'base64').toString(), 'admin');
    const svc = JSON.parse(await ok(['get', 'svc', 'np', '-n', ns, '-o', 'json']));
    assert.equal(svc.spec.type, 'NodePort');
    assert.deepEqual(svc.spec.ports.map((p: any) => [p.name, p.port, p.targetPort, p.protocol]), [['81-http', 81, 'http', 'TCP']]);
    assert.deepEqual(svc.spec.selector, { app: 'np' });
    const pod = JSON.parse(await ok(['get', 'pod', 'job', '-n', ns, '-o', 'json']));
    assert.deepEqual(pod.metadata.labels, { app: 'job', tier: 'x' });
    const c = pod.spec.containers[0];
    assert.equal(c.image, 'busybox:1.36');
    assert.deepEqual(c.args, ['sleep', '30']);
    assert.deepEqual(c.env, [{ name: 'MODE', value: 'fast' }]);
    assert.deepEqual(c.ports, [{ containerPort: 8080, protocol: 'TCP' }]);
    assert.equal(pod.spec.restartPolicy, 'Never');
  });

  test('get with label and field selectors', async () => {
    const ns = uniqueName('sel');
    await ok(['create', 'namespace', ns]);
    await ok(['create', 'configmap', 'alpha', '-n', ns, '--from-literal=a=1']);
    await ok(['create', 'configmap', 'beta', '-n', ns, '--from-literal=b=2']);
    await ok(['label', 'configmap', 'alpha', '-n', ns, 'team=red']);
    await ok(['label', 'configmap', 'beta', '-n', ns, 'team=blue']);
    const byLabel = await ok(['get', 'cm', '-n', ns, '-l', 'team=red', '-o', 'name']);
    assert.equal(byLabel.trim(), 'configmap/alpha');
    const byIn = await ok(['get', 'cm', '-n', ns, '-l', 'team in (red,blue)', '-o', 'name']);
    assert.deepEqual(byIn.trim().split('\n').sort(), ['configmap/alpha', 'configmap/beta']);
    const byField = await ok(['get', 'cm', '-n', ns, '--field-selector', 'metadata.name=beta', '-o', 'name']);
    assert.equal(byField.trim(), 'configmap/beta');
    const bad = await run(['get', 'cm', '-n', ns, '--field-selector', 'spec.nope=1']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /field label not supported: spec\.nope/);
  });

  test('get prints the server-side table columns of a real cluster', async () => {
    const ns = uniqueName('table');
    await ok(['create', 'namespace', ns]);
    await ok(['run', 'web', '-n', ns, '--image=none', '--labels=app=web']);
    await ok(['create', 'service', 'clusterip', 'web', '-n', ns, '--tcp=80:8080']);
    const pods = await ok(['get', 'pods', '-n', ns, '-o', 'wide']);
    assert.match(pods, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\n/);
    assert.match(pods, /\nweb\s+0\/1\s+Pending\s+0\s+\d+s\s+<none>\s+<none>/);
    const services = await ok(['get', 'svc', '-n', ns]);
    assert.match(services, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\n/);
    assert.match(services, /\nweb\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+80\/TCP\s+/);
    const namespaces = await ok(['get', 'ns', ns]);
    assert.match(namespaces, new RegExp(`${ns}\\s+Active\\s+\\d+s`));
  });

  test('label, annotate and delete', async () => {
    const ns = uniqueName('lad');
    await ok(['create', 'namespace', ns]);
    await ok(['create', 'serviceaccount', 'robot', '-n', ns]);
    assert.match(await ok(['label', 'sa', 'robot', '-n', ns, 'role=bot']), /serviceaccount\/robot labeled/);
    assert.match(await ok(['annotate', 'sa', 'robot', '-n', ns, 'note=hello']), /serviceaccount\/robot annotated/);
    const sa = JSON.parse(await ok(['get', 'sa', 'robot', '-n', ns, '-o', 'json']));
    assert.equal(sa.metadata.labels.role, 'bot');
    assert.equal(sa.metadata.annotations.note, 'hello');
    assert.match(await ok(['label', 'sa', 'robot', '-n', ns, 'role-']), /serviceaccount\/robot unlabeled/);
    assert.match(await ok(['delete', 'sa', 'robot', '-n', ns]), /serviceaccount "robot" deleted/);
    const gone = await run(['get', 'sa', 'robot', '-n', ns]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /serviceaccounts "robot" not found/);
  });

  test('get -w streams a newly created object', async () => {
    const ns = uniqueName('watch');
    await ok(['create', 'namespace', ns]);
    await ok(['create', 'configmap', 'listed', '-n', ns, '--from-literal=x=y']);
    const watcher = spawnKubectl(server, cache, ['get', 'configmaps', '-n', ns, '-w']);
    try {
      // Once the listed object is printed, kubectl has listed and moved on to watching.
      await waitFor(() => watcher.output().includes('listed'), { what: 'kubectl -w to print its list', timeoutMs: 20_000 });
      const name = uniqueName('watched');
      await ok(['create', 'configmap', name, '-n', ns, '--from-literal=x=y']);
      await waitFor(() => watcher.output().includes(name), { what: `kubectl -w to print ${name}`, timeoutMs: 20_000 });
    } finally {
      watcher.child.kill('SIGTERM');
    }
  });

  test('a CRD, then a good custom resource (accepted) and a bad one (refused naming the field)', async () => {
    const ns = uniqueName('crd');
    await ok(['create', 'namespace', ns]);
    const group = `${uniqueName('g')}.example.io`;
    const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, shortNames: [gd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer}
              mode: {type: string, enum: [fast, safe]}
          status:
            type: object
            properties:
              ready: {type: boolean}
              conditions:
                type: array
                items:
                  type: object
                  properties:
                    type: {type: string}
                    status: {type: string}
`;
    await writeFile(join(dir.path, 'crd.yaml'), crd);
    assert.match(await ok(['apply', '-f', join(dir.path, 'crd.yaml')]), /created/);
    await ok(['wait', '--for', 'condition=established', `crd/gadgets.${group}`, '--timeout=30s']);
    const good = `apiVersion: ${group}/v1\nkind: Gadget\nmetadata: {name: g1, namespace: ${ns}}\nspec: {size: 3, mode: fast}\n`;
    await writeFile(join(dir.path, 'good.yaml'), good);
    assert.match(await ok(['apply', '-f', join(dir.path, 'good.yaml')]), /gadget\.[^ ]+\/g1 created/);
    assert.match(await ok(['get', 'gd', '-n', ns]), /^NAME\s+SIZE\s+READY\s+AGE\ng1\s+3\s+\d+s\n$/);
    // A filter in a printer column's JSONPath picks the element it names, as kube-apiserver does.
    await ok(['patch', 'gd', 'g1', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [{ type: 'Synced', status: 'False' }, { type: 'Ready', status: 'True' }] } })]);
    assert.match(await ok(['get', 'gd', '-n', ns]), /^NAME\s+SIZE\s+READY\s+AGE\ng1\s+3\s+True\s+\d+s\n$/);
    const listed = JSON.parse(await ok(['get', 'gd', '-n', ns, '-o', 'json']));
    assert.equal(listed.items[0].spec.size, 3);
    assert.equal(listed.items[0].metadata.generation, 1);

    const bad = `apiVersion: ${group}/v1\nkind: Gadget\nmetadata: {name: g2, namespace: ${ns}}\nspec: {mode: slow}\n`;
    await writeFile(join(dir.path, 'bad.yaml'), bad);
    const refused = await run(['apply', '-f', join(dir.path, 'bad.yaml')]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /spec\.mode: Unsupported value: "slow"/);
    assert.match(refused.stderr, /spec\.size: Required value/);

    // Re-applying an edited good object patches it (merge patch for custom resources).
    await writeFile(join(dir.path, 'good.yaml'), good.replace('size: 3', 'size: 4'));
    assert.match(await ok(['apply', '-f', join(dir.path, 'good.yaml')]), /configured/);
    const after = JSON.parse(await ok(['get', 'gadget', 'g1', '-n', ns, '-o', 'json']));
    assert.equal(after.spec.size, 4);
    assert.equal(after.metadata.generation, 2);
  });

  test('apply refuses an unknown field of a built-in kind (server-side strict validation)', async () => {
    const file = join(dir.path, 'typo.yaml');
    await writeFile(file, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\n  namespace: default\ndtaa:\n  a: b\n`);
    const refused = await run(['apply', '-f', file]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /strict decoding error: unknown field "dtaa"/);
    const warned = await run(['apply', '-f', file, '--validate=warn']);
    assert.equal(warned.code, 0);
    assert.match(warned.stderr, /unknown field "dtaa"/);
    const stored = JSON.parse(await ok(['get', 'cm', 'typo', '-n', 'default', '-o', 'json']));
    assert.equal(stored.dtaa, undefined, 'the unknown field was dropped');
  });

  test('apply --server-side creates, then drops the fields the manager stopped applying', async () => {
    const ns = uniqueName('ssa');
    await ok(['create', 'namespace', ns]);
    const file = join(dir.path, `${ns}.yaml`);
    const manifest = (extra: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: ${ns}\n  labels: {keep: "1"${extra}}\ndata:\n  a: "1"\n`;
    await writeFile(file, manifest(', drop: "2"'));
    assert.match(await ok(['apply', '--server-side', '-f', file]), /configmap\/applied serverside-applied/);
    await ok(['label', 'cm', 'applied', '-n', ns, 'other=kept']);
    await writeFile(file, manifest(''));
    assert.match(await ok(['apply', '--server-side', '-f', file]), /serverside-applied/);
    const cm = JSON.parse(await ok(['get', 'cm', 'applied', '-n', ns, '-o', 'json']));
    assert.deepEqual(cm.metadata.labels, { keep: '1', other: 'kept' }, 'own dropped field removed, others\' fields kept');
  });

  test('deleting a namespace deletes its objects and then the namespace', async () => {
    const ns = uniqueName('doomed');
    await ok(['create', 'namespace', ns]);
    await ok(['create', 'configmap', 'c', '-n', ns, '--from-literal=a=b']);
    await ok(['create', 'service', 'clusterip', 's', '-n', ns, '--tcp=80:8080']);
    await ok(['run', 'p', '-n', ns, '--image=none']);
    assert.match(await ok(['delete', 'namespace', ns]), new RegExp(`namespace "${ns}" deleted`));
    const left = await run(['get', 'namespace', ns]);
    assert.notEqual(left.code, 0);
    assert.match(left.stderr, /not found/);
    const objects = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps`);
    assert.equal(objects.json.items.length, 0);
  });
});
