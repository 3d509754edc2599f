// TokenRequest and TokenReview against the in-repo server over real HTTPS and with real kubectl:
// bound tokens are signed JWTs with a real server's claims; reviews check signature, audience,
// expiry and that the service account and bound pod still exist; the tokens authenticate
// requests to the server itself. Shapes are compared with a real 1.26 server's answers.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServer } from './server.js';
import type { ApiServerHandle } from './server.js';
import { makeTempDir } from '../../support/temp-dir.js';
import type { TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { repoRoot } from '../../support/repo-root.js';
import { apiRequest, kubectl, kubectlOk } from './test-client.js';

function golden(name: string): any {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'kit', 'apiserver', 'testdata', name), 'utf8'));
}

function sortedKeys(obj: object): string[] {
  return Object.keys(obj).sort();
}

function jwtPart(token: string, index: 0 | 1): any {
  return JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8'));
}

describe('service-account tokens (TokenRequest, TokenReview, bearer authentication)', () => {
  let dir: TempDir;
  let server: ApiServerHandle;
  /** Added to the tokens' clock; tests move time forward instead of sleeping. */
  let clockOffsetMs = 0;
  const ns = uniqueName('tokens');
  const sa = 'app';
  const nodeName = uniqueName('node');
  let saUid: string;
  let nodeUid: string;

  async function create(path: string, body: object): Promise<any> {
    const r = await apiRequest(server, 'POST', path, { body });
    assert.equal(r.status, 201, `${path}: ${r.text}`);
    return r.json;
  }

  async function createPod(name: string, serviceAccountName = sa): Promise<any> {
    return create(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name },
      spec: { serviceAccountName, nodeName, containers: [{ name: 'c', image: 'example.invalid/app' }] },
    });
  }

  async function requestToken(saName: string, spec: object): Promise<{ status: number; json: any }> {
    const r = await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/${saName}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec },
    });
    return { status: r.status, json: r.json };
  }

  async function review(token: string, audiences?: string[]): Promise<any> {
    const spec: Record<string, unknown> = { token };
    if (audiences) spec.audiences = audiences;
    const r = await apiRequest(server, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec },
    });
    assert.equal(r.status, 201, r.text);
    return r.json;
  }

  async function podBoundToken(podName: string, audiences = ['weft-ca']): Promise<string> {
    const r = await requestToken(sa, { audiences, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: podName } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.status.token;
  }

  before(async () => {
    dir = await makeTempDir('tokens');
    server = await startApiServer({ stateDir: join(dir.path, 'state'), tokenClock: () => Date.now() + clockOffsetMs });
    await create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    saUid = (await create(`/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa } })).metadata.uid;
    nodeUid = (await create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName } })).metadata.uid;
  });
  after(async () => {
    await server?.close();
    await dir?.remove();
  });

  test('discovery lists tokenreviews and serviceaccounts/token as a real server does', async () => {
    const auth = await apiRequest(server, 'GET', '/apis/authentication.k8s.io/v1');
    assert.equal(auth.status, 200);
    assert.deepEqual(auth.json, golden('discovery-apis_authentication_k8s_io_v1.json'));
    const core = (await apiRequest(server, 'GET', '/api/v1')).json;
    const realCore = golden('discovery-api_v1.json');
    for (const name of ['serviceaccounts', 'serviceaccounts/token']) {
      assert.deepEqual(core.resources.find((r: any) => r.name === name), realCore.resources.find((r: any) => r.name === name), name);
    }
    const groups = (await apiRequest(server, 'GET', '/apis')).json.groups;
    const realGroup = golden('discovery-apis.json').groups.find((g: any) => g.name === 'authentication.k8s.io');
    assert.deepEqual(groups.find((g: any) => g.name === 'authentication.k8s.io'), realGroup);
    const resources = await kubectlOk(server, join(dir.path, 'cache-discovery'), ['api-resources', '--api-group', 'authentication.k8s.io', '-o', 'name']);
    assert.equal(resources.trim(), 'tokenreviews.authentication.k8s.io');
  });

  test('kubectl create token bound to a pod yields a signed JWT with the claims a real server issues', async () => {
    const pod = await createPod(uniqueName('web'));
    const token = (await kubectlOk(server, join(dir.path, 'cache-create-token'), [
      '-n', ns, 'create', 'token', sa, '--audience', 'weft-ca', '--bound-object-kind', 'Pod', '--bound-object-name', pod.metadata.name,
    ])).trim();
    const header = jwtPart(token, 0);
    assert.equal(header.alg, 'ES256');
    assert.match(header.kid, /^[A-Za-z0-9_-]{43}$/);
    const claims = jwtPart(token, 1);
    assert.equal(claims.iss, server.serviceAccountIssuer);
    assert.equal(claims.sub, `system:serviceaccount:${ns}:${sa}`);
    assert.deepEqual(claims.aud, ['weft-ca']);
    assert.equal(claims.exp - claims.iat, 3600);
    assert.equal(claims.nbf, claims.iat);
    assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 60, 'issued now');
    assert.deepEqual(claims['kubernetes.io'], {
      namespace: ns,
      serviceaccount: { name: sa, uid: saUid },
      pod: { name: pod.metadata.name, uid: pod.metadata.uid },
      node: { name: nodeName, uid: nodeUid },
    });
    const reviewed = await review(token, ['weft-ca']);
    assert.equal(reviewed.status.authenticated, true);
  });

  test('a TokenRequest answer has the real shape', async () => {
    const pod = await createPod(uniqueName('web'));
    const ref = { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid };
    const r = await requestToken(sa, { audiences: ['weft-ca'], expirationSeconds: 3600, boundObjectRef: ref });
    assert.equal(r.status, 201);
    const real = golden('tokenrequest-response.json');
    assert.deepEqual(sortedKeys(r.json), sortedKeys(real));
    assert.equal(r.json.kind, real.kind);
    assert.equal(r.json.apiVersion, real.apiVersion);
    const { managedFields: _m, ...realMeta } = real.metadata;
    assert.deepEqual(sortedKeys(r.json.metadata), sortedKeys(realMeta));
    assert.deepEqual({ name: r.json.metadata.name, namespace: r.json.metadata.namespace }, { name: sa, namespace: ns });
    assert.deepEqual(r.json.spec, { ...real.spec, boundObjectRef: ref });
    assert.deepEqual(sortedKeys(r.json.status), sortedKeys(real.status));
    const lifetime = Date.parse(r.json.status.expirationTimestamp) - Date.parse(r.json.metadata.creationTimestamp);
    assert.equal(lifetime, 3600_000);
    assert.equal(jwtPart(r.json.status.token, 1).exp * 1000, Date.parse(r.json.status.expirationTimestamp));

    // Without audiences or expiration, the server's own audience and an hour.
    const plain = await requestToken(sa, {});
    assert.equal(plain.status, 201);
    assert.deepEqual(plain.json.spec, { audiences: server.apiAudiences, expirationSeconds: 3600 });
    assert.deepEqual(jwtPart(plain.json.status.token, 1).aud, server.apiAudiences);
    assert.equal(jwtPart(plain.json.status.token, 1)['kubernetes.io'].pod, undefined);
  });

  test('a review with the right audience authenticates the service account with the pod and node in extra', async () => {
    const pod = await createPod(uniqueName('web'));
    const token = await podBoundToken(pod.metadata.name);
    const reviewed = await review(token, ['weft-ca']);
    const real = golden('tokenreview-response.json');
    assert.deepEqual(sortedKeys(reviewed), sortedKeys(real));
    assert.deepEqual(sortedKeys(reviewed.status), sortedKeys(real.status));
    assert.deepEqual(sortedKeys(reviewed.status.user), sortedKeys(real.status.user));
    assert.equal(reviewed.kind, 'TokenReview');
    assert.equal(reviewed.apiVersion, 'authentication.k8s.io/v1');
    assert.equal(reviewed.status.authenticated, true);
    assert.equal(reviewed.status.user.username, `system:serviceaccount:${ns}:${sa}`);
    assert.equal(reviewed.status.user.uid, saUid);
    assert.deepEqual(reviewed.status.user.groups, ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated']);
    assert.deepEqual(reviewed.status.user.extra, {
      'authentication.kubernetes.io/pod-name': [pod.metadata.name],
      'authentication.kubernetes.io/pod-uid': [pod.metadata.uid],
      'authentication.kubernetes.io/node-name': [nodeName],
      'authentication.kubernetes.io/node-uid': [nodeUid],
    });
    for (const key of Object.keys(real.status.user.extra)) assert.ok(key in reviewed.status.user.extra, key);
    assert.deepEqual(reviewed.status.audiences, ['weft-ca']);
    // A token for several audiences is accepted for any one of them, and says which.
    const both = await podBoundToken(pod.metadata.name, ['weft-ca', 'other']);
    assert.deepEqual((await review(both, ['other'])).status.audiences, ['other']);
  });

  test('a wrong audience is not authenticated, with the real error', async () => {
    const pod = await createPod(uniqueName('web'));
    const token = await podBoundToken(pod.metadata.name);
    const wrong = await review(token, ['somebody-else']);
    assert.notEqual(wrong.status.authenticated, true);
    assert.deepEqual(wrong.status.user, {});
    assert.match(wrong.status.error, /token audiences \["weft-ca"\] is invalid for the target audiences \["somebody-else"\]/);
    // No audiences in the review means the server's own, which this token was not made for.
    const implicit = await review(token);
    assert.notEqual(implicit.status.authenticated, true);
    assert.match(implicit.status.error, /is invalid for the target audiences/);
    const serverToken = (await requestToken(sa, {})).json.status.token;
    const ok = await review(serverToken);
    assert.equal(ok.status.authenticated, true);
    assert.deepEqual(ok.status.audiences, server.apiAudiences);
  });

  test('an expired token is not authenticated (after the one minute leeway real servers allow)', async () => {
    const pod = await createPod(uniqueName('web'));
    const r = await requestToken(sa, { audiences: ['weft-ca'], expirationSeconds: 600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name } });
    assert.equal(r.status, 201);
    const token = r.json.status.token;
    try {
      clockOffsetMs = 630_000;
      assert.equal((await review(token, ['weft-ca'])).status.authenticated, true, 'within the leeway');
      clockOffsetMs = 700_000;
      const expired = await review(token, ['weft-ca']);
      assert.notEqual(expired.status.authenticated, true);
      assert.match(expired.status.error, /service account token has expired/);
      assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods`, { token })).status, 401);
    } finally {
      clockOffsetMs = 0;
    }
    // Shorter than ten minutes is refused as by a real server.
    const short = await requestToken(sa, { expirationSeconds: 300 });
    assert.equal(short.status, 422);
    assert.equal(short.json.reason, 'Invalid');
    assert.match(short.json.message, /spec\.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes/);
  });

  test('deleting the bound pod invalidates its tokens, also when a pod of the same name comes back', async () => {
    const podName = uniqueName('web');
    await createPod(podName);
    const token = await podBoundToken(podName);
    assert.equal((await review(token, ['weft-ca'])).status.authenticated, true);
    const deleted = await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/pods/${podName}?gracePeriodSeconds=0`);
    assert.equal(deleted.status, 200);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods/${podName}`)).status, 404);
    const gone = await review(token, ['weft-ca']);
    assert.notEqual(gone.status.authenticated, true);
    assert.match(gone.status.error, /Token has been invalidated/);
    await createPod(podName);
    assert.notEqual((await review(token, ['weft-ca'])).status.authenticated, true, 'a new pod with the same name has another uid');
  });

  test('a pod in graceful deletion keeps its tokens until a minute after its deletion time', async () => {
    const podName = uniqueName('web');
    await createPod(podName);
    const token = await podBoundToken(podName);
    const deleting = await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/pods/${podName}?gracePeriodSeconds=30`);
    assert.equal(deleting.status, 200);
    assert.ok(deleting.json.metadata.deletionTimestamp, 'the node-bound pod terminates gracefully');
    assert.equal((await review(token, ['weft-ca'])).status.authenticated, true);
    try {
      clockOffsetMs = 120_000;
      assert.notEqual((await review(token, ['weft-ca'])).status.authenticated, true);
    } finally {
      clockOffsetMs = 0;
    }
  });

  test('a deleted and recreated service account invalidates the old tokens', async () => {
    const other = uniqueName('sa');
    await create(`/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: other } });
    const token = (await requestToken(other, {})).json.status.token;
    assert.equal((await review(token)).status.authenticated, true);
    assert.equal((await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/serviceaccounts/${other}`)).status, 200);
    assert.notEqual((await review(token)).status.authenticated, true);
    await create(`/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: other } });
    const again = await review(token);
    assert.notEqual(again.status.authenticated, true);
    assert.match(again.status.error, /Token has been invalidated/);
  });

  test('a tampered or foreign token is not authenticated', async () => {
    const pod = await createPod(uniqueName('web'));
    const token = await podBoundToken(pod.metadata.name);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = jwtPart(token, 1);
    claims['kubernetes.io'].serviceaccount.name = 'admin';
    claims.sub = `system:serviceaccount:${ns}:admin`;
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const reviewed = await review(forged, ['weft-ca']);
    assert.notEqual(reviewed.status.authenticated, true);
    assert.match(reviewed.status.error, /invalid bearer token/);
    // A flipped signature bit fails too.
    const sig = Buffer.from(signature, 'base64url');
    sig[5] ^= 1;
    assert.notEqual((await review(`${header}.${payload}.${sig.toString('base64url')}`, ['weft-ca'])).status.authenticated, true);
    // Not a JWT at all.
    const junk = await review('not-a-token', ['weft-ca']);
    assert.notEqual(junk.status.authenticated, true);
    assert.equal(junk.status.error, 'invalid bearer token');
    // The untouched token still passes, so the failures above are the tampering's.
    assert.equal((await review(token, ['weft-ca'])).status.authenticated, true);
  });

  test('a token authenticates requests to the server as its service account; a wrong audience gets the real 401', async () => {
    const token = (await requestToken(sa, {})).json.status.token;
    // Authenticated as the service account: RBAC names it in the 403 until a Role lets it read.
    const denied = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/serviceaccounts/${sa}`, { token });
    assert.equal(denied.status, 403);
    assert.equal(denied.json.message, `serviceaccounts "${sa}" is forbidden: User "system:serviceaccount:${ns}:${sa}" cannot get resource "serviceaccounts" in API group "" in the namespace "${ns}"`);
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    assert.equal((await apiRequest(server, 'POST', `${rbac}/namespaces/${ns}/roles`, {
      body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'sa-reader' }, rules: [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get'] }] },
    })).status, 201);
    assert.equal((await apiRequest(server, 'POST', `${rbac}/namespaces/${ns}/rolebindings`, {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'sa-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'sa-reader' }, subjects: [{ kind: 'ServiceAccount', name: sa }],
      },
    })).status, 201);
    const list = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/serviceaccounts/${sa}`, { token });
    assert.equal(list.status, 200);
    assert.equal(list.json.metadata.uid, saUid);
    // kubectl with only the token: the server knows who it is (an unknown token would be 401).
    const out = await kubectlOk(server, join(dir.path, 'cache-sa'), ['--token', token, '-n', ns, 'get', 'serviceaccount', sa, '-o', 'jsonpath={.metadata.name}']);
    assert.equal(out, sa);

    const pod = await createPod(uniqueName('web'));
    const weftCaToken = await podBoundToken(pod.metadata.name);
    const refused = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/pods`, { token: weftCaToken });
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.json, golden('error-401-wrong-audience.json'));
    const kubectlRefused = await kubectl(server, join(dir.path, 'cache-refused'), ['--token', weftCaToken, '-n', ns, 'get', 'pods']);
    assert.notEqual(kubectlRefused.code, 0);
    assert.match(kubectlRefused.stderr, /You must be logged in to the server/);
  });

  test('requests a real server refuses are refused the same way', async () => {
    const missing = await requestToken('nobody', {});
    assert.equal(missing.status, 404);
    assert.equal(missing.json.message, 'serviceaccounts "nobody" not found');
    const noPod = await requestToken(sa, { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'no-such-pod' } });
    assert.equal(noPod.status, 404);
    assert.equal(noPod.json.message, 'pods "no-such-pod" not found');
    const otherSaPod = await createPod(uniqueName('web'), 'default');
    const wrongSa = await requestToken(sa, { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: otherSaPod.metadata.name } });
    assert.equal(wrongSa.status, 400);
    assert.match(wrongSa.json.message, /cannot bind token for serviceaccount "app" to pod running with different serviceaccount name/);
    const pod = await createPod(uniqueName('web'));
    const staleUid = await requestToken(sa, { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: 'not-the-uid' } });
    assert.equal(staleUid.status, 409);
    const badKind = await requestToken(sa, { boundObjectRef: { kind: 'ConfigMap', apiVersion: 'v1', name: 'x' } });
    assert.equal(badKind.status, 400);
    assert.match(badKind.json.message, /cannot bind token to object of type/);
    const secret = await create(`/api/v1/namespaces/${ns}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: uniqueName('s') } });
    const secretBound = await requestToken(sa, { boundObjectRef: { kind: 'Secret', apiVersion: 'v1', name: secret.metadata.name } });
    assert.equal(secretBound.status, 201);
    assert.deepEqual(jwtPart(secretBound.json.status.token, 1)['kubernetes.io'].secret, { name: secret.metadata.name, uid: secret.metadata.uid });
    assert.equal((await apiRequest(server, 'GET', '/apis/authentication.k8s.io/v1/tokenreviews')).status, 405);
    assert.equal((await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`)).status, 405);
    const emptyReview = await apiRequest(server, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: {} } });
    assert.equal(emptyReview.status, 422);
  });

  test('the signing key lives in the state directory and is reused by the next server there', async () => {
    const keyPath = join(dir.path, 'state', 'sa.key');
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
    const kid = jwtPart((await requestToken(sa, {})).json.status.token, 0).kid;
    // A restart is a new server on a state directory holding the key (a copy, so the running
    // server's kubeconfig and certificates stay as they are).
    const restartedState = join(dir.path, 'restarted');
    mkdirSync(restartedState);
    copyFileSync(keyPath, join(restartedState, 'sa.key'));
    const second = await startApiServer({ stateDir: restartedState });
    try {
      const otherNs = uniqueName('tokens');
      await apiRequest(second, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: otherNs } } });
      assert.equal((await apiRequest(second, 'POST', `/api/v1/namespaces/${otherNs}/serviceaccounts`, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'x' } } })).status, 201);
      const r = await apiRequest(second, 'POST', `/api/v1/namespaces/${otherNs}/serviceaccounts/x/token`, { body: { spec: {} } });
      assert.equal(r.status, 201, r.text);
      assert.equal(jwtPart(r.json.status.token, 0).kid, kid);
    } finally {
      await second.close();
    }
  });
});
