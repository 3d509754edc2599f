// The in-repo server's answers compared with what a real kube-apiserver 1.26 answered
// (../shared/k8s-golden, copied reads only): same shapes, reasons, codes and event lines.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServer } from './server.js';
import type { ApiServerHandle } from './server.js';
import { makeTempDir } from '../../support/temp-dir.js';
import type { TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { waitFor } from '../../support/wait-for.js';
import { repoRoot } from '../../support/repo-root.js';
import { apiRequest } from './test-client.js';
import { StaticTokenAuthenticator } from './authentication.js';
import type { RequestAttributes } from './authorization.js';

/** The golden answers of a real kube-apiserver 1.26, copied into testdata/ (see its README). */
function goldenDir(): string {
  const dir = join(repoRoot, 'test', 'kit', 'apiserver', 'testdata');
  if (!existsSync(join(dir, 'create-pod.json'))) throw new Error(`golden answers not found in ${dir}`);
  return dir;
}

function golden(name: string): any {
  return JSON.parse(readFileSync(join(goldenDir(), name), 'utf8'));
}

function sortedKeys(obj: object): string[] {
  return Object.keys(obj).sort();
}

/** Status objects match when kind, status, reason, code and detail keys match. */
function assertSameStatusShape(actual: any, expected: any, message: RegExp): void {
  assert.equal(actual.kind, 'Status');
  assert.equal(actual.apiVersion, 'v1');
  assert.deepEqual(actual.metadata, {});
  assert.equal(actual.status, expected.status);
  assert.equal(actual.reason, expected.reason);
  assert.equal(actual.code, expected.code);
  assert.deepEqual(sortedKeys(actual), sortedKeys(expected));
  if (expected.details) {
    assert.deepEqual(sortedKeys(actual.details), sortedKeys(expected.details));
    if (expected.details.causes) {
      assert.deepEqual(actual.details.causes.map((c: any) => sortedKeys(c)), expected.details.causes.map((c: any) => sortedKeys(c)));
    }
  }
  assert.match(expected.message, message, 'the pattern must describe the golden message too');
  assert.match(actual.message, message);
}

describe('answers compared with a real kube-apiserver', () => {
  let dir: TempDir;
  let server: ApiServerHandle;
  const ns = uniqueName('golden');

  before(async () => {
    dir = await makeTempDir('golden');
    // The golden Pod (create-pod.json) was captured with the ServiceAccount admission plugin
    // disabled: it has no kube-api-access volume (service-account-admission.test.ts covers it).
    server = await startApiServer({ stateDir: join(dir.path, 'state'), serviceAccountAdmission: false });
    const created = await apiRequest(server, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    assert.equal(created.status, 201);
  });
  after(async () => {
    await server?.close();
    await dir?.remove();
  });

  test('/version, /api, /apis have the real shapes', async () => {
    const version = await apiRequest(server, 'GET', '/version');
    assert.deepEqual(sortedKeys(version.json), sortedKeys(golden('discovery-version.json')));
    const api = await apiRequest(server, 'GET', '/api');
    assert.deepEqual(sortedKeys(api.json), sortedKeys(golden('discovery-api.json')));
    assert.equal(api.json.serverAddressByClientCIDRs[0].serverAddress, `127.0.0.1:${server.port}`);
    const apis = await apiRequest(server, 'GET', '/apis');
    const real = golden('discovery-apis.json');
    assert.deepEqual(sortedKeys(apis.json), sortedKeys(real));
    for (const group of ['apps', 'rbac.authorization.k8s.io', 'coordination.k8s.io', 'discovery.k8s.io', 'apiextensions.k8s.io']) {
      const ours = apis.json.groups.find((g: any) => g.name === group);
      assert.deepEqual(ours, real.groups.find((g: any) => g.name === group), group);
    }
  });

  test('resource lists match the real entries for every resource we serve', async () => {
    const pairs: [string, string][] = [
      ['/api/v1', 'discovery-api_v1.json'],
      ['/apis/coordination.k8s.io/v1', 'discovery-apis_coordination_k8s_io_v1.json'],
      ['/apis/discovery.k8s.io/v1', 'discovery-apis_discovery_k8s_io_v1.json'],
      ['/apis/apiextensions.k8s.io/v1', 'discovery-apis_apiextensions_k8s_io_v1.json'],
      ['/apis/rbac.authorization.k8s.io/v1', 'discovery-apis_rbac_authorization_k8s_io_v1.json'],
    ];
    for (const [path, file] of pairs) {
      const ours = (await apiRequest(server, 'GET', path)).json;
      const real = golden(file);
      assert.deepEqual(sortedKeys(ours), sortedKeys(real), path);
      assert.equal(ours.groupVersion, real.groupVersion);
      assert.ok(ours.resources.length > 0);
      for (const entry of ours.resources) {
        const twin = real.resources.find((r: any) => r.name === entry.name);
        assert.ok(twin, `${path}: ${entry.name} is not served by a real server`);
        assert.deepEqual(entry, twin, `${path}: ${entry.name}`);
      }
    }
    const core = (await apiRequest(server, 'GET', '/api/v1')).json.resources.map((r: any) => r.name);
    for (const name of ['pods', 'pods/status', 'services', 'services/status', 'namespaces', 'nodes', 'configmaps', 'secrets', 'serviceaccounts', 'events']) {
      assert.ok(core.includes(name), name);
    }
  });

  test('a CRD group is discovered like the real example.io/v1', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.io' },
      spec: {
        group: 'example.io', scope: 'Namespaced', names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [{
          name: 'v1', served: true, storage: true, subresources: { status: {} },
          schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', required: ['size'], properties: { size: { type: 'integer' }, mode: { type: 'string', enum: ['fast', 'safe'] } } } } } },
        }],
      },
    };
    assert.equal((await apiRequest(server, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd })).status, 201);
    const doc = await waitFor(async () => {
      const r = await apiRequest(server, 'GET', '/apis/example.io/v1');
      return r.status === 200 ? r.json : false;
    }, { what: 'example.io/v1 discovery' });
    const real = golden('discovery-apis_example_io_v1.json');
    assert.deepEqual(sortedKeys(doc), sortedKeys(real));
    assert.deepEqual(doc.resources.map((r: any) => ({ ...r, storageVersionHash: undefined })), real.resources.map((r: any) => ({ ...r, storageVersionHash: undefined })));
    const groups = (await apiRequest(server, 'GET', '/apis')).json.groups.map((g: any) => g.name);
    assert.ok(groups.includes('example.io'));

    // A custom resource accepted by the schema looks like the real one (managedFields aside).
    const cr = { apiVersion: 'example.io/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { mode: 'fast', size: 3 } };
    const created = await apiRequest(server, 'POST', `/apis/example.io/v1/namespaces/${ns}/widgets`, { body: cr });
    assert.equal(created.status, 201);
    const realCr = golden('cr-created.json');
    assert.deepEqual(sortedKeys(created.json), sortedKeys(realCr));
    const { managedFields: _m, ...realMeta } = realCr.metadata;
    assert.deepEqual(sortedKeys(created.json.metadata), sortedKeys(realMeta));
    assert.deepEqual(created.json.spec, realCr.spec);

    // And one the schema refuses gets the real 422.
    const bad = await apiRequest(server, 'POST', `/apis/example.io/v1/namespaces/${ns}/widgets`, {
      body: { apiVersion: 'example.io/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { mode: 'slow' } },
    });
    assert.equal(bad.status, 422);
    const realBad = golden('error-422-crd-schema.json');
    assertSameStatusShape(bad.json, realBad, /^Widget\.example\.io "w" is invalid: \[spec\.mode: Unsupported value: "slow": supported values: "fast", "safe", spec\.size: Required value\]$/);
    assert.deepEqual(bad.json.details, realBad.details);
  });

  test('a created Pod has the defaults of the real one', async () => {
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', labels: { app: 'web' } },
      spec: { nodeName: 'node-1', serviceAccountName: 'app', containers: [{ name: 'c', image: 'none' }] },
    };
    const created = await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/pods`, { body: pod });
    assert.equal(created.status, 201);
    const real = golden('create-pod.json');
    assert.deepEqual(sortedKeys(created.json), sortedKeys(real));
    const { managedFields: _m, ...realMeta } = real.metadata;
    assert.deepEqual(sortedKeys(created.json.metadata), sortedKeys(realMeta));
    assert.deepEqual(created.json.spec, real.spec);
    assert.deepEqual(created.json.status, real.status);
    assert.equal(created.json.kind, 'Pod');
    assert.equal(created.json.apiVersion, 'v1');

    const list = await apiRequest(server, 'GET', `/api/v1/pods?fieldSelector=spec.nodeName=node-1`);
    const realList = golden('pod-list-fieldselector.json');
    assert.deepEqual(sortedKeys(list.json), sortedKeys(realList));
    assert.deepEqual(sortedKeys(list.json.metadata), sortedKeys(realList.metadata));
    assert.deepEqual(sortedKeys(list.json.items[0]), sortedKeys(realList.items[0]));
    assert.equal(list.json.items[0].metadata.name, 'web-1');
  });

  test('error Status objects: 400, 401, 404, 409 exists, 409 conflict, 422', async () => {
    const badJson = await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/pods`, { body: '{"apiVersion":' });
    assert.equal(badJson.status, 400);
    assertSameStatusShape(badJson.json, golden('error-400-badjson.json'), /^the object provided is unrecognized \(must be of type Pod\): couldn't get version\/kind; json parse error: unexpected end of JSON input/);

    const unauthorized = await apiRequest(server, 'GET', '/api/v1/pods', { token: 'wrong' });
    assert.equal(unauthorized.status, 401);
    assert.deepEqual(unauthorized.json, golden('error-401-unauthorized.json'));
    const anonymous = await apiRequest(server, 'GET', '/api/v1/pods', { token: null });
    assert.equal(anonymous.status, 401);
    assert.deepEqual(anonymous.json, golden('error-401-unauthorized.json'));

    const notFound = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods/nope`);
    assert.equal(notFound.status, 404);
    assert.deepEqual({ ...notFound.json }, golden('error-404-notfound.json'));

    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'dup' }, spec: { containers: [{ name: 'c', image: 'none' }] } };
    assert.equal((await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/pods`, { body: pod })).status, 201);
    const exists = await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/pods`, { body: pod });
    assert.equal(exists.status, 409);
    assertSameStatusShape(exists.json, golden('error-409-exists.json'), /^pods "[a-z0-9-]+" already exists$/);

    const sa = await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'app' } } });
    const stale = { ...sa.json, metadata: { ...sa.json.metadata, labels: { a: 'b' } } };
    assert.equal((await apiRequest(server, 'PUT', `/api/v1/namespaces/${ns}/serviceaccounts/app`, { body: stale })).status, 200);
    const conflict = await apiRequest(server, 'PUT', `/api/v1/namespaces/${ns}/serviceaccounts/app`, { body: stale });
    assert.equal(conflict.status, 409);
    assert.deepEqual(conflict.json, golden('error-409-conflict.json'));

    const invalid = await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/services`, {
      body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'Bad_Name' }, spec: { ports: [{ port: 0, targetPort: 0 }] } },
    });
    assert.equal(invalid.status, 422);
    assertSameStatusShape(invalid.json, golden('error-422-invalid.json'), /^Service "Bad_Name" is invalid: \[metadata\.name: Invalid value: "Bad_Name": a DNS-1035 label/);
    assert.equal(invalid.json.details.causes[0].field, 'metadata.name');
  });

  test('an authorizer denial is the real 403 Status', async () => {
    const appToken = 'app-token-for-403-test';
    const denying = await startApiServer({
      stateDir: join(dir.path, 'rbac'),
      extraAuthenticators: [new StaticTokenAuthenticator(appToken, { username: 'system:serviceaccount:golden:app', groups: ['system:serviceaccounts'] })],
      authorizer: {
        authorize: (user, attrs: RequestAttributes) => (user.username.startsWith('system:serviceaccount:') && attrs.kind === 'resource' && attrs.resource === 'secrets'
          ? { allowed: false, reason: '' } : { allowed: true }),
      },
    });
    try {
      const denied = await apiRequest(denying, 'GET', '/api/v1/namespaces/golden/secrets', { token: appToken });
      assert.equal(denied.status, 403);
      assert.deepEqual(denied.json, golden('error-403-forbidden.json'));
      const allowed = await apiRequest(denying, 'GET', '/api/v1/namespaces/golden/configmaps', { token: appToken });
      assert.equal(allowed.status, 200);
    } finally {
      await denying.close();
    }
  });

  test('watch event lines have the real shape, bookmarks included', async () => {
    const from = (await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods`)).json.metadata.resourceVersion;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'watched', labels: { app: 'web' } }, spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'none' }] } };
    assert.equal((await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/pods`, { body: pod })).status, 201);
    const status = { status: { phase: 'Running', podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }], conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: null }] } };
    assert.equal((await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/pods/watched/status`, { body: status, contentType: 'application/merge-patch+json' })).status, 200);
    assert.equal((await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/pods/watched?gracePeriodSeconds=0`)).status, 200);
    const stream = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods?watch=1&allowWatchBookmarks=true&resourceVersion=${from}&timeoutSeconds=1&fieldSelector=metadata.name=watched`);
    assert.equal(stream.status, 200);
    const lines = stream.text.trim().split('\n').map((l) => JSON.parse(l));
    const realLines = readFileSync(join(goldenDir(), 'watch-pods-stream.txt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // A real server writes the deletion timestamp (MODIFIED) before the object goes (DELETED).
    assert.deepEqual(lines.map((l) => l.type), ['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED', 'BOOKMARK']);
    assert.deepEqual(realLines.map((l) => l.type), ['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'BOOKMARK']);
    const realAdded = realLines.find((l) => l.type === 'ADDED');
    assert.deepEqual(sortedKeys(lines[0]), sortedKeys(realAdded));
    assert.deepEqual(sortedKeys(lines[0].object), sortedKeys(realAdded.object));
    assert.deepEqual(lines[1].object.status, realLines[1].object.status);
    const { managedFields: _m, ...realDeletingMeta } = realLines[2].object.metadata;
    assert.deepEqual(sortedKeys(lines[2].object.metadata), sortedKeys(realDeletingMeta));
    assert.equal(lines[2].object.metadata.deletionGracePeriodSeconds, 0);
    assert.deepEqual(sortedKeys(lines[3].object.metadata), sortedKeys(realDeletingMeta));
    const realBookmark = realLines.find((l) => l.type === 'BOOKMARK');
    assert.deepEqual({ ...lines[4].object, metadata: { ...lines[4].object.metadata, resourceVersion: 'x' } }, { ...realBookmark.object, metadata: { ...realBookmark.object.metadata, resourceVersion: 'x' } });
    const rvs = lines.slice(0, 4).map((l) => Number(l.object.metadata.resourceVersion));
    assert.ok(rvs[0]! < rvs[1]! && rvs[1]! < rvs[2]! && rvs[2]! < rvs[3]!, 'resourceVersions increase');
  });

  test('OpenAPI v3 documents are the real ones', async () => {
    const index = await apiRequest(server, 'GET', '/openapi/v3');
    assert.ok(index.json.paths['api/v1'].serverRelativeURL.startsWith('/openapi/v3/api/v1?hash='));
    const core = await apiRequest(server, 'GET', index.json.paths['api/v1'].serverRelativeURL);
    assert.ok(core.json.components.schemas['io.k8s.api.core.v1.Pod']);
    assert.ok(index.json.paths['apis/example.io/v1'], 'CRD group-versions are published too');
    const custom = await apiRequest(server, 'GET', index.json.paths['apis/example.io/v1'].serverRelativeURL);
    assert.ok(custom.json.components.schemas['io.example.v1.Widget']);
  });
});
