// Arbitrary bodies and paths never crash the server or surface as 500s: every answer is a
// Status with a 4xx code (or a success), and the server keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startApiServer } from './server.js';
import type { ApiServerHandle } from './server.js';
import { makeTempDir } from '../../support/temp-dir.js';
import type { TempDir } from '../../support/temp-dir.js';
import { apiRequest } from './test-client.js';

/** A small deterministic PRNG, so a failure reproduces. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

let dir: TempDir;
let server: ApiServerHandle;
const logged: string[] = [];
before(async () => {
  dir = await makeTempDir('fuzz');
  server = await startApiServer({ stateDir: join(dir.path, 'state'), maxBodyBytes: 16 * 1024, log: (msg, fields) => logged.push(`${msg} ${JSON.stringify(fields)}`) });
  await apiRequest(server, 'POST', '/api/v1/namespaces', { body: { metadata: { name: 'fuzz' } } });
});
after(async () => {
  await server?.close();
  await dir?.remove();
});

test('random bodies on every verb and resource get 2xx or 4xx Status answers', async () => {
  const rand = prng(42);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const paths = [
    '/api/v1/namespaces/fuzz/pods', '/api/v1/namespaces/fuzz/pods/p', '/api/v1/namespaces/fuzz/pods/p/status',
    '/api/v1/namespaces/fuzz/services', '/api/v1/namespaces/fuzz/services/s', '/api/v1/namespaces', '/api/v1/namespaces/fuzz',
    '/api/v1/namespaces/fuzz/finalize', '/api/v1/nodes/n', '/api/v1/namespaces/fuzz/configmaps', '/api/v1/namespaces/fuzz/secrets/x',
    '/apis/discovery.k8s.io/v1/namespaces/fuzz/endpointslices', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    '/apis/coordination.k8s.io/v1/namespaces/fuzz/leases/l', '/api/v1/namespaces/fuzz/pods?watch=1&resourceVersion=abc',
    '/api/v1/pods?labelSelector=%%%&fieldSelector=a', '/apis/x/y/z/w/v/u', '/api/v1/namespaces/fuzz/pods?limit=-5&continue=%00',
  ];
  const values: unknown[] = [null, true, 0, -1, 1.5, '', 'x', [], {}, [1, 'a'], { a: { b: [] } }, 'None', '10.96.0.5', 65536];
  const randomValue = (depth: number): unknown => {
    if (depth > 3 || rand() < 0.4) return pick(values);
    if (rand() < 0.5) return Array.from({ length: Math.floor(rand() * 3) }, () => randomValue(depth + 1));
    const keys = ['metadata', 'spec', 'status', 'name', 'namespace', 'kind', 'apiVersion', 'ports', 'containers', 'clusterIP', 'finalizers', 'labels', 'generateName', 'type', 'data', 'versions', 'names', 'group', 'scope', 'resourceVersion'];
    return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [pick(keys), randomValue(depth + 1)]));
  };
  const contentTypes = ['application/json', 'application/yaml', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json', 'application/vnd.kubernetes.protobuf', 'text/plain'];
  for (let i = 0; i < 300; i++) {
    const method = pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
    const path = pick(paths);
    let body: string | Buffer | undefined;
    if (method !== 'GET' && rand() < 0.9) {
      const r = rand();
      body = r < 0.6 ? JSON.stringify(randomValue(0)) : r < 0.8 ? Buffer.from(Array.from({ length: 40 }, () => Math.floor(rand() * 256))) : JSON.stringify(randomValue(0)).slice(0, 7);
    }
    const answer = await apiRequest(server, method, path, { body, contentType: pick(contentTypes) });
    assert.ok(answer.status < 500, `${method} ${path} ${String(body).slice(0, 80)} -> ${answer.status} ${answer.text.slice(0, 300)}`);
    if (answer.status >= 400) {
      assert.equal(answer.json?.kind, 'Status', `${method} ${path} -> ${answer.text.slice(0, 200)}`);
      assert.equal(answer.json.code, answer.status);
    }
  }
  // (The fuzz may legitimately delete the namespace, so liveness is checked on /version.)
  assert.equal((await apiRequest(server, 'GET', '/version')).status, 200);
  assert.deepEqual(logged, [], 'no request hit a server bug');
});
