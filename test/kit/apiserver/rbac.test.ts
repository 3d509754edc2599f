// RBAC in the in-repo API server, driven by real kubectl and a client-node informer holding
// service-account tokens: refused with the exact Kubernetes 403 until a Role or ClusterRole is
// bound, allowed from the next request on; resourceNames, subresources, watch; the 422s of bad
// RBAC objects; and the admin token (system:masters) still allowed everything.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, makeInformer, type Informer, type V1Pod } from '@kubernetes/client-node';
import { startApiServer } from './server.js';
import type { ApiServerHandle } from './server.js';
import { renderKubeconfig } from './kubeconfig.js';
import { makeTempDir } from '../../support/temp-dir.js';
import type { TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { waitFor } from '../../support/wait-for.js';
import { repoRoot } from '../../support/repo-root.js';
import { apiRequest, kubectlOk, type KubectlResult } from './test-client.js';

const rbacApi = '/apis/rbac.authorization.k8s.io/v1';

function run(args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile('kubectl', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0;
      if (err && code === -1) reject(err);
      else resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

describe('RBAC for service-account tokens', () => {
  let dir: TempDir;
  let server: ApiServerHandle;
  let adminCache: string;
  const informers: Informer<V1Pod>[] = [];
  const admin = (args: string[], input?: string) => kubectlOk(server, adminCache, args, input);

  /** A namespace with a ServiceAccount, its token, and a kubeconfig holding only that token. */
  async function serviceAccount(prefix: string): Promise<{ ns: string; sa: string; user: string; token: string; kubeconfig: string; kubectl: (args: string[], input?: string) => Promise<KubectlResult> }> {
    const ns = uniqueName(prefix);
    const sa = 'app';
    await admin(['create', 'namespace', ns]);
    await admin(['-n', ns, 'create', 'serviceaccount', sa]);
    const token = (await admin(['-n', ns, 'create', 'token', sa])).trim();
    const kubeconfig = join(dir.path, `${ns}.kubeconfig`);
    await writeFile(kubeconfig, renderKubeconfig(server.url, server.caCertPem, token), { mode: 0o600 });
    const cache = join(dir.path, `cache-${ns}`);
    return {
      ns, sa, token, kubeconfig, user: `system:serviceaccount:${ns}:${sa}`,
      kubectl: (args, input) => run(['--kubeconfig', kubeconfig, '--cache-dir', cache, ...args], input),
    };
  }

  before(async () => {
    dir = await makeTempDir('rbac');
    server = await startApiServer({ stateDir: join(dir.path, 'state') });
    adminCache = join(dir.path, 'cache-admin');
  });
  after(async () => {
    for (const informer of informers) await informer.stop();
    await server?.close();
    await dir?.remove();
  });

  test('kubectl with only a token is refused with the exact 403, then allowed once a Role is bound', async () => {
    const { ns, user, token, kubectl } = await serviceAccount('role');
    const caFile = join(dir.path, 'ca.crt');
    await writeFile(caFile, server.caCertPem);
    // --server/--certificate-authority/--token, no kubeconfig at all, as the brief's example.
    const bare = (args: string[]) => run(['--kubeconfig', '/dev/null', '--cache-dir', join(dir.path, 'cache-bare'), '--server', server.url, '--certificate-authority', caFile, '--token', token, ...args]);
    const message = `pods is forbidden: User "${user}" cannot list resource "pods" in API group "" in the namespace "${ns}"`;
    const refused = await bare(['-n', ns, 'get', 'pods']);
    assert.notEqual(refused.code, 0);
    assert.equal(refused.stderr.trim(), `Error from server (Forbidden): ${message}`);

    // The raw answer is the real Status (compare the golden 403 of a real server).
    const raw = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods`, { token });
    assert.equal(raw.status, 403);
    const goldenStatus = JSON.parse(readFileSync(join(repoRoot, 'test', 'kit', 'apiserver', 'testdata', 'error-403-forbidden.json'), 'utf8'));
    assert.deepEqual(raw.json, { ...goldenStatus, message, details: { kind: 'pods' } });
    assert.deepEqual(Object.keys(raw.json), Object.keys(goldenStatus));

    await admin(['apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: ${ns}}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-reader, namespace: ${ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: ServiceAccount, name: app, namespace: ${ns}}
`);
    const allowed = await bare(['-n', ns, 'get', 'pods']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stderr, /No resources found/);
    // Only in that namespace, only those verbs.
    const clusterWide = await kubectl(['get', 'pods', '-A']);
    assert.equal(clusterWide.stderr.trim(), `Error from server (Forbidden): pods is forbidden: User "${user}" cannot list resource "pods" in API group "" at the cluster scope`);
    const other = await kubectl(['-n', 'default', 'get', 'pods']);
    assert.match(other.stderr, new RegExp(`cannot list resource "pods" in API group "" in the namespace "default"$`, 'm'));
    const create = await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/pods`, { token, body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
    assert.equal(create.status, 403);
    assert.equal(create.json.message, `pods is forbidden: User "${user}" cannot create resource "pods" in API group "" in the namespace "${ns}"`);

    // Deleting the binding takes the grant away at the next request.
    await admin(['-n', ns, 'delete', 'rolebinding', 'pod-reader']);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods`, { token })).status, 403);
  });

  test('a ClusterRole bound by a ClusterRoleBinding grants cluster scope; group subjects match too', async () => {
    const { ns, user, token, kubectl } = await serviceAccount('cluster');
    const refused = await kubectl(['get', 'nodes']);
    assert.equal(refused.stderr.trim(), `Error from server (Forbidden): nodes is forbidden: User "${user}" cannot list resource "nodes" in API group "" at the cluster scope`);
    const name = uniqueName('node-reader');
    await admin(['apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${name}}
rules:
- {apiGroups: [""], resources: [nodes, namespaces], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${name}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${name}}
subjects:
- {kind: ServiceAccount, name: app, namespace: ${ns}}
`);
    const nodes = await kubectl(['get', 'nodes']);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match((await kubectl(['get', 'namespaces'])).stdout, new RegExp(`^${ns}\\s+Active`, 'm'));
    // A Namespace's own namespace is its name: denied as "in the namespace", with the name.
    const other = await serviceAccount('ns-get');
    const get = await apiRequest(server, 'GET', `/api/v1/namespaces/${other.ns}`, { token: other.token });
    assert.equal(get.status, 403);
    assert.equal(get.json.message, `namespaces "${other.ns}" is forbidden: User "${other.user}" cannot get resource "namespaces" in API group "" in the namespace "${other.ns}"`);
    assert.deepEqual(get.json.details, { name: other.ns, kind: 'namespaces' });

    // A Group subject (every service account of a namespace) grants the same.
    const groupBound = await serviceAccount('group');
    assert.equal((await apiRequest(server, 'GET', '/api/v1/nodes', { token: groupBound.token })).status, 403);
    await admin(['create', 'clusterrolebinding', uniqueName('by-group'), `--clusterrole=${name}`, `--group=system:serviceaccounts:${groupBound.ns}`]);
    assert.equal((await apiRequest(server, 'GET', '/api/v1/nodes', { token: groupBound.token })).status, 200);
    // A RoleBinding of a ClusterRole grants it in one namespace only (namespaced resources).
    const viewer = await serviceAccount('rb-cr');
    await admin(['-n', viewer.ns, 'create', 'rolebinding', 'view', '--clusterrole=view', `--serviceaccount=${viewer.ns}:app`]);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${viewer.ns}/configmaps`, { token: viewer.token })).status, 200);
    assert.equal((await apiRequest(server, 'GET', '/api/v1/configmaps', { token: viewer.token })).status, 403);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${viewer.ns}/secrets`, { token: viewer.token })).status, 403, 'view does not read secrets');
    assert.equal(token.length > 0, true);
  });

  test('resourceNames restrict to the named objects (also a list or watch narrowed by metadata.name)', async () => {
    const { ns, user, token } = await serviceAccount('names');
    await admin(['-n', ns, 'create', 'configmap', 'allowed', '--from-literal=a=1']);
    await admin(['-n', ns, 'create', 'configmap', 'other', '--from-literal=a=2']);
    await admin(['-n', ns, 'create', 'role', 'one-cm', '--verb=get,list,watch', '--resource=configmaps', '--resource-name=allowed']);
    await admin(['-n', ns, 'create', 'rolebinding', 'one-cm', '--role=one-cm', `--serviceaccount=${ns}:app`]);
    const role = JSON.parse(await admin(['-n', ns, 'get', 'role', 'one-cm', '-o', 'json']));
    assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['allowed'], verbs: ['get', 'list', 'watch'] }]);

    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps/allowed`, { token })).status, 200);
    const denied = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps/other`, { token });
    assert.equal(denied.status, 403);
    assert.equal(denied.json.message, `configmaps "other" is forbidden: User "${user}" cannot get resource "configmaps" in API group "" in the namespace "${ns}"`);
    assert.deepEqual(denied.json.details, { name: 'other', kind: 'configmaps' });
    const list = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps`, { token });
    assert.equal(list.status, 403);
    assert.equal(list.json.message, `configmaps is forbidden: User "${user}" cannot list resource "configmaps" in API group "" in the namespace "${ns}"`);
    const narrowed = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps?fieldSelector=metadata.name%3Dallowed`, { token });
    assert.equal(narrowed.status, 200);
    assert.deepEqual(narrowed.json.items.map((i: any) => i.metadata.name), ['allowed']);
    const watch = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dother`, { token });
    assert.equal(watch.status, 403);
    assert.equal(watch.json.message, `configmaps "other" is forbidden: User "${user}" cannot watch resource "configmaps" in API group "" in the namespace "${ns}"`);
  });

  test('subresource rules: pods/status is not pods; serviceaccounts/token; */status', async () => {
    const { ns, user, token, kubectl } = await serviceAccount('subres');
    await admin(['-n', ns, 'run', 'web', '--image=registry.invalid/web:1']);
    await admin(['-n', ns, 'create', 'serviceaccount', 'other']);
    await admin(['apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: status-writer, namespace: ${ns}}
rules:
- {apiGroups: [""], resources: [pods/status], verbs: [get, patch]}
- {apiGroups: [""], resources: [serviceaccounts/token], resourceNames: [other], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: status-writer, namespace: ${ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: status-writer}
subjects: [{kind: ServiceAccount, name: app}]
`);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods/web/status`, { token })).status, 200);
    const patched = await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/web/status`, {
      token, body: { status: { phase: 'Running' } }, contentType: 'application/merge-patch+json',
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.status.phase, 'Running');
    const pod = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods/web`, { token });
    assert.equal(pod.status, 403);
    assert.equal(pod.json.message, `pods "web" is forbidden: User "${user}" cannot get resource "pods" in API group "" in the namespace "${ns}"`);
    const put = await apiRequest(server, 'PUT', `/api/v1/namespaces/${ns}/pods/web/status`, { token, body: patched.json });
    assert.equal(put.status, 403);
    assert.equal(put.json.message, `pods "web" is forbidden: User "${user}" cannot update resource "pods/status" in API group "" in the namespace "${ns}"`);
    assert.deepEqual(put.json.details, { name: 'web', kind: 'pods' });

    // TokenRequest is `create` on serviceaccounts/token, limited here to one service account.
    const minted = await kubectl(['-n', ns, 'create', 'token', 'other']);
    assert.equal(minted.code, 0, minted.stderr);
    assert.match(minted.stdout.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const own = await kubectl(['-n', ns, 'create', 'token', 'app']);
    assert.equal(own.stderr.trim(), `error: failed to create token: serviceaccounts "app" is forbidden: User "${user}" cannot create resource "serviceaccounts/token" in API group "" in the namespace "${ns}"`);

    // `*/status` matches any status subresource, not the objects.
    await admin(['apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: any-status, namespace: ${ns}}
rules: [{apiGroups: [""], resources: ["*/status"], verbs: [get]}]
`);
    const statusReader = await serviceAccount('star-status');
    await admin(['-n', ns, 'create', 'rolebinding', 'any-status', '--role=any-status', `--serviceaccount=${statusReader.ns}:app`]);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods/web/status`, { token: statusReader.token })).status, 200);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods/web`, { token: statusReader.token })).status, 403);
  });

  test('watch is its own verb; a client-node informer with a token works once list and watch are granted', async () => {
    const { ns, user, token, kubeconfig } = await serviceAccount('informer');
    await admin(['-n', ns, 'create', 'role', 'lister', '--verb=list', '--resource=pods']);
    await admin(['-n', ns, 'create', 'rolebinding', 'lister', '--role=lister', `--serviceaccount=${ns}:app`]);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods`, { token })).status, 200);
    const watch = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods?watch=1&timeoutSeconds=1`, { token });
    assert.equal(watch.status, 403);
    assert.equal(watch.json.message, `pods is forbidden: User "${user}" cannot watch resource "pods" in API group "" in the namespace "${ns}"`);
    const legacy = await apiRequest(server, 'GET', `/api/v1/watch/namespaces/${ns}/pods?timeoutSeconds=1`, { token });
    assert.equal(legacy.status, 403);

    await admin(['-n', ns, 'create', 'role', 'watcher', '--verb=watch', '--resource=pods']);
    await admin(['-n', ns, 'create', 'rolebinding', 'watcher', '--role=watcher', `--serviceaccount=${ns}:app`]);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfig);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const informer = makeInformer<V1Pod>(kubeConfig, `/api/v1/namespaces/${ns}/pods`, () => core.listNamespacedPod({ namespace: ns }));
    informers.push(informer);
    const seen = new Set<string>();
    const errors: unknown[] = [];
    informer.on('add', (pod) => seen.add(pod.metadata!.name!));
    informer.on('error', (err) => errors.push(err));
    await informer.start();
    const name = uniqueName('pod');
    await admin(['-n', ns, 'run', name, '--image=registry.invalid/x:1']);
    await waitFor(() => seen.has(name) || undefined, { timeoutMs: 20_000, what: `the informer's add of ${name}` });
    assert.deepEqual(errors, []);
    // The token still cannot write.
    await assert.rejects(core.deleteNamespacedPod({ name, namespace: ns }), (err: any) => err.code === 403);
  });

  test('bad RBAC objects get 422 naming the field; roleRef is immutable; a missing role is named in the 403', async () => {
    const ns = uniqueName('invalid');
    await admin(['create', 'namespace', ns]);
    const bad = await apiRequest(server, 'POST', `${rbacApi}/namespaces/${ns}/roles`, {
      body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'bad' }, rules: [{ apiGroups: [''], resources: ['pods'] }] },
    });
    assert.equal(bad.status, 422);
    assert.equal(bad.json.reason, 'Invalid');
    assert.equal(bad.json.message, 'Role.rbac.authorization.k8s.io "bad" is invalid: rules[0].verbs: Required value: verbs must contain at least one value');
    assert.deepEqual(bad.json.details, {
      name: 'bad', group: 'rbac.authorization.k8s.io', kind: 'Role',
      causes: [{ reason: 'FieldValueRequired', message: 'Required value: verbs must contain at least one value', field: 'rules[0].verbs' }],
    });
    const viaKubectl = await run(['--kubeconfig', server.kubeconfigPath, '--cache-dir', adminCache, 'apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: bad, namespace: ${ns}}
rules: [{apiGroups: [""], resources: [pods]}]
`);
    assert.notEqual(viaKubectl.code, 0);
    assert.match(viaKubectl.stderr, /The Role "bad" is invalid: rules\[0\]\.verbs: Required value: verbs must contain at least one value/);

    const badBinding = await apiRequest(server, 'POST', `${rbacApi}/clusterrolebindings`, {
      body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: uniqueName('bad') }, subjects: [{ kind: 'Robot', name: 'r2' }, { kind: 'ServiceAccount', name: 'x' }] },
    });
    assert.equal(badBinding.status, 422);
    assert.deepEqual(badBinding.json.details.causes.map((c: any) => `${c.field}: ${c.message}`), [
      'roleRef.kind: Unsupported value: "": supported values: "ClusterRole"',
      'roleRef.name: Required value',
      'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
      'subjects[1].namespace: Required value',
    ]);

    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'b' },
      roleRef: { kind: 'Role', name: 'missing' }, subjects: [{ kind: 'ServiceAccount', name: 'app' }],
    };
    const created = await apiRequest(server, 'POST', `${rbacApi}/namespaces/${ns}/rolebindings`, { body: binding });
    assert.equal(created.status, 201);
    assert.equal(created.json.roleRef.apiGroup, 'rbac.authorization.k8s.io', 'roleRef.apiGroup defaulted');
    const changed = await apiRequest(server, 'PUT', `${rbacApi}/namespaces/${ns}/rolebindings/b`, { body: { ...created.json, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' } } });
    assert.equal(changed.status, 422);
    assert.equal(changed.json.message, 'RoleBinding.rbac.authorization.k8s.io "b" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"view"}: cannot change roleRef');

    // The binding applies to ns/app but its Role does not exist: a real server says so.
    await admin(['-n', ns, 'create', 'serviceaccount', 'app']);
    const token = (await admin(['-n', ns, 'create', 'token', 'app'])).trim();
    const denied = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods`, { token });
    assert.equal(denied.status, 403);
    assert.equal(denied.json.message, `pods is forbidden: User "system:serviceaccount:${ns}:app" cannot list resource "pods" in API group "" in the namespace "${ns}": RBAC: role.rbac.authorization.k8s.io "missing" not found`);
  });

  test('group-qualified resources and non-resource paths are worded as a real server words them', async () => {
    const { ns, user, token } = await serviceAccount('qualified');
    const ds = await apiRequest(server, 'GET', `/apis/apps/v1/namespaces/${ns}/daemonsets`, { token });
    assert.equal(ds.status, 403);
    assert.equal(ds.json.message, `daemonsets.apps is forbidden: User "${user}" cannot list resource "daemonsets" in API group "apps" in the namespace "${ns}"`);
    assert.deepEqual(ds.json.details, { group: 'apps', kind: 'daemonsets' });
    const named = await apiRequest(server, 'DELETE', `/apis/apps/v1/namespaces/${ns}/deployments/web`, { token });
    assert.equal(named.json.message, `deployments.apps "web" is forbidden: User "${user}" cannot delete resource "deployments" in API group "apps" in the namespace "${ns}"`);
    assert.deepEqual(named.json.details, { name: 'web', group: 'apps', kind: 'deployments' });
    // An unknown resource is refused before it is found missing, as on a real server.
    assert.equal((await apiRequest(server, 'GET', `/apis/example.invalid/v1/namespaces/${ns}/widgets`, { token })).status, 403);
    // Discovery, OpenAPI, version and health are every authenticated user's (system:discovery).
    for (const path of ['/api', '/api/v1', '/apis', '/apis/apps/v1', '/version', '/openapi/v3', '/healthz']) {
      assert.equal((await apiRequest(server, 'GET', path, { token })).status, 200, path);
    }
    const metrics = await apiRequest(server, 'GET', '/metrics', { token });
    assert.equal(metrics.status, 403);
    assert.deepEqual(metrics.json, {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: `forbidden: User "${user}" cannot get path "/metrics"`, reason: 'Forbidden', details: {}, code: 403,
    });
    assert.equal((await apiRequest(server, 'GET', '/metrics')).status, 404, 'the admin gets past authorization');
  });

  test('kubectl auth can-i (access and rules reviews), SubjectAccessReview and impersonation', async () => {
    const { ns, user, kubectl } = await serviceAccount('can-i');
    const canI = await kubectl(['-n', ns, 'auth', 'can-i', 'list', 'pods']);
    assert.equal(canI.stdout.trim(), 'no');
    assert.equal(canI.code, 1);
    await admin(['-n', ns, 'create', 'role', 'pod-reader', '--verb=get,list', '--resource=pods']);
    await admin(['-n', ns, 'create', 'rolebinding', 'pod-reader', '--role=pod-reader', `--serviceaccount=${ns}:app`]);
    const yes = await kubectl(['-n', ns, 'auth', 'can-i', 'list', 'pods']);
    assert.equal(yes.stdout.trim(), 'yes', yes.stderr);
    assert.equal(yes.code, 0);
    assert.equal((await kubectl(['-n', ns, 'auth', 'can-i', 'delete', 'pods'])).stdout.trim(), 'no');
    assert.equal((await kubectl(['auth', 'can-i', 'get', '/version'])).stdout.trim(), 'yes', 'system:discovery');
    const list = await kubectl(['-n', ns, 'auth', 'can-i', '--list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^pods\s+\[\]\s+\[\]\s+\[get list\]$/m);
    assert.match(list.stdout, /^\s+\[\/version\]\s+\[\]\s+\[get\]$/m);

    // The admin asks about someone else: a SubjectAccessReview names the binding that allows.
    const review = await apiRequest(server, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups: ['system:serviceaccounts'], resourceAttributes: { namespace: ns, verb: 'get', resource: 'pods' } } },
    });
    assert.equal(review.status, 201);
    assert.deepEqual(review.json.status, { allowed: true, reason: `RBAC: allowed by RoleBinding "pod-reader/${ns}" of Role "pod-reader" to ServiceAccount "app/${ns}"` });
    const refusedReview = await apiRequest(server, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: { spec: { user, resourceAttributes: { namespace: ns, verb: 'get', resource: 'secrets' } } },
    });
    assert.deepEqual(refusedReview.json.status, { allowed: false });

    // Impersonation: the admin may act as the service account, with its groups and grants.
    assert.equal((await run(['--kubeconfig', server.kubeconfigPath, '--cache-dir', adminCache, '-n', ns, 'auth', 'can-i', 'list', 'pods', `--as=${user}`])).stdout.trim(), 'yes');
    const asSa = await run(['--kubeconfig', server.kubeconfigPath, '--cache-dir', adminCache, '-n', ns, 'get', 'secrets', `--as=${user}`]);
    assert.equal(asSa.stderr.trim(), `Error from server (Forbidden): secrets is forbidden: User "${user}" cannot list resource "secrets" in API group "" in the namespace "${ns}"`);
    // ...but the service account may not impersonate anyone.
    const escalate = await kubectl(['-n', ns, 'get', 'pods', '--as=alice']);
    assert.equal(escalate.stderr.trim(), `Error from server (Forbidden): users "alice" is forbidden: User "${user}" cannot impersonate resource "users" in API group "" at the cluster scope`);
    const asMasters = await kubectl(['-n', ns, 'get', 'secrets', `--as=${user}`, '--as-group=system:masters']);
    assert.match(asMasters.stderr, new RegExp(`serviceaccounts "app" is forbidden: User "${user}" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "${ns}"`));
  });

  test('escalation prevention: a user writes only roles and bindings within what it holds, or with escalate/bind', async () => {
    const { ns, user, token } = await serviceAccount('escalate');
    await admin(['apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: rbac-writer, namespace: ${ns}}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [roles, rolebindings], verbs: [create, update, get]}
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], resourceNames: [view], verbs: [bind]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rbac-writer, namespace: ${ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rbac-writer}
subjects: [{kind: ServiceAccount, name: app}]
`);
    const groups = `["system:serviceaccounts" "system:serviceaccounts:${ns}" "system:authenticated"]`;
    const role = (name: string, rules: object[]) => apiRequest(server, 'POST', `${rbacApi}/namespaces/${ns}/roles`, { token, body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name }, rules } });
    const steal = await role('steal', [{ apiGroups: [''], resources: ['secrets', 'pods'], verbs: ['get'] }]);
    assert.equal(steal.status, 403);
    assert.equal(steal.json.message, `roles.rbac.authorization.k8s.io "steal" is forbidden: user "${user}" (groups=${groups}) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`);
    assert.deepEqual(steal.json.details, { name: 'steal', group: 'rbac.authorization.k8s.io', kind: 'roles' });
    assert.equal((await role('subset', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }])).status, 201, 'rules it holds may be passed on');

    const binding = (name: string, roleRef: object) => apiRequest(server, 'POST', `${rbacApi}/namespaces/${ns}/rolebindings`, {
      token, body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef }, subjects: [{ kind: 'ServiceAccount', name: 'app' }] },
    });
    const toAdmin = await binding('to-admin', { kind: 'ClusterRole', name: 'cluster-admin' });
    assert.equal(toAdmin.status, 403);
    assert.equal(toAdmin.json.message, `rolebindings.rbac.authorization.k8s.io "to-admin" is forbidden: user "${user}" (groups=${groups}) is attempting to grant RBAC permissions not currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}`);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/secrets`, { token })).status, 403, 'nothing was granted');
    assert.equal((await binding('to-subset', { kind: 'Role', name: 'subset' })).status, 201);
    // `bind` on the view ClusterRole lets it bind view although it does not hold view's rules.
    assert.equal((await binding('to-view', { kind: 'ClusterRole', name: 'view' })).status, 201);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps`, { token })).status, 200);
    const missing = await binding('to-missing', { kind: 'Role', name: 'missing' });
    assert.equal(missing.status, 403);
    assert.equal(missing.json.message, `rolebindings.rbac.authorization.k8s.io "to-missing" is forbidden: role.rbac.authorization.k8s.io "missing" not found`);
  });

  test('the admin token (system:masters) still does everything; bootstrap roles are listed', async () => {
    const ns = uniqueName('admin');
    await admin(['create', 'namespace', ns]);
    await admin(['-n', ns, 'create', 'secret', 'generic', 's', '--from-literal=k=v']);
    assert.match(await admin(['-n', ns, 'get', 'secrets']), /^s\s+Opaque\s+1/m);
    const roles = await admin(['get', 'clusterroles']);
    assert.match(roles, /^NAME\s+CREATED AT$/m);
    for (const name of ['cluster-admin', 'system:discovery', 'system:basic-user', 'system:public-info-viewer', 'view']) {
      assert.match(roles, new RegExp(`^${name}\\s+\\d{4}-\\d\\d-\\d\\dT`, 'm'), name);
    }
    const bindings = await admin(['get', 'clusterrolebindings', 'cluster-admin', '-o', 'wide']);
    assert.match(bindings, /^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS$/m);
    assert.match(bindings, /^cluster-admin\s+ClusterRole\/cluster-admin\s+\S+\s+system:masters\s*$/m);
    await admin(['-n', ns, 'create', 'rolebinding', 'rb', '--clusterrole=view', '--serviceaccount=other:robot', '--user=alice']);
    assert.match(await admin(['-n', ns, 'get', 'rolebindings', '-o', 'wide']), /^rb\s+ClusterRole\/view\s+\S+\s+alice\s+other\/robot\s*$/m);
    await admin(['-n', ns, 'delete', 'rolebinding', 'rb']);
    assert.match(await admin(['-n', ns, 'get', 'rolebindings']), /^$/);
  });
});
